"""Unit behaviour of the pipeline's steps: hum removal, peaks, clusters, ECG rhythm,
motion spans, motor-unit templates."""

from __future__ import annotations

import numpy as np
import pytest

from fascidetect import detection, episodes, preprocessing, templates
from fascidetect.stages import artifacts, firing
from fascidetect.params import DetectionParams

from conftest import muap


def test_line_frequency_refined_and_hum_removed_without_touching_discharges():
    fs = 2048.0
    rng = np.random.default_rng(0)
    n = int(20 * fs)
    t = np.arange(n) / fs
    hum = 50e-6 * np.sin(2 * np.pi * 50.03 * t) + 15e-6 * np.sin(2 * np.pi * 150.09 * t + 1)
    x = 2e-6 * rng.standard_normal((2, n)) + hum
    wave = muap(fs, p2p_v=300e-6, phases=2)
    i = int(7.3 * fs)
    x[0, i:i + wave.size] += wave
    line = preprocessing.detect_line_noise(x, fs, DetectionParams(), 450.0)
    assert line.freq_hz == pytest.approx(50.03, abs=0.01)
    assert 150 < max(line.notch_hz) < 151
    prep = preprocessing.Preprocessor.build(fs, DetectionParams(), line)
    y = prep.apply(x, 0)
    quiet = y[1, int(2 * fs):int(18 * fs)]
    assert np.std(quiet) < 3e-6  # hum gone: back to the (band-passed) noise
    seg = y[0, i - 20:i + wave.size + 20]
    assert np.ptp(seg) == pytest.approx(300e-6, rel=0.15)
    # no echo of the discharge elsewhere in its hum-fitting window
    after = y[0, i + wave.size + 60:i + int(0.5 * fs)]
    assert np.abs(after).max() < 5 * 2e-6


def test_peak_picking_keeps_doublets_and_drops_echoes():
    fs = 2048.0
    x = np.zeros((1, int(fs)))
    wave = muap(fs, p2p_v=100e-6, phases=2)
    for t in (0.2, 0.233):
        i = int(t * fs)
        x[0, i:i + wave.size] += wave
    echo = 0.1 * wave  # small potential 40 ms after a big one: ringing, not a discharge
    i = int(0.6 * fs)
    x[0, i:i + wave.size] += 10 * wave
    x[0, i + 82:i + 82 + wave.size] += echo * 10 * 0.2
    ch, idx, amp = detection.find_channel_peaks(x, np.array([5e-6]), 31, 123, 0.25)
    assert idx.size == 3


def test_other_phase_of_a_long_potential_is_not_a_second_discharge():
    # A biphasic potential whose phases peak 9 ms apart (past the 8-ms dead time), the
    # first at half the second: one discharge. Two same-polarity peaks 9 ms apart (a
    # doublet) stay two, and so does the biphasic pair with the phase rule switched off.
    fs = 2048.0
    t = np.arange(int(fs)) / fs

    def bump(at, a):
        return a * np.exp(-0.5 * ((t - at) / 0.0015) ** 2)

    biphasic = (bump(0.300, -50e-6) + bump(0.309, 100e-6))[None, :]
    doublet = (bump(0.600, 100e-6) + bump(0.609, 90e-6))[None, :]
    args = (np.array([10e-6]), 16, 123, 0.35)
    phase = {"phase_samples": int(0.012 * fs), "phase_fraction": 0.6}
    assert detection.find_channel_peaks(biphasic, *args, **phase)[1].size == 1
    assert detection.find_channel_peaks(biphasic, *args)[1].size == 2
    assert detection.find_channel_peaks(doublet, *args, **phase)[1].size == 2


def test_firing_clusters_adapt_to_channel_rate():
    params = DetectionParams()
    rng = np.random.default_rng(1)
    sporadic = np.sort(rng.uniform(0, 120, 80))            # 40/min Poisson
    burst = 60 + np.arange(12) * 0.05                       # 20 Hz train
    times = np.concatenate([sporadic, burst])
    chans = np.zeros(times.size, dtype=int)
    flagged = firing.firing_clusters(times, chans, params, 120.0)
    assert flagged[sporadic.size:].all()
    assert flagged[:sporadic.size].mean() < 0.1


