"""BIDS in: find the EMG recordings of a BIDS dataset and read them with MNE-BIDS.

BIDS 1.11 (EMG, BEP 042) describes each recording with ``*_channels.tsv`` (``type``,
``status``, ``target_muscle``) and ``*_emg.json`` (``PowerLineFrequency``,
``EMGPlacementScheme``), so nothing has to be guessed from channel labels: EMG-typed
channels that are not ``bad`` are analysed, the target muscle names them in reports and
trends, and the power-line frequency sets the notch. Needs ``pip install mne-bids``
(the ``bids`` extra).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

from .errors import InputError, MissingDependencyError

#: Data-file extensions BIDS allows for EMG that MNE can read.
EMG_EXTENSIONS = (".edf", ".bdf")


def _mne_bids():
    try:
        import mne_bids
    except ImportError:  # pragma: no cover - depends on environment
        raise MissingDependencyError("reading BIDS needs mne-bids: pip install "
                                     "'fascidetect[bids]'") from None
    return mne_bids


def is_bids_root(path) -> bool:
    """Return True if *path* is a folder with a ``dataset_description.json``."""
    return (Path(path) / "dataset_description.json").is_file()


def _labels(values, prefix: str):
    if not values:
        return None
    return [str(v)[len(prefix) + 1:] if str(v).startswith(prefix + "-") else str(v)
            for v in values]


def find_emg_recordings(root, subjects=None, sessions=None) -> list:
    """Return the ``BIDSPath`` of every EMG recording under *root* (derivatives excluded).

    Parameters
    ----------
    root : path
        A BIDS dataset root.
    subjects, sessions : list of str | None
        Labels to keep, with or without the ``sub-``/``ses-`` prefix.

    Raises
    ------
    InputError
        *root* is not a BIDS dataset, or nothing matched.
    """
    mne_bids = _mne_bids()
    root = Path(root)
    if not is_bids_root(root):
        raise InputError(f"'{root}' is not a BIDS dataset (no dataset_description.json)")
    paths = mne_bids.find_matching_paths(root, subjects=_labels(subjects, "sub"),
                                         sessions=_labels(sessions, "ses"), datatypes="emg",
                                         suffixes="emg", extensions=list(EMG_EXTENSIONS))
    found = [p for p in paths if "derivatives" not in Path(p.fpath).relative_to(root).parts]
    if not found:
        what = "".join([f" subject(s) {subjects}" if subjects else "",
                        f" session(s) {sessions}" if sessions else ""])
        raise InputError(f"'{root}': no EMG recording (sub-*/[ses-*/]emg/*_emg.edf|bdf){what}")
    return sorted(found, key=lambda p: str(p.fpath))


def read_channels_tsv(path) -> list[dict]:
    """Return the rows of a BIDS ``*_channels.tsv`` (empty when the file is absent)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [{k: (v or "").strip() for k, v in row.items() if k}
                for row in csv.DictReader(fh, delimiter="\t")]


def muscle_label(target: str, channel: str) -> str | None:
    """Return a short muscle label (``"TA_R"``) for a BIDS ``target_muscle`` value.

    Known muscles get their key from the myotome table and the side from the value or,
    failing that, the channel name; other values are kept as written.
    """
    from .myotomes import muscle_for_channel, side_for_channel

    target = (target or "").strip()
    if not target or target.lower() == "n/a":
        return None
    key = muscle_for_channel(target)
    if key is None:
        return target
    side = side_for_channel(target) or side_for_channel(channel)
    return f"{key}_{side}" if side else key


