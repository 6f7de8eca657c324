"""Many recordings in, the ``detect`` outputs of each plus a cohort table and page out.

:func:`run` expands files, folders and manifests into a list of recordings, runs
:func:`fascidetect.jobs.detect_file` on each (in this process, in a process pool, or on
a Dask cluster) and writes, in the output folder:

* ``<stem>_events.tsv`` and ``<stem>_summary.json`` per file, as ``fascidetect detect``
  writes them;
* ``<stem>_batch.json`` per successful file: the resume record (parameter hash, read
  options and the input's size and modification time when it was read);
* ``batch_summary.tsv`` (one row per file), ``batch_summary.json`` (parameters, their
  hash, versions, engine, per-file input stamps) and ``batch_report.png``.

Every file is written atomically (a hidden ``.<name>.tmp<pid>`` then a rename), so a
killed run leaves only complete outputs; stale temporary files of dead processes are
removed when the next batch starts. A file counts as done for ``resume`` only once its
``_batch.json`` record exists, which is written after both outputs, and its summary's
hash still matches its events file. The output folder is locked for the run
(``.fascidetect-batch.lock``), and ``batch_summary.json`` says ``"state": "running"``
from the start, so a killed batch never leaves the previous run's summary behind.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import fnmatch
import hashlib
import io
import json
import math
import os
import platform
import re
import signal
import sys
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ._text import clean_text
from .errors import (FascidetectError, InputError, MissingDependencyError, OutputError,
                     ParameterError)
from .jobs import (assign_out_dirs as _assign_out_dirs, check_outputs, detect_file,
                   ensure_writable, output_paths)
from .params import DetectionParams

#: Columns of ``batch_summary.tsv`` in order; extra manifest columns follow them.
SUMMARY_COLUMNS = ("path", "status", "error", "duration_s", "n_channels", "n_fasciculations",
                   "rate_per_min", "n_spasms", "n_artifacts", "n_units", "warnings",
                   "params_hash", "elapsed_s", "resumed", "events_tsv", "summary_json")

#: Manifest columns that become :func:`fascidetect.read` options of their row.
_READ_COLUMNS = ("sfreq", "emg_channels", "format", "board")
_ENGINES = ("local", "dask")
_MANIFEST_SUFFIXES = (".csv", ".tsv")
_TMP_NAME = re.compile(r"^\..+\.tmp(\d+)$")
_MISSING = "n/a"


# ---------------------------------------------------------------------------- inputs
def collect_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike],
                   pattern: str = "*.edf") -> list[tuple[str, dict]]:
    """Return ``(absolute path, per-file options)`` for every recording named by *inputs*.

    Parameters
    ----------
    inputs : path or iterable of paths
        Recording files, folders (searched recursively for *pattern*) and manifests. A
        manifest is a ``.csv``/``.tsv`` file whose header has a ``path`` column; its other
        columns are per-file options: ``sfreq``, ``emg_channels`` (names separated by
        ``;`` or ``,``), ``format`` and ``board`` are passed to the reader, ``muscles``
        (``;``-separated, one per EMG channel, or ``channel=muscle`` pairs) labels the
        cohort report, and any other column is copied to the summary table. Relative
        manifest paths resolve against the manifest's folder.
    pattern : str
        Shell pattern matched (case-insensitively) against file names found in folders;
        a pattern containing ``/`` is matched against the path relative to the folder.

    Returns
    -------
    list of (str, dict)
        In the order given (folders sorted), each recording once (the first mention
        wins). A path that does not exist is kept, so that it is reported as failed.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    seen: dict[str, dict] = {}

    def add(path, options):
        key = os.path.normcase(os.path.realpath(path))
        if key not in seen:
            seen[key] = (os.path.abspath(path), options)

    for item in inputs:
        path = Path(os.path.expanduser(str(item)))
        if path.is_dir():
            for found in _find_in_folder(path, pattern):
                add(found, {})
        elif path.is_file() and _is_manifest(path):
            for found, options in _read_manifest(path):
                add(found, options)
        else:
            add(path, {})
    return list(seen.values())


def _find_in_folder(folder: Path, pattern: str) -> list[Path]:
    """Return the files under *folder* matching *pattern*, sorted, hidden ones skipped."""
    pat = pattern.lower()
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            full = Path(root) / name
            target = full.relative_to(folder).as_posix() if "/" in pat else name
            if fnmatch.fnmatch(target.lower(), pat):
                found.append(full)
    return found