def test_bursts_do_not_set_their_own_null_rate():
    # Sporadic firing at 12/min plus four short bursts (16 discharges in 1.5 s): judged
    # against the recording's mean rate the bursts would look ordinary; against the
    # background rate they are firing trains. Multiplets of a fasciculating unit (3
    # discharges within 60 ms) are not.
    rng = np.random.default_rng(4)
    sporadic = np.sort(rng.uniform(0, 120, 24))
    bursts = np.concatenate([s0 + np.sort(rng.uniform(0, 1.5, 16)) for s0 in (15, 45, 75, 105)])
    triplets = np.concatenate([s0 + np.array([0.0, 0.025, 0.06]) for s0 in (5, 30, 60, 90)])
    times = np.concatenate([sporadic, bursts, triplets])
    chans = np.zeros(times.size, dtype=int)
    trains = firing.firing_clusters(times, chans, DetectionParams(), 120.0)
    trains |= firing.near_members(times, chans, trains, 0.5)  # as the pipeline does
    n_s, n_b = sporadic.size, bursts.size
    assert trains[n_s:n_s + n_b].mean() >= 0.8  # 0.25 against the mean rate
    assert trains[:n_s].mean() <= 0.1
    assert not trains[n_s + n_b:].any()


def test_heart_rhythm_needs_coverage():
    rng = np.random.default_rng(2)
    beats = np.cumsum(0.8 + 0.02 * rng.standard_normal(100))
    poisson = np.sort(rng.uniform(0, 80, 80))
    assert artifacts.periodic_beats(beats, DetectionParams(), 4, span_s=80).mean() > 0.9
    assert not artifacts.periodic_beats(poisson, DetectionParams(), 4, span_s=80).any()


def test_motion_span_found_but_not_for_in_band_bursts():
    fs, win = 2000.0, 50
    n = int(30 * fs)
    rng = np.random.default_rng(3)
    raw = 3e-6 * rng.standard_normal((4, n))
    raw[:, int(10 * fs):int(11 * fs)] += 2e-3 * np.hanning(int(fs))[None, :]   # motion swing
    burst = 150e-6 * rng.standard_normal((4, int(2 * fs)))                     # spasm-like
    raw[:, int(20 * fs):int(22 * fs)] += burst
    from scipy.signal import butter, sosfiltfilt

    filt = sosfiltfilt(butter(4, [20, 450], "bandpass", fs=fs, output="sos"), raw, axis=-1)
    mx, mn = episodes.subwindow_range(raw, win)
    env = episodes.subwindow_rms(filt, win)
    spans = episodes.motion_spans(mx, mn, env, win / fs, DetectionParams())
    assert len(spans) == 1
    assert spans[0][0] < 10.5 < spans[0][1]


def test_units_separate_two_shapes_and_keep_one_unit_together():
    fs = 2048.0
    rng = np.random.default_rng(4)
    a = muap(fs, p2p_v=120e-6, phases=2)
    b = muap(fs, p2p_v=120e-6, phases=3)
    w = 61
    snippets = []
    for k in range(60):
        s = 2e-6 * rng.standard_normal((3, w))
        wave = a if k % 2 else b
        off = (w - wave.size) // 2
        s[0, off:off + wave.size] += wave
        s[1, off:off + wave.size] += 0.3 * wave
        snippets.append(s)
    snippets = np.array(snippets)
    units, tmpl = templates.assign_units(snippets, np.zeros(60, dtype=int), np.full(3, 2e-6))
    assert tmpl.shape[0] == 2
    assert len(set(units[::2])) == 1 and len(set(units[1::2])) == 1


def test_greedy_peak_selection_keeps_peaks_a_suppressed_peak_would_hide():
    # 12, 11 and 10 units at 0, 14 and 28 ms with a 15-ms dead time: the middle one is
    # removed by the first, and a removed peak removes nothing (the third stays).
    ch = np.zeros(3, dtype=int)
    keep = detection._suppress(ch, np.array([0, 14, 28]), np.array([12.0, 11.0, 10.0]),
                               15, 60, 0.25)
    assert keep.tolist() == [True, False, True]
    # Echoes (under a quarter of a kept peak within the shadow) still go.
    keep = detection._suppress(ch, np.array([0, 40, 90]), np.array([12.0, 2.0, 11.0]),
                               15, 60, 0.25)
    assert keep.tolist() == [True, False, True]


