"""BIDS out: detection results of a BIDS dataset as a BIDS derivatives dataset.

Layout (BIDS-Derivatives 1.11)::

    <deriv>/dataset_description.json      DatasetType "derivative", GeneratedBy, SourceDatasets
    <deriv>/README
    <deriv>/.bidsignore                   lists *_summary.json (not a BIDS file type)
    <deriv>/sub-01/ses-01/emg/sub-01_ses-01_task-rest_events.tsv
    <deriv>/sub-01/ses-01/emg/sub-01_ses-01_task-rest_events.json   every column described
    <deriv>/sub-01/ses-01/emg/sub-01_ses-01_task-rest_summary.json  DetectionResult.summary()

The summary JSON carries the BIDS target muscles (``muscles``) and entities (``bids``)
so that ``fascidetect trend`` on the derivatives names muscles as the dataset does.
"""

from __future__ import annotations

import json
import os
import traceback
import warnings
from pathlib import Path

from .errors import FascidetectError, FascidetectWarning

#: BIDS version the derivatives are written for (EMG entered BIDS in 1.11.0).
BIDS_VERSION = "1.11.0"
#: What the validator need not check: our summary JSON has no BIDS file type.
BIDSIGNORE = "*_summary.json\n"
#: Fields BIDS requires (or fascidetect always writes) in a derivative dataset_description.
REQUIRED_DESCRIPTION = ("Name", "BIDSVersion", "DatasetType", "GeneratedBy")


def default_derivatives_root(bids_root) -> Path:
    """Return ``<bids_root>/derivatives/fascidetect``."""
    return Path(bids_root) / "derivatives" / "fascidetect"


def dataset_description(source_root) -> dict:
    """Return the ``dataset_description.json`` of the derivatives of *source_root*."""
    from ._version import __version__

    source = Path(source_root).resolve()
    return {
        "Name": f"fascidetect detections of {source.name}",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{
            "Name": "fascidetect", "Version": __version__,
            "Description": "Fasciculations, spasm episodes and artifacts found in surface "
                           "EMG at rest; one events.tsv and summary per recording.",
        }],
        "SourceDatasets": [{"URL": source.as_uri()}],
    }


def _atomic_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_dataset_files(deriv_root, source_root) -> Path:
    """Write ``dataset_description.json``, ``README`` and ``.bidsignore``; return the root."""
    root = Path(deriv_root)
    root.mkdir(parents=True, exist_ok=True)
    _atomic_text(root / "dataset_description.json",
                 json.dumps(dataset_description(source_root), indent=2) + "\n")
    if not (root / "README").exists():
        _atomic_text(root / "README", "fascidetect derivatives: per EMG recording, the "
                     "events found (events.tsv with its events.json) and a summary JSON "
                     "(rates per channel with 95 % CI, rest time, spasm time).\n")
    _atomic_text(root / ".bidsignore", BIDSIGNORE)
    return root


def derivative_paths(bids_path, deriv_root) -> dict:
    """Return the events.tsv, events.json and summary.json paths for one recording."""
    base = bids_path.copy().update(root=deriv_root, suffix=None, extension=None,
                                   check=False)
    folder = Path(deriv_root) / Path(bids_path.fpath).parent.relative_to(bids_path.root)
    stem = Path(base.basename).name
    return {"events": folder / f"{stem}_events.tsv", "events_json": folder / f"{stem}_events.json",
            "summary": folder / f"{stem}_summary.json"}


