"""The template-matching pass and HD-grid neighbourhood detection (issue 12, items 3-4):
known truth, pure noise, and the switch that gives the threshold scan's events alone."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

import fascidetect
from fascidetect import matching, neighbourhood

FS = 2048.0
GOLDEN = Path(__file__).resolve().parent / "golden"


def _band_sigma(x):
    sos = signal.butter(4, [20, 450], btype="band", fs=FS, output="sos")
    return float(np.std(signal.sosfiltfilt(sos, x)))


def _potential(peak_bp: float):
    """A biphasic potential (2-ms Gaussian derivative) whose band-passed peak is ``peak_bp``."""
    t = np.arange(-40, 41) / FS
    wave = -t / 0.002 * np.exp(-0.5 * (t / 0.002) ** 2)
    sos = signal.butter(4, [20, 450], btype="band", fs=FS, output="sos")
    bp = signal.sosfiltfilt(sos, np.pad(wave, 400))[400:-400]
    return wave * peak_bp / np.abs(bp).max()


def _unit_recording(seconds, seed, peak_sigmas, until_s=None):
    """4 channels of white noise with one unit firing about every 1.2 s (its potential
    at ``peak_sigmas`` band-passed noise sigmas on channel 1, half that on channel 2)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = 5e-6 * rng.standard_normal((4, n))
    wave = _potential(peak_sigmas * _band_sigma(x[0]))
    last = until_s if until_s is not None else seconds - 1.0
    times = np.arange(1.0, last, 1.2) + rng.uniform(-0.3, 0.3, np.arange(1.0, last, 1.2).size)
    for t in times:
        i = int(t * FS)
        x[1, i - 40:i + 41] += wave
        x[2, i - 40:i + 41] += 0.5 * wave
    return x, times


def _found(events, times, tol=0.01):
    f = events[events["trial_type"] == "fasciculation"]
    if f.size == 0:
        return np.zeros(times.size, bool), f
    return (np.abs(times[:, None] - f["peak_time"][None, :]) <= tol).any(axis=1), f


def test_sub_threshold_discharges_of_a_learnt_unit_are_found_only_by_the_pass():
    # A unit at 4 sigma: noise pushes some discharges over the 5-sigma threshold (they
    # teach the template) and leaves most under it.
    x, times = _unit_recording(120.0, 3, 4.0)
    off = fascidetect.detect(x, sfreq=FS, template_matching=False)
    on = fascidetect.detect(x, sfreq=FS)
    hit_off, _ = _found(off.events, times)
    hit_on, fasc = _found(on.events, times)
    assert hit_off.mean() < 0.5
    assert hit_on.mean() >= 0.95
    assert np.isnan(off.events["match_score"]).all()
    matched = fasc[np.isfinite(fasc["match_score"])]
    assert matched.size >= 0.3 * times.size
    assert (matched["match_score"] >= on.params.match_sigma).all()
    # Each found discharge is counted once, and no noise is counted.
    assert fasc.size <= hit_on.sum() + 1


def test_no_matches_on_pure_noise():
    # The unit fires for 20 s, then 4 minutes of noise alone: its template is learnt,
    # and nothing in the noise may match it.
    x, times = _unit_recording(260.0, 4, 7.0, until_s=20.0)
    res = fascidetect.detect(x, sfreq=FS, match_min_discharges=5)
    ev = res.events
    late = ev[(ev["peak_time"] > 21.0) & np.isfinite(ev["match_score"])]
    assert late.size == 0
    # The calibration of the null: the score's spread on quiet stretches is about 1.
    assert np.isfinite(ev["match_score"]).sum() <= 2


