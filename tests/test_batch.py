"""Batch processing: inputs, engines agree, failures isolated, resume, interrupts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from _interruptible import INTERRUPTIBLE_CLI

from fascidetect import batch
from fascidetect.errors import InputError, MissingDependencyError
from fascidetect.params import DetectionParams

from conftest import REPO, synthetic_emg

SFREQ = 2048.0
CH_NAMES = ["EMG TA_R", "EMG GAS_R"]


def write_edf(path: Path, seed: int, duration_s: float = 20.0, n_discharges: int = 15) -> Path:
    """Write a small 2-channel EMG EDF with a few biphasic discharges."""
    import mne

    from fascidetect import Recording

    data, _, _ = synthetic_emg(sfreq=SFREQ, duration_s=duration_s, n_channels=2,
                               n_discharges=n_discharges, seed=seed)
    rec = Recording(data=data, sfreq=SFREQ, ch_names=list(CH_NAMES), ch_types=["emg", "emg"])
    mne.export.export_raw(str(path), rec.to_raw(), fmt="edf", overwrite=True, verbose="error")
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """A folder of 4 good EDFs (one in a subfolder), a corrupt and a truncated one."""
    root = tmp_path_factory.mktemp("cohort")
    (root / "site_b").mkdir()
    for i, name in enumerate(["p01.edf", "p02.edf", "p03.edf", "site_b/p04.edf"]):
        write_edf(root / name, seed=10 + i)
    rng = np.random.default_rng(0)
    (root / "corrupt.edf").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    whole = (root / "p01.edf").read_bytes()
    (root / "truncated.edf").write_bytes(whole[: len(whole) // 2])
    (root / "notes.txt").write_text("not a recording\n")
    return root


def _events(out: Path) -> dict:
    return {p.name: p.read_text() for p in sorted(out.rglob("*_events.tsv"))}


def _by_name(rows) -> dict:
    return {Path(r["path"]).name: r for r in rows}


@pytest.fixture(scope="module")
def local_run(cohort, tmp_path_factory):
    """The cohort through the local engine in this process (jobs=1)."""
    out = tmp_path_factory.mktemp("out_jobs1")
    rows = batch.run(cohort, out, jobs=1, progress=False)
    return out, rows


# ---------------------------------------------------------------------------- inputs
def test_collect_inputs_folders_manifest_dedupe(cohort, tmp_path):
    found = [Path(p).relative_to(cohort).as_posix() for p, _ in batch.collect_inputs(cohort)]
    assert found == ["corrupt.edf", "p01.edf", "p02.edf", "p03.edf", "truncated.edf",
                     "site_b/p04.edf"]
    manifest = cohort / "site_b" / "manifest.tsv"
    manifest.write_text("path\temg_channels\tsubject\n"
                        "p04.edf\tEMG TA_R\ts4\n"
                        "../p02.edf\t\ts2\n")
    try:
        got = batch.collect_inputs([cohort / "p02.edf", manifest, cohort / "p02.edf"])
    finally:
        manifest.unlink()
    assert [Path(p).name for p, _ in got] == ["p02.edf", "p04.edf"]  # first mention wins
    assert got[1][1] == {"emg_channels": ["EMG TA_R"], "subject": "s4"}
    assert [Path(p).name for p, _ in batch.collect_inputs(cohort, pattern="P0?.EDF")] == \
        ["p01.edf", "p02.edf", "p03.edf", "p04.edf"]


def test_clashing_names_get_subfolders(tmp_path):
    paths = [str(tmp_path / "a" / "rec.edf"), str(tmp_path / "b" / "rec.edf"),
             str(tmp_path / "a" / "other.edf"), str(tmp_path / "a" / "rec.bdf")]
    dirs = batch._assign_out_dirs(paths, tmp_path / "out")
    rel = [d.relative_to(tmp_path / "out").as_posix() for d in dirs]
    assert rel == ["a/rec.edf", "b", ".", "a/rec.bdf"]


def test_no_inputs_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no recordings found"):
        batch.run(tmp_path, tmp_path / "out", progress=False)


# ---------------------------------------------------------------------------- local engine
def test_local_run_outputs_and_failures(cohort, local_run):
    out, rows = local_run
    by = _by_name(rows)
    assert len(rows) == 6
    for name in ("p01.edf", "p02.edf", "p03.edf", "p04.edf"):
        assert by[name]["status"] == "ok", by[name]["error"]
        assert by[name]["n_channels"] == 2 and by[name]["n_fasciculations"] > 5
        assert Path(by[name]["events_tsv"]).is_file()
    for name in ("corrupt.edf", "truncated.edf"):
        assert by[name]["status"] == "failed"
        assert name in by[name]["error"]
        assert not (out / name.replace(".edf", "_events.tsv")).exists()
    table = (out / "batch_summary.tsv").read_text().splitlines()
    assert table[0].split("\t")[: len(batch.SUMMARY_COLUMNS)] == list(batch.SUMMARY_COLUMNS)
    assert len(table) == 7
    doc = json.loads((out / "batch_summary.json").read_text())
    assert doc["params"] == DetectionParams().as_dict()
    assert doc["params_hash"] == batch.params_hash(None) == rows[0]["params_hash"]
    assert doc["n_ok"] == 4 and doc["n_failed"] == 2 and doc["engine"] == "local"
    assert all(f["input_size"] > 0 and f["input_mtime"] for f in doc["files"])
    assert (out / "batch_report.png").stat().st_size > 1000
    assert not list(out.glob(".*"))  # no temp files


def test_pool_of_two_matches_in_process(cohort, local_run, tmp_path):
    out1, rows1 = local_run
    rows2 = batch.run(cohort, tmp_path, jobs=2, progress=False)
    assert [r["path"] for r in rows2] == [r["path"] for r in rows1]
    assert [r["status"] for r in rows2] == [r["status"] for r in rows1]
    assert _events(tmp_path) == _events(out1) and len(_events(out1)) == 4


def _crash_on_p02(task, params, phash):
    if task["path"].endswith("p02.edf"):
        os._exit(3)  # a worker killed by the OOM killer looks like this
    return batch._run_one(task, params, phash)


def test_worker_crash_fails_only_its_file(cohort, tmp_path):
    tasks = [{"path": p, "out_dir": str(tmp_path), "read_options": {}, "meta": {}}
             for p, _ in batch.collect_inputs(cohort, pattern="p0*.edf")]
    rows = {}
    batch._execute_local(tasks, DetectionParams(), "h", 2, rows.__setitem__, func=_crash_on_p02)
    status = {Path(tasks[i]["path"]).name: r["status"] for i, r in rows.items()}
    assert status == {"p01.edf": "ok", "p02.edf": "failed", "p03.edf": "ok", "p04.edf": "ok"}
    failed = next(r for r in rows.values() if r["status"] == "failed")
    assert "p02.edf" in failed["error"] and "worker process died" in failed["error"]


# ---------------------------------------------------------------------------- dask engine
def test_dask_threads_and_processes_match_local(cohort, local_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    out1, rows1 = local_run
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        rows = batch.run(cohort, tmp_path / "threads", engine="dask", scheduler=client,
                         progress=False)
    assert [(r["path"], r["status"]) for r in rows] == [(r["path"], r["status"]) for r in rows1]
    assert _events(tmp_path / "threads") == _events(out1)
    # the LocalCluster run() starts itself: 2 worker processes
    goods = [cohort / "p01.edf", cohort / "site_b" / "p04.edf", cohort / "corrupt.edf"]
    rows = batch.run(goods, tmp_path / "procs", engine="dask", jobs=2, progress=False)
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]
    expected = {k: v for k, v in _events(out1).items() if k.startswith(("p01", "p04"))}
    assert _events(tmp_path / "procs") == expected
    doc = json.loads((tmp_path / "procs" / "batch_summary.json").read_text())
    assert doc["engine"] == "dask" and doc["versions"]["distributed"]


def test_dask_missing_says_how_to_install(cohort, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'fascidetect\[dask\]'"):
        batch.run(cohort / "p01.edf", tmp_path, engine="dask", progress=False)


# ---------------------------------------------------------------------------- resume
def test_resume_skips_done_and_redoes_edited(cohort, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("p01.edf", "p02.edf", "corrupt.edf"):
        (src / name).write_bytes((cohort / name).read_bytes())
    out = tmp_path / "out"
    first = batch.run(src, out, jobs=1, progress=False)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("p0*")}
    again = batch.run(src, out, jobs=1, resume=True, progress=False)
    assert [r["resumed"] for r in again] == [False, True, True]  # the corrupt file is retried
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("p0*")} == stamps
    assert [r["n_fasciculations"] for r in again] == [r["n_fasciculations"] for r in first]
    assert (out / "batch_summary.tsv").read_text().count("\ttrue\t") == 2

    later = time.time() + 5
    os.utime(src / "p02.edf", (later, later))  # an edited input
    third = batch.run(src, out, jobs=1, resume=True, progress=False)
    assert _by_name(third)["p02.edf"]["resumed"] is False
    assert _by_name(third)["p01.edf"]["resumed"] is True
    fourth = batch.run(src, out, jobs=1, resume=True, progress=False,
                       params=DetectionParams(threshold_sigma=6.0))
    assert not any(r["resumed"] for r in fourth)  # other parameters: everything again
    assert (out / "p01_events.tsv").stat().st_mtime_ns > stamps["p01_events.tsv"]


def test_manifest_options_and_columns(cohort, local_run, tmp_path):
    # the channel name as the reader reports it ("EMG TA_R" or, with MNE's type
    # inference, "TA_R")
    summary = json.loads(Path(_by_name(local_run[1])["p01.edf"]["summary_json"]).read_text())
    first = summary["channels"][0]["name"]
    manifest = tmp_path / "cohort.csv"
    manifest.write_text(f"path,emg_channels,muscles,group\n"
                        f"{cohort / 'p01.edf'},{first},tibialis anterior,als\n"
                        f"{cohort / 'p02.edf'},,TA;GAS,control\n")
    rows = batch.run(manifest, tmp_path / "out", jobs=1, progress=False)
    assert [r["n_channels"] for r in rows] == [1, 2]
    assert [r["group"] for r in rows] == ["als", "control"]
    header = (tmp_path / "out" / "batch_summary.tsv").read_text().splitlines()[0].split("\t")
    assert header[-2:] == ["muscles", "group"]
    assert (tmp_path / "out" / "batch_report.png").is_file()


def test_no_success_skips_the_page_and_stale_temps_go(cohort, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".corrupt_events.tsv.tmp999999999"
    stale.write_text("partial")
    rows = batch.run([cohort / "corrupt.edf"], out, progress=False)
    assert rows[0]["status"] == "failed"
    assert not stale.exists()
    assert not (out / "batch_report.png").exists()
    assert (out / "batch_summary.tsv").is_file()


# ---------------------------------------------------------------------------- CLI and interrupts
def test_cli_batch_prints_summary_path_and_exit_code(cohort, tmp_path):
    from click.testing import CliRunner

    from fascidetect.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["batch", str(cohort / "p01.edf"), str(cohort / "truncated.edf"),
                              "--out", str(tmp_path), "--jobs", "1", "--threshold", "5.5"])
    assert res.exit_code == 1, res.output
    assert res.stdout.strip() == f"{tmp_path}/batch_summary.tsv"
    assert "2 files: 1 ok (0 resumed), 1 failed" in res.stderr
    doc = json.loads((tmp_path / "batch_summary.json").read_text())
    assert doc["params"]["threshold_sigma"] == 5.5
    ok = runner.invoke(cli, ["batch", str(cohort / "p01.edf"), "--out", str(tmp_path),
                             "--resume", "--quiet", "--threshold", "5.5"])
    assert ok.exit_code == 0 and ok.stderr == ""
    assert "Example" in runner.invoke(cli, ["batch", "--help"]).output


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _complete_outputs_only(out: Path) -> None:
    for path in out.glob("*_summary.json"):
        json.loads(path.read_text())
    for path in out.glob("*_events.tsv"):
        assert path.read_text().startswith("onset\t")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_run_leaves_complete_outputs_and_resume_finishes(tmp_path, sig):
    src = tmp_path / "in"
    src.mkdir()
    # Enough files that a signal sent at the first finished one lands mid-way even when
    # this process is slow to notice it (the suite may run beside other work).
    n_files = 14
    for i in range(n_files):
        write_edf(src / f"r{i}.edf", seed=40 + i, duration_s=40.0, n_discharges=25)
    out = tmp_path / "out"
    cmd = [*INTERRUPTIBLE_CLI, "batch", str(src), "--out", str(out),
           "--jobs", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 40
        while (not list(out.glob("*_batch.json")) and time.time() < deadline
               and proc.poll() is None):
            time.sleep(0.02)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        # no orphaned workers: the whole process group is gone (workers of a SIGKILLed
        # batch notice within a second)
        deadline = time.time() + 10
        while _group_alive(proc.pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _group_alive(proc.pid)
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    if sig != signal.SIGKILL:
        assert proc.returncode in (130, 0)  # 0 only if it finished before the signal
        assert (out / "batch_summary.tsv").is_file()
        assert not list(out.glob(".*.tmp*"))
    _complete_outputs_only(out)
    done_before = len(list(out.glob("*_batch.json")))
    assert done_before < n_files  # the signal came mid-way
    assert done_before >= 1
    rows = batch.run(src, out, jobs=2, resume=True, progress=False)
    assert all(r["status"] == "ok" for r in rows)
    assert sum(r["resumed"] for r in rows) == done_before
    assert not list(out.glob(".*.tmp*"))


def test_detect_writes_a_bids_events_sidecar(tmp_path):
    # Every column of events.tsv is described (BIDS: LongName, Description, Units,
    # Levels), and every reason the detector can give is a level.
    import json

    from fascidetect.candidates import REASONS
    from fascidetect.events import COLUMN_NAMES
    from fascidetect.jobs import detect_file

    row = detect_file(str(REPO / "signals" / "sim_mixed_L5.edf"), tmp_path)
    assert row["status"] == "ok"
    side = json.loads((tmp_path / "sim_mixed_L5_events.json").read_text())
    assert list(side) == list(COLUMN_NAMES)
    assert side["onset"]["Units"] == "s" and side["peak_amplitude_uv"]["Units"] == "uV"
    assert set(REASONS) == set(side["reason"]["Levels"])
    assert {"fasciculation", "spasm", "voluntary", "artifact"} == set(side["trial_type"]["Levels"])


def _worker_env(task, params, phash):
    """A task that reports the worker's set-up instead of detecting."""
    import sys

    import dask

    return {"path": task["path"], "status": "ok",
            "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            "blas": os.environ.get("OPENBLAS_NUM_THREADS"),
            "imported": [m for m in ("scipy.signal", "mne.io.edf.edf") if m in sys.modules],
            "profiler": dask.config.get("distributed.worker.profile.enabled")}


def test_dask_workers_start_without_the_nannys_malloc_trim(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    before = dict(os.environ)
    rows = {}
    batch._execute_dask([{"path": "x.edf"}], DetectionParams(), "h", 1, None,
                        rows.__setitem__, func=_worker_env)
    assert rows[0]["malloc_trim"] is None  # the nanny's 65536 would page-fault every block
    assert rows[0]["blas"] == "1"          # its one-thread settings still hold
    # SciPy and MNE came with the worker, not inside its first file; no profiler.
    assert rows[0]["imported"] == ["scipy.signal", "mne.io.edf.edf"]
    assert rows[0]["profiler"] is False
    assert dict(os.environ) == before      # and this process's environment is as it was


def test_worker_preload_survives_a_broken_import(tmp_path):
    # The fork server and Dask workers import fascidetect.worker_imports as they start; an
    # error there (a broken MNE install) must leave each file to report it, not stop the
    # fork server and with it the whole batch ('Aborted!' before this was caught).
    (tmp_path / "mne").mkdir()
    (tmp_path / "mne" / "__init__.py").write_text("raise RuntimeError('broken mne install')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    done = subprocess.run([sys.executable, "-c", "import fascidetect.worker_imports"], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