def detect_bids_recording(fpath: str, deriv_root: str, params=None) -> dict:
    """Detect events in one BIDS recording and write its derivatives; return a row.

    Never raises for a bad recording: the row then has ``status='failed'`` and ``error``.
    """
    import mne_bids

    from .bids_input import params_for, read_bids_recording
    from .events import write_events_json
    from .jobs import write_outputs
    from .pipeline import detect

    row = {"path": str(fpath), "status": "failed", "error": "", "n_fasciculations": None,
           "rate_per_min": None, "summary_json": ""}
    try:
        bids_path = mne_bids.get_bids_path_from_fname(fpath)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FascidetectWarning)
            rec = read_bids_recording(bids_path)
            result = detect(rec, params_for(rec, params))
        paths = derivative_paths(bids_path, deriv_root)
        paths["events"].parent.mkdir(parents=True, exist_ok=True)
        # events.tsv + sidecar + summary.json as a pair (the summary names the events
        # file and its hash: see fascidetect.jobs.write_outputs)
        write_outputs(result, paths)
        if paths["events_json"] != paths["events"].with_suffix(".json"):
            write_events_json(paths["events_json"])
        # Add what BIDS told us (target muscles, entities) to the summary, keys only added.
        summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
        summary["muscles"] = rec.metadata.get("muscles", {})
        summary["bids"] = {k: v for k, v in rec.metadata.get("bids", {}).items() if k != "root"}
        summary["bids"].update(bad_channels=rec.metadata.get("bad_channels", []),
                               line_freq_hz=rec.metadata.get("line_freq_hz"),
                               emg_placement=rec.metadata.get("emg_placement"))
        _atomic_text(paths["summary"], json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        row.update(status="ok", n_fasciculations=summary["counts"]["fasciculation"],
                   rate_per_min=summary["fasciculation_rate_per_min"],
                   summary_json=str(paths["summary"]))
    except FascidetectError as exc:
        row["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - one recording must not stop the others
        last = traceback.extract_tb(exc.__traceback__)[-1]
        row["error"] = (f"{fpath}: unexpected {type(exc).__name__}: {exc} "
                        f"(at {Path(last.filename).name}:{last.lineno}; please report)")
    return row


def run(bids_root, deriv_root=None, *, subjects=None, sessions=None, params=None,
        jobs: int = 1) -> list[dict]:
    """Return one row per EMG recording of *bids_root* after writing its derivatives.

    Parameters
    ----------
    bids_root : path
        The BIDS dataset.
    deriv_root : path | None
        The derivatives dataset to write (default ``<bids_root>/derivatives/fascidetect``).
    subjects, sessions : list of str | None
        BIDS labels to process (default all).
    params : DetectionParams | None
        Detection parameters; a notch of ``auto`` follows each recording's
        ``PowerLineFrequency``.
    jobs : int
        Worker processes (1: in this process).
    """
    from .bids_input import find_emg_recordings

    found = find_emg_recordings(bids_root, subjects, sessions)
    deriv = Path(deriv_root) if deriv_root else default_derivatives_root(bids_root)
    write_dataset_files(deriv, bids_root)
    files = [str(p.fpath) for p in found]
    if jobs <= 1 or len(files) == 1:
        return [detect_bids_recording(f, str(deriv), params) for f in files]
    from concurrent.futures import ProcessPoolExecutor

    from .batch import _mp_context

    with ProcessPoolExecutor(max_workers=min(jobs, len(files)), mp_context=_mp_context()) as pool:
        return list(pool.map(detect_bids_recording, files, [str(deriv)] * len(files),
                             [params] * len(files)))


def check_derivatives(deriv_root) -> list[str]:
    """Return the problems of a derivatives dataset against the BIDS fields it requires
    (empty when fine): dataset_description fields, and per events.tsv its sidecar,
    ``onset``/``duration`` columns first and every column described."""
    root = Path(deriv_root)
    problems = []
    desc_path = root / "dataset_description.json"
    if not desc_path.is_file():
        return [f"{desc_path}: missing"]
    desc = json.loads(desc_path.read_text(encoding="utf-8"))
    problems += [f"dataset_description.json: no {k}" for k in REQUIRED_DESCRIPTION if k not in desc]
    if desc.get("DatasetType") != "derivative":
        problems.append("dataset_description.json: DatasetType is not 'derivative'")
    for entry in desc.get("GeneratedBy", []):
        if "Name" not in entry:
            problems.append("dataset_description.json: a GeneratedBy entry has no Name")
    for events in sorted(root.rglob("sub-*_events.tsv")):
        header = events.read_text(encoding="utf-8").splitlines()[0].split("\t")
        if header[:2] != ["onset", "duration"]:
            problems.append(f"{events.name}: columns must start with onset, duration")
        sidecar = events.with_suffix(".json")
        if not sidecar.is_file():
            problems.append(f"{events.name}: no events.json sidecar")
            continue
        described = json.loads(sidecar.read_text(encoding="utf-8"))
        problems += [f"{events.name}: column {c} not described in {sidecar.name}"
                     for c in header if c not in described]
        rel = events.relative_to(root).parts
        if not (rel[0].startswith("sub-") and rel[-2] == "emg"):
            problems.append(f"{events.name}: not under sub-*/[ses-*/]emg/")
    return problems
