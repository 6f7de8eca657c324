"""Derecruitment tails (issue 11: a fasciculation a reviewer rejected on the HD-sEMG ramp
contraction, in the tail of its derecruitment)."""

from __future__ import annotations

import numpy as np
import pytest

import fascidetect
from fascidetect.params import DetectionParams
from fascidetect.simulation import simulate
from fascidetect.stages.derecruitment import tail_ends


def test_tail_follows_close_marks_and_stops_at_a_gap():
    marks = np.array([9.8, 10.1, 10.3, 10.5, 10.7, 11.2, 11.3])
    # From 10.0: 10.1 ... 10.7, then a 0.5-s gap.
    assert tail_ends(marks, np.array([10.0]), 0.25, 2.0)[0] == pytest.approx(10.7)
    # Quiet right after the end: no tail.
    assert tail_ends(marks, np.array([10.85]), 0.25, 2.0)[0] == pytest.approx(10.85)
    # Never beyond the cap.
    assert tail_ends(marks, np.array([10.0]), 0.25, 0.4)[0] == pytest.approx(10.4)


def test_tail_of_an_empty_channel():
    assert tail_ends(np.zeros(0), np.array([3.0]), 0.25, 2.0).tolist() == [3.0]


def test_derecruitment_params_are_checked():
    with pytest.raises(fascidetect.ParameterError):
        DetectionParams(derecruitment_gap_s=0.0)
    with pytest.raises(fascidetect.ParameterError):
        DetectionParams(derecruitment_max_s=-1.0)


def test_simulated_tails_are_voluntary_discharges_after_their_episode():
    rec, truth = simulate(scenario="derecruitment", seed=3, duration_s=60.0)
    episodes = truth[np.isin(truth["trial_type"], ["spasm", "voluntary"]) & (truth["unit"] < 0)]
    tails = truth[(truth["trial_type"] == "voluntary") & (truth["unit"] >= 100_000)]
    assert episodes.size == 4 and tails.size > 0
    ends = episodes["onset"] + episodes["duration"]
    # Every tail discharge lies within 2 s after the end of an episode, most after it.
    after = tails["peak_time"][:, None] - ends[None, :]
    assert ((after > -3.0) & (after <= 2.1)).any(axis=1).all()
    assert ((after > 0) & (after <= 2.1)).any(axis=1).mean() > 0.5


def test_derecruitment_rule_removes_tail_discharges():
    # Tuning seed: the tail discharges reported as fasciculations without the rule.
    rec, truth = simulate(scenario="derecruitment", seed=7)
    tails = truth[(truth["trial_type"] == "voluntary") & (truth["unit"] >= 100_000)]

    def reported_tail(res):
        f = res.fasciculations["peak_time"]
        return int((np.abs(f[:, None] - tails["peak_time"][None, :]) < 0.01).any(axis=1).sum())

    off = fascidetect.detect(rec, derecruitment_max_s=0.0)
    on = fascidetect.detect(rec)
    assert reported_tail(on) < reported_tail(off)
    assert (on.events["reason"] == "derecruitment").any()


# --- the real recordings (skipped when ../shared/data is absent) ---------------------

def _near(res, t, channel=None, tol=0.02):
    ev = res.events
    hit = np.abs(ev["peak_time"] - t) <= tol
    if channel is not None:
        hit &= ev["channel"] == channel
    return ev[hit]


def test_hd_ramp_derecruitment_tail_is_not_a_fasciculation(shared_data):
    # openhdemg OTB ramp: EMG9 at 30.89 s, 0.66 s after the spasm's end while force is
    # still ~4.8 (rest ~1.3) and the channel keeps discharging until ~31.2 s.
    import scipy.io

    path = shared_data / "openhdemg-otb-sample" / "otb_testfile.mat"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    mat = scipy.io.loadmat(path)
    emg = np.asarray(mat["Data"][0, 0][:, :64], dtype=float).T
    res = fascidetect.detect(emg, sfreq=2048.0, units="uV")
    row = _near(res, 30.89, "EMG9")
    assert row.size == 1
    assert row["trial_type"][0] == "voluntary" and row["reason"][0] == "derecruitment"
    assert len(res.fasciculations) == 0


def test_ganglion_task_file_keeps_its_isolated_fasciculation(shared_data):
    # S05 R0: a single biphasic potential on a flat background 4 s after the last task
    # burst, accepted on review; the new rules must not take it.
    path = shared_data / "openbci-mi-emg-ganglion" / "OpenBCI-RAW-S05_S1R0.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    res = fascidetect.detect(fascidetect.read(path))
    row = _near(res, 119.82, "EXG Channel 0")
    assert row.size == 1 and row["trial_type"][0] == "fasciculation"
