"""The faster forms of issue 14 compute what the plain forms did (values, bytes, threads,
imports); the golden tests check the same on whole recordings."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from fascidetect import events as events_module
from fascidetect import features
from fascidetect._threads import one_blas_thread
from fascidetect.events import EVENT_COLUMNS, empty_events, write_events_tsv


def _lf_ratio_full_fft(raw, sfreq, band_low_hz):
    """The former lf_ratio: a full FFT of the detrended, Hann-windowed snippets."""
    w = raw.shape[1]
    t = np.arange(w) - (w - 1) / 2
    x = raw - raw.mean(axis=1, keepdims=True)
    q = max(1, w // 4)
    step = x[:, -q:].mean(axis=1) - x[:, :q].mean(axis=1)
    detr = x - (step / (w - q))[:, None] * t[None, :]
    spec = np.abs(np.fft.rfft(detr * np.hanning(w)[None, :], axis=1)) ** 2
    freqs = np.fft.rfftfreq(w, 1.0 / sfreq)
    low = spec[:, (freqs > 0) & (freqs < band_low_hz)].sum(axis=1)
    high = spec[:, freqs >= band_low_hz].sum(axis=1)
    return low / np.maximum(high, np.finfo(float).tiny)


@pytest.mark.parametrize("w,sfreq", [(401, 2000.0), (400, 2000.0), (51, 250.0), (411, 2048.0)])
def test_artifact_lf_ratio_matches_full_fft(w, sfreq):
    rng = np.random.default_rng(w)
    # Random walks on a DC offset: low-frequency dominated, the hard case for Parseval.
    raw = 1e-3 + 1e-6 * rng.standard_normal((300, w)).cumsum(axis=1)
    raw[:100] = 1e-5 * rng.standard_normal((100, w))  # white: high-frequency dominated
    before = raw.copy()
    got = features.artifact_features(raw, sfreq, 20.0)["lf_ratio"]
    np.testing.assert_allclose(got, _lf_ratio_full_fft(raw, sfreq, 20.0), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(raw, before)  # the input is not detrended in place


def test_sample_major_snippets_equal_event_major():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 500))
    centres = np.array([0, 7, 250, 499])
    by_sample = features.cut_snippets_by_sample(data, centres, 10)
    assert by_sample.shape == (3, 21, 4)
    np.testing.assert_array_equal(np.moveaxis(by_sample, 2, 0),
                                  features.cut_snippets(data, centres, 10))


def _row_by_row_tsv(events, path):
    """The former writer: every value through _format_value, row by row."""
    kinds = [dt[0] for _, dt, _ in EVENT_COLUMNS]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write("\t".join(name for name, _, _ in EVENT_COLUMNS) + "\n")
        for row in events:
            fh.write("\t".join(events_module._format_value(row[i], k)
                               for i, k in enumerate(kinds)) + "\n")


def test_column_writer_is_byte_identical_to_row_writer(tmp_path, monkeypatch):
    monkeypatch.setattr(events_module, "_CHUNK_ROWS", 7)  # several chunks and a partial one
    rng = np.random.default_rng(3)
    n = 40
    ev = empty_events(n)
    # Exact ties at the 7th decimal (k/2048 s, k/128), tiny, negative, large and NaN values.
    ev["onset"] = np.arange(n) * 16 / 2048.0
    ev["peak_time"] = np.arange(n) / 128.0 + 1e-7 * (np.arange(n) % 3 - 1)
    ev["duration"][::3] = np.nan
    ev["peak_amplitude_uv"] = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 5, n)
    ev["snr"][1::2] = -0.0
    ev["n_phases"] = rng.integers(-1, 5, n)
    ev["trial_type"] = rng.choice(["fasciculation", "artifact", ""], n)
    ev["channel"] = rng.choice(["EMG TA", "EMG\tR1\nC1", ""], n).astype(object)  # control chars too
    ev["channels"] = [",".join(["EMG TA"] * int(k)) for k in rng.integers(0, 3, n)]
    _row_by_row_tsv(ev, tmp_path / "rows.tsv")
    write_events_tsv(ev, tmp_path / "columns.tsv")
    assert (tmp_path / "columns.tsv").read_bytes() == (tmp_path / "rows.tsv").read_bytes()
    write_events_tsv(ev[:0], tmp_path / "empty.tsv")
    assert (tmp_path / "empty.tsv").read_text().count("\n") == 1  # the header alone


def _column_strings_tsv(events, path):
    """The former (speed16) writer: Python strings column by column (``f"{v:.6f}"``
    trimmed; for values over about 1e10 this differs from ``_format_value``, whose
    ``format_float_positional`` prints the shortest repr)."""
    fmts = [(name, events_module._COLUMN_FORMATTERS.get(dt[0], events_module._text_column))
            for name, dt, _ in EVENT_COLUMNS]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write("\t".join(name for name, _, _ in EVENT_COLUMNS) + "\n")
        columns = [fmt(events[name]) for name, fmt in fmts]
        fh.write("".join(["\t".join(row) + "\n" for row in zip(*columns)]))


def test_byte_writer_matches_string_writer_on_hard_values(tmp_path, monkeypatch):
    """The numpy byte rendering (fraction rounded from f * 1e6, near-ties and large
    values handed to Python) against the former string writer, over exact rounding ties,
    carries into the integer part, large, tiny, signed-zero and non-finite values."""
    monkeypatch.setattr(events_module, "_CHUNK_ROWS", 997)
    rng = np.random.default_rng(11)
    n = 6000
    ev = empty_events(n)
    k = rng.integers(0, 2 ** 22, n)
    ev["onset"] = k / 2048.0                                   # exact 7th-decimal ties
    ev["duration"] = rng.uniform(0, 1, n).round(6) + rng.choice([-5e-7, 5e-7, 0, 4.9999e-7], n)
    ev["peak_time"] = np.concatenate([k[:n // 2] / 2000.0, k[n // 2:] / 128.0])
    ev["peak_amplitude_uv"] = rng.standard_normal(n) * 10.0 ** rng.uniform(-9, 17, n)
    ev["duration_ms"] = rng.integers(0, 10 ** 6, n) + rng.choice([0.9999995, 0.99999949,
                                                                   0.9999996, 0.0, 0.5], n)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e15, 999999999999999.9,
                        -1e-7, 5e-7, 1.5e-6, 2.5e-6, 9.999999999e14, 4.5, -4.5])
    ev["snr"] = rng.choice(special, n)
    ev["rms_uv"][::2] = rng.uniform(-1e6, 1e6, n)[::2]
    ev["match_score"] = np.where(rng.random(n) < 0.5, np.nan, rng.uniform(-3, 40, n))
    ev["n_phases"] = rng.integers(-1, 2 ** 31 - 1, n)
    ev["isolated"] = rng.integers(-1, 2, n)
    ev["unit"] = rng.integers(-1, 40, n)
    ev["trial_type"] = rng.choice(["fasciculation", "artifact", "", "voluntary"], n)
    ev["reason"] = rng.choice(["a\tb", "µV large", "plain"], n)
    ev["channel"] = rng.choice(["EMG TA", "EMG\tR1\nC1", "", "µ\u2028x"], n).astype(object)
    ev["channels"] = [",".join(["EMG TA"] * int(j)) for j in rng.integers(0, 4, n)]
    _column_strings_tsv(ev, tmp_path / "strings.tsv")
    write_events_tsv(ev, tmp_path / "bytes.tsv")
    assert (tmp_path / "bytes.tsv").read_bytes() == (tmp_path / "strings.tsv").read_bytes()


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_one_blas_thread_limits_and_restores(monkeypatch):
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    before = _blas_threads()
    env_before = dict(os.environ)
    with one_blas_thread():
        assert set(_blas_threads()) <= {1}
    assert _blas_threads() == before
    assert dict(os.environ) == env_before  # the caller's environment is left alone


def test_help_and_import_leave_scipy_mne_matplotlib_unimported():
    code = ("import sys, fascidetect, fascidetect.cli\n"
            "try:\n    fascidetect.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = ('scipy.signal', 'scipy.stats', 'matplotlib', 'mne')\n"
            "print('heavy:' + ','.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip().splitlines()[-1] == "heavy:", out.stdout


def test_fft_filter_matches_sosfiltfilt_away_from_the_ends():
    from scipy.signal import sosfiltfilt

    from fascidetect.fftfilter import fft_filtfilt, zero_phase_kernel
    from fascidetect.params import DetectionParams
    from fascidetect.preprocessing import design_filter

    fs = 2000.0
    sos = design_filter(fs, DetectionParams())
    kernel = zero_phase_kernel(sos, fs, 1000)
    assert kernel is not None and kernel.size % 2 == 1 and kernel.size <= 2001
    rng = np.random.default_rng(5)
    # Noise on a 150-uV wander and a 20-mV offset, with a large spike.
    x = 1e-5 * rng.standard_normal((3, 30000)) + 1.5e-4 * np.sin(np.arange(30000) / 3000.0)
    x += 0.02
    x[:, 15000] += 5e-4
    want = sosfiltfilt(sos, x, axis=-1)
    got = fft_filtfilt(x, kernel, sos)
    assert got.dtype == np.float64 and got.shape == x.shape
    assert np.abs(got - want).max() / want.std() < 1e-5  # the ends included


def test_a_narrow_notch_stays_with_sosfiltfilt():
    from fascidetect.fftfilter import zero_phase_kernel
    from fascidetect.params import DetectionParams
    from fascidetect.preprocessing import Preprocessor, design_filter

    fs = 2000.0
    sos = design_filter(fs, DetectionParams(notch_q=300.0), notch_hz=(50.0,))
    assert zero_phase_kernel(sos, fs, 1000) is None  # rings for seconds: no FFT kernel
    from fascidetect.preprocessing import LineNoise  # noqa: F401  (the build's input type)

    prep = Preprocessor(sos=sos, line_hz=(), sfreq=fs, window=2000)
    x = np.random.default_rng(0).standard_normal((2, 8000))
    from scipy.signal import sosfiltfilt

    np.testing.assert_array_equal(prep.apply(x, 0), sosfiltfilt(sos, x, axis=-1))


def _random_candidates(rng, n, n_ch=4, start=0):
    from fascidetect.candidates import Candidates

    sample = np.sort(rng.integers(start, start + 50, n))  # many ties
    return Candidates(
        sample=sample, centre=sample + 1, channel=rng.integers(0, n_ch, n),
        channels=rng.random((n, n_ch)) < 0.5, amplitude=rng.standard_normal(n),
        snr=rng.random(n), features={"p2p": rng.random(n), "n_phases": rng.integers(1, 5, n)},
        snip_row=rng.integers(-1, 10, n), artifact_kind=rng.choice(["", "ecg"], n),
        label=rng.choice(["", "fasciculation"], n), reason=rng.choice(["", "x"], n),
        match_score=rng.random(n))


@pytest.mark.parametrize("n_a,n_b", [(40, 25), (0, 5), (7, 0)])
def test_insert_by_sample_equals_concatenate_and_stable_sort(n_a, n_b):
    from fascidetect.candidates import _COLUMNS, Candidates

    rng = np.random.default_rng(n_a + n_b)
    a, b = _random_candidates(rng, n_a), _random_candidates(rng, n_b)
    b.match_score = b.match_score.astype(np.float32)  # promoted as concatenate does
    want = Candidates.concatenate([a, b])
    want = want.select(np.argsort(want.sample, kind="stable"))
    a.insert_by_sample(b)
    for name in _COLUMNS:
        got, ref = getattr(a, name), getattr(want, name)
        assert got.dtype == ref.dtype, name
        np.testing.assert_array_equal(got, ref)
    assert a.features.keys() == want.features.keys()
    for key in want.features:
        np.testing.assert_array_equal(a.features[key], want.features[key])


def test_channel_table_and_summary_read_columns_as_the_rows_gave():
    from fascidetect import simulate
    from fascidetect.pipeline import detect

    rec, _ = simulate(scenario="rest", duration_s=120, sfreq=2000, n_channels=4, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short recording's rest warning
        res = detect(rec)
    fasc = res.fasciculations
    assert [c["n_fasciculations"] for c in res.channels] == \
        [int((fasc["channel"] == c["name"]).sum()) for c in res.channels]
    assert [c["n_doublets"] for c in res.channels] == \
        [int(((fasc["channel"] == c["name"]) & (fasc["doublet"] == 1)).sum())
         for c in res.channels]
    assert res.n_units == np.unique(fasc["unit"][fasc["unit"] >= 0]).size
    assert res.summary()["counts"]["fasciculation"] == len(fasc) > 0


def test_waveform_sample_holds_the_cap_smallest_keys_of_all_blocks():
    from fascidetect.scan import _WaveformSample, _waveform_key

    rng = np.random.default_rng(5)
    parts, snippet_parts = [], []
    sample = _WaveformSample(cap=50)
    for i in range(40):  # blocks of 0-59 candidates at distinct samples
        b = _random_candidates(rng, int(rng.integers(0, 60)))
        b.sample = np.sort(rng.choice(np.arange(100 * i, 100 * i + 100), len(b), replace=False))
        b.snip_row = np.full(len(b), -1)
        parts.append(b)
        snippet_parts.append(b.sample[:, None, None].astype(np.float64))
        sample.add(parts, snippet_parts)
    held = sample.finish(parts, snippet_parts)
    every = np.concatenate([b.sample for b in parts])
    want = np.sort(every[np.argsort(_waveform_key(every))[:50]])
    np.testing.assert_array_equal(np.sort(held[:, 0, 0]), want)
    rows = np.concatenate([b.snip_row for b in parts])
    np.testing.assert_array_equal(held[rows[rows >= 0], 0, 0], every[rows >= 0])


@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf, 10.5, -10.5, 10.0, -10.0])
def test_repair_nonfinite_quick_check_agrees_with_the_mask(bad):
    """The two-reduction check for clean blocks leaves every block the mask would."""
    from fascidetect.preprocessing import MAX_ABS_V, repair_nonfinite

    rng = np.random.default_rng(5)
    data = rng.standard_normal((3, 200)) * 1e-3
    if bad is not None:
        data[1, 17] = bad
    fixed, mask = repair_nonfinite(data)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(data) & (np.abs(data) <= MAX_ABS_V)
    if finite.all():
        assert mask is None and fixed is data
    else:
        np.testing.assert_array_equal(mask, ~finite)
        assert np.isfinite(fixed).all() and fixed[1, 17] == np.median(data[1][finite[1]])
    assert repair_nonfinite(np.zeros((2, 0)))[1] is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channel_snippets_from_the_sliding_view_equal_the_full_cut(dtype):
    """Each event's window on its own channel, rows of a sliding-window view: equal to
    cutting every channel and taking the event's, windows cut by either edge (edge
    samples repeated), a transposed (non-contiguous) array and no events included."""
    rng = np.random.default_rng(11)
    data = rng.standard_normal((5, 3000)).astype(dtype)
    centers = np.concatenate([[0, 3, 10, 2990, 2999], rng.integers(0, 3000, 200)])
    channels = rng.integers(0, 5, centers.size).astype(np.int16)
    for arr in (data, np.asfortranarray(data)):
        for half in (0, 10, 40):
            want = features.cut_snippets(arr, centers, half)[np.arange(centers.size), channels]
            got = features.cut_channel_snippets(arr, channels, centers, half)
            assert got.shape == want.shape and np.array_equal(got, want)
    empty = features.cut_channel_snippets(data, np.zeros(0, int), np.zeros(0, int), 10)
    assert empty.shape == (0, 21)


def test_allocator_thresholds_are_fixed_once_unless_the_environment_sets_them():
    """glibc's thresholds are set in a fresh process (once: a second call is a no-op
    that reports them set) and left alone when the environment chooses them."""
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc thresholds: Linux only")
    code = ("from fascidetect._memory import steady_block_allocations as s; "
            "print(s(), s())")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    if out[0] == "False":
        pytest.skip("not glibc")
    assert out == ["True", "True"]
    env["MALLOC_TRIM_THRESHOLD_"] = "65536"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 7, 316, 1024])
def test_one_selection_median_equals_numpy_median_bit_for_bit(dtype, n):
    from fascidetect._median import median_in_place, median_last_axis

    rng = np.random.default_rng(n)
    a = np.abs(rng.standard_normal((3, 40, n))).astype(dtype)
    a[0, :5] = np.round(a[0, :5], 1)  # ties
    a[1, 3] = 0.0
    a[2, 7, 0] = np.nan               # a row with NaN: NaN, as np.median gives
    a[2, 8, :] = np.nan
    want = np.median(a, axis=-1)
    got = median_last_axis(a)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
    copy = a.copy()
    np.testing.assert_array_equal(median_last_axis(copy, overwrite_input=True), want)
    finite = a[:2].copy()
    np.testing.assert_array_equal(median_in_place(finite.copy()), np.median(a[:2], axis=-1))
    # The former in-place median, two positions partitioned.
    k = n // 2
    old = np.sort(a[:2], axis=-1)
    old = old[..., k] if n % 2 else 0.5 * (old[..., k - 1] + old[..., k])
    np.testing.assert_array_equal(median_in_place(finite).view(np.uint8),
                                  np.ascontiguousarray(old).view(np.uint8))
