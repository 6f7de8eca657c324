"""Support peaks: a small tonic unit whose discharges cross the threshold only now and
then is still a train, and nothing else is."""

from __future__ import annotations

import numpy as np
import pytest

import fascidetect
from fascidetect.evaluation import match_times
from fascidetect.params import DetectionParams
from fascidetect.simulation import simulate
from fascidetect.support import SupportKeeper, SupportPeaks, _within


def _false_in_train(seed, **options):
    """False fasciculations inside one steady 6-8 Hz unit at 3.5-4 sigma, and recall."""
    rec, truth = simulate(scenario="tonic_single", seed=seed, tonic_snr=(3.5, 4.0),
                          tonic_rate_hz=(6.0, 8.0))
    ev = fascidetect.detect(rec, **options).events
    found = ev[ev["trial_type"] == "fasciculation"]["peak_time"]
    true = truth[truth["trial_type"] == "fasciculation"]["peak_time"]
    matched, _ = match_times(found, true, 0.010)
    false = np.setdiff1d(np.arange(found.size), matched)
    train = np.sort(truth[truth["trial_type"] == "voluntary"]["peak_time"])
    inside = (found[false] > train[0]) & (found[false] < train[-1])
    return int(inside.sum()), matched.size / true.size


@pytest.mark.parametrize("seed", [34, 36])
def test_small_tonic_unit_is_a_train_with_support_peaks(seed):
    # Half of a 3.6-sigma unit's discharges cross 5 sigma: without the support peaks
    # the gaps break the train and they are reported (seed 34: 32, seed 36: 6).
    with_support, recall = _false_in_train(seed)
    without, recall_without = _false_in_train(seed, tonic_support_sigma=0)
    assert with_support <= 2
    assert without >= with_support + 4
    assert recall >= recall_without - 0.01  # no true fasciculation lost to the trains


def test_support_peaks_are_kept_only_near_small_candidates():
    params = DetectionParams()
    fs = 1000.0

    class Block:  # the candidate columns the keeper reads
        def __init__(self, channel, sample, snr):
            self.channel, self.sample, self.snr = (np.asarray(v) for v in (channel, sample, snr))

    keeper = SupportKeeper(params, fs)
    peaks = SupportPeaks(np.array([0, 0, 1, 0], np.int16), np.array([1000, 9000, 1000, 61000]),
                         np.ones(4, bool))
    # Block 1: a small candidate at 2 s on channel 0, a large one at 8.5 s.
    keeper.add(peaks.select(np.array([True, True, True, False])),
               Block([0, 0], [2000, 8500], [6.0, 40.0]))
    # Block 2: a small candidate on channel 0 at 62.5 s (near the last peak).
    keeper.add(peaks.select(np.array([False, False, False, True])), Block([0], [62500], [5.5]))
    kept = keeper.finish()
    # The peak at 1 s is kept (small candidate 1 s away, same channel); the one at 9 s is
    # near the large candidate only; the one on channel 1 has no candidate on its channel.
    assert kept.sample.tolist() == [1000, 61000]


def test_within_is_per_channel():
    mask = _within(np.array([0, 1, 1]), np.array([100, 100, 400]), np.array([1]),
                   np.array([150]), 60)
    assert mask.tolist() == [False, True, False]