def _is_manifest(path: Path) -> bool:
    """Return True if *path* is a CSV/TSV whose header names a ``path`` column."""
    if path.suffix.lower() not in _MANIFEST_SUFFIXES:
        return False
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            first = fh.readline()
    except OSError:
        return False
    delimiter = "\t" if "\t" in first else ","
    return "path" in [c.strip().lower() for c in first.strip().split(delimiter)]


def _read_manifest(path: Path) -> list[tuple[Path, dict]]:
    """Return ``(recording path, options)`` per row of a manifest."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        text = fh.read()
    delimiter = "\t" if "\t" in text.splitlines()[0] else ","
    # a StringIO, not a list of lines: a quoted cell may hold a line break
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    reader.fieldnames = [c.strip().lower() for c in reader.fieldnames or []]
    rows = []
    for lineno, record in enumerate(reader, start=2):
        target = (record.pop("path", "") or "").strip()
        if not target:
            continue
        target = Path(os.path.expanduser(target))
        if not target.is_absolute():
            target = path.parent / target
        options = {}
        for key, value in record.items():
            value = (value or "").strip() if isinstance(value, str) else ""
            if not key or not value:
                continue
            if key == "sfreq":
                try:
                    options["sfreq"] = float(value)
                except ValueError:
                    raise ParameterError(f"manifest '{path}' line {lineno}: sfreq must be a "
                                         f"number, got {value!r}") from None
            elif key == "emg_channels":
                options["emg_channels"] = _split_list(value)
            else:
                options[key] = value
        rows.append((target, options))
    return rows


def _split_list(text: str) -> list[str]:
    sep = ";" if ";" in text else ("|" if "|" in text else ",")
    return [part.strip() for part in text.split(sep) if part.strip()]


# ---------------------------------------------------------------------------- bookkeeping
def params_hash(params: DetectionParams | None) -> str:
    """Return a short, stable hash of the detection parameters (16 hex digits)."""
    params = params or DetectionParams()
    text = json.dumps(params.as_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _record_path(task: dict) -> Path:
    """Return the ``<stem>_batch.json`` resume record of a task."""
    summary = output_paths(task["path"], task["out_dir"])["summary"]
    return summary.with_name(summary.name[: -len("_summary.json")] + "_batch.json")


def _input_stamp(path: str) -> dict | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _atomic_write_text(path: Path, text: str) -> Path:
    """Write *text* to a temporary name and rename it to *path*.

    Raises
    ------
    OutputError
        The folder is read-only or the disk full (no temporary file is left behind).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    return path


def _remove_outputs(task: dict) -> None:
    """Remove a file's outputs and resume record (stale results of an earlier run)."""
    paths = output_paths(task["path"], task["out_dir"])
    for path in (_record_path(task), paths["events"], paths["summary"]):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _run_one(task: dict, params: DetectionParams, phash: str) -> dict:
    """Return the summary row of one recording after writing its outputs and record.

    Runs in a worker. The input is stamped *before* it is read, so an edit made while it
    is processed makes the record stale and the file is recomputed on resume.
    """
    started = time.perf_counter()
    stamp = _input_stamp(task["path"])
    try:
        _record_path(task).unlink()
    except OSError:
        pass
    row = detect_file(task["path"], task["out_dir"], params, task["read_options"],
                      timeout_s=task.get("timeout_s"))
    row.update(params_hash=phash, elapsed_s=round(time.perf_counter() - started, 3),
               resumed=False)
    if row["status"] == "ok" and stamp is not None:
        from ._version import __version__

        record = {"params_hash": phash, "read_options": task["read_options"], "input": stamp,
                  "fascidetect_version": __version__, "row": row}
        try:
            _atomic_write_text(_record_path(task), json.dumps(record, indent=1, default=str) + "\n")
        except OutputError as exc:
            row.update(status="failed", error=f"{task['path']}: {exc}")
    if row["status"] != "ok":
        _remove_outputs(task)
    return row


def _resumable_row(task: dict, phash: str) -> dict | None:
    """Return the stored row if the task's outputs are complete and current, else None."""
    record_path = _record_path(task)
    paths = output_paths(task["path"], task["out_dir"])
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        stamp = _input_stamp(task["path"])
        if (stamp is None or record.get("input") != stamp
                or record.get("params_hash") != phash
                or record.get("read_options") != json.loads(
                    json.dumps(task["read_options"], default=str))):
            return None
        if check_outputs(paths["summary"]) is not None:
            return None  # a pair of two runs (killed between its renames): redo it
        with open(paths["events"], encoding="utf-8") as fh:
            if not fh.readline().startswith("onset\t"):
                return None
        input_mtime = stamp["mtime_ns"]
        if min(os.stat(p).st_mtime_ns for p in paths.values()) < input_mtime:
            return None
    except (OSError, ValueError, AttributeError):
        return None
    row = dict(record["row"])
    row["resumed"] = True
    return row


