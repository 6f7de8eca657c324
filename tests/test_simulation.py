"""Tests of the simulator: its truth must describe its own signal exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from fascidetect.errors import ParameterError
from fascidetect.events import EVENT_DTYPE, read_events_tsv
from fascidetect.recording import Recording
from fascidetect.simulation import (SCENARIOS, ScenarioParams, default_channel_names, inject,
                                    simulate, write_simulation)
from fascidetect.spans import in_spans, run_bounds

CLEAN = dict(noise_uv=0.0, baseline_uv=0.0)


def _fasc(truth):
    return truth[truth["trial_type"] == "fasciculation"]


def _check_discharges(rec, truth, rel_tol=1e-6):
    """Every isolated truth discharge has its stated p2p and peak time in the signal."""
    fs = rec.sfreq
    x = rec.data * 1e6
    f = _fasc(truth)
    # Only discharges apart from every other discharge (any unit) have a clean p2p.
    order = np.argsort(f["onset"])
    f = f[order]
    start, end = f["onset"], f["onset"] + f["duration"]
    gap_before = start - np.concatenate([[-np.inf], np.maximum.accumulate(end)[:-1]])
    gap_after = np.concatenate([start[1:], [np.inf]]) - end
    iso = f[(gap_before > 2 / fs) & (gap_after > 2 / fs)]
    assert iso.size > 5
    for row in iso:  # a test: a few dozen discharges
        c = rec.ch_names.index(row["channel"])
        a = int(round(row["onset"] * fs))
        b = a + int(round(row["duration"] * fs))
        seg = x[c, a:b]
        assert np.ptp(seg) == pytest.approx(row["peak_amplitude_uv"], rel=rel_tol)
        assert (a + np.argmax(np.abs(seg))) / fs == pytest.approx(row["peak_time"], abs=0.5 / fs)
        assert row["channel"] in row["channels"].split(",")


@pytest.mark.parametrize("sfreq", [2048.0, 4000.0, 250.0, 200.0])
def test_truth_matches_clean_signal(sfreq):
    rec, truth = simulate(duration_s=20, sfreq=sfreq, scenario="rest", seed=3, **CLEAN)
    assert rec.data.shape == (8, int(20 * sfreq))
    _check_discharges(rec, truth)
    f = _fasc(truth)
    assert np.all(np.isin(f["trial_type"], ["fasciculation"]))
    assert np.all(f["unit"] >= 0)
    assert f.dtype == EVENT_DTYPE


def test_durations_and_amplitudes_in_domain_ranges():
    _, truth = simulate(duration_s=30, sfreq=2048, scenario="rest", seed=5, **CLEAN)
    f = _fasc(truth)
    assert f["duration_ms"].min() >= 3.0 and f["duration_ms"].max() <= 25.0
    assert f["peak_amplitude_uv"].min() >= 0.8 * 40 * 0.8  # jitter and rendering margin
    assert f["peak_amplitude_uv"].max() <= 300 * 1.25


def test_low_rate_smears_potentials():
    _, hi = simulate(duration_s=20, sfreq=2048, scenario="rest", seed=3, **CLEAN)
    _, lo = simulate(duration_s=20, sfreq=250, scenario="rest", seed=3, **CLEAN)
    # Same discharges, but the 250 Hz ADC filter lowers and widens them.
    assert _fasc(hi).size == _fasc(lo).size
    assert np.median(_fasc(lo)["peak_amplitude_uv"]) < 0.8 * np.median(_fasc(hi)["peak_amplitude_uv"])
    assert np.median(_fasc(lo)["duration_ms"]) > np.median(_fasc(hi)["duration_ms"])


def test_noise_is_independent_of_truth():
    rec0, t0 = simulate(duration_s=15, scenario="rest", seed=7, **CLEAN)
    rec1, t1 = simulate(duration_s=15, scenario="rest", seed=7)
    for name in ("onset", "peak_time", "peak_amplitude_uv", "unit"):
        np.testing.assert_array_equal(_fasc(t0)[name], _fasc(t1)[name])
    # The noisy signal is the clean one plus noise of the stated level.
    resid = (rec1.data - rec0.data) * 1e6
    noise = np.asarray(rec1.metadata["noise_uv"])
    # First differences drop the slow baseline; white noise keeps std * sqrt(2).
    diff_std = np.std(np.diff(resid, axis=1), axis=1) / np.sqrt(2)
    assert np.all(diff_std < 1.2 * noise) and np.all(diff_std > 0.5 * noise)


def test_doublets_and_refractory_period():
    _, truth = simulate(duration_s=60, scenario="rest", seed=11, noise_uv=0.0)
    f = _fasc(truth)
    fs = 2048.0
    n_doublets = 0
    for u in np.unique(f["unit"]):
        onsets = np.sort(f["onset"][f["unit"] == u])
        isi = np.diff(onsets)
        doublet = isi < 0.040
        n_doublets += int(doublet.sum())
        assert np.all((isi[doublet] >= 0.030 - 1.5 / fs) & (isi[doublet] <= 0.035 + 1.5 / fs))
        assert np.all(isi >= 0.020 - 1.5 / fs)
    assert n_doublets >= 1
    # Doublet partners are not isolated.
    assert (f["isolated"] == 0).sum() >= 2 * n_doublets


def test_spasm_rms_and_firing():
    rec, truth = simulate(duration_s=40, scenario="spasm", seed=2, **CLEAN)
    sp = truth[truth["trial_type"] == "spasm"]
    assert sp.size == 2
    fs = rec.sfreq
    for row in sp:
        assert 2.0 <= row["duration"] <= 10.0
        assert 150 <= row["rms_uv"] <= 400
        assert 6.0 <= row["firing_rate_hz"] <= 25.0
        c = rec.ch_names.index(row["channel"])
        a, b = int(round(row["onset"] * fs)), int(round((row["onset"] + row["duration"]) * fs))
        rms = np.sqrt(np.mean((rec.data[c, a:b] * 1e6) ** 2))
        assert rms == pytest.approx(row["rms_uv"], rel=0.01)
        assert len(row["channels"].split(",")) >= 2
    # No fasciculation is placed inside a spasm (it could not be measured there).
    f = _fasc(truth)
    for row in sp:
        assert not np.any((f["peak_time"] > row["onset"]) & (f["peak_time"] < row["onset"] + row["duration"]))


def test_voluntary_annotations_do_not_leak_truth():
    rec, truth = simulate(duration_s=40, scenario="voluntary", seed=4)
    vol = truth[truth["trial_type"] == "voluntary"]
    assert vol.size == 2
    labels = [a.description for a in rec.annotations]
    assert labels == ["voluntary", "voluntary"]
    for a, row in zip(sorted(rec.annotations), np.sort(vol, order="onset")):
        assert a.onset <= row["onset"] and a.onset + a.duration >= row["onset"] + row["duration"]
    assert np.all((vol["firing_rate_hz"] >= 8) & (vol["firing_rate_hz"] <= 35))


def test_reproducible_and_seed_dependent():
    a, ta = simulate(duration_s=8, scenario="mixed", seed=1)
    b, tb = simulate(duration_s=8, scenario="mixed", seed=1)
    c, tc = simulate(duration_s=8, scenario="mixed", seed=2)
    np.testing.assert_array_equal(a.data, b.data)
    assert ta.dtype == tb.dtype and len(ta) == len(tb)
    for name in ta.dtype.names:  # field by field: `channels` holds Python strings
        assert list(ta[name]) == list(tb[name]) or np.array_equal(ta[name], tb[name],
                                                                   equal_nan=True), name
    assert not np.array_equal(a.data, c.data)


def test_grid_8x8():
    rec, truth = simulate(duration_s=8, layout=(8, 8), scenario="grid64", seed=0)
    assert rec.n_channels == 64
    assert rec.ch_names[0] == "EMG R1C1" and rec.ch_names[-1] == "EMG R8C8"
    assert rec.metadata["layout"] == (8, 8)
    f = _fasc(truth)
    n_seen = np.array([len(c.split(",")) for c in f["channels"]])
    assert f.size > 0 and np.median(n_seen) >= 4  # 2-D footprints span several electrodes
    rec0, t0 = simulate(duration_s=8, layout=(8, 8), scenario="grid64", seed=0, **CLEAN)
    _check_discharges(rec0, t0)


def test_all_scenarios_run_and_have_their_content():
    for name, sp in SCENARIOS.items():
        dur = 25.0
        rec, truth = simulate(duration_s=dur, scenario=name, seed=0)
        assert np.all(np.isfinite(rec.data)), name
        kinds = set(truth["trial_type"])
        art = set(truth["artifact_kind"][truth["trial_type"] == "artifact"])
        if name == "negative":
            assert "fasciculation" not in kinds and {"ecg", "line", "pop"} <= art
        else:
            assert "fasciculation" in kinds, name
        if sp.n_spasms:
            assert "spasm" in kinds
        if sp.ecg_channel:
            assert rec.ch_names[-1] == "ECG" and rec.ch_types[-1] == "ecg"
        if name == "hum_motion":
            assert {"motion", "line", "pop"} <= art
            assert np.max(np.abs(rec.data[rec.emg_picks])) <= sp.clip_uv * 1e-6 + 1e-12
    rec, _ = simulate(duration_s=5, scenario="consumer_250hz")
    assert rec.sfreq == 250.0


def test_mixed_is_an_L5_pattern():
    rec, truth = simulate(scenario="mixed", seed=1, duration_s=60)
    assert rec.n_channels == 6 and rec.sfreq == 2048.0
    mains = {c.split()[-1] for c in _fasc(truth)["channel"]}
    assert mains <= {"TA_R", "EHL_R", "PL_R", "GMED_R"} and len(mains) >= 3
    kinds = list(truth["trial_type"])
    assert kinds.count("spasm") == 1 and kinds.count("voluntary") == 1
    assert "line" in truth["artifact_kind"]


def test_channel_names():
    assert default_channel_names(3) == ["EMG TA_R", "EMG EHL_R", "EMG PL_R"]
    assert default_channel_names(10)[0] == "EMG CH01"
    assert default_channel_names(layout=(2, 2)) == ["EMG R1C1", "EMG R1C2", "EMG R2C1", "EMG R2C2"]
    rec, _ = simulate(duration_s=3, ch_names=["EMG A", "EMG B"], scenario="rest", fasc_muscles=())
    assert rec.ch_names == ["EMG A", "EMG B"]


def test_bad_parameters():
    with pytest.raises(ParameterError, match="unknown scenario"):
        simulate(duration_s=3, scenario="nope")
    with pytest.raises(ParameterError, match="sfreq"):
        simulate(duration_s=3, sfreq=50)
    with pytest.raises(ParameterError, match="unknown scenario parameter"):
        simulate(duration_s=3, bogus=1)
    with pytest.raises(ParameterError, match="too short"):
        simulate(duration_s=3, scenario="spasm", n_spasms=3)
    with pytest.raises(ParameterError, match="muscles"):
        simulate(duration_s=3, n_channels=2, fasc_muscles=("SOL",))
    with pytest.raises(ParameterError):
        ScenarioParams(noise_uv=(5, 1))


def test_edf_round_trip(tmp_path):
    mne = pytest.importorskip("mne")
    rec, truth = simulate(duration_s=10, scenario="mixed", seed=3)
    paths = write_simulation(rec, truth, tmp_path, "demo")
    assert paths["edf"].exists() and paths["truth"].exists() and paths["sidecar"].exists()
    raw = mne.io.read_raw_edf(paths["edf"], preload=True, verbose="error")
    data = raw.get_data()
    lsb = np.ptp(rec.data, axis=1) / 65535
    assert np.all(np.abs(data - rec.data).max(axis=1) <= lsb)
    labels = list(raw.annotations.description)
    assert "voluntary" in labels
    assert sum(lbl.startswith("truth:fasciculation/U") for lbl in labels) == _fasc(truth).size
    back = read_events_tsv(paths["truth"])
    assert back.size == truth.size
    np.testing.assert_allclose(back["peak_time"], truth["peak_time"], atol=1e-6)
    np.testing.assert_allclose(back["peak_amplitude_uv"], truth["peak_amplitude_uv"], rtol=1e-5, equal_nan=True)
    assert list(back["channels"]) == list(truth["channels"])
    assert list(back["unit"]) == list(truth["unit"])


def _ganglion_rest(shared_data):
    path = shared_data / "openbci-mi-emg-ganglion" / "OpenBCI-RAW-S02_S1REST.txt"
    if not path.exists():
        pytest.skip(f"{path} not found")
    uv = np.loadtxt(path, comments="%", delimiter=",", usecols=(1, 2)).T
    return Recording(uv * 1e-6, 200.0, ["EMG 1", "EMG 2"], ["emg", "emg"], source=str(path))


def test_inject_into_real_rest(shared_data):
    bg = _ganglion_rest(shared_data)
    rec, truth = inject(bg, scenario="rest", seed=1, fasc_rate_per_min=(30, 60))
    assert rec.data.shape == bg.data.shape and rec.sfreq == 200.0
    f = _fasc(truth)
    assert f.size > 5
    assert set(f["channel"]) <= {"EMG 1", "EMG 2"}
    added = Recording((rec.data - bg.data), 200.0, rec.ch_names, rec.ch_types)
    _check_discharges(added, truth, rel_tol=1e-6)
    assert bg.data is not rec.data


def test_cli_simulate(tmp_path):
    from click.testing import CliRunner

    from fascidetect.cli import cli

    res = CliRunner().invoke(cli, ["simulate", "--out", str(tmp_path), "--scenario", "rest",
                                   "--duration", "5", "--grid", "2x3", "--seed", "2"])
    assert res.exit_code == 0, res.output
    lines = res.output.split()
    assert any(p.endswith("sim_rest_s2.edf") for p in lines)
    assert read_events_tsv(tmp_path / "sim_rest_s2_truth.tsv").size > 0
    bad = CliRunner().invoke(cli, ["simulate", "--out", str(tmp_path), "--grid", "8by8"])
    assert bad.exit_code == 1 and "ROWSxCOLS" in bad.output


# ---------------------------------------------------------------- conditions users meet
def _tonic_parts(truth):
    """Return (stretch rows, discharge rows) of tonic firing: voluntary rows with a unit are
    discharges; a stretch is a voluntary episode that holds some of them."""
    vol = truth[truth["trial_type"] == "voluntary"]
    discharges = vol[vol["unit"] >= 0]
    episodes = vol[vol["unit"] < 0]
    holds = [in_spans(discharges["peak_time"], [(r["onset"], r["onset"] + r["duration"])]).any()
             for r in episodes]
    return episodes[np.asarray(holds, bool)], discharges


def _spans(rows):
    return list(zip(rows["onset"], rows["onset"] + rows["duration"]))


def test_every_scenario_is_named_and_described():
    for key, sp in SCENARIOS.items():
        assert sp.name == key and len(sp.description) > 20, key


def test_tonic_firing_is_regular_voluntary_and_unannotated():
    sp = SCENARIOS["tonic"]
    rec, truth = simulate(scenario="tonic", seed=2)
    stretches, discharges = _tonic_parts(truth)
    assert stretches.size == sp.n_tonic and discharges.size > 50
    assert rec.annotations == []  # nobody marks a muscle that did not quite relax
    assert not set(discharges["unit"]) & set(_fasc(truth)["unit"])
    assert np.all(in_spans(discharges["peak_time"], _spans(stretches), margin=0.05))
    for row in stretches:
        assert 5.0 <= row["duration"] <= 30.0
        inside = discharges[in_spans(discharges["peak_time"], _spans(row[None]), margin=0.05)]
        assert 1 <= np.unique(inside["unit"]).size <= 3
        assert 1 <= np.unique(inside["channel"]).size <= 3
        assert 1 <= len(row["channels"].split(",")) <= 3
        assert 6.0 * 0.9 <= row["firing_rate_hz"] <= 20.0 * 1.1
    for u in np.unique(discharges["unit"]):
        d = discharges[discharges["unit"] == u]
        isi = np.diff(np.sort(d["peak_time"]))
        assert 6.0 * 0.9 <= 1 / isi.mean() <= 20.0 * 1.1
        # CV 0.1-0.3 drawn; the slow rate wander adds a little.
        assert 0.07 <= isi.std() / isi.mean() <= 0.35
        assert 1.5 * 0.9 <= np.median(d["snr"]) <= 4.0 * 1.1
    # Other, irregular units go on fasciculating during the stretches.
    assert in_spans(_fasc(truth)["peak_time"], _spans(stretches)).any()


def test_tonic_single_unit_is_in_the_signal():
    rec, truth = simulate(scenario="tonic_single", seed=4, n_fasc_units=0, **CLEAN)
    stretches, discharges = _tonic_parts(truth)
    assert stretches.size == 1 and stretches["duration"][0] == pytest.approx(24.0)
    assert np.unique(discharges["unit"]).size == 1 and np.unique(discharges["channel"]).size == 1
    isi = np.diff(np.sort(discharges["peak_time"]))
    assert 1 / isi.mean() == pytest.approx(8.0, rel=0.03)
    assert isi.std() / isi.mean() < 0.15
    # With the noise off, amplitudes in noise sigmas refer to 1 µV: a 6 µV peak.
    assert np.median(discharges["peak_amplitude_uv"]) / 2 == pytest.approx(6.0, rel=0.05)
    as_fasc = discharges.copy()
    as_fasc["trial_type"] = "fasciculation"
    _check_discharges(rec, as_fasc)


def test_fasciculations_right_beside_activity():
    rec, truth = simulate(scenario="near_activity", seed=1)
    stretches, _ = _tonic_parts(truth)
    episodes = truth[np.isin(truth["trial_type"], ["spasm", "voluntary"]) & (truth["unit"] < 0)]
    episodes = episodes[~np.isin(episodes["onset"], stretches["onset"])]
    assert episodes.size == 4 and stretches.size == 1
    spans = _spans(episodes)
    core = [(a + 0.02, b - 0.02) for a, b in spans]  # peak times sit a few ms off the instant
    f = _fasc(truth)
    assert not in_spans(f["peak_time"], core).any()
    beside = in_spans(f["peak_time"], spans, margin=0.3) & ~in_spans(f["peak_time"], spans)
    assert beside.sum() >= 4
    assert in_spans(f["peak_time"], _spans(stretches)).any()
    for u in np.unique(f["unit"]):
        assert np.diff(np.sort(f["onset"][f["unit"] == u])).min() >= 0.020 - 1.5 / rec.sfreq
    # Without the share the old 0.3 s margin holds (same episodes: placement is independent).
    _, t0 = simulate(scenario="near_activity", seed=1, fasc_beside_activity_share=0.0)
    assert not in_spans(_fasc(t0)["peak_time"], spans, margin=0.28).any()


def test_bursty_units_fire_in_irregular_clusters():
    fs = 2048.0
    _, truth = simulate(scenario="bursty", seed=3)
    _, plain = simulate(scenario="bursty", seed=3, burst_prob=0.0)
    f = _fasc(truth)
    assert set(truth["trial_type"]) == {"fasciculation"}
    sizes, inner = [], []
    for u in np.unique(f["unit"]):
        isi = np.diff(np.sort(f["onset"][f["unit"] == u]))
        assert isi.min() >= 0.020 - 1.5 / fs
        starts, stops = run_bounds(isi <= 0.200 + 1.5 / fs)
        sizes += list(stops - starts + 1)
        inner += list(isi[isi <= 0.200 + 1.5 / fs])
    sizes = np.asarray(sizes)
    assert sizes.size >= 20 and (sizes >= 3).sum() >= 5 and (sizes == 2).any()
    inner = np.asarray(inner)
    assert inner.std() / inner.mean() > 0.3  # irregular within clusters
    assert _fasc(plain).size < 0.8 * f.size


def test_ecg_on_one_or_two_channels_in_noise_sigmas():
    sp = SCENARIOS["ecg_partial"]
    assert sp.duration_s == 1200.0 and not sp.ecg_channel
    kw = dict(duration_s=60, n_fasc_units=0)
    for seed in (0, 1, 2):
        rec, truth = simulate(scenario="ecg_partial", seed=seed, **kw)
        off, _ = simulate(scenario="ecg_partial", seed=seed, ecg_snr=0.0, **kw)
        ecg = (rec.data - off.data) * 1e6
        reached = np.flatnonzero(np.abs(ecg).max(axis=1) > 0)
        assert 1 <= reached.size <= 2 and np.all(np.diff(reached) == 1)
        names = {rec.ch_names[i] for i in reached}
        rows = truth[truth["artifact_kind"] == "ecg"]
        assert rows.size > 40 and all(set(c.split(",")) <= names for c in rows["channels"])
        sos = signal.butter(4, [20.0, 450.0], btype="bandpass", fs=rec.sfreq, output="sos")
        band = signal.sosfiltfilt(sos, ecg[reached], axis=1)
        sigma = np.asarray(rec.metadata["noise_in_band_uv"])[reached]
        peak = np.abs(band).max(axis=1) / sigma
        assert np.all((peak >= 5.0) & (peak <= 10.0 * 1.2)), peak
    # Rest fasciculations on every channel.
    rec, truth = simulate(scenario="ecg_partial", seed=0, duration_s=60)
    assert set(_fasc(truth)["channel"]) == set(rec.ch_names)


def test_glitches_are_single_samples():
    rec, truth = simulate(scenario="glitches", seed=5, n_fasc_units=0, **CLEAN)
    assert rec.sfreq == 200.0 and rec.n_channels == 4
    g = truth[truth["artifact_kind"] == "glitch"]
    assert g.size >= 20 and "fasciculation" not in set(truth["trial_type"])
    x = rec.data * 1e6
    assert np.count_nonzero(x) == g.size  # nothing else in the signal: one sample each
    ch = np.array([rec.ch_names.index(c) for c in g["channel"]])
    idx = np.rint(g["onset"] * rec.sfreq).astype(int)
    amp = x[ch, idx]
    assert np.all((np.abs(amp) >= 20.0) & (np.abs(amp) <= 30.0))
    assert (amp > 0).any() and (amp < 0).any()
    np.testing.assert_allclose(np.abs(amp), g["peak_amplitude_uv"])
    assert np.all(g["duration"] == 1 / rec.sfreq)
    # The full scenario has the same glitches plus genuine fasciculations.
    _, full = simulate(scenario="glitches", seed=5)
    np.testing.assert_array_equal(full[full["artifact_kind"] == "glitch"]["onset"], g["onset"])
    assert _fasc(full).size > 10


def test_board_125hz_16ch():
    rec, truth = simulate(scenario="board_125hz_16ch", seed=0, duration_s=30)
    assert rec.sfreq == 125.0 and rec.n_channels == 16 and rec.ch_names[0] == "EMG CH01"
    assert np.abs(np.median(rec.data * 1e6, axis=1)).max() > 1000  # DC offsets
    assert "line" in set(truth["artifact_kind"]) and rec.metadata["line_freq_hz"] in (50.0, 60.0)
    assert _fasc(truth).size > 10


def test_inject_tonic_into_a_background():
    rng = np.random.default_rng(0)
    bg = Recording(rng.standard_normal((2, 250 * 60)) * 4e-6, 250.0, ["EMG 1", "EMG 2"], ["emg", "emg"])
    rec, truth = inject(bg, scenario="tonic", seed=1)
    stretches, discharges = _tonic_parts(truth)
    assert stretches.size == 2 and discharges.size > 20 and _fasc(truth).size > 0


def test_new_parameters_are_checked():
    with pytest.raises(ParameterError, match="refractory"):
        ScenarioParams(burst_prob=0.3, burst_interval_ms=(10.0, 50.0))
    with pytest.raises(ParameterError, match="not both"):
        ScenarioParams(ecg_uv=100.0, ecg_snr=5.0)
    with pytest.raises(ParameterError, match="fasc_beside_activity_share"):
        ScenarioParams(fasc_beside_activity_share=1.5)