def read_bids_recording(bids_path):
    """Return a Recording of one BIDS EMG recording, read with ``mne_bids.read_raw_bids``.

    EMG-typed channels whose ``status`` is ``bad`` are left out of the analysis (typed
    ``misc``). ``metadata`` gets ``bids`` (subject, session, task, run, root),
    ``muscles`` (channel -> label from ``target_muscle``), ``line_freq_hz``
    (``PowerLineFrequency``), ``emg_placement`` and ``bad_channels``.

    Parameters
    ----------
    bids_path : mne_bids.BIDSPath | path
        The recording (a path is parsed with ``get_bids_path_from_fname``).
    """
    import mne

    mne_bids = _mne_bids()
    from .io._validate import finish
    from .recording import Recording

    if not isinstance(bids_path, mne_bids.BIDSPath):
        bids_path = mne_bids.get_bids_path_from_fname(bids_path)
    fpath = Path(bids_path.fpath)
    if not fpath.is_file():
        from .errors import FileMissingError

        raise FileMissingError(f"'{fpath}': no such BIDS recording")
    try:
        with mne.utils.use_log_level("error"):
            raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    except (ValueError, RuntimeError, OSError) as exc:
        raise InputError(f"'{fpath}': MNE-BIDS cannot read it ({exc})") from None
    bads = set(raw.info["bads"])
    every_emg = [c for c, t in zip(raw.ch_names, raw.get_channel_types()) if t == "emg"]
    emg = [c for c in every_emg if c not in bads]
    if not emg:
        raise InputError(f"'{fpath}': no good EMG channel in its channels.tsv "
                         f"(bad: {sorted(bads) or 'none'})")
    rec = Recording.from_raw(raw, source=str(fpath), format=f"bids-{fpath.suffix.lstrip('.')}")
    rec = finish(rec, emg)
    channels_tsv = bids_path.copy().update(suffix="channels", extension=".tsv")
    rows = read_channels_tsv(channels_tsv.fpath)
    muscles = {r["name"]: muscle_label(r.get("target_muscle", ""), r["name"]) for r in rows
               if r.get("name") in emg}
    sidecar = bids_path.copy().update(extension=".json")
    info = {}
    if Path(sidecar.fpath).is_file():
        info = json.loads(Path(sidecar.fpath).read_text(encoding="utf-8"))
    meta = dict(rec.metadata)
    meta.update({
        "bids": {"subject": bids_path.subject, "session": bids_path.session,
                 "task": bids_path.task, "run": bids_path.run, "root": str(bids_path.root)},
        "muscles": {k: v for k, v in muscles.items() if v},
        "line_freq_hz": raw.info.get("line_freq") or info.get("PowerLineFrequency"),
        "emg_placement": info.get("EMGPlacementScheme"),
        "bad_channels": sorted(bads),
        # Where the bad ones sat among the EMG channels: the holes of a declared grid.
        "bad_emg_numbers": [k + 1 for k, c in enumerate(every_emg) if c in bads],
        "n_emg_declared": len(every_emg),
    })
    return dataclasses.replace(rec, metadata=meta)


def params_for(recording, params):
    """Return *params* for one BIDS recording: the notch from ``PowerLineFrequency`` when
    it is ``auto``; on a declared ``layout`` covering every EMG channel, the ``bad`` ones
    as ``layout_missing`` (unless it is given)."""
    from .params import DetectionParams, layout_size

    params = params or DetectionParams()
    meta = recording.metadata
    freq = meta.get("line_freq_hz")
    if params.notch == "auto" and freq in (50, 60, 50.0, 60.0):
        params = dataclasses.replace(params, notch=str(int(freq)))
    holes = meta.get("bad_emg_numbers") or []
    if params.layout is not None and holes and not params.layout_missing \
            and meta.get("n_emg_declared") == layout_size(params.layout):
        params = dataclasses.replace(params, layout_missing=tuple(holes))
    return params


def bids_file_entities(path: str | os.PathLike) -> dict:
    """Return the entities of a BIDS file name (``sub``, ``ses``, ``task``, ``run``...)."""
    name = Path(path).name
    stem = name.split(".")[0]
    parts = stem.split("_")
    return {p.split("-", 1)[0]: p.split("-", 1)[1] for p in parts[:-1] if "-" in p}