def _failed_row(task: dict, error: str, phash: str) -> dict:
    return {"path": task["path"], "status": "failed", "error": error, "params_hash": phash,
            "resumed": False}


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temp_files(folders: Iterable[str | os.PathLike],
                           dead_pids: Iterable[int] = ()) -> list[Path]:
    """Remove temporary files (``.<name>.tmp<pid>``) left by processes that died.

    Parameters
    ----------
    folders : iterable of path
        Output folders to scan (not recursively).
    dead_pids : iterable of int
        Process ids known not to be writing any more (e.g. workers this process
        terminated, or this process after an interrupt), removed even if still alive.

    Returns
    -------
    list of Path
        The files removed. Files of processes still running on this machine are kept,
        so two batches writing to different files of one folder do not disturb each other
        (the pid check cannot see processes of other machines: do not point two Dask
        batches at one output folder at the same time).
    """
    dead = set(dead_pids)
    removed = []
    for folder in {Path(f) for f in folders}:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = _TMP_NAME.match(entry.name)
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(match.group(1))
            if pid in dead or not _pid_alive(pid):
                try:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
                except OSError:
                    pass
    return removed


# ---------------------------------------------------------------------------- engines
def _worker_init(parent_pid: int) -> None:
    """Prepare a pool worker: ignore Ctrl-C and exit when the batch process is gone."""
    # The parent owns Ctrl-C: it cancels pending files, then ends the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, OOM killer) cannot end its workers, and they
    # would wait forever on the task queue; a watchdog ends them instead. Output written
    # so far stays atomic; their temp files are cleaned by the next batch.
    import threading

    def watch():
        while _pid_alive(parent_pid):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="fascidetect-parent-watchdog", daemon=True).start()


#: Modules a worker imports before its first file (the pipeline, SciPy and MNE with it).
_PRELOAD = ("fascidetect.worker_imports",)


def _mp_context():
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        # Forking from a clean server process avoids fork-with-threads hazards; preloading
        # the pipeline makes each worker start without re-importing SciPy and MNE.
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(list(_PRELOAD))
        with _one_blas_thread():
            from multiprocessing import forkserver

            forkserver.ensure_running()  # the server (and so every worker) keeps this env
        return ctx
    for name in _BLAS_THREAD_VARS:  # spawned workers read the parent's environment
        os.environ.setdefault(name, "1")
    return mp.get_context("spawn")


#: Thread-count variables of the BLAS/OpenMP libraries NumPy and SciPy may load.
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_blas_thread():
    """Set one BLAS thread per process for the duration (unless the user chose).

    Each pool worker is one process per core already; a BLAS thread pool per worker on
    top oversubscribes the cores (measured here: 2 workers 0.80 x one worker instead of
    1.66 x). Dask's nanny does the same for its workers.
    """
    saved = {name: os.environ.get(name) for name in _BLAS_THREAD_VARS}
    for name in _BLAS_THREAD_VARS:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _end_pool(pool, terminate: bool) -> set[int]:
    """Shut a process pool down; with *terminate*, end running workers. Return their pids."""
    processes = dict(getattr(pool, "_processes", None) or {})
    if terminate:
        for proc in processes.values():
            try:
                proc.terminate()
            except Exception:  # noqa: BLE001 - already gone
                pass
        for proc in processes.values():
            proc.join(timeout=5)
    pool.shutdown(wait=not terminate, cancel_futures=True)
    return set(processes)