def test_doublets_are_found_and_flagged():
    # Half the discharges of a resting recording come as doublets 8-20 ms apart: both
    # discharges are counted and the later one is flagged with its interval.
    from fascidetect import detect
    from fascidetect.evaluation import evaluate
    from fascidetect.simulation import simulate

    rec, truth = simulate(scenario="rest", seed=21, doublet_prob=0.5,
                          doublet_interval_ms=(8.0, 20.0))
    res = detect(rec)
    # 0.87 with the former 15-ms dead time; pairs at the 8-ms
    # dead time itself are the ones still merged.
    assert evaluate(res.events, truth).f1 >= 0.90
    fasc = res.fasciculations
    flagged = fasc[fasc["doublet"] == 1]
    assert len(flagged) >= 0.15 * len(fasc)
    assert ((flagged["doublet_interval_ms"] >= 7.5) & (flagged["doublet_interval_ms"] <= 20)).all()
    assert 0.1 < res.summary()["doublet_share"] < 0.6


def test_rest_windows_of_a_block_never_merge_a_short_tail():
    # The block scan judges a tail under half a window alone (the window before it may lie
    # in the previous block), so whole-file and block-by-block grids agree.
    from fascidetect.rest import active_windows

    x = np.random.default_rng(0).standard_normal((1, 1100))
    merged = active_windows(x, 1000.0, [1.0], band_hz=(0.0, 500.0))[1]
    alone = active_windows(x, 1000.0, [1.0], band_hz=(0.0, 500.0), merge_tail=False)[1]
    assert merged.shape == (1, 1) and alone.shape == (1, 2)


@pytest.mark.parametrize("busy", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_peaks_of_one_polarity_equal_those_of_the_clipped_signal(busy, dtype):
    """``polarity=1`` / ``-1`` finds the peaks of ``np.maximum(x, 0)`` /
    ``np.minimum(x, 0)`` without making them: the same peaks, amplitudes, echoes and
    spanned peaks, per-segment thresholds and the phase rule included, sparse crossings
    (a few blocks expanded) and busy ones (one mask of the whole array)."""
    rng = np.random.default_rng(7 + busy)
    x = rng.standard_normal((3, 20_000)).astype(dtype)
    if not busy:
        x *= 0.2
        for c, i in [(0, 1000), (1, 5003), (2, 12000), (0, 19_990)]:
            x[c, i - 3:i + 4] += np.array([1, -3, 6, -9, 7, -2, 1], dtype=dtype)
    thresholds = np.abs(rng.normal(2.0, 0.3, (3, 5)))
    kw = dict(lo=7, hi=19_995, segment=4000, origin=0, phase_samples=9, phase_fraction=0.6,
              with_echoes=True, span_samples=12, with_spanned=True)
    for polarity, clipped in ((1, np.maximum(x, 0.0)), (-1, np.minimum(x, 0.0))):
        want = detection.find_channel_peaks(clipped, thresholds, 5, 30, 0.25, **kw)
        got = detection.find_channel_peaks(x, thresholds, 5, 30, 0.25, polarity=polarity, **kw)
        assert want[0].size > 0
        for w, g in zip(want[:3], got[:3]):
            assert np.array_equal(w, g)
        for w, g in zip(want[3:], got[3:]):
            assert np.array_equal(w[0], g[0]) and np.array_equal(w[1], g[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("polarity", [0, 1, -1])
def test_busy_crossings_found_as_maxima_are_the_maxima_among_all_crossings(dtype, polarity):
    """On a busy array the crossings are screened for local maxima in the same pass
    (``maxima_of``): exactly the crossings that pass the peak test (larger than the
    sample before, at least the one after), equal neighbours (a quantised signal) and
    the searched range's ends included."""
    rng = np.random.default_rng(11 + polarity)
    x = np.round(rng.standard_normal((4, 9000)) * 4).astype(dtype) / 4  # ties
    thresholds = np.array([1.0, 1.5, 0.5, np.inf])
    lo, hi = 1, 8999
    size = np.abs if polarity == 0 else \
        (lambda v: np.maximum(polarity * v, 0.0).astype(v.dtype, copy=False))
    ch, idx = detection._supra_threshold(x[:, lo:hi], thresholds, polarity=polarity)
    idx = idx + lo
    peak = (size(x[ch, idx]) > size(x[ch, idx - 1])) & (size(x[ch, idx]) >= size(x[ch, idx + 1]))
    got_ch, got_idx = detection._supra_threshold(x[:, lo:hi], thresholds, polarity=polarity,
                                                 maxima_of=(x, lo, hi, size))
    assert got_idx.size < idx.size  # the busy path (crossings that are no maxima left out)
    assert np.array_equal(got_ch, ch[peak]) and np.array_equal(got_idx + lo, idx[peak])
