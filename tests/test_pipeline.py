"""End-to-end behaviour of detect(): counts against known truth, chunking, bad data."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fascidetect
from fascidetect import DetectionParams, detect
from fascidetect.errors import BadSamplesError, NoEmgChannelError, ParameterError
from fascidetect.events import COLUMN_NAMES, read_events_tsv

from conftest import muap, synthetic_emg


def _matched(found_times, true_times, tol_s=0.01):
    d = np.abs(np.asarray(found_times)[:, None] - np.asarray(true_times)[None, :])
    return int((d.min(axis=0) <= tol_s).sum()) if d.size else 0


def test_finds_every_discharge_once():
    data, times, _ = synthetic_emg(n_discharges=50, seed=1)
    res = detect(data, sfreq=2048.0)
    fasc = res.fasciculations
    assert _matched(fasc["peak_time"], times) == times.size
    assert len(fasc) == times.size  # no doubles from phases or ringing


def test_pure_noise_gives_almost_nothing():
    rng = np.random.default_rng(3)
    data = 4e-6 * rng.standard_normal((4, int(120 * 2048)))
    res = detect(data, sfreq=2048.0)
    assert len(res.fasciculations) <= 2
    assert res.channels[0]["noise_sigma_uv"] == pytest.approx(4.0 * np.sqrt(430 / 1024), rel=0.1)


def test_big_potential_counts_once_despite_ringing():
    fs = 2048.0
    rng = np.random.default_rng(0)
    data = 2e-6 * rng.standard_normal((1, int(20 * fs)))
    wave = muap(fs, p2p_v=1500e-6, phases=2, duration_ms=15)
    for t in (5.0, 12.0):
        i = int(t * fs)
        data[0, i:i + wave.size] += wave
    res = detect(data, sfreq=fs)
    kept = res.events[res.events["trial_type"] != "spasm"]
    assert len(kept) == 2


def test_paired_discharges_33ms_apart_are_both_kept():
    fs = 2048.0
    rng = np.random.default_rng(0)
    data = 2e-6 * rng.standard_normal((1, int(20 * fs)))
    wave = muap(fs, p2p_v=150e-6, phases=3)
    for t in (5.0, 5.033, 14.0, 14.034):
        i = int(t * fs)
        data[0, i:i + wave.size] += wave
    res = detect(data, sfreq=fs)
    assert len(res.fasciculations) == 4


def test_chunked_equals_whole_file():
    data, _, _ = synthetic_emg(duration_s=90, n_discharges=80, seed=2)
    whole = detect(data, sfreq=2048.0, chunk_s=1000.0)
    chunked = detect(data, sfreq=2048.0, chunk_s=8.0)
    a, b = whole.events, chunked.events
    assert len(a) == len(b)
    np.testing.assert_allclose(a["peak_time"], b["peak_time"], atol=1e-9)
    np.testing.assert_allclose(a["peak_amplitude_uv"], b["peak_amplitude_uv"], rtol=1e-6)


def test_noise_drift_does_not_flood_and_blocks_do_not_matter():
    # Electrode noise doubles halfway through (drying gel, a loosened lead): a single
    # floor for the whole file would turn the noisy half into a flood of false events.
    data, times, _ = synthetic_emg(duration_s=160, n_discharges=60, noise_uv=3.0,
                                   p2p_uv=150.0, seed=7)
    rng = np.random.default_rng(8)
    half = data.shape[1] // 2
    data[:, half:] += 5.2e-6 * rng.standard_normal((data.shape[0], data.shape[1] - half))
    whole = detect(data, sfreq=2048.0, chunk_s=1000.0)
    fasc = whole.fasciculations
    assert len(fasc) <= times.size + 3
    assert _matched(fasc["peak_time"], times) >= 0.9 * times.size
    chunked = detect(data, sfreq=2048.0, chunk_s=20.0)
    np.testing.assert_allclose(chunked.events["peak_time"], whole.events["peak_time"])


def test_waveform_sample_is_bounded_and_block_independent():
    data, times, _ = synthetic_emg(duration_s=90, n_discharges=80, seed=2)
    whole = detect(data, sfreq=2048.0, chunk_s=1000.0, max_waveforms=12)
    chunked = detect(data, sfreq=2048.0, chunk_s=20.0, max_waveforms=12)
    n_fasc = len(whole.fasciculations)
    assert n_fasc > 40
    for res in (whole, chunked):
        assert res.waveforms.shape[0] == len(res.waveform_rows) <= 12
        held = res.fasciculations["unit"][res.waveform_rows]
        others = np.setdiff1d(np.arange(n_fasc), res.waveform_rows)
        assert (res.fasciculations["unit"][others] == -1).all()
        assert res.waveforms_of(res.waveform_rows).shape == res.waveforms.shape
        assert held.size == res.waveforms.shape[0]
    np.testing.assert_array_equal(whole.waveform_rows, chunked.waveform_rows)
    # The FFT band-pass runs in float32, whose rounding depends on the block length, and
    # snippets are held as float16 in noise units: a value may land one float16 step
    # (at most 2**-10 of it) apart.
    np.testing.assert_allclose(whole.waveforms, chunked.waveforms, rtol=2.0 ** -10, atol=1e-12)


def test_spasm_episode_found_and_discharges_inside_not_counted():
    fs = 2048.0
    data, times, _ = synthetic_emg(duration_s=60, n_discharges=20, seed=4)
    rng = np.random.default_rng(5)
    a, b = int(20 * fs), int(26 * fs)
    burst = 150e-6 * rng.standard_normal((data.shape[0], b - a))
    data[:, a:b] += burst
    res = detect(data, sfreq=fs)
    spasms = res.spasms
    assert len(spasms) == 1
    assert spasms["onset"][0] == pytest.approx(20.0, abs=0.3)
    assert spasms["duration"][0] == pytest.approx(6.0, abs=0.5)
    fasc_t = res.fasciculations["peak_time"]
    assert not np.any((fasc_t > 19.8) & (fasc_t < 26.2))


def _ecg_recording(seed=6, with_fasciculations=True):
    fs = 2048.0
    rng = np.random.default_rng(seed)
    n = int(60 * fs)
    data = 3e-6 * rng.standard_normal((6, n))
    qrs = muap(fs, p2p_v=200e-6, phases=3, duration_ms=30)
    beats = np.cumsum(0.85 + 0.03 * rng.standard_normal(68))
    beats = beats[beats < 59]
    gains = np.array([1.0, 0.8, 0.9, 0.7, 1.1, 0.6])
    for t in beats:
        i = int(t * fs)
        data[:, i:i + qrs.size] += gains[:, None] * qrs[None, :] * rng.uniform(0.9, 1.1)
    times = np.array([])
    if with_fasciculations:
        wave = muap(fs, p2p_v=80e-6, phases=2, duration_ms=10)
        times = np.sort(rng.uniform(1, 58, 40))
        times = times[np.concatenate([[True], np.diff(times) > 0.1])]
        for t in times:
            i = int(t * fs)
            data[2, i:i + wave.size] += wave
        times = times + wave.size / 2 / fs
    return data, fs, beats, times


def test_ecg_is_subtracted_and_fasciculations_under_it_kept():
    data, fs, beats, times = _ecg_recording()
    res = detect(data, sfreq=fs)
    assert any("ECG found" in w for w in res.warnings)
    fasc = res.fasciculations
    assert _matched(fasc["peak_time"], times) >= 0.95 * times.size
    assert len(fasc) <= times.size + 2


def test_small_ecg_beside_large_fasciculations_leaves_no_false_discharges():
    # A small QRS on one or two channels next to large fasciculations: every beat must
    # be found and subtracted (before beats were taken from threshold crossings alone,
    # this seed kept 6.4 false fasciculations per minute at the missed beats).
    from fascidetect.evaluation import evaluate
    from fascidetect.simulation import simulate

    rec, truth = simulate(scenario="ecg_partial", seed=12, duration_s=180.0)
    res = detect(rec)
    report = evaluate(res.events, truth)
    assert report.false_alarm_rate_per_min <= 1.5
    assert report.f1 >= 0.97


def test_ecg_without_subtraction_is_classified_as_artifact():
    data, fs, beats, _ = _ecg_recording(with_fasciculations=False)
    res = detect(data, sfreq=fs, ecg_subtraction=False)
    assert len(res.fasciculations) <= 2
    art = res.events[res.events["artifact_kind"] == "ecg"]
    assert len(art) >= 0.9 * beats.size


def test_outputs_round_trip(tmp_path):
    data, times, _ = synthetic_emg(n_discharges=20, seed=7)
    res = detect(data, sfreq=2048.0, ch_names=["EMG TA_R", "EMG EHL_R", "EMG PL_R", "EMG GAS_R"])
    path = res.to_tsv(tmp_path / "x_events.tsv")
    header = path.read_text().splitlines()[0].split("\t")
    assert header[:3] == ["onset", "duration", "trial_type"]
    assert tuple(header) == COLUMN_NAMES
    back = read_events_tsv(path)
    np.testing.assert_allclose(back["peak_time"], res.events["peak_time"], atol=1e-6)
    assert list(back["trial_type"]) == list(res.events["trial_type"])
    summary = json.loads(res.to_json(tmp_path / "x_summary.json"))
    assert summary["counts"]["fasciculation"] == len(res.fasciculations)
    assert (tmp_path / "x_summary.json").exists()
    ann = res.to_annotations()
    assert len(ann) == len(res.events)
    assert res.waveforms.shape[0] == len(res.fasciculations)


def test_rate_confidence_interval_contains_rate():
    data, times, _ = synthetic_emg(duration_s=120, n_discharges=60, seed=8)
    res = detect(data, sfreq=2048.0)
    for ch in res.channels:
        if ch["n_fasciculations"]:
            assert ch["rate_ci_low"] <= ch["rate_per_min"] <= ch["rate_ci_high"]


def test_nan_span_is_excluded_with_warning():
    data, times, _ = synthetic_emg(n_discharges=30, seed=9)
    data[:, 2048 * 10: 2048 * 12] = np.nan
    res = detect(data, sfreq=2048.0)
    assert any("NaN" in w for w in res.warnings)
    # 2 s of NaN and a 0.15 s guard around it and at both ends of the recording
    assert res.channels[0]["rest_s"] == pytest.approx(60 - 2 - 4 * 0.15, abs=0.01)
    assert np.isfinite(res.events["peak_time"]).all()


def test_flat_channel_reported_not_analysed():
    data, _, _ = synthetic_emg(n_discharges=10, seed=10)
    data[2] = 0.0
    res = detect(data, sfreq=2048.0)
    assert res.channels[2]["status"] == "flat"
    assert any("EMG3" in w and "flat" in w for w in res.warnings)


def test_clipped_channel_is_reported_saturated():
    rng = np.random.default_rng(11)
    data = 5e-6 * rng.standard_normal((2, int(60 * 2048)))
    data[0, :: 2048 * 3] += 1e-3  # a train of big spikes, then the amplifier's rail
    data[0] = np.clip(data[0], -2e-4, 2e-4)
    res = detect(data, sfreq=2048.0, ch_names=["TA", "GAS"])
    by = {c["name"]: c["status"] for c in res.channels}
    assert by == {"TA": "saturated", "GAS": "ok"}
    assert any("TA is clipped/saturated" in w for w in res.warnings)


def test_last_block_shorter_than_a_motion_window():
    # 60.1 s: the last block holds 0.1 s, less than one 200-ms window.
    data = 5e-6 * np.random.default_rng(12).standard_normal((2, 120200))
    res = detect(data, sfreq=2000.0)
    assert res.recording["duration_s"] == pytest.approx(60.1)


def test_all_flat_raises():
    with pytest.raises(BadSamplesError, match="flat"):
        detect(np.zeros((2, 20000)), sfreq=2000.0)


def test_sampling_rate_too_low_for_band():
    with pytest.raises(ParameterError, match="too low"):
        detect(np.random.default_rng(0).standard_normal((1, 5000)) * 1e-6, sfreq=50.0)


def test_low_rate_warns_but_detects():
    fs = 250.0
    rng = np.random.default_rng(11)
    data = 2e-6 * rng.standard_normal((2, int(60 * fs)))
    wave = muap(fs, p2p_v=150e-6, phases=2, duration_ms=16)
    times = np.arange(2, 58, 2.0)
    for t in times:
        i = int(t * fs)
        data[0, i:i + wave.size] += wave
    res = detect(data, sfreq=fs)
    assert any("unreliable" in w for w in res.warnings)
    assert _matched(res.fasciculations["peak_time"], times + 0.008, tol_s=0.012) >= 0.9 * times.size


def test_array_without_sfreq_is_a_clear_error():
    with pytest.raises(ParameterError, match="sfreq"):
        detect(np.zeros((1, 100)))


def test_no_emg_channel():
    rec = fascidetect.Recording(np.zeros((1, 1000)), 1000.0, ["Fp1"], ["eeg"])
    with pytest.raises(NoEmgChannelError, match="emg_channels"):
        detect(rec)


def test_unknown_parameter_rejected():
    with pytest.raises(ParameterError, match="unknown"):
        detect(np.zeros((1, 1000)), sfreq=1000.0, treshold=4)


def test_dead_time_guard():
    with pytest.raises(ParameterError, match="paired"):
        DetectionParams(dead_time_ms=35)


def test_voluntary_annotation_excluded():
    data, times, _ = synthetic_emg(duration_s=60, n_discharges=30, seed=12)
    rec = fascidetect.Recording(data, 2048.0, [f"EMG{i}" for i in range(4)], ["emg"] * 4,
                                annotations=[(10.0, 20.0, "voluntary contraction")])
    res = detect(rec)
    t = res.fasciculations["peak_time"]
    assert not np.any((t > 10) & (t < 30))
    assert res.channels[0]["rest_s"] == pytest.approx(40.0 - 2 * 0.15, abs=0.01)


def test_mne_raw_input():
    data, times, _ = synthetic_emg(n_discharges=15, seed=13)
    rec = fascidetect.Recording(data, 2048.0, [f"EMG{i}" for i in range(4)], ["emg"] * 4)
    res = detect(rec.to_raw())
    assert len(res.fasciculations) == times.size


def test_units_firing_close_together_are_not_motion():
    # Four units on different channels firing within 200 ms of each other, 15 times in a
    # clean resting recording: in-band discharges, not a motion artifact (they used to
    # be excluded as motion spans, half of them lost).
    from conftest import muap

    fs = 2048.0
    rng = np.random.default_rng(5)
    data = 3e-6 * rng.standard_normal((8, int(120 * fs)))
    wave = muap(fs, p2p_v=300e-6, phases=3)
    for k in range(15):
        for ch in rng.choice(8, 4, replace=False):
            i = int((5 + 7.5 * k + rng.uniform(0, 0.2)) * fs)
            data[ch, i:i + wave.size] += wave
    res = detect(data, sfreq=fs)
    assert not (res.events["artifact_kind"] == "motion").any()
    assert len(res.fasciculations) >= 54


def _fault_case():
    data, times, _ = synthetic_emg(duration_s=120, n_discharges=200, seed=1)
    return data, 2048.0


def _per_channel(res):
    f = res.fasciculations
    return [int((f["channel"] == n).sum()) for n in res.recording["emg_channels"]]


def test_an_all_nan_channel_costs_only_itself():
    # One channel all NaN: the others keep exactly the answer they have without it
    # (it used to turn the whole recording into a bad span: 0 fasciculations anywhere).
    data, fs = _fault_case()
    alone = detect(data[[0, 1, 3]], sfreq=fs)
    bad = data.copy()
    bad[2] = np.nan
    res = detect(bad, sfreq=fs)
    assert res.channels[2]["status"] == "flat"
    counts = _per_channel(res)
    assert counts[:2] + counts[3:] == _per_channel(alone)
    assert [c["rest_s"] for i, c in enumerate(res.channels) if i != 2] == \
        [c["rest_s"] for c in alone.channels]
    assert any("no usable samples" in w for w in res.warnings)
    json.loads(res.to_json())  # strict JSON: no NaN


def test_constant_and_partly_disconnected_channels_are_named():
    data, fs = _fault_case()
    const = data.copy()
    const[3] = 1e-3  # a constant offset: floating-point residue after the band-pass
    res = detect(const, sfreq=fs)
    assert res.channels[3]["status"] == "flat" and _per_channel(res)[3] == 0
    half = data.copy()
    half[3, half.shape[1] // 2:] = 0.0  # the lead comes off halfway
    res = detect(half, sfreq=fs)
    assert 55 <= res.channels[3]["rest_s"] <= 65
    assert res.channels[0]["rest_s"] > 115
    assert any("carries no signal" in w and "EMG4" in w for w in res.warnings)
    flat = np.full_like(data, 2e-3)
    with pytest.raises(BadSamplesError, match="every EMG channel is flat"):
        detect(flat, sfreq=fs)


def test_summary_json_is_strict():
    data, fs = _fault_case()
    text = detect(data[:, : int(30 * fs)], sfreq=fs).to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in summary.json"))


def test_an_absurd_sample_is_missing_not_a_ringing_block():
    # One sample of 1e300 V (a data error): treated as missing, named, and the answer is
    # the one for the same recording with a NaN there (it used to cut rest to 4 s).
    data, fs = _fault_case()
    x, y = data.copy(), data.copy()
    x[1, 20000] = 1e300
    y[1, 20000] = np.nan
    a, b = detect(x, sfreq=fs), detect(y, sfreq=fs)
    assert len(a.events) == len(b.events)
    np.testing.assert_array_equal(a.events["peak_time"], b.events["peak_time"])
    assert any("beyond ±10 V" in w for w in a.warnings)


def test_clipped_share_is_a_share():
    data, times, _ = synthetic_emg(sfreq=2048.0, duration_s=20, n_channels=2, n_discharges=20,
                                   seed=1)
    res = detect(np.clip(data, -2e-6, 2e-6), sfreq=2048.0)
    shares = [float(w.split(" in ")[1].split(" %")[0]) for w in res.warnings if "clipped" in w]
    assert shares and all(0 < s <= 100 for s in shares)
    assert all(c["status"] == "saturated" for c in res.channels)


def test_chunked_equals_whole_file_with_a_short_last_block():
    # 21.7 s in 20-s blocks leaves a 1.7-s block, shorter than one noise window: its noise
    # comes from its own samples in both layouts, so every column agrees (snr, turns and
    # durations of the events in it used to differ).
    rec, _ = fascidetect.simulate(scenario="ecg", seed=2, duration_s=21.7, n_channels=1)
    a, b = detect(rec, chunk_s=1000.0).events, detect(rec, chunk_s=8.0).events
    assert len(a) == len(b) > 0
    for col in ("trial_type", "reason", "channel", "n_turns", "n_phases", "unit"):
        assert list(a[col]) == list(b[col]), col
    # To float32 precision: the FFT band-pass rounds differently with the block length.
    for col in ("peak_time", "snr", "duration_ms", "onset", "peak_amplitude_uv"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-5, equal_nan=True, err_msg=col)


def test_episode_ends_do_not_reach_for_twitches_beside_them():
    # Fasciculations within 0.3 s of a spasm used to stretch the episode onto them (a lone
    # active 25-ms sub-window inside the qualifying second), so they were excluded.
    from fascidetect.simulation import simulate

    rec, truth = simulate(scenario="near_activity", seed=2)
    res = detect(rec)
    true = truth[truth["trial_type"] == "spasm"]
    found = res.events[res.events["trial_type"] == "spasm"]
    assert len(found) == len(true)
    for t, f in zip(np.sort(true, order="onset"), np.sort(found, order="onset")):
        assert abs(f["onset"] - t["onset"]) <= 0.15
        assert abs((f["onset"] + f["duration"]) - (t["onset"] + t["duration"])) <= 0.15
