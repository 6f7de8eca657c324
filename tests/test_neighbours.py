"""Spatial neighbourhoods (issue 12): which channels may share one discharge."""

import warnings

import numpy as np
import pytest

import fascidetect
from fascidetect import detection, neighbours
from fascidetect.errors import ParameterError
from fascidetect.params import DetectionParams

FS = 2048.0
LEG = ["EMG TA_R", "EMG EHL_R", "EMG PL_R", "EMG GAS_R", "EMG SOL_R", "EMG GMED_R", "EMG BF_R",
       "EMG VL_R"]


def _potential(n_half: int, width_ms: float, order: int) -> np.ndarray:
    """A Hermite-Rodriguez potential (order 1 biphasic, 2 triphasic), peak 1."""
    u = np.arange(-n_half, n_half + 1) / (width_ms * FS / 1000.0)
    f = (2 * u if order == 1 else 4 * u ** 2 - 2) * np.exp(-u ** 2)
    return f / np.abs(f).max()


def _add(x, ch, t_s, wave, amp):
    i = int(round(t_s * FS)) - wave.size // 2
    x[ch, i:i + wave.size] += amp * wave


def _irregular_times(rng, n, start=1.0, lo=0.55, hi=1.9):
    # Irregular intervals (no heart-rate regularity, no firing train).
    return start + np.cumsum(rng.uniform(lo, hi, n))


def _fasciculations(res):
    return res.events[res.events["trial_type"] == "fasciculation"]


def test_undeclared_neighbourhood_merges_as_before():
    rng = np.random.default_rng(3)
    ch = rng.integers(0, 8, 400)
    idx = np.sort(rng.integers(0, 20000, 400))
    amp = rng.normal(0, 1, 400)
    before = detection.merge_across_channels(ch, idx, amp, 8, 30)
    after = detection.merge_across_channels(ch, idx, amp, 8, 30,
                                            neighbourhood=neighbours.undeclared(8))
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_different_muscles_never_merge_a_weaker_later_peak():
    # A large peak on channel 1 and one under half its size on channel 8, 6 ms later.
    ch, idx, amp = np.array([0, 7]), np.array([1000, 1012]), np.array([10.0, 4.0])
    one = detection.merge_across_channels(ch, idx, amp, 8, 30)
    assert one[2].size == 1  # undeclared: the weaker joins as "the same potential elsewhere"
    nb = neighbours.build(LEG, DetectionParams(muscles="auto"))
    assert nb.n_muscles == 8
    two = detection.merge_across_channels(ch, idx, amp, 8, 30, neighbourhood=nb)
    assert two[2].size == 2


def test_doublet_never_chains_through_a_weak_peak_on_another_channel():
    # A doublet 20 ms apart on channel 3 (210 and 231), the first discharge seen weakly on
    # channel 2 10 ms after it, i.e. 10 ms before the second (2 kHz: 41 samples apart, the
    # loose merge 31): the weak peak joins one of them, the doublet stays two discharges.
    ch, idx, amp = np.array([2, 1, 2]), np.array([1000, 1020, 1041]), np.array([210., 20., 231.])
    group, order, main = detection.merge_across_channels(ch, idx, amp, 8, 31)
    assert main.size == 2
    assert sorted(idx[order][main]) == [1000, 1041]
    # Nearer in time wins: the weak peak 20 samples after the first joins it.
    assert group[1] == group[0]


def _first_stage(t, merge):
    """Group ids of time-sorted peaks chained within ``merge`` samples."""
    return np.cumsum(np.concatenate([[True], np.diff(t) > merge])) - 1 if t.size else t


