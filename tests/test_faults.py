"""Outputs that stay consistent under faults (issue 13): text fields, the events/summary
pair, batch locking and summaries, read-only and full disks, stuck inputs, kills."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fascidetect import batch
from fascidetect.errors import OutputError, UnknownFormatError
from fascidetect.events import read_events_tsv
from fascidetect.io import read
from fascidetect.jobs import check_outputs, detect_file

REPO = Path(__file__).resolve().parents[1]
EDF = REPO / "signals" / "sim_mixed_L5.edf"


def _cli(*args, timeout=120, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "fascidetect.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


@pytest.fixture(scope="module")
def short_edf(tmp_path_factory) -> Path:
    """A 20-s 2-channel EMG EDF (faster than the bundled 120-s one)."""
    from test_batch import write_edf

    return write_edf(tmp_path_factory.mktemp("short") / "short.edf", seed=7, duration_s=20.0)


def _labelled_edf(tmp_path: Path, label: bytes, name="tab.edf", source=EDF) -> Path:
    """An EDF with the first signal's 16-byte label replaced."""
    data = bytearray(Path(source).read_bytes())
    data[256:272] = label.ljust(16)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def _temp_files(folder: Path) -> list:
    return [p for p in folder.rglob(".*") if ".tmp" in p.name]


