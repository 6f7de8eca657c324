"""One file in, the ``detect`` outputs out: the unit of work of the CLI and of batches.

Output contract (keep stable): ``<out>/<stem>_events.tsv`` (columns of
:data:`fascidetect.events.EVENT_COLUMNS`), its BIDS sidecar ``<out>/<stem>_events.json``
(every column described, with units and levels) and ``<out>/<stem>_summary.json``
(:meth:`DetectionResult.summary`). All are written atomically (temp file + rename), and
events.tsv and summary.json as a pair (:func:`write_outputs`): the summary names its events
file and that file's SHA-256 (``outputs``), and :func:`check_outputs` tells whether the two
on disk still belong together.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
import traceback
from typing import Sequence
import warnings
from pathlib import Path

from .errors import (FascidetectError, FascidetectWarning, OutputError, ParameterError,
                     TimeLimitError)
from .events import write_events_json
from .params import DetectionParams


def output_paths(path: str | os.PathLike, out_dir: str | os.PathLike) -> dict:
    """Return the events.tsv and summary.json paths that ``detect`` writes for *path*."""
    stem = Path(path).name
    for suffix in (".edf", ".bdf", ".txt", ".csv", ".tsv", ".npy", ".hea", ".dat", ".mat"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    out = Path(out_dir)
    return {"events": out / f"{stem}_events.tsv", "summary": out / f"{stem}_summary.json"}


def _temp_name(path: Path) -> Path:
    # the pattern batch.clean_stale_temp_files removes once this process is gone
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def file_sha256(path: str | os.PathLike) -> str:
    """Return the SHA-256 (hex) of a file's bytes, read in 1-MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_outputs(result, paths: dict) -> None:
    """Write events.tsv (+ its events.json sidecar) and summary.json as a consistent pair.

    Both are written to temporary names first; the events file is renamed into place,
    then the summary, which names the events file and holds its SHA-256. A run killed at
    any point leaves either the old pair, the new pair, or a new events.tsv beside an old
    summary whose hash no longer matches it (:func:`check_outputs` says so). On an error
    (disk full) no temporary file is left behind.
    """
    events, summary = Path(paths["events"]), Path(paths["summary"])
    tmp_events, tmp_summary = _temp_name(events), _temp_name(summary)
    try:
        result.to_tsv(tmp_events)
        outputs = {"events_tsv": events.name, "events_sha256": file_sha256(tmp_events)}
        result.to_json(tmp_summary, extra={"outputs": outputs})
        write_events_json(events.with_suffix(".json"))  # BIDS sidecar of the columns
        os.replace(tmp_events, events)
        os.replace(tmp_summary, summary)  # last: the summary vouches for the events file
    finally:
        # ours, and those of the writers called (same naming), if a write failed midway
        sidecar = events.with_suffix(".json")
        for tmp in (tmp_events, tmp_summary, _temp_name(tmp_events), _temp_name(tmp_summary),
                    _temp_name(sidecar)):
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass


