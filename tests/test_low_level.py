"""Low-level firing: tonic units too small for the rest test and too gappy for a train
still make a channel's small discharges voluntary; nothing else does."""

from __future__ import annotations

import numpy as np
import pytest

import fascidetect
from fascidetect.evaluation import evaluate, match_times
from fascidetect.low_level import gaussian_peak_rate, low_level_windows, rest_expectation
from fascidetect.params import DetectionParams
from fascidetect.simulation import simulate

PARAMS = DetectionParams()


def test_poisson_noise_counts_make_no_window_low_level():
    # An hour of 8 channels at the scan's rest rate (0.6 peaks a window at 3.5 sigma),
    # some channels with a heavier floor (real electrode noise, a small heartbeat).
    rng = np.random.default_rng(3)
    lam = np.array([0.6, 0.6, 0.3, 1.0, 2.0, 4.0, 0.6, 0.1])[:, None]
    counts = rng.poisson(lam, size=(8, 3600)).astype(float)
    assert not low_level_windows(counts, 1.0, (20.0, 450.0), 2048.0, PARAMS).any()


def test_sustained_excess_is_low_level_but_a_short_cluster_is_not():
    rng = np.random.default_rng(4)
    counts = rng.poisson(0.6, size=(2, 120)).astype(float)
    counts[0, 40:60] = rng.poisson(6.0, 20)  # 20 s of a few small tonic units
    counts[1, 36:46] = [0, 1, 0, 1, 9, 9, 1, 0, 1, 0]  # a fasciculating unit's burst
    low = low_level_windows(counts, 1.0, (20.0, 450.0), 2048.0, PARAMS)
    assert low[0, 40:60].mean() >= 0.8 and not low[0, :39].any() and not low[0, 61:].any()
    assert not low[1].any()


def test_a_channel_busy_with_its_own_discharges_is_not_low_level():
    # Many fasciculating units on a channel: their smaller discharges make the excess,
    # and their threshold crossings outnumber it.
    counts = np.zeros((1, 60))
    counts[0, 20:40] = 6.0
    busy = low_level_windows(counts, 1.0, (20.0, 450.0), 2048.0, PARAMS)
    windows = np.repeat(np.arange(20, 40), 8)
    own = low_level_windows(counts, 1.0, (20.0, 450.0), 2048.0, PARAMS,
                            discharges=(np.zeros(windows.size, dtype=int), windows))
    assert busy[0, 20:40].all() and not own.any()


def test_rest_expectation_is_robust_to_busy_windows():
    rng = np.random.default_rng(5)
    row = rng.poisson(0.6, 200).astype(float)
    row[:80] = rng.poisson(8.0, 80)  # 40 % of the recording busy
    assert rest_expectation(row) < 1.5
    assert rest_expectation(np.zeros(50), floor=0.2) == 0.2


def test_gaussian_peak_rate_falls_with_the_level_and_the_band():
    assert gaussian_peak_rate(3.5, (20.0, 450.0), 2048.0) > gaussian_peak_rate(4.0, (20.0, 450.0), 2048.0)
    assert gaussian_peak_rate(3.5, (20.0, 90.0), 200.0) < gaussian_peak_rate(3.5, (20.0, 450.0), 2048.0)
    assert gaussian_peak_rate(3.5, (120.0, 450.0), 200.0) == 0.0


@pytest.mark.parametrize("bad", [{"low_level_windows": 0}, {"low_level_ratio": 0.0},
                                 {"low_level_p": 1.0}, {"low_level_sigma": -1.0}])
def test_bad_low_level_parameters_are_refused(bad):
    with pytest.raises(fascidetect.errors.ParameterError, match="low_level"):
        DetectionParams(**bad)


def test_small_tonic_units_are_not_fasciculations():
    # Tuning seed 300: five units of 2.3-4.5 sigma at about 8 Hz on TA_R and EHL_R (two
    # or three at once): 22 of their discharges were reported (c2fdada), too sparse for a
    # train and under the rest test.
    rec, truth = simulate(scenario="tonic", seed=300)
    events = fascidetect.detect(rec).events
    assert np.any(events["reason"] == "low_level_firing")
    with_test = evaluate(events, truth)
    without = evaluate(fascidetect.detect(rec, low_level_sigma=0).events, truth)
    assert with_test.voluntary_discharge_false_alarms <= 3
    assert without.voluntary_discharge_false_alarms >= 15
    assert with_test.tp >= without.tp


def test_large_discharges_in_low_level_firing_still_count():
    # Tuning seed 3: a fasciculating unit fires on a channel during its tonic stretch;
    # its discharges, far above the tonic units, are other units' (issue 11, item 1):
    # the test takes none of them.
    rec, truth = simulate(scenario="tonic", seed=3)
    fasc = truth[truth["trial_type"] == "fasciculation"]
    tonic = truth[(truth["trial_type"] == "voluntary") & (truth["unit"] >= 0)]
    during = np.zeros(fasc.size, dtype=bool)
    for ch in np.unique(tonic["channel"]):  # a loop over the tonic channels
        t = tonic["peak_time"][tonic["channel"] == ch]
        here = fasc["channel"] == ch
        during[here] = (fasc["peak_time"][here] > t.min()) & (fasc["peak_time"][here] < t.max())
    big = fasc[during & (fasc["snr"] >= 10)]
    found = []
    for options in ({}, {"low_level_sigma": 0}):
        ev = fascidetect.detect(rec, **options).events
        ev = ev[ev["trial_type"] == "fasciculation"]
        found.append(match_times(ev["peak_time"], big["peak_time"], 0.010)[0].size)
    assert big.size >= 10 and found[0] == found[1] >= big.size - 2


def test_rest_recording_has_no_low_level_firing():
    rec, _ = simulate(scenario="rest", seed=2)
    ev = fascidetect.detect(rec).events
    assert not np.any(ev["reason"] == "low_level_firing")