def _execute_local(tasks: list[dict], params, phash: str, jobs: int,
                   on_done: Callable[[int, dict], None], func: Callable = _run_one) -> set[int]:
    """Run *func* on every task with *jobs* processes (1: in this process).

    Only *jobs* files are in flight at once, so when a worker process dies (a crash or the
    out-of-memory killer) the files it may have been handling are known: they are retried
    one at a time in a fresh single-worker pool, and a file that kills its worker again is
    marked failed. The rest go on in a fresh pool. Returns the pids of ended workers.
    """
    if jobs <= 1:
        for i, task in enumerate(tasks):
            on_done(i, func(task, params, phash))
        return set()
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = _mp_context()
    ended: set[int] = set()
    queue = deque(enumerate(tasks))
    suspects: deque = deque()
    crashed = ("the worker process died while processing this file (crash or out of "
               "memory); run it alone with 'fascidetect detect' to see the error")
    while queue or suspects:
        alone = bool(suspects)
        source = suspects if alone else queue
        width = 1 if alone else min(jobs, len(queue))
        pool = ProcessPoolExecutor(max_workers=width, mp_context=ctx,
                                   initializer=_worker_init, initargs=(os.getpid(),))
        inflight: dict = {}
        broken: list = []
        try:
            while (source or inflight) and not broken:
                while source and len(inflight) < width:
                    index, task = source.popleft()
                    try:
                        inflight[pool.submit(func, task, params, phash)] = (index, task)
                    except BrokenProcessPool:  # broke in the background: fresh pool
                        source.appendleft((index, task))
                        break
                if not inflight:
                    break
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    index, task = inflight.pop(future)
                    try:
                        row = future.result()
                    except BrokenProcessPool:
                        broken.append((index, task))
                        continue
                    except Exception as exc:  # noqa: BLE001 - e.g. unpicklable result
                        row = _failed_row(task, f"{task['path']}: worker error "
                                                f"{type(exc).__name__}: {exc}", phash)
                    on_done(index, row)
                if alone:
                    break  # one suspect per fresh pool
            broken.extend(inflight.values())
        except BaseException:
            ended |= _end_pool(pool, terminate=True)
            raise
        ended |= _end_pool(pool, terminate=bool(broken))
        if alone or len(broken) == 1:
            # it was the only file in flight when its worker died: it is the culprit
            for index, task in broken:
                on_done(index, _failed_row(task, f"{task['path']}: {crashed}", phash))
        else:
            # any of these may have killed the pool: retry each alone, then go on
            suspects.extend(broken)
    return ended


