"""Writing simulations: EDF+ with truth annotations, the truth table and a JSON sidecar."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..events import write_events_tsv
from ..recording import Recording
from ._simulate import _MEAS_DATE

__all__ = ["write_simulation", "TRUTH_PREFIX"]

#: Label prefix of truth annotations written into EDF files.
TRUTH_PREFIX = "truth:"


def _truth_annotations(truth) -> tuple[list, list, list]:
    onsets, durations, labels = [], [], []
    for row in truth:  # annotation labels, written once per file
        kind = str(row["trial_type"])
        if kind == "voluntary":
            # A voluntary row with a unit is one discharge of tonic firing.
            unit = int(row["unit"])
            label = f"{TRUTH_PREFIX}voluntary" + (f"/U{unit}" if unit >= 0 else "")
        elif kind == "fasciculation":
            label = f"{TRUTH_PREFIX}fasciculation/U{int(row['unit'])}"
        elif kind == "artifact":
            label = f"{TRUTH_PREFIX}artifact/{row['artifact_kind']}"
        else:
            label = f"{TRUTH_PREFIX}{kind}"
        onsets.append(float(row["onset"]))
        durations.append(float(row["duration"]) if np.isfinite(row["duration"]) else 0.0)
        labels.append(label)
    return onsets, durations, labels


def write_simulation(recording: Recording, truth, out_dir, stem: str = "sim",
                     include_truth_annotations: bool = True) -> dict:
    """Write ``<stem>.edf``, ``<stem>_truth.tsv`` and ``<stem>_truth.json``; return their paths.

    The EDF+ file (via ``mne.export.export_raw``, 16 bits) uses a per-channel physical
    range taken from the data, so µV potentials survive quantisation (LSB = range/65535).
    Its annotations carry the experimenter's ``voluntary`` marks and, unless
    ``include_truth_annotations`` is False, the truth with labels starting ``truth:``
    (``truth:fasciculation/U3``, ``truth:spasm``, ``truth:artifact/ecg``, a tonic
    discharge ``truth:voluntary/U5``...). These are
    evaluation files: a detector must not use ``truth:`` annotations. The JSON sidecar
    records duration, rate, scenario and seed for :func:`fascidetect.evaluation.evaluate`.

    Parameters
    ----------
    recording : Recording
        Output of :func:`simulate` or :func:`inject`.
    truth : ndarray of EVENT_DTYPE
        Its truth table.
    out_dir : path
        Created if missing.
    stem : str
        File name stem.
    include_truth_annotations : bool
        Also write the truth as EDF annotations.

    Returns
    -------
    dict
        ``{"edf": Path, "truth": Path, "sidecar": Path}``.
    """
    import mne

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = recording.to_raw()
    raw.set_meas_date(recording.meas_date or _MEAS_DATE)
    onsets = [a.onset for a in recording.annotations]
    durations = [a.duration for a in recording.annotations]
    labels = [a.description for a in recording.annotations]
    if include_truth_annotations:
        o, d, l = _truth_annotations(truth)
        onsets, durations, labels = onsets + o, durations + d, labels + l
    raw.set_annotations(mne.Annotations(onsets, durations, labels, orig_time=raw.info["meas_date"]))
    edf = out_dir / f"{stem}.edf"
    mne.export.export_raw(str(edf), raw, fmt="edf", physical_range="channelwise",
                          overwrite=True, verbose="error")
    tsv = write_events_tsv(truth, out_dir / f"{stem}_truth.tsv")
    sidecar = out_dir / f"{stem}_truth.json"
    meta = {k: v for k, v in recording.metadata.items() if isinstance(v, (str, int, float, bool, list, type(None)))}
    meta.update({"duration_s": recording.duration_s, "sfreq": recording.sfreq,
                 "ch_names": list(recording.ch_names),
                 "n_fasciculations": int(np.sum(truth["trial_type"] == "fasciculation"))})
    tmp = sidecar.with_name(f".{sidecar.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, sidecar)
    return {"edf": edf, "truth": tsv, "sidecar": sidecar}
