"""One measurement in a fresh process: ``python _measure.py TASK FILE REPS`` prints JSON.

Running each task in its own process gives a clean peak-RSS high-water mark.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

import numpy as np


def _hwm_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(func, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return times


def _load(path):
    import mne

    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    return raw.get_data(), raw.info["sfreq"]


def _cascade(path, data, sfreq):
    """The exact SOS cascade detect() uses on this file (band-pass + notches found)."""
    from fascidetect import preprocessing
    from fascidetect.params import DetectionParams
    from fascidetect.pipeline import detect

    res = detect(data[:, : int(60 * sfreq)], sfreq=sfreq)
    return preprocessing.design_filter(sfreq, DetectionParams(), res.line_noise["notch_hz"])


def main(task, path, reps, seconds=None):
    warnings.simplefilter("ignore")
    reps = int(reps)
    out = {"task": task}
    import fascidetect  # noqa: F401  (imports count in the baseline)
    import mne  # noqa: F401
    import scipy.signal as ss

    base = _hwm_mb()
    if task == "copyto":
        data, sfreq = _load(path)
        buf = np.empty_like(data)
        out["times"] = _timed(lambda: np.copyto(buf, data), reps)
        out["n_samples"] = data.size
    elif task == "sosfiltfilt":
        data, sfreq = _load(path)
        sos = _cascade(path, data, sfreq)
        out["n_sections"] = int(sos.shape[0])
        out["times"] = _timed(lambda: ss.sosfiltfilt(sos, data, axis=-1), reps)
        out["n_samples"] = data.size
    elif task == "read_raw_edf":
        out["times"] = _timed(lambda: mne.io.read_raw_edf(path, preload=True, verbose="error"),
                              reps)
    elif task == "detect_file":
        from fascidetect import detect

        stages = []

        def run():
            res = detect(path)
            stages.append(res.timings)
            out["n_events"] = int(len(res.events))

        out["times"] = _timed(run, reps)
        out["stages"] = {k: float(np.median([s.get(k, 0.0) for s in stages])) for k in stages[0]}
    elif task == "detect_whole_array":
        from fascidetect import detect

        data, sfreq = _load(path)
        out["array_mb"] = data.nbytes / 2 ** 20
        before = _hwm_mb()
        out["times"] = _timed(lambda: detect(data, sfreq=sfreq, chunk_s=1e9), reps)
        out["peak_over_input"] = (_hwm_mb() - base) / out["array_mb"]
        out["extra_mb"] = _hwm_mb() - before
        out["n_samples"] = data.size
    elif task == "detect_slice":
        # The array the peers are timed on (benchmarks/run.py peers): every EMG channel
        # of the file's first ``seconds``, as one array in memory.
        from fascidetect import detect

        raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
        sfreq = raw.info["sfreq"]
        data = raw.get_data(start=0, stop=int(float(seconds) * sfreq))
        out["times"] = _timed(lambda: detect(data, sfreq=sfreq), reps)
        out["n_samples"] = data.size
        out["n_channels"] = data.shape[0]
    elif task == "detect_chunked_lazy":
        from fascidetect import detect, read

        rec = read(path, preload=False)
        before = _hwm_mb()
        out["times"] = _timed(lambda: detect(rec), reps)
        out["extra_mb"] = _hwm_mb() - before
        out["n_samples"] = rec.n_samples * len(rec.emg_picks)
        out["lazy"] = rec.is_lazy
    else:
        raise SystemExit(f"unknown task {task}")
    out["peak_rss_mb"] = _hwm_mb()
    out["baseline_rss_mb"] = base
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:5])
