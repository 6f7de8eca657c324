"""SpikeInterface baseline: ``detect_peaks`` (locally exclusive, matched filtering) on
the band-passed data fascidetect's threshold baseline sees.

Benchmark-only (``pip install .[bench]``): SpikeInterface 0.105 and numba. Electrodes
are placed 100 µm apart: on a declared layout as the grid or linear array, otherwise on a
line in channel order (a montage of separate muscles), so ``radius_um=150`` takes in an
electrode's direct neighbours (diagonals of a grid too) as the locally exclusive
neighbourhood. Thresholds are 5 MAD sigmas, ``peak_sign="both"``, and the exclusion
sweep is 8 ms, the dead time fascidetect uses (SpikeInterface's 1-ms default is meant
for 1-ms spikes; surface potentials last 5-20 ms).
"""

from __future__ import annotations

import numpy as np

PITCH_UM = 100.0
RADIUS_UM = 150.0
SWEEP_MS = 8.0


def band_passed(rec):
    """Return (band-passed data (channels, samples), MAD sigma per channel)."""
    from fascidetect import preprocessing
    from fascidetect.params import DetectionParams

    x = rec.get_data(rec.emg_picks)
    sos = preprocessing.design_filter(rec.sfreq, DetectionParams(), ())
    y = preprocessing.filter_emg(x - np.median(x, axis=1, keepdims=True), sos)
    return y, np.median(np.abs(y), axis=1) / 0.6745


def _recording(y, fs, layout):
    import spikeinterface.core as si

    n = y.shape[0]
    if layout is not None:
        r, c = np.divmod(np.arange(n), int(layout[1]))
    else:
        r, c = np.zeros(n), np.arange(n)
    rec = si.NumpyRecording([np.ascontiguousarray(y.T, dtype=np.float32)], sampling_frequency=fs)
    rec.set_channel_locations(np.column_stack([c, r]).astype(float) * PITCH_UM)
    return rec


def detect(rec, method: str = "locally_exclusive", layout=None) -> np.ndarray:
    """Return an event table of SpikeInterface's peaks (every peak one fasciculation)."""
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    from fascidetect.events import empty_events

    y, sigma = band_passed(rec)
    fs = rec.sfreq
    si_rec = _recording(y, fs, layout)
    job = {"n_jobs": 1, "progress_bar": False, "chunk_duration": "10s"}
    common = dict(peak_sign="both", detect_threshold=5, exclude_sweep_ms=SWEEP_MS,
                  radius_um=RADIUS_UM)
    if method == "locally_exclusive":
        kwargs = dict(common, noise_levels=sigma.astype(np.float32))
    elif method == "matched_filtering":
        # Seeded noise chunks: SpikeInterface draws them at random (run-to-run spread).
        kwargs = dict(common, prototype=_prototype(si_rec, sigma, fs), ms_before=SWEEP_MS / 2,
                      random_chunk_kwargs={"num_chunks_per_segment": 20, "seed": 0},
                      weight_method={"mode": "exponential_3d", "z_list_um": np.linspace(0, 200.0, 5),
                                     "sigma_3d": 2.5})
    else:
        raise ValueError(method)
    peaks = detect_peaks(si_rec, method=method, method_kwargs=kwargs, job_kwargs=job)
    t = np.sort(peaks["sample_index"]) / fs
    ev = empty_events(t.size)
    ev["peak_time"] = ev["onset"] = t
    ev["trial_type"] = "fasciculation"
    return ev


def _prototype(si_rec, sigma, fs, n_max: int = 2000):
    """Return the median potential at its channel around up to ``n_max`` positive locally
    exclusive peaks, as SpikeInterface's ``get_prototype_and_waveforms_from_peaks`` does
    (done here in NumPy: that helper needs scikit-learn)."""
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    job = {"n_jobs": 1, "progress_bar": False, "chunk_duration": "10s"}
    peaks = detect_peaks(si_rec, method="locally_exclusive",
                         method_kwargs=dict(peak_sign="pos", detect_threshold=5,
                                            exclude_sweep_ms=SWEEP_MS, radius_um=RADIUS_UM,
                                            noise_levels=sigma.astype(np.float32)),
                         job_kwargs=job)
    half = int(SWEEP_MS / 2 * fs / 1000.0)
    traces = si_rec.get_traces()
    ok = (peaks["sample_index"] >= half) & (peaks["sample_index"] < traces.shape[0] - half)
    peaks = peaks[ok]
    if peaks.size > n_max:
        peaks = peaks[np.random.default_rng(0).choice(peaks.size, n_max, replace=False)]
    if peaks.size == 0:  # nothing above threshold: a generic biphasic potential
        u = np.linspace(-2.5, 2.5, 2 * half + 1)
        return (-2 * u * np.exp(-u ** 2)).astype(np.float32)
    pos = peaks["sample_index"][:, None] + np.arange(-half, half + 1)[None, :]
    snips = traces[pos, peaks["channel_index"][:, None]]
    return np.median(snips / np.abs(snips[:, half:half + 1]), axis=0).astype(np.float32)