def test_loose_merge_never_chains_two_discharges_of_similar_size():
    # Random peaks (magnitudes from a few values, so ties occur) merged without a declared
    # neighbourhood. Every output group is a run of the peaks' first-stage groups (chained
    # within merge_samples), each next to the other a qualifying join (a weaker one on
    # another channel within loose_samples); only the main's first-stage group may hold a
    # peak of weak_ratio of the main or more, so two discharges of similar size never
    # share a group; and a weak group beside a qualifying larger one joins a larger one.
    rng = np.random.default_rng(0)
    merge, loose, ratio = 4, 15, 0.5
    for _ in range(3000):
        n = int(rng.integers(0, 14))
        ch = rng.integers(0, int(rng.integers(1, 5)), n)
        idx = rng.integers(0, 120, n)
        amp = rng.choice([1., 2., 3., 5., 8., 10., 20., 40., 100.], n) * rng.choice([-1, 1], n)
        group, order, main = detection.merge_across_channels(ch, idx, amp, merge, loose, ratio)
        t, c, mag = idx[order], ch[order], np.abs(amp[order])
        first = _first_stage(t, merge)
        assert np.all(np.diff(group) >= 0) and main.size == (group.max() + 1 if n else 0)
        top = [np.flatnonzero(first == f)[np.argmax(mag[first == f])]
               for f in range(first.max() + 1 if n else 0)]  # each one's largest peak

        def joins(a, b):  # first-stage groups a < b qualify for the loose join
            gap = t[first == b].min() - t[first == a].max()
            lo, hi = sorted((mag[top[a]], mag[top[b]]))
            return gap <= loose and lo < ratio * hi and c[top[a]] != c[top[b]]

        for g, m in enumerate(main):
            assert mag[m] == mag[group == g].max()
            parts = np.unique(first[group == g])
            assert np.array_equal(parts, np.arange(parts[0], parts[-1] + 1))
            assert all(joins(a, a + 1) for a in parts[:-1])
            assert all(mag[top[f]] < ratio * mag[m] for f in parts if f != first[m])
        for f in range(len(top)):
            larger = [o for o in (f - 1, f + 1) if 0 <= o < len(top) and joins(min(f, o), max(f, o))
                      and mag[top[o]] > mag[top[f]]]
            if larger:
                assert any(group[top[o]] == group[top[f]] for o in larger)


def test_simulated_doublets_of_a_large_unit_are_both_found():
    # Tuning seed 300 of the doublets row: a 230-uV unit on PL_R fires doublets 15-20 ms
    # apart, its first discharge seen weakly on EHL_R in between; the loose merge chained
    # the pair into one discharge (13 of the unit's first discharges lost).
    rec, truth = fascidetect.simulation.simulate(scenario="doublets", seed=300)
    fasc = _fasciculations(fascidetect.detect(rec))
    for t in (15.3501, 15.3701, 29.4229, 29.4385):
        assert np.abs(fasc["peak_time"] - t).min() < 0.002, t


def test_layout_must_fit_the_channels():
    with pytest.raises(ParameterError, match="8 EMG channels"):
        neighbours.build(LEG, DetectionParams(layout=(2, 8)))


def test_neighbouring_muscle_discharges_4_to_15_ms_apart_are_both_found():
    rng = np.random.default_rng(0)
    n = int(30 * FS)
    x = 3e-6 * rng.standard_normal((8, n))
    a_wave, b_wave = _potential(40, 2.0, 1), _potential(50, 2.5, 2)
    times = _irregular_times(rng, 20)
    gaps = np.linspace(4.0, 15.0, times.size) / 1000.0
    for t, gap in zip(times, gaps):
        _add(x, 0, t, a_wave, 120e-6)        # TA, with crosstalk on EHL
        _add(x, 1, t, a_wave, 20e-6)
        _add(x, 7, t + gap, b_wave, 45e-6)   # VL, a different unit under half TA's size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        merged = _fasciculations(fascidetect.detect(x, sfreq=FS, ch_names=LEG))
        res = fascidetect.detect(x, sfreq=FS, ch_names=LEG, muscles="auto")
    fasc = _fasciculations(res)
    assert merged.size < 2 * times.size  # undeclared: some VL discharges joined TA's
    assert fasc.size == 2 * times.size
    ta = np.sort(fasc["peak_time"][fasc["channel"] == "EMG TA_R"])
    vl = np.sort(fasc["peak_time"][fasc["channel"] == "EMG VL_R"])
    assert ta.size == vl.size == times.size
    np.testing.assert_allclose(vl - ta, gaps, atol=0.004)


