"""Tests of the evaluator on hand-made event tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fascidetect.errors import ParameterError
from fascidetect.evaluation import evaluate, format_reports, match_times
from fascidetect.events import empty_events, write_events_tsv


def fasc(times, channel="EMG TA_R", unit=-1):
    ev = empty_events(len(times))
    ev["trial_type"] = "fasciculation"
    ev["peak_time"] = times
    ev["onset"] = np.asarray(times, float) - 0.005
    ev["duration"] = 0.01
    ev["channel"] = channel
    ev["unit"] = unit
    return ev


def episode(kind, onset, duration, artifact_kind=""):
    ev = empty_events(1)
    ev["trial_type"] = kind
    ev["onset"], ev["duration"], ev["peak_time"] = onset, duration, onset
    ev["artifact_kind"] = artifact_kind
    return ev


TRUTH = fasc([1.0, 2.0, 3.0, 4.0])


def test_perfect():
    rep = evaluate(TRUTH, TRUTH, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (4, 0, 0)
    assert rep.precision == rep.recall == rep.f1 == 1.0
    assert rep.mean_abs_time_error_ms == 0.0


def test_shift_within_and_outside_tolerance():
    det = TRUTH.copy()
    det["peak_time"] += 0.009
    rep = evaluate(det, TRUTH, tolerance_ms=10, duration_s=60)
    assert rep.tp == 4 and rep.mean_abs_time_error_ms == pytest.approx(9.0)
    det["peak_time"] += 0.002
    rep = evaluate(det, TRUTH, tolerance_ms=10, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (0, 4, 4) and rep.f1 == 0.0


def test_missed_and_extra():
    rep = evaluate(fasc([1.0, 2.0, 7.5]), TRUTH, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (2, 1, 2)
    assert rep.precision == pytest.approx(2 / 3) and rep.recall == pytest.approx(0.5)
    assert rep.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert rep.false_alarm_rate_per_min == pytest.approx(1.0)


def test_duplicated_detection_counts_once():
    rep = evaluate(fasc([1.0, 1.004]), fasc([1.0]), duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (1, 1, 0)


def test_doublet_partners_match_separately():
    truth = fasc([1.0, 1.033], unit=0)
    rep = evaluate(fasc([1.002, 1.031]), truth, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (2, 0, 0)
    assert rep.n_truth_doublets == 2 and rep.n_doublets_found == 2
    rep = evaluate(fasc([1.031]), truth, duration_s=60)
    assert rep.n_doublets_found == 1 and rep.tp == 1


def test_closest_pairs_win():
    # Two colliding truths 8 ms apart; the detection at 1.007 belongs to the later one.
    d, t = match_times([1.007, 0.995], [1.0, 1.008], 0.010)
    assert dict(zip(d.tolist(), t.tolist())) == {0: 1, 1: 0}


def test_offset_doublet_matches_both():
    # Both detections sit 4.4 ms before their truth; the second is nearer the first truth
    # (3.9 ms), and taking that pair first would leave the first detection unmatched.
    d, t = match_times([1.0002, 1.0085], [1.0046, 1.0129], 0.010)
    assert dict(zip(d.tolist(), t.tolist())) == {0: 0, 1: 1}
    rep = evaluate(fasc([1.0002, 1.0085]), fasc([1.0046, 1.0129]), duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (2, 0, 0)


def test_empty_cases():
    empty = empty_events(0)
    rep = evaluate(empty, empty, duration_s=60)
    assert rep.precision == rep.recall == rep.f1 == 1.0
    assert rep.spasm_recall == rep.spasm_precision == 1.0
    rep = evaluate(fasc([1.0]), empty, duration_s=60)
    assert (rep.precision, rep.recall, rep.f1) == (0.0, 1.0, 0.0)
    rep = evaluate(empty, fasc([1.0]), duration_s=60)
    assert (rep.precision, rep.recall, rep.f1) == (1.0, 0.0, 0.0)
    assert math.isnan(rep.mean_abs_time_error_ms)
    json.dumps(rep.as_dict())  # NaN turned into null


def test_spasm_overlap():
    truth = np.concatenate([episode("spasm", 10, 5), episode("spasm", 30, 4)])
    det = np.concatenate([episode("spasm", 11, 2), episode("spasm", 50, 3)])
    rep = evaluate(det, truth, duration_s=60)
    assert rep.n_truth_spasms == 2 and rep.n_spasms_found == 1
    assert rep.spasm_recall == 0.5 and rep.spasm_precision == 0.5
    assert rep.spasm_onset_error_s == pytest.approx(1.0)


def test_artifact_false_alarms():
    truth = np.concatenate([fasc([1.0]), episode("artifact", 5.0, 0.1, "ecg"),
                            episode("artifact", 0.0, 60.0, "line"), episode("voluntary", 20, 5)])
    det = fasc([1.0, 5.05, 22.0, 40.0])
    rep = evaluate(det, truth, duration_s=120)
    # 5.05 (on a QRS) and 22.0 (in a contraction) count; 40.0 is a plain FP; hum is ignored.
    assert rep.fp == 3 and rep.artifact_false_alarms == 2
    assert rep.artifact_false_alarm_rate_per_min == pytest.approx(1.0)


def test_false_fasciculations_on_tonic_discharges():
    # A tonic stretch as the simulator writes it: one voluntary episode row plus one
    # voluntary row per discharge (with its unit), here a unit at 8 Hz from 20 to 23 s.
    tonic = fasc(20.0 + np.arange(24) / 8.0, unit=7)
    tonic["trial_type"] = "voluntary"
    truth = np.concatenate([fasc([1.0, 21.03]), episode("voluntary", 20.0, 3.0), tonic])
    # Detections: the two fasciculations (one during the stretch), three tonic
    # discharges (one 6 ms off) and a plain false positive.
    det = fasc([1.0, 21.03, 20.0, 20.256, 22.5, 40.0])
    rep = evaluate(det, truth, duration_s=60, rest_only=False)
    assert (rep.tp, rep.fp, rep.fn) == (2, 4, 0)
    # By default the fasciculation inside the stretch (on its channel) is optional.
    only_rest = evaluate(det, truth, duration_s=60)
    assert (only_rest.tp, only_rest.fp, only_rest.fn) == (1, 4, 0)
    assert only_rest.n_truth_during_activity == 1
    assert rep.n_truth_voluntary_discharges == 24
    assert rep.voluntary_discharge_false_alarms == 3
    assert rep.artifact_false_alarms == 3      # the same three, inside the stretch
    assert rep.false_alarm_rate_per_min == pytest.approx(4.0)


def test_truth_during_its_own_channels_activity_is_optional():
    # A tonic unit on TA_R from 10 to 14 s, a spasm on GAS_R and SOL_R from 30 to 35 s.
    tonic = fasc(10.0 + np.arange(33) / 8.0, unit=4)
    tonic["trial_type"] = "voluntary"
    spasm = episode("spasm", 30.0, 5.0)
    spasm["channel"], spasm["channels"] = "EMG GAS_R", "EMG GAS_R,EMG SOL_R"
    truth = np.concatenate([
        fasc([1.0, 12.0, 32.0]),                       # TA_R: rest, tonic, rest
        fasc([12.0, 32.0, 50.0], channel="EMG GAS_R"),  # GAS_R: rest, spasm, rest
        tonic, spasm])
    # Nothing detected: the two discharges during their own channel's activity are
    # not missed, the four at rest are.
    rep = evaluate(fasc([]), truth, duration_s=60)
    assert (rep.n_truth, rep.fn, rep.n_truth_during_activity) == (4, 4, 2)
    # Detected, the two are neither TP nor FP; the rest as usual.
    det = np.concatenate([fasc([1.0, 12.0, 32.0]), fasc([12.0, 32.0], channel="GAS_R")])
    rep = evaluate(det, truth, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (3, 0, 1)
    rep = evaluate(det, truth, duration_s=60, rest_only=False)
    assert (rep.n_truth, rep.tp, rep.fp, rep.fn) == (6, 5, 0, 1)


def test_a_tonic_unit_is_active_only_while_it_fires():
    # One tonic unit id in two stretches far apart, as in a truth tiled from repeated
    # simulated minutes (benchmarks/_fixtures.make_recording): 10-14 s and 40-44 s. The
    # rest between them is rest, however the unit is numbered.
    tonic = fasc(np.concatenate([10.0 + np.arange(33) / 8.0, 40.0 + np.arange(33) / 8.0]),
                 unit=4)
    tonic["trial_type"] = "voluntary"
    truth = np.concatenate([fasc([1.0, 12.0, 25.0, 42.0, 50.0]), tonic])
    rep = evaluate(fasc([]), truth, duration_s=60)
    assert (rep.n_truth, rep.fn, rep.n_truth_during_activity) == (3, 3, 2)


def test_per_channel_rates_ignore_type_prefix():
    truth = np.concatenate([fasc([1, 2, 3], "EMG TA_R"), fasc([4], "EMG PL_R")])
    det = np.concatenate([fasc([1, 2], "TA_R"), fasc([4, 5], "PL_R")])
    rep = evaluate(det, truth, duration_s=60)
    assert rep.per_channel["TA_R"]["error_per_min"] == pytest.approx(-1.0)
    assert rep.per_channel["PL_R"]["truth_per_min"] == pytest.approx(1.0)
    assert rep.per_channel["PL_R"]["tp"] == 1
    assert rep.rate_mae_per_min == pytest.approx(1.0)


def test_paths_sidecar_and_table(tmp_path):
    write_events_tsv(TRUTH, tmp_path / "x_truth.tsv")
    (tmp_path / "x_truth.json").write_text(json.dumps({"duration_s": 120.0}))
    write_events_tsv(fasc([1.0, 2.0]), tmp_path / "x_events.tsv")
    rep = evaluate(tmp_path / "x_events.tsv", tmp_path / "x_truth.tsv", label="x")
    assert rep.duration_s == 120.0 and rep.tp == 2 and rep.fn == 2
    table = format_reports([rep, rep])
    assert table.splitlines()[0].startswith("file") and "ALL" in table
    with pytest.raises(ParameterError):
        evaluate(TRUTH, TRUTH, tolerance_ms=0)
    with pytest.raises(ParameterError):
        evaluate([1, 2], TRUTH)


def test_cli_evaluate(tmp_path):
    from click.testing import CliRunner

    from fascidetect.cli import cli

    det_dir, truth_dir = tmp_path / "det", tmp_path / "truth"
    det_dir.mkdir()
    truth_dir.mkdir()
    write_events_tsv(TRUTH, truth_dir / "a_truth.tsv")
    write_events_tsv(fasc([1.0, 2.0, 3.0]), det_dir / "a_events.tsv")
    runner = CliRunner()
    res = runner.invoke(cli, ["evaluate", str(det_dir / "a_events.tsv"), str(truth_dir / "a_truth.tsv"),
                              "--json", "--duration", "60"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["tp"] == 3 and out["fn"] == 1 and out["label"] == "a"
    res = runner.invoke(cli, ["evaluate", str(det_dir), str(truth_dir)])
    assert res.exit_code == 0 and "0.750" in res.output
    res = runner.invoke(cli, ["evaluate", str(det_dir), str(truth_dir / "a_truth.tsv")])
    assert res.exit_code == 1


def test_cli_evaluate_counts_activity_on_request(tmp_path):
    from click.testing import CliRunner

    from fascidetect.cli import cli

    # A spasm on TA_R (written as "TA_R", read back from the TSV) holds the truth
    # discharge at 2 s, which is not detected.
    spasm = episode("spasm", 1.5, 1.0)
    spasm["channel"], spasm["channels"] = "TA_R", "TA_R"
    write_events_tsv(np.concatenate([TRUTH, spasm]), tmp_path / "a_truth.tsv")
    write_events_tsv(fasc([1.0, 3.0, 4.0]), tmp_path / "a_events.tsv")
    args = ["evaluate", str(tmp_path / "a_events.tsv"), str(tmp_path / "a_truth.tsv"), "--json",
            "--duration", "60"]
    runner = CliRunner()
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert (out["tp"], out["fn"], out["n_truth_during_activity"]) == (3, 0, 1)
    res = runner.invoke(cli, args + ["--count-during-activity"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert (out["tp"], out["fn"], out["n_truth_during_activity"]) == (3, 1, 0)


def test_optional_faint_truth():
    truth = fasc([1.0, 2.0, 3.0])
    truth["snr"] = [10.0, 1.0, 1.0]
    det = fasc([1.0, 2.0])
    rep = evaluate(det, truth, duration_s=60, min_truth_snr=3.0)
    # 2.0 matched a faint (optional) truth: neither TP nor FP; 3.0 missed but optional.
    assert (rep.n_truth, rep.n_detected, rep.tp, rep.fp, rep.fn) == (1, 1, 1, 0, 0)
    rep = evaluate(det, truth, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (2, 0, 1)


def test_detection_on_the_potential_matches():
    # A 125-Hz potential of 3 samples (24 ms) whose raw peak is its last sample; a
    # detector's band-passed centre on its first sample is 16 ms from that peak, past
    # half the duration, yet on the potential: one discharge, not a false and a missed
    # one (main scored it FP + FN).
    truth = fasc([1.016])
    truth["onset"], truth["duration"], truth["duration_ms"] = 1.0, 0.024, 24.0
    rep = evaluate(fasc([1.0]), truth, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (1, 0, 0)
    assert rep.mean_abs_time_error_ms == pytest.approx(16.0)
    # One sample before the potential, or 16 ms after its peak (8 ms past its end): no.
    for t in (0.992, 1.032):
        rep = evaluate(fasc([t]), truth, duration_s=60)
        assert (rep.tp, rep.fp, rep.fn) == (0, 1, 1)


def test_windows_on_potentials_keep_the_nearest_peak():
    # Two truth potentials whose extents both hold both detections: each detection
    # takes the truth whose peak is nearer.
    truth = fasc([1.016, 1.040])
    truth["onset"], truth["duration"], truth["duration_ms"] = [1.0, 1.016], 0.040, 40.0
    d, t = match_times([1.012, 1.044], [1.020, 1.036], [0.020, 0.020],
                       reference_s=[1.016, 1.040])
    assert dict(zip(d.tolist(), t.tolist())) == {0: 0, 1: 1}
    rep = evaluate(fasc([1.044, 1.012]), truth, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (2, 0, 0)
    assert rep.mean_abs_time_error_ms == pytest.approx(4.0)


def test_detection_takes_the_truth_on_its_channel():
    # Two units fire within 3 ms on different channels; the one detection lies on the
    # strong unit's channel, the faint one's peak is nearer in time. Main gave the
    # detection to the faint (optional) one and missed the strong one.
    truth = np.concatenate([fasc([1.004], channel="EMG CH06"), fasc([1.001], channel="EMG CH12")])
    truth["channels"] = ["EMG CH05,EMG CH06,EMG CH07", "EMG CH12"]
    truth["snr"] = [9.0, 1.2]
    det = fasc([1.0], channel="CH06")  # a reader may strip the type prefix
    rep = evaluate(det, truth, duration_s=60, min_truth_snr=5.0)
    assert (rep.tp, rep.fp, rep.fn) == (1, 0, 0)
    rep = evaluate(det, truth, duration_s=60)
    assert (rep.tp, rep.fp, rep.fn) == (1, 0, 1)
    assert rep.per_channel["CH06"]["tp"] == 1
    # A detection on a channel that sees the unit (not its main one) is on it too.
    det = fasc([1.0], channel="EMG CH07")
    assert evaluate(det, truth, duration_s=60, min_truth_snr=5.0).tp == 1


def test_channel_preference_outweighs_the_errors_of_a_matching():
    # Two long truth potentials share one window; the detection on T0's channel lies
    # near T1's peak and one on neither's channel near T0's. A pair on the truth's
    # channel is preferred "whatever the errors": with the off-channel cost only half
    # of each pair's, the two small errors of the swapped pairs won (no pair on its
    # channel).
    centre, reach = np.array([1.020, 1.020]), np.array([0.020, 0.020])
    peak = np.array([1.000, 1.040])
    det = np.array([1.039, 1.001])
    det_ch, truth_ch = ["A", "C"], ["A", "B"]

    def elsewhere(d_idx, t_idx):
        return np.array([det_ch[d] != truth_ch[t] for d, t in zip(d_idx, t_idx)])

    d, t = match_times(det, centre, reach, reference_s=peak, elsewhere=elsewhere)
    assert dict(zip(d.tolist(), t.tolist())) == {0: 0, 1: 1}


def test_a_tonic_stretch_is_active_only_while_its_units_fire():
    # The simulator's truth row of a tonic stretch (voluntary, no unit) spans the
    # stretch as placed; its units start and stop up to a fifth of it inside
    # (tonic_stretch's stagger). A fasciculation there, before or after every unit, is
    # at rest: it counts.
    from fascidetect.simulation import simulate

    _, truth = simulate(scenario="one_channel", seed=0)
    tonic = truth[(truth["trial_type"] == "voluntary") & (truth["unit"] >= 0)]
    fas = truth[truth["trial_type"] == "fasciculation"]
    t = fas["peak_time"]
    firing = np.zeros(t.size, bool)
    for u in np.unique(tonic["unit"]):
        at = tonic["peak_time"][tonic["unit"] == u]
        firing |= (t >= at.min()) & (t <= at.max())
    rows = truth[(truth["trial_type"] == "voluntary") & (truth["unit"] < 0)]
    stretches = [r for r in rows if np.any((tonic["peak_time"] >= r["onset"])
                                           & (tonic["peak_time"] <= r["onset"] + r["duration"]))]
    assert len(stretches) == 2  # and the annotated contraction
    assert all(r["reason"] == "tonic_firing" for r in stretches)
    beside = np.zeros(t.size, bool)
    for s in stretches:
        beside |= (t >= s["onset"]) & (t <= s["onset"] + s["duration"]) & ~firing
    assert beside.sum() >= 5
    rep = evaluate(fas[beside], truth)
    assert (rep.tp, rep.fp) == (beside.sum(), 0)