@contextlib.contextmanager
def _read_only(folder: Path):
    """Make *folder* unwritable, also for root (immutable attribute), or skip."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = False
    if os.geteuid() == 0:
        immutable = subprocess.run(["chattr", "+i", str(folder)],
                                   capture_output=True).returncode == 0
        if not immutable:
            folder.chmod(0o755)
            pytest.skip("running as root without chattr: cannot make a folder read-only")
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


# ---------------------------------------------------------------------- text fields
def test_control_characters_in_a_label_do_not_split_the_outputs(tmp_path, short_edf):
    # A tab, newline and CR inside an EDF label: the tool reads its own events.tsv back
    # (evaluate, report --events), and the batch summary keeps one row per file.
    path = _labelled_edf(tmp_path, b"EMG TA\tR\nx\r", source=short_edf)
    rec = read(path)
    assert rec.ch_names[0] == "EMG TA R x"
    out = tmp_path / "out"
    row = detect_file(path, out)
    assert row["status"] == "ok", row["error"]
    events_path = out / "tab_events.tsv"
    lines = events_path.read_text().splitlines()
    assert {line.count("\t") for line in lines} == {lines[0].count("\t")}
    events = read_events_tsv(events_path)
    assert "EMG TA R x" in set(events["channel"])
    assert len(events) == len(lines) - 1
    done = _cli("evaluate", events_path, events_path, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["f1"] == pytest.approx(1.0)
    from fascidetect.report import result_from_events

    again = result_from_events(events_path, rec)
    assert [c["name"] for c in again.channels][0] == "EMG TA R x"
    assert sum(c["n_fasciculations"] for c in again.channels) == \
        int((events["trial_type"] == "fasciculation").sum())


def test_control_characters_in_manifest_cells_keep_batch_rows_whole(tmp_path, short_edf):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f'path,note\n{short_edf},"line one\nline\ttwo"\n')
    out = tmp_path / "out"
    rows = batch.run(manifest, out, jobs=1, progress=False)
    assert rows[0]["status"] == "ok"
    lines = (out / "batch_summary.tsv").read_text().splitlines()
    assert len(lines) == 2 and lines[0].count("\t") == lines[1].count("\t")
    assert "line one line two" in lines[1]


def test_muscle_names_are_cleaned():
    from fascidetect.myotomes import parse_muscle_map

    assert parse_muscle_map({"1": "TA\tR"}) == {"1": "TA R"}


# ---------------------------------------------------------------------- the output pair
def test_summary_names_its_events_file_and_hash(tmp_path, short_edf):
    row = detect_file(short_edf, tmp_path)
    assert row["status"] == "ok"
    summary = tmp_path / "short_summary.json"
    outputs = json.loads(summary.read_text())["outputs"]
    assert outputs["events_tsv"] == "short_events.tsv"
    assert check_outputs(summary) is None
    assert not _temp_files(tmp_path)
    # a later run's events beside this summary (a kill between the two renames)
    events = tmp_path / "short_events.tsv"
    events.write_text(events.read_text().splitlines()[0] + "\n")
    assert "is not the events file" in check_outputs(summary)
    events.unlink()
    assert "is missing" in check_outputs(summary)


def test_resume_redoes_a_mismatched_pair(tmp_path, short_edf):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(short_edf, src / "a.edf")
    out = tmp_path / "out"
    batch.run(src, out, jobs=1, progress=False)
    events = out / "a_events.tsv"
    good = events.read_text()
    events.write_text(good.splitlines()[0] + "\n")  # the pair no longer matches
    rows = batch.run(src, out, jobs=1, progress=False, resume=True)
    assert rows[0]["status"] == "ok" and not rows[0]["resumed"]
    assert events.read_text() == good


# ---------------------------------------------------------------------- batch: lock, state
def test_a_second_batch_into_one_folder_is_refused(tmp_path, short_edf):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(short_edf, src / "a.edf")
    out = tmp_path / "out"
    out.mkdir()
    with batch._batch_lock(out):  # another batch holds the folder
        with pytest.raises(OutputError, match=r"another batch is writing to .*pid \d+"):
            batch.run(src, out, jobs=1, progress=False)
        done = _cli("batch", src, "--out", out, "--jobs", "1", "--quiet")
        assert done.returncode == 1
        assert done.stderr.strip().count("\n") == 0 and "another batch" in done.stderr
    rows = batch.run(src, out, jobs=1, progress=False)  # the lock is gone with its holder
    assert rows[0]["status"] == "ok"
    doc = json.loads((out / "batch_summary.json").read_text())
    assert doc["state"] == "complete" and doc["interrupted"] is False
    assert not (out / batch._LOCK_NAME).exists()


def test_a_stuck_file_times_out_and_the_batch_goes_on(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(EDF, src / "slow.edf")
    fifo = src / "pipe.edf"
    os.mkfifo(fifo)  # opening it would wait forever for a writer
    started = time.perf_counter()
    rows = {Path(r["path"]).name: r for r in
            batch.run(src, tmp_path / "out", jobs=1, progress=False, timeout_s=0.3)}
    assert time.perf_counter() - started < 30
    assert "not a regular file" in rows["pipe.edf"]["error"]
    assert "gave up after 0.3 s" in rows["slow.edf"]["error"]
    with pytest.raises(UnknownFormatError, match="not a regular file"):
        read(fifo)


def test_read_only_output_folder_is_one_line(tmp_path):
    with _read_only(tmp_path / "ro") as ro:
        for command in (["batch", EDF], ["detect", EDF]):
            done = _cli(*command, "--out", ro / "sub", "--jobs" if command[0] == "batch"
                        else "--quiet", *(["1"] if command[0] == "batch" else []))
            assert done.returncode == 1
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and "cannot write" in lines[0], done.stderr
            assert "Traceback" not in done.stderr
        assert list(ro.iterdir()) == []


def test_disk_full_leaves_no_half_pair_and_no_temp_files(tmp_path):
    # RLIMIT_FSIZE makes every write beyond 16 KB fail as a full disk would (EFBIG);
    # the events table of the bundled recording is larger.
    out = tmp_path / "out"
    out.mkdir()

    def limit():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    done = _cli("detect", EDF, "--out", out, preexec_fn=limit)
    assert done.returncode == 1
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot write the results" in lines[0], done.stderr
    assert not _temp_files(out)
    assert not list(out.glob("*_summary.json")) and not list(out.glob("*_events.tsv"))
    # the same in a batch: the file fails in one line, the summary says so, no leftovers
    done = _cli("batch", EDF, "--out", out / "b", "--jobs", "1", preexec_fn=limit)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "failed: " in done.stderr and "cannot write the results" in done.stderr
    assert json.loads((out / "b" / "batch_summary.json").read_text())["n_failed"] == 1
    assert not _temp_files(out) and not list((out / "b").glob("sim_*"))


# ---------------------------------------------------------------------- kills
def test_detect_killed_at_any_moment_leaves_a_consistent_pair(tmp_path):
    # A pair from a first run, then runs with other parameters killed at spread-out
    # moments: whenever the summary vouches for the events file (hash matches), the
    # two agree on the counts; a killed run's temp files go with the next run.
    out = tmp_path / "out"
    started = time.perf_counter()
    assert _cli("detect", EDF, "--out", out, "--quiet", "--threshold", "7").returncode == 0
    full = time.perf_counter() - started
    summary, events = out / "sim_mixed_L5_summary.json", out / "sim_mixed_L5_events.tsv"
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    for k, fraction in enumerate((0.8, 1.0)):
        threshold = "6" if k % 2 else "8"
        proc = subprocess.Popen([sys.executable, "-m", "fascidetect.cli", "detect", str(EDF),
                                 "--out", str(out), "--quiet", "--threshold", threshold],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        problem = check_outputs(summary)
        if problem is None:
            doc = json.loads(summary.read_text())
            table = read_events_tsv(events)
            assert doc["counts"]["fasciculation"] == int((table["trial_type"]
                                                          == "fasciculation").sum())
        else:
            assert "is not the events file" in problem
    assert _cli("detect", EDF, "--out", out, "--quiet").returncode == 0
    assert check_outputs(summary) is None and not _temp_files(out)


def test_killed_batch_leaves_a_running_summary_not_the_last_one(tmp_path):
    # A complete first batch, then a second run with other parameters killed outright:
    # the summary on disk says "running" (it was written as the batch started), never
    # the first run's "interrupted": false; every pair on disk matches.
    from test_batch import write_edf

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        write_edf(src / f"r{i}.edf", seed=i, duration_s=20.0)
    out = tmp_path / "out"
    batch.run(src, out, jobs=1, progress=False)
    first = json.loads((out / "batch_summary.json").read_text())
    assert first["state"] == "complete"
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "fascidetect.cli", "batch", str(src), "--out",
                             str(out), "--jobs", "1", "--quiet", "--threshold", "7"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        doc = json.loads((out / "batch_summary.json").read_text())
        if doc["state"] == "running":
            break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    doc = json.loads((out / "batch_summary.json").read_text())
    assert doc["state"] == "running" and doc["interrupted"] is True
    assert doc["params"]["threshold_sigma"] == 7
    assert doc["n_files"] == 3 and len(doc["files"]) + doc["n_not_run"] == 3
    for summary in out.glob("r*_summary.json"):
        problem = check_outputs(summary)
        assert problem is None or "is not the events file" in problem
    rows = batch.run(src, out, jobs=1, progress=False)  # no stale lock
    assert all(r["status"] == "ok" for r in rows)


# ---------------------------------------------------------------------- smaller defects
OPENBCI = REPO / "signals" / "openbci_gui_v6_cyton_10s.txt"
LEGACY = REPO / "signals" / "openbci_ganglion_S05_rest.txt"


def _lines(path):
    return path.read_text(encoding="latin-1").splitlines()


def _write(path: Path, lines, encoding="latin-1") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def test_openbci_nan_counter_cells_are_no_gaps(tmp_path):
    lines = _lines(OPENBCI)
    for i in range(10, len(lines), 97):
        lines[i] = "nan" + lines[i][lines[i].index(","):]
    rec = read(_write(tmp_path / "nan.txt", lines))
    np.testing.assert_array_equal(rec.data, read(OPENBCI).data)
    assert rec.metadata["dropped_samples"] == 0


@pytest.mark.parametrize("rate, message", [(".", "is not a positive number"),
                                           ("-250", "is not a positive number"),
                                           ("nan", "is not a positive number")])
def test_openbci_nonsense_rate_is_one_line(tmp_path, rate, message):
    lines = _lines(OPENBCI)
    lines[2] = f"%Sample Rate = {rate} Hz"
    from fascidetect.errors import CorruptFileError

    with pytest.raises(CorruptFileError, match=message):
        read(_write(tmp_path / "r.txt", lines))


def test_openbci_rate_in_exponent_form(tmp_path):
    lines = _lines(OPENBCI)
    lines[2] = "%Sample Rate = 1e3 Hz"
    assert read(_write(tmp_path / "r.txt", lines)).sfreq == 1000.0  # was read as 1 Hz


def test_openbci_with_a_byte_order_mark(tmp_path):
    path = _write(tmp_path / "bom.txt", _lines(OPENBCI), encoding="utf-8-sig")
    rec = read(path)
    assert rec.format == "openbci"
    np.testing.assert_array_equal(rec.data, read(OPENBCI).data)


@pytest.mark.parametrize("sep", [";", "\t"], ids=["semicolon", "tab"])
def test_openbci_legacy_with_other_separators(tmp_path, sep):
    lines = [ln if ln.startswith("%") else ln.replace(", ", sep).replace(",", sep)
             for ln in _lines(LEGACY)]
    rec = read(_write(tmp_path / "sep.txt", lines))
    np.testing.assert_allclose(rec.data, read(LEGACY).data)


def test_csv_with_trailing_separators(tmp_path):
    x = np.random.default_rng(3).normal(0, 20, (6000, 3)).round(2)
    body = [",".join(f"{v:.2f}" for v in row) + "," for row in x]
    plain = read(_write(tmp_path / "t.csv", body), sfreq=2000, units="uV")
    named = read(_write(tmp_path / "h.csv", ["a,b,c,"] + body), sfreq=2000, units="uV")
    np.testing.assert_allclose(plain.data, x.T * 1e-6)
    assert named.ch_names == ["a", "b", "c"]
    np.testing.assert_allclose(named.data, plain.data)


def _wfdb_record(tmp_path: Path, fs_field: str) -> Path:
    import wfdb

    sig = np.random.default_rng(1).normal(0, 0.05, (8000, 1))
    wfdb.wrsamp("rec", fs=4000, units=["mV"], sig_name=["EMG"], p_signal=sig, fmt=["16"],
                write_dir=str(tmp_path))
    header = tmp_path / "rec.hea"
    fields = header.read_text().splitlines()
    first = fields[0].split()
    first[2] = fs_field
    header.write_text("\n".join([" ".join(first)] + fields[1:]) + "\n")
    return header


@pytest.mark.parametrize("fs_field", ["-4000", "abc"])
def test_wfdb_nonsense_rate_is_refused(tmp_path, fs_field):
    from fascidetect.errors import CorruptFileError

    with pytest.raises(CorruptFileError, match="states a sampling rate"):
        read(_wfdb_record(tmp_path, fs_field))  # wfdb itself falls back to 250 Hz


def test_wfdb_good_rate_still_reads(tmp_path):
    assert read(_wfdb_record(tmp_path, "4000")).sfreq == 4000.0


def test_latin1_edf_annotation_reads_with_a_warning(tmp_path):
    # EDF+ asks for UTF-8; a Latin-1 "é" made the whole file unreadable
    data = bytearray(EDF.read_bytes())
    at = data.index(b"truth:artifact/line")
    data[at] = 0xE9
    path = tmp_path / "latin1.edf"
    path.write_bytes(bytes(data))
    rec = read(path)
    assert any(a.description.startswith("éruth") for a in rec.annotations)
    assert any("not valid UTF-8" in w for w in rec.warnings)
    np.testing.assert_array_equal(rec.data, read(EDF).data)


def test_muscle_maps_that_are_wrong_fail_at_once_in_one_line(tmp_path):
    from fascidetect.errors import InputError, ParameterError
    from fascidetect.myotomes import check_muscle_map, parse_muscle_map

    names = [f"EMG C{i}" for i in range(64)]
    inline = ",".join(f"{i + 1}=MUSCLE_{i + 1:02d}_R" for i in range(64))
    assert len(inline) > 500
    assert check_muscle_map(inline, names)["EMG C63"] == "MUSCLE_64_R"  # "File name too long"
    binary = tmp_path / "map.tsv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="is not a text table"):
        parse_muscle_map(binary)
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(InputError) as info:
        parse_muscle_map(secret)
    assert "root:" not in str(info.value)
    with pytest.raises(ParameterError, match="numbers channel.* 99.* 6 EMG channel"):
        check_muscle_map("99=TA_R", names[:6])


def test_report_refuses_a_wrong_muscle_map_before_detecting(tmp_path):
    started = time.perf_counter()
    done = _cli("report", EDF, "--out", tmp_path, "--muscles", "99=TA_R", "--quiet")
    assert done.returncode == 1 and "numbers channel(s) 99" in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert not list(tmp_path.iterdir())
    binary = tmp_path / "m.bin"
    binary.write_bytes(b"\x00\xff" * 100)
    done = _cli("report", EDF, "--out", tmp_path / "r", "--muscles", binary, "--quiet")
    assert done.returncode == 1 and "is not a text table" in done.stderr
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("value", ["-1", "1e9", "nan"])
def test_edge_guard_is_validated(value):
    from fascidetect.errors import ParameterError
    from fascidetect.params import DetectionParams

    with pytest.raises(ParameterError, match="edge_guard_s must be between 0 and 60"):
        DetectionParams(edge_guard_s=float(value))


# ---------------------------------------------------------------------- faulty channels
def test_a_faulty_stretch_on_one_channel_leaves_the_others_events_unchanged():
    # 10 s of NaN, and 10 s flat (a lead off), on one channel of four: the other channels'
    # events are those of the healthy recording outside the stretch (1 s margin), and
    # those of the recording without that channel inside it (a discharge seen on two
    # channels then belongs to the healthy one). Whole-channel faults: test_pipeline.
    from conftest import synthetic_emg
    from fascidetect import detect

    data, _, _ = synthetic_emg(duration_s=90, n_discharges=150, seed=4)
    fs = 2048.0
    clean, alone = detect(data, sfreq=fs), detect(data[[0, 1, 3]], sfreq=fs)
    rename = {"EMG1": "EMG1", "EMG2": "EMG2", "EMG3": "EMG4"}  # channel names of `alone`

    def rows(res, span, inside, names=("EMG1", "EMG2", "EMG4")):
        ev = res.events
        near = (ev["peak_time"] >= span[0] - 1) & (ev["peak_time"] <= span[1] + 1)
        keep = np.isin([rename.get(c, c) if res is alone else c for c in ev["channel"]], names)
        keep &= near if inside else ~near
        return [(round(float(t), 6), str(k), rename.get(str(ch), str(ch)) if res is alone
                 else str(ch)) for t, k, ch in
                zip(ev["peak_time"][keep], ev["trial_type"][keep], ev["channel"][keep])]

    for value, span in ((np.nan, (30, 40)), (0.0, (60, 70))):
        bad = data.copy()
        bad[2, int(span[0] * fs):int(span[1] * fs)] = value
        faulty = detect(bad, sfreq=fs)
        assert rows(faulty, span, False) == rows(clean, span, False)
        if np.isnan(value):
            assert rows(faulty, span, True) == rows(alone, span, True)
        assert faulty.channels[2]["rest_s"] < clean.channels[2]["rest_s"] - 8


# ---------------------------------------------------------------------- absurd sizes
def test_npy_and_wfdb_headers_announcing_absurd_sizes_fail_before_allocating(tmp_path):
    # Found by the fuzzer: NumPy tried to allocate 2.4 TB for a damaged shape and read a
    # 662-MB "header"; wfdb built lists of 2**31 signals (16 GB). Each is one line now.
    import tracemalloc

    from fascidetect.errors import CorruptFileError

    path = tmp_path / "a.npy"
    np.save(path, np.zeros((2, 3000), np.float32))
    good = path.read_bytes()
    cases = {"shape": good.replace(b"(2, 3000)", b"(2, 300000000000)"),
             "header length": good[:8] + (60000).to_bytes(2, "little") + good[10:]}
    for what, raw in cases.items():
        path.write_bytes(raw)
        tracemalloc.start()
        with pytest.raises(CorruptFileError, match="a.npy"):
            read(path, sfreq=1000, units="uV")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 8 * 2**20, what
    header = _wfdb_record(tmp_path, "4000")
    lines = header.read_text().splitlines()
    fields = lines[0].split()
    fields[1] = str(2**31)
    header.write_text("\n".join([" ".join(fields)] + lines[1:]) + "\n")
    with pytest.raises(CorruptFileError, match="announces 2147483648 signals"):
        read(header)
    fields[1], fields[3] = "1", str(10**12)
    header.write_text("\n".join([" ".join(fields)] + lines[1:]) + "\n")
    with pytest.raises(CorruptFileError, match="announces 1000000000000 samples"):
        read(header)