def test_linear_array_discharge_with_a_late_lobe_far_away_counts_once():
    rng = np.random.default_rng(1)
    n = int(30 * FS)
    x = 3e-6 * rng.standard_normal((8, n))
    wave, lobe = _potential(40, 2.0, 1), _potential(20, 1.0, 2)
    times = _irregular_times(rng, 20)
    names = [f"EMG E{i + 1}" for i in range(8)]
    for t in times:
        # Spread over electrodes 3-5, propagating 1.5 ms per electrode, and the other
        # lobe 6 ms later on electrode 8.
        for ch, amp, delay in ((2, 60e-6, 0.0), (3, 100e-6, 1.5e-3), (4, 60e-6, 3.0e-3)):
            _add(x, ch, t + delay, wave, amp)
        _add(x, 7, t + 7.5e-3, lobe, 45e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fascidetect.detect(x, sfreq=FS, ch_names=names, layout=(1, 8))
    fasc = _fasciculations(res)
    assert fasc.size == times.size
    assert not (res.events["trial_type"] == "artifact").any()
    np.testing.assert_allclose(np.sort(fasc["peak_time"]), times + 1.5e-3, atol=0.004)
    assert all("EMG E4" in c and "EMG E8" in c for c in fasc["channels"])


def test_muscle_map_groups_channels_and_leaves_unknown_ones_apart():
    names = ["EMG 1", "EMG 2", "EMG 3", "EMG 4"]
    nb = neighbours.build(names, DetectionParams(muscles="1=TA_R;2=TA_R;3=GAS_R"))
    assert nb.n_muscles == 2
    assert nb.adjacent[0, 1] and not nb.adjacent[0, 2] and not nb.adjacent[2, 3]


def test_simulated_linear_array_propagates_from_the_innervation_zone():
    from fascidetect.simulation import simulate

    clean = dict(noise_uv=0.0, baseline_uv=0.0, line_uv=0.0, n_fasc_units=1, doublet_prob=0.0)
    rec, truth = simulate(duration_s=6, scenario="linear_array", seed=4, **clean)
    fasc = truth[truth["trial_type"] == "fasciculation"]
    t = fasc["peak_time"][0]
    x = rec.get_data(rec.emg_picks)[:, int((t - 0.03) * rec.sfreq):int((t + 0.03) * rec.sfreq)]
    seen = np.ptp(x, axis=1) > 0.2 * np.ptp(x, axis=1).max()
    assert 2 <= seen.sum() <= 8  # a footprint over several electrodes
    # Farther electrodes peak later (propagation), so peak times differ across the array.
    peak = np.argmax(np.abs(x), axis=1)[seen]
    assert np.ptp(peak) / rec.sfreq > 0.001


def test_simulated_neighbouring_muscles_fire_4_to_15_ms_apart():
    from fascidetect.simulation import simulate

    _, truth = simulate(duration_s=60, scenario="neighbour_muscles", seed=2)
    fasc = truth[truth["trial_type"] == "fasciculation"]
    ta = np.sort(fasc["peak_time"][fasc["channel"] == "EMG TA_R"])
    vl = np.sort(fasc["peak_time"][fasc["channel"] == "EMG VL_R"])
    assert ta.size and vl.size
    gap = np.abs(vl[:, None] - ta[None, :]).min(axis=1)
    close = gap[gap < 0.02]
    assert close.size >= 3 and close.min() >= 0.0035 and close.max() <= 0.0155


def test_declared_montage_gives_the_same_events_block_by_block():
    from fascidetect.simulation import simulate

    rec, _ = simulate(duration_s=45, scenario="linear_array", seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = fascidetect.detect(rec, layout=(1, 8)).events
        blocks = fascidetect.detect(rec, layout=(1, 8), chunk_s=20).events
    assert whole.size > 10
    for name in ("peak_time", "trial_type", "channels", "reason"):
        np.testing.assert_array_equal(whole[name], blocks[name])
