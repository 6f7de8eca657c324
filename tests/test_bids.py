"""Tests of BIDS in (fascidetect.bids_input), BIDS out (fascidetect.bids_output) and
``fascidetect convert`` (fascidetect.convert), on datasets written by MNE-BIDS."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import fascidetect
from fascidetect.cli import cli

mne_bids = pytest.importorskip("mne_bids", reason="BIDS tests need mne-bids (the bids extra)")

SIGNALS = Path(__file__).resolve().parents[1] / "signals"
TARGETS = {"EMG1": "right tibialis anterior", "EMG2": "right gastrocnemius",
           "EMG3": "right soleus"}
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def bids_root(tmp_path_factory):
    """A BIDS EMG dataset written by MNE-BIDS: one subject, 3 sessions over 2 months,
    channels EMG1-3 with target muscles in channels.tsv, EMG3 marked bad, 60 Hz mains."""
    import mne

    from fascidetect.simulation import simulate, write_simulation

    base = tmp_path_factory.mktemp("bids")
    root = base / "ds"
    for i, day in enumerate((0, 30, 61)):
        rec, truth = simulate(duration_s=125, sfreq=1000, scenario="rest", seed=i,
                              ch_names=list(TARGETS), line_freq_hz=60.0)
        rec = dataclasses.replace(rec, meas_date=START + dt.timedelta(days=day))
        edf = write_simulation(rec, truth, base / "src", f"s{i}",
                               include_truth_annotations=False)["edf"]
        raw = mne.io.read_raw_edf(edf, preload=False, verbose="error")
        raw.set_channel_types({c: "emg" for c in raw.ch_names})
        raw.info["line_freq"] = 60
        bp = mne_bids.BIDSPath(subject="01", session=f"{i + 1:02d}", task="rest",
                               datatype="emg", root=root)
        mne_bids.write_raw_bids(raw, bp, emg_placement="Measured", overwrite=True,
                                verbose="error")
        mne_bids.mark_channels(bp, ch_names=["EMG3"], status="bad",
                               descriptions=["electrode lifted"], verbose="error")
        channels = Path(bp.copy().update(suffix="channels", extension=".tsv").fpath)
        rows = list(csv.DictReader(channels.open(), delimiter="\t"))
        with channels.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]) + ["target_muscle"], delimiter="\t",
                               lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow(dict(r, target_muscle=TARGETS[r["name"]]))
    return root


def test_read_bids_recording_uses_channels_tsv_and_emg_json(bids_root):
    from fascidetect.bids_input import (
        find_emg_recordings,
        params_for,
        read_bids_recording,
    )

    found = find_emg_recordings(bids_root, subjects=["sub-01"], sessions=["02"])
    assert [p.session for p in found] == ["02"]
    rec = read_bids_recording(found[0])
    assert [rec.ch_names[i] for i in rec.emg_picks] == ["EMG1", "EMG2"]  # EMG3 is bad
    assert rec.metadata["muscles"] == {"EMG1": "TA_R", "EMG2": "GAS_R"}
    assert rec.metadata["line_freq_hz"] == 60
    assert params_for(rec, None).notch == "60"
    # A declared array of all three EMG channels gets the bad one as its hole; a layout
    # of the two good ones is left as it is.
    from fascidetect.params import DetectionParams

    assert params_for(rec, DetectionParams(layout="1x3")).layout_missing == (3,)
    assert params_for(rec, DetectionParams(layout="1x2")).layout_missing == ()
    result = fascidetect.detect(rec, params_for(rec, DetectionParams(layout="1x3")))
    assert result.summary()["params"]["layout_missing"] == [3]
    with pytest.raises(Exception, match="no EMG recording"):
        find_emg_recordings(bids_root, subjects=["07"])


def _validator():
    exe = shutil.which("bids-validator-deno") or str(Path(sys.executable).parent /
                                                     "bids-validator-deno")
    return exe if Path(exe).exists() else None


def test_batch_and_trend_on_bids_dataset(bids_root, tmp_path):
    from fascidetect.bids_output import REQUIRED_DESCRIPTION, check_derivatives

    deriv = bids_root / "derivatives" / "fascidetect"
    res = CliRunner().invoke(cli, ["batch", str(bids_root), "--out", str(deriv), "--jobs", "1",
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    desc = json.loads((deriv / "dataset_description.json").read_text())
    assert all(k in desc for k in REQUIRED_DESCRIPTION)
    assert desc["DatasetType"] == "derivative" and desc["GeneratedBy"][0]["Name"] == "fascidetect"
    assert desc["SourceDatasets"][0]["URL"].startswith("file://")
    events = sorted(deriv.glob("sub-01/ses-*/emg/sub-01_ses-*_task-rest_events.tsv"))
    assert len(events) == 3
    assert check_derivatives(deriv) == []
    sidecar = json.loads(events[0].with_suffix(".json").read_text())
    assert "Levels" in sidecar["trial_type"] and "Levels" in sidecar["artifact_kind"]
    summary = json.loads(next(deriv.glob("sub-01/ses-01/emg/*_summary.json")).read_text())
    assert summary["muscles"] == {"EMG1": "TA_R", "EMG2": "GAS_R"}
    assert [c["name"] for c in summary["channels"]] == ["EMG1", "EMG2"]
    assert summary["params"]["notch"] == "60" and summary["bids"]["bad_channels"] == ["EMG3"]
    # A broken sidecar is what the schema check is for.
    broken = tmp_path / "broken"
    shutil.copytree(deriv, broken)
    (broken / "dataset_description.json").write_text(json.dumps({"Name": "x"}))
    next(broken.rglob("*_events.json")).unlink()
    problems = check_derivatives(broken)
    assert any("DatasetType" in p for p in problems) and any("sidecar" in p for p in problems)

    out = tmp_path / "trend"
    res = CliRunner().invoke(cli, ["trend", str(bids_root), "--subject", "01", "--out", str(out),
                                   "--format", "html"])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "trend.json").read_text())
    assert [s["session"] for s in doc["sessions"]] == ["ses-01", "ses-02", "ses-03"]
    assert {m["muscle"] for m in doc["muscles"]} == {"TA_R", "GAS_R"}
    assert doc["sessions"][2]["date"].startswith("2026-03-07")


@pytest.mark.skipif(_validator() is None, reason="bids-validator-deno is not installed")
def test_derivatives_pass_the_bids_validator(bids_root):
    deriv = bids_root / "derivatives" / "fascidetect"
    if not deriv.is_dir():
        CliRunner().invoke(cli, ["detect", str(bids_root), "--out", str(deriv), "--quiet"])
    for target in (deriv, bids_root):
        proc = subprocess.run([_validator(), str(target), "--format", "json"],
                              capture_output=True, text=True, timeout=300)
        issues = json.loads(proc.stdout)["issues"]["issues"]
        errors = [(i["code"], i.get("location")) for i in issues if i["severity"] == "error"]
        assert errors == [], errors


def test_detect_bids_session_filter(bids_root, tmp_path):
    out = tmp_path / "d"
    res = CliRunner().invoke(cli, ["detect", str(bids_root), "--session", "ses-03", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert [p.parent.parent.name for p in out.rglob("*_events.tsv")] == ["ses-03"]
    assert "sub-01_ses-03_task-rest_emg.edf\tok\t" in res.output


def test_convert_openbci_sample_reads_back_the_same_data(tmp_path):
    from fascidetect.io import read

    src = SIGNALS / "openbci_gui_v6_cyton_10s.txt"
    root = tmp_path / "bids"
    res = CliRunner().invoke(cli, ["convert", str(src), "--out", str(root), "--session", "01",
                                   "--muscles", "1=TA_R,2=GAS_L", "--line-freq", "50"])
    assert res.exit_code == 0, res.output
    data_file = Path(res.output.strip().splitlines()[-1])
    assert data_file.name == "sub-01_ses-01_task-rest_emg.bdf" and data_file.is_file()
    raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(data_file), verbose="error")
    rec = read(src)
    original = rec.get_data()
    back = raw.get_data()
    assert raw.ch_names == rec.ch_names and raw.info["sfreq"] == rec.sfreq
    assert raw.info["meas_date"] == rec.meas_date
    assert set(raw.get_channel_types()) == {"emg"}
    # 24-bit BDF over the recording's range (MNE exports one physical range for all
    # channels): the round trip is exact to one quantisation step, here a few nV.
    step = (original.max() - original.min()) / (2 ** 24 - 1)
    assert np.abs(back - original).max() <= step
    assert np.abs(back - original).max() < 0.01e-6
    channels = list(csv.DictReader(data_file.with_name("sub-01_ses-01_task-rest_channels.tsv")
                                   .open(), delimiter="\t"))
    assert [c["target_muscle"] for c in channels[:3]] == ["right tibialis anterior",
                                                          "left gastrocnemius", "n/a"]
    sidecar = json.loads(data_file.with_name("sub-01_ses-01_task-rest_emg.json").read_text())
    assert sidecar["PowerLineFrequency"] == 50 and sidecar["EMGPlacementScheme"] == "Other"
    assert sidecar["Manufacturer"] == "OpenBCI"
    # ...and the converted dataset runs through detection with the muscles it was given.
    res = CliRunner().invoke(cli, ["detect", str(root), "--out", str(tmp_path / "d"), "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads(next((tmp_path / "d").rglob("*_summary.json")).read_text())
    assert summary["muscles"]["EXG Channel 0"] == "TA_R"
    assert summary["muscles"]["EXG Channel 1"] == "GAS_L"


def test_convert_clean_errors(tmp_path):
    src = SIGNALS / "openbci_gui_v6_cyton_10s.txt"
    res = CliRunner().invoke(cli, ["convert", str(src), "--out", str(tmp_path / "b"),
                                   "--muscles", "9=TA_R"])
    assert res.exit_code == 1 and "has 8 EMG channel(s)" in res.output
    args = ["convert", str(src), "--out", str(tmp_path / "b")]
    assert CliRunner().invoke(cli, args).exit_code == 0
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and "already exists; pass --overwrite" in res.output
    assert CliRunner().invoke(cli, args + ["--overwrite"]).exit_code == 0
    res = CliRunner().invoke(cli, ["detect", str(tmp_path / "b"), "--subject", "99",
                                   "--out", str(tmp_path / "d")])
    assert res.exit_code == 1 and "no EMG recording" in res.output


def test_convert_pads_a_partial_last_record_and_marks_it_bad(tmp_path):
    # 24.39 s at 200 Hz: BDF records are whole seconds, so MNE's exporter repeats the last
    # sample to the end of the record and marks the pad BAD_ACQ_SKIP (detection skips it).
    from fascidetect.convert import convert_to_bids
    from fascidetect.io import read

    src = SIGNALS / "openbci_ganglion_S05_rest.txt"
    written = convert_to_bids(src, tmp_path / "bids", muscles="TA_R;GAS_R")
    raw = mne_bids.read_raw_bids(written, verbose="error")
    rec = read(src)
    n = rec.n_samples
    back = raw.get_data()
    assert back.shape[1] == 25 * 200 and back.shape[1] - n < 200
    step = (rec.get_data().max() - rec.get_data().min()) / (2 ** 24 - 1)
    assert np.abs(back[:, :n] - rec.get_data()).max() <= step
    pad = [a for a in raw.annotations if a["description"] == "BAD_ACQ_SKIP"]
    assert len(pad) == 1 and pad[0]["onset"] == pytest.approx(n / 200, abs=1 / 200)
    types = dict(zip(raw.ch_names, raw.get_channel_types()))
    assert types["EXG Channel 0"] == "emg" and types["EXG Channel 2"] == "misc"