@contextlib.contextmanager
def time_limit(seconds: float | None, path):
    """Raise :class:`TimeLimitError` in this thread once *seconds* have passed.

    A SIGALRM timer: it also interrupts a blocking ``open`` or ``read`` (a FIFO that never
    delivers). Without a timer (``None``, Windows, or not the main thread) it does nothing.
    """
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    if not seconds > 0:
        raise ParameterError(f"the time limit per file must be positive, got {seconds!r} s")

    def expire(signum, frame):
        raise TimeLimitError(f"'{path}': gave up after {seconds:g} s (time limit per file)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def ensure_writable(folder: str | os.PathLike, source=None) -> Path:
    """Create *folder* if needed and make sure files can be written in it.

    Raises
    ------
    OutputError
        One line naming the folder and the reason (read-only, disk full, not a folder).
    """
    folder = Path(folder)
    probe = _temp_name(folder / "write-test")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as fh:
            fh.write(b"x")
    except OSError as exc:
        raise _output_error(source, exc, folder) from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return folder


def _output_error(source, exc: OSError, where) -> OutputError:
    head = f"'{source}': " if source is not None else ""
    return OutputError(f"{head}cannot write the results to '{where}': "
                       f"{exc.strerror or exc}")


def check_outputs(summary_path: str | os.PathLike) -> str | None:
    """Return why a summary.json and its events.tsv do not belong together, or None.

    Summaries written before the ``outputs`` record existed cannot be checked and pass.
    """
    summary_path = Path(summary_path)
    try:
        doc = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"'{summary_path}' is unreadable ({exc})"
    outputs = doc.get("outputs") if isinstance(doc, dict) else None
    if not isinstance(outputs, dict):
        return None
    events = summary_path.with_name(str(outputs.get("events_tsv", "")))
    try:
        digest = file_sha256(events)
    except OSError:
        return f"'{events}', named by '{summary_path.name}', is missing"
    if digest != outputs.get("events_sha256"):
        return f"'{events}' is not the events file '{summary_path.name}' was written with"
    return None


def assign_out_dirs(paths: Sequence[str], out_dir: Path) -> list[Path]:
    """Return the output folder of each path: *out_dir*, or a subfolder when names clash.

    Recordings whose output stems collide (``a/rec.edf`` and ``b/rec.edf``) go into
    subfolders mirroring their folders below the clashing files' common folder.
    """
    stems = [output_paths(p, out_dir)["summary"].name for p in paths]
    dirs = [out_dir] * len(paths)
    groups: dict[str, list[int]] = {}
    for i, stem in enumerate(stems):
        groups.setdefault(stem, []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        parents = [os.path.dirname(paths[i]) for i in members]
        common = os.path.commonpath(parents)
        for i, parent in zip(members, parents):
            rel = os.path.relpath(parent, common)
            dirs[i] = out_dir if rel == "." else out_dir / rel
        # same folder, different suffix (rec.edf and rec.bdf): one folder per file name
        clash: dict[Path, list[int]] = {}
        for i in members:
            clash.setdefault(dirs[i], []).append(i)
        for same in clash.values():
            if len(same) > 1:
                for i in same:
                    dirs[i] = dirs[i] / os.path.basename(paths[i])
    return dirs


def detect_file(path: str | os.PathLike, out_dir: str | os.PathLike,
                params: DetectionParams | None = None, read_options: dict | None = None,
                progress=None, timeout_s: float | None = None) -> dict:
    """Run detection on one file, write its outputs and return a summary row.

    Never raises for a bad input file: the row then has ``status='failed'`` and the
    ``error`` message, so one bad file in a batch never loses the others' results.
    With *timeout_s*, a file that takes longer (a stuck network share, a pipe that never
    delivers) fails with a time-limit error instead of hanging (POSIX, main thread only).

    Returns
    -------
    dict
        ``path``, ``status`` (ok | failed), ``error``, ``duration_s``, ``n_channels``,
        ``n_fasciculations``, ``rate_per_min``, ``n_spasms``, ``n_voluntary``, ``n_artifacts``,
        ``n_units``, ``warnings``, ``events_tsv``, ``summary_json``.
    """
    from . import io
    from ._memory import steady_block_allocations
    from ._threads import one_blas_thread
    from .pipeline import detect

    steady_block_allocations()  # the block arrays from the heap, not fresh pages
    params = params or DetectionParams()
    row = {"path": str(path), "status": "failed", "error": "", "duration_s": None,
           "n_channels": None, "n_fasciculations": None, "rate_per_min": None,
           "n_spasms": None, "n_voluntary": None, "n_artifacts": None, "n_units": None, "warnings": "",
           "events_tsv": "", "summary_json": ""}
    try:
        ensure_writable(out_dir, path)  # before detection: a read-only folder fails at once
        with time_limit(timeout_s, path):
            with warnings.catch_warnings(), one_blas_thread():
                warnings.simplefilter("ignore", FascidetectWarning)
                rec = io.read(path, **(read_options or {}))
                result = detect(rec, params, progress=progress)
            paths = output_paths(path, out_dir)
            try:
                write_outputs(result, paths)
            except OSError as exc:  # disk full, folder gone: one line, nothing half written
                raise _output_error(path, exc, Path(out_dir)) from None
        summary = result.summary()
        row.update(status="ok", duration_s=round(rec.duration_s, 3), n_channels=len(result.channels),
                   n_fasciculations=summary["counts"]["fasciculation"],
                   rate_per_min=summary["fasciculation_rate_per_min"],
                   n_spasms=summary["counts"]["spasm"],
                   n_voluntary=summary["counts"]["voluntary"],
                   n_artifacts=summary["counts"]["artifact"], n_units=summary["n_units"],
                   warnings=" | ".join(result.warnings),
                   events_tsv=str(paths["events"]), summary_json=str(paths["summary"]))
    except FascidetectError as exc:
        row["error"] = str(exc)
    except MemoryError:
        row["error"] = f"{path}: out of memory"
    except Exception as exc:  # noqa: BLE001 - a batch must survive any single file
        last = traceback.extract_tb(exc.__traceback__)[-1]
        row["error"] = (f"{path}: unexpected {type(exc).__name__}: {exc} "
                        f"(at {Path(last.filename).name}:{last.lineno}; please report)")
    return row