def _execute_dask(tasks: list[dict], params, phash: str, jobs: int, scheduler,
                  on_done: Callable[[int, dict], None], func: Callable = _run_one) -> set[int]:
    """Run *func* on every task on a Dask cluster: *scheduler* address or Client, or a
    LocalCluster of *jobs* single-threaded worker processes started and closed here."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise MissingDependencyError(
            "--engine dask needs dask.distributed: pip install 'fascidetect[dask]' "
            "(or pip install 'dask[distributed]')") from None
    import logging

    cluster = None
    own_client = False
    if isinstance(scheduler, Client):
        client = scheduler
    elif scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise FascidetectError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                "'dask scheduler' and workers with 'dask worker ADDRESS'") from None
        own_client = True
    else:
        with _worker_environment():
            # Workers import the pipeline, SciPy and MNE as they start, as the local pool's
            # fork server does: otherwise each worker's first file carried the imports
            # (Dask's first files 3.4 s against the pool's 2.6 s, the others about 1.3 s;
            # issue 14).
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR,
                                   preload=list(_PRELOAD))
        client = Client(cluster)
        own_client = True
    futures = {}
    run_id = uuid.uuid4().hex[:8]  # keys unique per run: Dask shares futures by key
    try:
        for index, task in enumerate(tasks):
            key = f"fascidetect-{Path(task['path']).name}-{run_id}-{index}"
            future = client.submit(func, task, params, phash, key=key, pure=False, retries=0)
            futures[future] = (index, task)
        for future in as_completed(futures):
            index, task = futures[future]
            try:
                row = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection...
                row = _failed_row(task, f"{task['path']}: Dask task failed: "
                                        f"{type(exc).__name__}: {exc}", phash)
            future.release()
            on_done(index, row)
    except BaseException:
        try:
            client.cancel(list(futures))
        except Exception:  # noqa: BLE001 - the cluster may be gone already
            pass
        raise
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    return set()


@contextlib.contextmanager
def _worker_environment():
    """Start local Dask workers without the nanny's ``MALLOC_TRIM_THRESHOLD_=65536`` and
    without the workers' profiler, and leave this process's environment as it was.

    With that threshold glibc hands every freed block of more than 64 kB back to the
    system, so each block's arrays are fresh page-faulted allocations: a 5-minute file
    took 1.9 x as long in a worker (0.86 vs 0.45 s, issue 14). Files are independent
    tasks and a worker's memory does not pile up between them. A threshold the user set in
    the environment is still passed on. The nanny writes its variables into the process
    that starts it (here); they are restored afterwards.
    """
    import dask

    saved = dict(os.environ)
    try:
        # The workers' statistical profiler samples every thread's stack each 10 ms for
        # the dashboard; the cluster started here has none.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                              "distributed.worker.profile.enabled": False}):
            yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)


# ---------------------------------------------------------------------------- progress
class _Progress:
    """A files-and-bytes progress bar with ETA on stderr (tqdm if installed, else click)."""

    def __init__(self, n_files: int, n_bytes: int, enabled: bool):
        self.n_files, self.done = n_files, 0
        self._bar = self._click = None
        if not enabled:
            return
        try:
            from tqdm import tqdm

            self._bar = tqdm(total=max(n_bytes, 1), unit="B", unit_scale=True,
                             unit_divisor=1024, file=sys.stderr, dynamic_ncols=True,
                             desc=self._label(), leave=False)
        except ImportError:
            import click

            self._click = click.progressbar(length=max(n_bytes, 1), file=sys.stderr,
                                            show_eta=True, show_percent=True,
                                            item_show_func=lambda item: item)
            self._click.__enter__()

    def _label(self) -> str:
        return f"files {self.done}/{self.n_files}"

    def update(self, n_bytes: int) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.set_description_str(self._label(), refresh=False)
            self._bar.update(n_bytes)
        elif self._click is not None:
            self._click.update(n_bytes, self._label())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._click is not None:
            self._click.__exit__(None, None, None)


# ---------------------------------------------------------------------------- run
def run(inputs, out_dir, *, engine: str = "local", jobs: int | None = None, scheduler=None,
        pattern: str = "*.edf", params: DetectionParams | None = None,
        read_options: dict | None = None, resume: bool = False,
        progress: bool = True, timeout_s: float | None = None) -> list[dict]:
    """Return the cohort summary rows after detecting events in every input recording.

    Parameters
    ----------
    inputs : path or iterable of paths
        Recording files, folders (searched recursively with *pattern*) and manifests
        (CSV/TSV with a ``path`` column, see :func:`collect_inputs`).
    out_dir : path
        Output folder (created): per-file ``<stem>_events.tsv``, ``<stem>_summary.json``
        and ``<stem>_batch.json``, plus ``batch_summary.tsv``, ``batch_summary.json`` and
        ``batch_report.png``.
    engine : {"local", "dask"}
        ``local`` runs a process pool on this machine; ``dask`` submits one task per file
        to a Dask cluster (needs ``pip install 'fascidetect[dask]'``).
    jobs : int | None
        Worker processes (default ``os.cpu_count()``). ``1`` with ``local`` runs in this
        process. With ``dask`` and no *scheduler*, the size of the LocalCluster.
    scheduler : str | distributed.Client | None
        Dask scheduler address (``tcp://host:8786``) or a connected Client; the workers
        must see the input and output paths. ``None`` starts a LocalCluster.
    pattern : str
        File-name pattern for folders (case-insensitive), default ``*.edf``.
    params : DetectionParams | None
        Detection parameters (defaults if None), the same for every file.
    read_options : dict | None
        Options of :func:`fascidetect.read` for every file; manifest columns override
        them per file.
    resume : bool
        Skip files whose outputs are complete, newer than the input, and made with the
        same parameters and read options from the same input (size and mtime).
    progress : bool
        Show a progress bar on stderr (only when stderr is a terminal).
    timeout_s : float | None
        Give up on a file after this many seconds (it fails with a time-limit error and
        the batch goes on): a stuck network share or a pipe cannot hang the batch.
        ``local`` engine only (POSIX).

    Returns
    -------
    list of dict
        One row per recording in input order, with the keys of :data:`SUMMARY_COLUMNS`
        (``status`` is ``ok`` or ``failed``; ``resumed`` marks rows taken from an earlier
        run) plus any extra manifest columns. :func:`to_dataframe` turns them into a
        ``pandas.DataFrame``.

    Raises
    ------
    InputError
        No recording matched the inputs.
    OutputError
        The output folder cannot be written (read-only, disk full), or another batch
        holds its lock (``.fascidetect-batch.lock``): two batches never write one folder.
    KeyboardInterrupt
        After Ctrl-C: pending files are cancelled, workers ended, temporary files removed
        and the summary of the finished files written.

    Examples
    --------
    >>> from fascidetect import batch
    >>> rows = batch.run(["data/"], "results/", jobs=4)            # doctest: +SKIP
    >>> sum(r["status"] == "failed" for r in rows)                  # doctest: +SKIP
    0
    """
    if engine not in _ENGINES:
        raise ParameterError(f"engine must be one of {_ENGINES}, got {engine!r}")
    if jobs is not None and int(jobs) < 1:
        raise ParameterError(f"jobs must be at least 1, got {jobs!r}")
    if timeout_s is not None and not (timeout_s > 0 and math.isfinite(timeout_s)):
        raise ParameterError(f"the time limit per file must be a positive number of s, "
                             f"got {timeout_s!r}")
    if timeout_s is not None and engine != "local":
        raise ParameterError("a time limit per file works with the local engine only")
    params = params or DetectionParams()
    phash = params_hash(params)
    out_dir = Path(out_dir).absolute()
    found = collect_inputs(inputs, pattern)
    if not found:
        raise InputError(f"no recordings found in {list(map(str, _as_list(inputs)))} "
                         f"(pattern {pattern!r})")
    ensure_writable(out_dir)
    with _batch_lock(out_dir):
        return _run_locked(found, out_dir, engine, jobs, scheduler, params, phash,
                           read_options, resume, progress, timeout_s)


def _run_locked(found, out_dir: Path, engine, jobs, scheduler, params, phash, read_options,
                resume, progress, timeout_s) -> list[dict]:
    """The body of :func:`run`, with the output folder locked."""
    dirs = _assign_out_dirs([p for p, _ in found], out_dir)
    tasks = []
    for (path, options), folder in zip(found, dirs):
        merged = dict(read_options or {})
        merged.update({k: v for k, v in options.items() if k in _READ_COLUMNS})
        meta = {k: v for k, v in options.items() if k not in _READ_COLUMNS}
        tasks.append({"path": path, "out_dir": str(folder), "read_options": merged, "meta": meta,
                      "timeout_s": timeout_s})
    folders = {t["out_dir"] for t in tasks} | {str(out_dir)}
    for folder in folders:
        ensure_writable(folder)
    clean_stale_temp_files(folders)

    stamps = [_input_stamp(t["path"]) for t in tasks]
    sizes = [s["size"] if s else 0 for s in stamps]
    rows: list[dict | None] = [None] * len(tasks)
    bar = _Progress(len(tasks), sum(sizes), progress and sys.stderr.isatty())
    todo = []
    for i, task in enumerate(tasks):
        row = _resumable_row(task, phash) if resume else None
        if row is None:
            todo.append(i)
        else:
            rows[i] = row
            bar.update(sizes[i])

    def on_done(k: int, row: dict) -> None:
        rows[todo[k]] = row
        bar.update(sizes[todo[k]])

    n_jobs = int(jobs or os.cpu_count() or 1)
    started = time.perf_counter()
    # Say at once that a batch is under way: killed outright (SIGKILL, power loss), it
    # leaves this "running" summary of what was already on disk, never the last run's.
    _write_batch_summary(out_dir, [(t, r, s) for t, r, s in zip(tasks, rows, stamps) if r],
                         params, phash, engine=engine, jobs=n_jobs, scheduler=scheduler,
                         interrupted=True, n_not_run=len(todo), wall_s=0.0, state="running")
    interrupted = False
    ended: set[int] = set()
    try:
        if todo:
            work = [tasks[i] for i in todo]
            if engine == "local":
                ended = _execute_local(work, params, phash, min(n_jobs, len(work)), on_done)
            else:
                ended = _execute_dask(work, params, phash, min(n_jobs, len(work)),
                                      scheduler, on_done)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        bar.close()
        # after an interrupt nothing of ours is writing any more
        clean_stale_temp_files(folders, ended | ({os.getpid()} if interrupted else set()))
        finished = [(t, _as_on_disk(r, t), s) for t, r, s in zip(tasks, rows, stamps)
                    if r is not None]
        _write_batch_summary(out_dir, finished, params, phash, engine=engine, jobs=n_jobs,
                             scheduler=scheduler, interrupted=interrupted,
                             n_not_run=len(tasks) - len(finished),
                             wall_s=time.perf_counter() - started,
                             state="interrupted" if interrupted else "complete")
    return [_complete_row(r, t) for t, r in zip(tasks, rows)]


_LOCK_NAME = ".fascidetect-batch.lock"


@contextlib.contextmanager
def _batch_lock(out_dir: Path):
    """Hold the output folder's batch lock for the duration, or raise OutputError.

    An advisory ``flock`` on ``.fascidetect-batch.lock``: the system drops it when the
    process ends however it ends, so a killed batch never leaves a stale lock. (Where
    ``fcntl`` is missing, Windows, nothing is locked.)
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = out_dir / _LOCK_NAME
    while True:
        try:
            fh = open(path, "a+", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write to the output folder '{out_dir}': "
                              f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise OutputError(f"another batch is writing to '{out_dir}' ({holder}); wait for "
                              "it to finish or choose another --out") from None
        try:
            same = os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if same:
            break
        fh.close()  # the holder removed the file after we opened it: lock the new one
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {platform.node()}, started "
                 f"{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}\n")
        fh.flush()
        yield
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        fh.close()


def _as_on_disk(row: dict, task: dict) -> dict:
    """Return *row*, or a failed row if its outputs are not (or no longer) on disk whole."""
    if row.get("status") != "ok" or row.get("resumed"):
        return row
    paths = output_paths(task["path"], task["out_dir"])
    problem = (None if _record_path(task).is_file() else f"'{_record_path(task)}' is missing")
    problem = problem or check_outputs(paths["summary"])
    if problem is None:
        return row
    return dict(row, status="failed", error=f"{task['path']}: outputs not complete on disk: "
                                            f"{problem}")


def _as_list(inputs):
    return [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)


def _complete_row(row: dict, task: dict) -> dict:
    """Return *row* with every summary column present and the manifest columns added."""
    out = {col: row.get(col) for col in SUMMARY_COLUMNS}
    out["error"] = out["error"] or ""
    out["warnings"] = out["warnings"] or ""
    out["resumed"] = bool(out["resumed"])
    for key, value in task["meta"].items():
        out.setdefault(key, value)
    return out


# ---------------------------------------------------------------------------- outputs
def _versions(engine: str) -> dict:
    from importlib import metadata

    from ._version import __version__

    versions = {"fascidetect": __version__, "python": platform.python_version()}
    names = ["numpy", "scipy", "mne", "edfio"] + (["dask", "distributed"] if engine == "dask" else [])
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _tsv_value(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return _MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    text = clean_text(value)
    return text if text else _MISSING


def _write_batch_summary(out_dir: Path, finished, params, phash, *, engine, jobs, scheduler,
                         interrupted, n_not_run, wall_s, state="complete") -> None:
    """Write batch_summary.tsv and .json (atomically) and the cohort page.

    *state* is ``running`` (written as a batch starts: the files already done), then
    ``complete`` or ``interrupted``; a ``running`` summary with no batch holding the lock
    is what a killed batch left.
    """
    full = [_complete_row(r, t) for t, r, _ in finished]
    extra = []
    for row in full:
        extra += [k for k in row if k not in SUMMARY_COLUMNS and k not in extra]
    columns = list(SUMMARY_COLUMNS) + extra
    lines = ["\t".join(clean_text(c) for c in columns)]
    lines += ["\t".join(_tsv_value(row.get(c)) for c in columns) for row in full]
    _atomic_write_text(out_dir / "batch_summary.tsv", "\n".join(lines) + "\n")

    files = []
    for (task, row, stamp), complete in zip(finished, full):
        mtime = (_dt.datetime.fromtimestamp(stamp["mtime_ns"] / 1e9, _dt.timezone.utc)
                 .isoformat() if stamp else None)
        files.append({"path": task["path"], "status": complete["status"],
                      "resumed": complete["resumed"], "error": complete["error"],
                      "input_size": stamp["size"] if stamp else None,
                      "input_mtime": mtime,
                      "input_mtime_ns": stamp["mtime_ns"] if stamp else None,
                      "read_options": task["read_options"], "metadata": task["meta"],
                      "events_tsv": complete["events_tsv"],
                      "summary_json": complete["summary_json"]})
    n_failed = sum(r["status"] != "ok" for r in full)
    doc = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "engine": engine, "jobs": jobs,
        "scheduler": scheduler if isinstance(scheduler, str) or scheduler is None
        else repr(scheduler),
        "versions": _versions(engine), "platform": platform.platform(),
        "params": params.as_dict(), "params_hash": phash,
        "n_files": len(full) + n_not_run, "n_ok": len(full) - n_failed, "n_failed": n_failed,
        "n_resumed": sum(r["resumed"] for r in full), "n_not_run": n_not_run,
        "interrupted": interrupted, "state": state, "wall_s": round(wall_s, 3),
        "files": files,
    }
    _atomic_write_text(out_dir / "batch_summary.json",
                       json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n")
    if state == "complete":
        try:
            write_cohort_report(full, out_dir / "batch_report.png",
                                [t["meta"].get("muscles") for t, _, _ in finished])
        except Exception as exc:  # noqa: BLE001 - the page is a bonus, never fatal
            import warnings

            from .errors import FascidetectWarning

            warnings.warn(f"batch_report.png not written: {type(exc).__name__}: {exc}",
                          FascidetectWarning, stacklevel=2)


def _muscle_map(spec, channel_names: list[str]) -> dict:
    """Return channel -> muscle from a manifest ``muscles`` cell (positional or pairs)."""
    if not spec:
        return {}
    items = _split_list(spec)
    if all("=" in item for item in items):
        return {k.strip(): v.strip() for k, v in (item.split("=", 1) for item in items)}
    return dict(zip(channel_names, items))


def _channel_label(name: str) -> str:
    return name[4:] if name.upper().startswith("EMG ") else name


def write_cohort_report(rows: list[dict], path: str | os.PathLike,
                        muscles: Sequence | None = None) -> Path | None:
    """Write the cohort page: rate per file (with 95 % CI) and per muscle; failed files.

    Parameters
    ----------
    rows : list of dict
        Summary rows (as returned by :func:`run`).
    path : path
        PNG to write (atomically).
    muscles : sequence of str | None
        Per row, the manifest ``muscles`` cell (or None); channels are grouped by muscle
        when given, else by channel name without an ``EMG`` prefix.

    Returns
    -------
    Path | None
        The page, or None when no file succeeded (nothing to plot).
    """
    ok = [(i, r) for i, r in enumerate(rows) if r["status"] == "ok" and r.get("summary_json")]
    if not ok:
        return None
    # A bare Figure renders with Agg and leaves pyplot's global backend alone.
    from matplotlib.figure import Figure

    muscles = list(muscles) if muscles is not None else [None] * len(rows)
    names, rates, lows, highs, groups = [], [], [], [], {}
    for i, row in ok:
        try:
            summary = json.loads(Path(row["summary_json"]).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        names.append(Path(row["path"]).name)
        rate = summary.get("fasciculation_rate_per_min")
        ci = summary.get("fasciculation_rate_ci") or [None, None]
        rates.append(math.nan if rate is None else rate)
        lows.append(math.nan if ci[0] is None or rate is None else rate - ci[0])
        highs.append(math.nan if ci[1] is None or rate is None else ci[1] - rate)
        channels = summary.get("channels", [])
        mapping = _muscle_map(muscles[i], [c.get("name", "") for c in channels])
        for ch in channels:
            if ch.get("rate_per_min") is None:
                continue
            label = mapping.get(ch.get("name"), _channel_label(str(ch.get("name"))))
            groups.setdefault(label, []).append(ch["rate_per_min"])
    failed = [r for r in rows if r["status"] != "ok"]
    n = len(names)
    height = 3.0 + 0.22 * n + 2.5 + (0.6 + 0.18 * min(len(failed), 30) if failed else 0)
    fig = Figure(figsize=(10, max(7.0, height)), constrained_layout=True)
    ratios = [max(2.0, 0.22 * n), 2.5] + ([0.6 + 0.18 * min(len(failed), 30)] if failed else [])
    axes = fig.subplots(len(ratios), 1, gridspec_kw={"height_ratios": ratios})
    ax = axes[0]
    ypos = list(range(n))[::-1]
    ax.barh(ypos, [0 if math.isnan(r) else r for r in rates], color="tab:blue", alpha=0.7,
            xerr=[[0 if math.isnan(v) else v for v in lows],
                  [0 if math.isnan(v) else v for v in highs]], capsize=2)
    ax.set_yticks(ypos, names, fontsize=7 if n > 20 else 9)
    ax.set_xlabel("fasciculations per minute of rest (95 % exact Poisson CI)")
    ax.set_title(f"Fasciculation rate per file ({n} ok, {len(failed)} failed)")
    ax = axes[1]
    if groups:
        labels = sorted(groups)
        data = [groups[k] for k in labels]
        ax.boxplot(data, showfliers=False)
        for j, values in enumerate(data, start=1):
            jitter = [j + 0.08 * (((k * 7919) % 11) / 10 - 0.5) for k in range(len(values))]
            ax.plot(jitter, values, "o", color="k", alpha=0.5, markersize=3)
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right")
        ax.set_ylabel("fasciculations / min")
        ax.set_title("Rate per muscle/channel across files")
    else:
        ax.set_axis_off()
    if failed:
        ax = axes[2]
        ax.set_axis_off()
        text = "\n".join(f"{Path(r['path']).name}: {str(r['error'])[:110]}"
                         for r in failed[:30])
        if len(failed) > 30:
            text += f"\n... and {len(failed) - 30} more (see batch_summary.tsv)"
        ax.set_title("Failed files", loc="left")
        ax.text(0, 1, text, va="top", ha="left", family="monospace", fontsize=7,
                transform=ax.transAxes)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)
    return path


def to_dataframe(rows_or_path):
    """Return the summary rows (or a ``batch_summary.tsv``) as a ``pandas.DataFrame``."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on environment
        raise MissingDependencyError("to_dataframe() needs pandas: pip install pandas") from None
    if isinstance(rows_or_path, (str, os.PathLike)):
        return pd.read_csv(rows_or_path, sep="\t", na_values=[_MISSING], keep_default_na=False)
    return pd.DataFrame(list(rows_or_path))
