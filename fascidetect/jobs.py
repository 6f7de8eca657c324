"""One file in, the ``detect`` outputs out: the unit of work of the CLI and of batches.

Output contract (keep stable): ``<out>/<stem>_events.tsv`` (columns of
:data:`fascidetect.events.EVENT_COLUMNS`), its BIDS sidecar ``<out>/<stem>_events.json``
(every column described, with units and levels) and ``<out>/<stem>_summary.json``
(:meth:`DetectionResult.summary`). All are written atomically (temp file + rename).
"""

from __future__ import annotations

import os
import traceback
from typing import Sequence
import warnings
from pathlib import Path

from .errors import FascidetectError, FascidetectWarning
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
                progress=None) -> dict:
    """Run detection on one file, write its outputs and return a summary row.

    Never raises for a bad input file: the row then has ``status='failed'`` and the
    ``error`` message, so one bad file in a batch never loses the others' results.

    Returns
    -------
    dict
        ``path``, ``status`` (ok | failed), ``error``, ``duration_s``, ``n_channels``,
        ``n_fasciculations``, ``rate_per_min``, ``n_spasms``, ``n_voluntary``, ``n_artifacts``,
        ``n_units``, ``warnings``, ``events_tsv``, ``summary_json``.
    """
    from . import io
    from .pipeline import detect

    params = params or DetectionParams()
    row = {"path": str(path), "status": "failed", "error": "", "duration_s": None,
           "n_channels": None, "n_fasciculations": None, "rate_per_min": None,
           "n_spasms": None, "n_voluntary": None, "n_artifacts": None, "n_units": None, "warnings": "",
           "events_tsv": "", "summary_json": ""}
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FascidetectWarning)
            rec = io.read(path, **(read_options or {}))
            result = detect(rec, params, progress=progress)
        paths = output_paths(path, out_dir)
        result.to_tsv(paths["events"])
        write_events_json(paths["events"].with_suffix(".json"))  # BIDS sidecar of the columns
        result.to_json(paths["summary"])
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