def test_match_block_separates_overlapping_discharges():
    # Two units 10 samples apart (5 ms) on shared channels: both are found and fitted.
    rng = np.random.default_rng(0)
    nk, w = 256, 61
    model = matching.NoiseModel(psd=np.full((2, nk // 2 + 1), 4.0), inv_corr=np.eye(2),
                                n_kernel=nk, windows=[], quiet_lags=[])
    temps = np.zeros((2, 2, w))
    temps[0, 0] = 10 * np.sin(np.linspace(0, 2 * np.pi, w)) * np.hanning(w)
    temps[1, 1] = 8 * np.sin(np.linspace(0, 3 * np.pi, w)) * np.hanning(w)
    temps[1, 0] = 3 * np.hanning(w)
    bank = matching.build_bank(temps, np.array([20, 20]), np.array([2.0, 2.0]), model, 5.0)
    x = 2.0 * rng.standard_normal((2, 20000))
    for start, u in ((1000, 0), (1010, 1), (5000, 1), (5030, 0)):
        x[:, start + bank.pad:start + bank.pad + w] += temps[u]
    m, residual = matching.match_block(x, bank, fascidetect.DetectionParams(), 31)
    got = sorted(zip(m.start.tolist(), m.unit.tolist()))
    assert [u for _, u in got] == [0, 1, 1, 0]
    assert np.abs(np.array([s for s, _ in got]) - [1000, 1010, 5000, 5030]).max() <= 2
    assert np.all(np.abs(m.amplitude - 1) < 0.35)
    # What is left is noise.
    assert np.std(residual[:, 900:1200]) < 2.6


@pytest.mark.parametrize("name", ["sim_ecg", "sim_hum_motion"])
def test_switch_off_gives_the_threshold_scans_events(name, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_golden", Path(__file__).resolve().parents[1] / "scripts" / "make_golden.py")
    make_golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_golden)
    case = {c[0]: c for c in make_golden.SIMULATED}[name]
    rec, _ = fascidetect.simulation.simulate(scenario=case[1], seed=case[2], duration_s=case[3])
    out = fascidetect.detect(rec, template_matching=False).to_tsv(tmp_path / "off.tsv")
    rows = lambda p: list(csv.DictReader(open(p, newline="", encoding="utf-8"), delimiter="\t"))  # noqa: E731
    stored, now = rows(GOLDEN / "off" / f"{name}_events.tsv"), rows(out)
    assert len(now) == len(stored)
    for a, b in zip(now, stored):
        assert {c: a[c] for c in b} == b
    if name == "sim_ecg":
        # With the pass on, the table gains an overlapped discharge, with its score.
        on = fascidetect.detect(rec).events
        assert on.size == len(stored) + 1
        assert np.isfinite(on["match_score"]).sum() == 1


#: Times of the patch discharges of the grid tests (s).
PATCH_TIMES = np.arange(2.0, 58.0, 1.37)


def _grid_with_patch(patch, seed: int) -> np.ndarray:
    """Return 60 s of 5-µV noise on 64 electrodes with a potential of 3 band-passed
    sigmas on each electrode of ``patch`` at :data:`PATCH_TIMES`."""
    x = 5e-6 * np.random.default_rng(seed).standard_normal((64, int(60 * FS)))
    wave = _potential(3.0 * _band_sigma(x[0]))
    for t in PATCH_TIMES:
        i = int(t * FS)
        x[patch, i - 40:i + 41] += wave
    return x


#: No units learnt (match_min_discharges too high): neighbourhood detection alone.
_NEIGHBOURHOOD_ONLY = dict(sfreq=FS, match_min_discharges=10_000, neighbourhood_sigma=6.0)


def test_nine_neighbours_at_three_sigma_are_found_on_a_grid():
    # A potential at 3 band-passed sigmas on each of 9 neighbouring electrodes of an 8x8
    # grid: rarely over the 5-sigma threshold on any one of them.
    patch = [r * 8 + c for r in (2, 3, 4) for c in (3, 4, 5)]
    x = _grid_with_patch(patch, seed=1)
    kw = dict(_NEIGHBOURHOOD_ONLY, layout=(8, 8))
    off = fascidetect.detect(x, template_matching=False, **kw)
    on = fascidetect.detect(x, **kw)
    hit_off, _ = _found(off.events, PATCH_TIMES)
    hit_on, fasc = _found(on.events, PATCH_TIMES)
    assert hit_off.mean() < 0.7
    assert hit_on.mean() >= 0.9
    new = fasc[np.isfinite(fasc["match_score"])]
    assert new.size and (new["match_score"] >= on.params.neighbourhood_sigma).all()
    # Its channels are electrodes of the patch.
    names = on.recording["emg_channels"]
    assert all(set(ch.split(",")) <= {names[i] for i in patch} for ch in new["channels"])


def test_a_grid_with_a_dead_electrode_keeps_neighbourhood_detection():
    # The same patch with its centre electrode dead and left out (an HD grid with a bad
    # channel): declared as a hole, the other eight still find the discharges, and no
    # discharge is put on the missing electrode. Before layout_missing, the 63 channels
    # could not be declared as the 8x8 grid at all (layout-size ParameterError).
    patch = [r * 8 + c for r in (2, 3, 4) for c in (3, 4, 5)]
    x = _grid_with_patch(patch, seed=1)
    dead = 3 * 8 + 4
    names = [f"EMG{k + 1}" for k in range(64) if k != dead]
    kw = dict(_NEIGHBOURHOOD_ONLY, ch_names=names, layout=(8, 8), layout_missing=(dead + 1,))
    on = fascidetect.detect(np.delete(x, dead, axis=0), **kw)
    hit_on, fasc = _found(on.events, PATCH_TIMES)
    assert hit_on.mean() >= 0.85
    new = fasc[np.isfinite(fasc["match_score"])]
    assert new.size
    live = {f"EMG{k + 1}" for k in patch if k != dead}
    assert all(set(ch.split(",")) <= live for ch in new["channels"])
    quiet = fascidetect.detect(np.delete(_grid_with_patch([], seed=5), dead, axis=0), **kw)
    assert np.isfinite(quiet.events["match_score"]).sum() == 0


def test_neighbourhood_detection_on_a_named_otb_grid():
    # OTB's 13x5 grid in the maker's channel order (one corner empty): the patch is found
    # where the electrodes are, not where row-major order would put channels. Named
    # grids had no neighbourhood detection before.
    grid = neighbourhood.grid_slots("GR08MM1305", 64)
    patch = [int(grid.channel_of[r * 5 + c]) for r in (5, 6, 7) for c in (1, 2, 3)]
    on = fascidetect.detect(_grid_with_patch(patch, seed=2), layout="GR08MM1305",
                            **_NEIGHBOURHOOD_ONLY)
    hit_on, fasc = _found(on.events, PATCH_TIMES)
    assert hit_on.mean() >= 0.9
    new = fasc[np.isfinite(fasc["match_score"])]
    names = on.recording["emg_channels"]
    patch_names = {names[i] for i in patch}
    # Each new discharge is seen mostly on the patch's electrodes (a neighbourhood one
    # column over may add an edge electrode that noise lifted), its main one on the patch.
    assert new.size >= 20
    assert all(len(set(ch.split(",")) & patch_names) >= 5 for ch in new["channels"])
    assert np.isin(new["channel"], list(patch_names)).mean() >= 0.9


def test_neighbourhood_detection_is_silent_on_grid_noise():
    x = 5e-6 * np.random.default_rng(5).standard_normal((64, int(60 * FS)))
    on = fascidetect.detect(x, sfreq=FS, layout=(8, 8), neighbourhood_sigma=6.0)
    assert np.isfinite(on.events["match_score"]).sum() == 0


def test_neighbourhoods_of_a_grid():
    hoods = neighbourhood.neighbourhoods(4, 5)
    assert hoods.shape == (2 * 3, 9)
    assert list(hoods[0]) == [0, 1, 2, 5, 6, 7, 10, 11, 12]
    assert neighbourhood.grid_slots((1, 8), 8) is None
    assert neighbourhood.grid_slots((8, 8), 64).shape == (8, 8)
    assert neighbourhood.grid_slots((8, 8), 63) is None  # the channels do not fill it
    holed = neighbourhood.grid_slots((3, 3), 8, missing=(5,))
    assert holed.channel_of.tolist() == [0, 1, 2, 3, -1, 4, 5, 6, 7]
    # OTB's 13x5 grid: the maker's order, one corner empty.
    otb = neighbourhood.grid_slots("GR08MM1305", 64)
    assert otb.shape == (13, 5) and otb.channel_of[0] == -1 and otb.channel_of[5] == 0
    # Wilson-Hilferty: the chi-square median maps to about 0.
    assert abs(neighbourhood.wilson_hilferty(np.array([8.343]), 9)[0]) < 0.05


def _keep_blocks(cache, filt, widths):
    start = 0
    for w in widths:  # the scan's blocks, in order
        cache.keep(start, filt[:, start:start + w])
        start += w


def test_filtered_cache_in_a_file_reads_back_as_in_memory(monkeypatch):
    rng = np.random.default_rng(3)
    sigma = np.array([2e-6, 0.0, 5e-6])
    filt = 4e-6 * rng.standard_normal((3, 1000))
    memory = matching.FilteredCache(3, 1000, sigma)
    _keep_blocks(memory, filt, (300, 300, 400))
    _keep_blocks(memory, 2 * filt, (500, 500))
    monkeypatch.setattr(matching, "CACHE_BYTES", 0)  # too long to be held: spilled
    spilled = matching.FilteredCache(3, 1000, sigma)
    assert spilled.data is None
    _keep_blocks(spilled, filt, (300, 300, 400))
    _keep_blocks(spilled, 2 * filt, (500, 500))  # the scan run again (ECG) replaces it
    assert memory.complete and spilled.complete
    for lo, hi in [(0, 1000), (250, 620), (999, 1000)]:
        np.testing.assert_array_equal(spilled.get(lo, hi), memory.get(lo, hi))


def test_filtered_cache_without_room_leaves_the_pass_to_filter_again(monkeypatch):
    monkeypatch.setattr(matching, "CACHE_BYTES", 0)
    cache = matching.FilteredCache(2, 100, np.ones(2))

    def no_room(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matching._spill.ColumnSpill, "write", no_room)
    _keep_blocks(cache, np.ones((2, 100)), (50, 50))
    assert not cache.complete
    monkeypatch.setattr(matching, "SPILL_BYTES", 0)  # too long for the file too
    cache = matching.FilteredCache(2, 100, np.ones(2))
    _keep_blocks(cache, np.ones((2, 100)), (50, 50))
    assert not cache.complete and cache.spill is None


def _false_matched_fasciculations(params, seed=11):
    """Matched fasciculations of a near_activity seed that match no truth discharge."""
    from fascidetect.evaluation import match_times
    from fascidetect.simulation import simulate

    rec, truth = simulate(scenario="near_activity", seed=seed)
    ev = fascidetect.detect(rec, **params).events
    fas = ev[(ev["trial_type"] == "fasciculation")
             & np.isfinite(ev["match_score"].astype(float))]
    tf = truth[truth["trial_type"] == "fasciculation"]
    di, _ = match_times(fas["peak_time"], tf["peak_time"], np.full(tf.size, 0.010))
    return fas.size, fas.size - di.size


def test_a_match_must_show_on_its_units_main_channel():
    """On near_activity seed 11, three matches of a GAS unit 15 ms after large TA
    discharges (the GAS trace flat, 0.4-1.3 sigma) were false fasciculations: the score
    came from the unit's other channels. The main-channel test removes them and keeps
    every true match."""
    n_off, false_off = _false_matched_fasciculations({"match_main_fraction": 0.0})
    n_on, false_on = _false_matched_fasciculations({})
    assert false_off >= 3
    assert false_on == 0
    assert n_off - n_on == false_off  # only the false ones went


def test_a_match_in_the_ringing_of_a_larger_potential_on_its_channel_is_an_echo():
    """On near_activity seed 14, three matches on BF_R 38-45 ms beside discharges of
    100-130 sigma largest on other channels (20-30 sigma on BF_R) were the band-pass's
    ringing: the echo rule now weighs the match against its own channel's samples, as
    the scan's per-channel rule does, not only against candidates largest there."""
    n, false = _false_matched_fasciculations({}, seed=14)
    assert n > 0
    assert false == 0


def test_a_match_on_a_discharge_the_scan_saw_there_is_not_counted_again():
    """One motor unit about as large on two channels can be learnt twice (main EMG05
    and main EMG06; independent simulator, exploration seed 1012): a discharge the scan
    found largest on EMG05, seen on EMG06, was matched 1 ms later by the EMG06 unit and
    counted twice. A match beside such a candidate is new only when another match
    explains the candidate (two units overlapping a few ms apart), or when the unit does
    not show on the candidate's main channel (two muscles' units firing together:
    neighbour_muscles seed 200, a VL and a TA discharge 1 ms apart)."""
    from types import SimpleNamespace
    # Unit 0: main channel 1 (peak 30), 37 on channel 0; unit 1: main 1, 2 on channel 0.
    templates = np.zeros((2, 3, 5))
    templates[0, :, 2] = [37.0, 30.0, 0.0]
    templates[1, :, 2] = [2.0, 30.0, 0.0]
    bank = SimpleNamespace(main=np.array([1, 1]), templates=templates)
    # Candidates seen on channel 1, largest on channel 0 (37 each) or 2 (8000, 40).
    seen_on = [(np.array([], int), np.array([], int), np.array([])),
               (np.array([1000, 5000, 7000, 8000]), np.array([0, 0, 0, 2]),
                np.array([37.0, 37.0, 37.0, 40.0])),
               (np.array([], int), np.array([], int), np.array([]))]
    peak = np.array([1002, 5003, 4997, 7001, 8001, 9000])
    m = SimpleNamespace(unit=np.array([0, 0, 0, 1, 0, 0]), amplitude=np.ones(6))
    counted_again = matching._seen_alone(peak, np.arange(6), m, bank, seen_on, 8)
    # 1002: alone beside the candidate at 1000, and the unit's fit explains its 37 on
    # channel 0 -> counted again; 5003: another match (4997) explains the candidate at
    # 5000, and 4997 has 5003 beside it; 7001: unit 1 fits 2 of the candidate's 37 on
    # channel 0; 8001: unit 0 is nothing on channel 2; 9000: no candidate near.
    assert counted_again.tolist() == [True, False, False, False, False, False]


def test_window_max_is_the_running_maximum_of_the_magnitude():
    trace = np.array([0.0, -3.0, 1.0, 0.0, 0.0, 2.0, 0.0])
    got = matching._window_max(trace, np.array([0, 3, 6, 9]), 1)
    assert np.array_equal(got, [3.0, 1.0, 2.0, 2.0])


def test_window_max_of_few_indices_equals_the_running_maximum():
    """Few indices take their own windows, many the whole trace's running maximum:
    the same values, edges and indices beyond the trace included."""
    from scipy import ndimage
    rng = np.random.default_rng(3)
    trace = rng.standard_normal(1000).astype(np.float32)
    at = np.concatenate([[-5, 0, 2, 997, 999, 1004], rng.integers(0, 1000, 40)])
    running = ndimage.maximum_filter1d(np.abs(trace), size=2 * 7 + 1, mode="nearest")
    want = running[np.clip(at, 0, trace.size - 1)]
    few = matching._window_max(trace, at, 7)                   # 46 x 15 < 1000: windows
    many = matching._window_max(trace, np.repeat(at, 3), 7)     # 138 x 15 > 1000: filter
    assert np.array_equal(few, want)
    assert np.array_equal(many, np.repeat(want, 3))


def test_matched_rows_carry_the_phase_span_feature():
    """A phase span (``one_sample_phase_ms`` under the sample period) with template
    matching on: the scan's rows have ``span_peaks``, the matched rows must too
    (inserting them raised KeyError 'span_peaks'; review18)."""
    edf = Path(__file__).resolve().parents[1] / "signals" / "sim_mixed_L5.edf"
    result = fascidetect.detect(edf, params=fascidetect.DetectionParams(
        one_sample_phase_ms=0.4))
    assert len(result.fasciculations) > 0


def test_drift_rows_hold_the_ratio_at_every_lag():
    """The score floor's runs, expanded: per unit and lag, the unit's scale times the noise ratio
    of the segment its main-channel peak falls in (what ``at`` returns lag by lag)."""
    rng = np.random.default_rng(5)
    ratio = 1.0 + rng.random((3, 4))
    drift = matching._Drift(ratio, lo=1030, seg0=2, segment=500, offset=np.array([0, 37, 499]))
    scale = np.array([2.0, 0.5, 3.0])
    n = 1700
    values, bounds = drift.runs(n, scale)
    rows = np.repeat(values.ravel(), np.diff(bounds, axis=1).ravel()).reshape(3, n)
    lags = np.arange(n)
    want = np.stack([(scale[u] * drift.at(lags, np.full(n, u))).astype(np.float32)
                     for u in range(3)])
    assert rows.dtype == np.float32
    assert np.array_equal(rows, want)
    # The floor compared run by run equals the comparison with the rows (at least a
    # per-unit minimum, float32, as the matching pass takes it); ties included.
    minimum = np.array([2.5, 0.1, 1.0], dtype=np.float32)
    floor = np.maximum(rows, minimum[:, None])
    scores = rng.uniform(0.0, 8.0, (3, n)).astype(np.float32)
    scores[:, ::7] = floor[:, ::7]
    got = matching._at_least(scores, drift.runs(n, scale, minimum), out=np.ones((3, n), bool))
    assert np.array_equal(got, scores >= floor)


def _bank_of(templates, pad):
    n_u = templates.shape[0]
    return matching.UnitBank(templates=templates, kernels=[], kernel_channels=[],
                             norm=np.ones(n_u), scale=np.ones(n_u), main=np.zeros(n_u, int),
                             peak_offset=np.zeros(n_u, int),
                             channels=np.ones(templates.shape[:2], bool), pad=pad)


@pytest.mark.parametrize("n_matches", [3, 400])
def test_subtract_adds_every_template_once(n_matches):
    """Few matches (a loop) or many (one scatter per channel): every fitted template
    lands on its samples, overlaps and templates cut by the block's edges included, and
    adding them back restores the block (to rounding)."""
    rng = np.random.default_rng(n_matches)
    temps = rng.standard_normal((3, 4, 21))
    temps[1, 2] = 0.0  # a channel a template does not reach
    bank = _bank_of(temps, pad=5)
    n = 2000
    data = rng.standard_normal((4, n))
    start = np.concatenate([[-20, -8, n - 10], rng.integers(-5, n - 20, n_matches - 3)])
    m = matching.BlockMatches(unit=rng.integers(0, 3, start.size), start=start,
                              amplitude=rng.uniform(0.5, 2.0, start.size),
                              score=np.zeros(start.size))
    want = data.copy()
    for u, s0, a in zip(m.unit, m.start, m.amplitude):  # the definition, sample by sample
        for j in range(21):
            if 0 <= s0 + 5 + j < n:
                want[:, s0 + 5 + j] -= a * temps[u, :, j]
    got = data.copy()
    matching.subtract(got, m, bank)
    assert np.allclose(got, want, rtol=0, atol=1e-12)
    matching.subtract(got, m, bank, sign=-1.0)
    assert np.allclose(got, data, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fits_and_main_support_of_some_matches_equal_those_of_all(seed):
    """The matching pass judges only the matches still new: a match's misfit and its
    main-channel support are those it has when every match of the block is judged, to
    the last bit (a unit with one judged match among several included), windows cut by
    the block's edges too."""
    rng = np.random.default_rng(seed)
    n_u, n_ch, w, pad, n = 4, 5, 41, 7, 3000
    temps = rng.standard_normal((n_u, n_ch, w))
    bank = _bank_of(temps, pad)
    bank.kernel_channels = [np.array([0, 1, 3]), np.array([2]), np.array([0, 4]),
                            np.arange(n_ch)]
    bank.main = np.array([0, 2, 4, 1])
    residual = rng.standard_normal((n_ch, n))
    segment = 250
    local = rng.uniform(0.5, 2.0, (n_ch, n // segment + 2))
    local[1, 3] = 0.0  # a segment without a noise estimate
    start = np.concatenate([[-30, n - 20], rng.integers(-10, n - 40, 60)])
    unit = rng.integers(0, n_u, start.size)
    unit[:2] = 3
    m = matching.BlockMatches(unit=unit, start=start, amplitude=rng.uniform(0.5, 2, start.size),
                              score=np.zeros(start.size))
    every = matching._fits(residual, m, bank, local, 0, 0, segment)
    own_all, fitted_all = matching.main_channel_support(residual, m, bank, local, 0, 0, segment)
    one_of_unit = np.array([np.flatnonzero(unit == u)[0] for u in range(n_u)])
    for rows in (one_of_unit, np.flatnonzero(rng.random(start.size) < 0.3), np.arange(0)):
        some = matching._fits(residual, m, bank, local, 0, 0, segment, rows=rows)
        assert np.array_equal(some, every[rows])
        own, fitted = matching.main_channel_support(residual, matching._rows(m, rows), bank,
                                                    local, 0, 0, segment)
        assert np.array_equal(own, own_all[rows]) and np.array_equal(fitted, fitted_all[rows])


@pytest.mark.parametrize("merge", [1, 2])
def test_new_discharges_merged_as_the_pass_goes_equal_those_joined_at_its_end(monkeypatch,
                                                                               merge):
    x, _ = _unit_recording(240.0, 3, 4.0)
    params = fascidetect.DetectionParams(chunk_s=20.0)  # 12 blocks
    whole = fascidetect.detect(x, sfreq=FS, params=params)
    monkeypatch.setattr(matching, "_MERGE_PARTS", merge)
    merged = fascidetect.detect(x, sfreq=FS, params=params)
    assert np.isfinite(whole.events["match_score"]).sum() >= 20
    assert merged.events.size == whole.events.size
    for name in whole.events.dtype.names:  # loop over columns (NaN equals NaN)
        np.testing.assert_array_equal(merged.events[name], whole.events[name])


def test_blocks_inside_skipped_spans_are_not_matched_and_the_table_is_the_same(monkeypatch):
    # A 100-s annotated task (70-170 s) over blocks of 19.9 s: the 4 wholly inside it
    # (79.7-159.4 s) are not matched; their discharges, dropped anyway, leave the table
    # as it was.
    x, _ = _unit_recording(240.0, 3, 4.0)
    rec = fascidetect.Recording(x, FS, [f"EMG{i}" for i in range(4)], ["emg"] * 4,
                                annotations=[(70.0, 100.0, "voluntary task")])
    params = fascidetect.DetectionParams(chunk_s=20.0)
    calls = []
    real = matching.match_block
    monkeypatch.setattr(matching, "match_block",
                        lambda filt, *a, **k: calls.append(filt.shape[1]) or real(filt, *a, **k))
    skipped = fascidetect.detect(rec, params=params)
    n_skipped = len(calls)
    calls.clear()
    monkeypatch.setattr(matching, "inside_spans", lambda *a: False)
    every = fascidetect.detect(rec, params=params)
    assert n_skipped == len(calls) - 4
    assert np.isfinite(every.events["match_score"]).sum() >= 10
    t = every.events["peak_time"]
    assert not ((t >= 70.0) & (t < 170.0)).any()  # the task's discharges are not listed
    assert skipped.events.size == every.events.size
    for name in every.events.dtype.names:  # loop over columns (NaN equals NaN)
        np.testing.assert_array_equal(skipped.events[name], every.events[name])


def test_inside_spans_judges_every_sample_as_a_peak_is_judged():
    spans = [(1.0, 2.0), (2.0, 3.0)]
    assert matching.inside_spans(100, 300, 100.0, spans)
    assert not matching.inside_spans(100, 301, 100.0, spans)  # sample 300 is at 3.0 s
    assert not matching.inside_spans(99, 300, 100.0, spans)
    assert not matching.inside_spans(100, 300, 100.0, [(1.0, 1.5), (1.51, 3.0)])  # a gap
    assert not matching.inside_spans(100, 300, 100.0, [])
