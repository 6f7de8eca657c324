"""PhysioNet WFDB records (``.hea`` + ``.dat``) through the ``wfdb`` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, EmptyRecordingError, MissingDependencyError
from ..recording import Recording
from ._channels import types_from_labels

#: Volts per physical unit; WFDB headers are not consistent in case (emgdb writes "mv").
_UNIT_SCALE = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "nv": 1e-9}


def read_wfdb(path) -> Recording:
    """Read a WFDB record given its ``.hea``/``.dat`` path or record name; samples in volts.

    Signals whose unit is not a voltage are typed ``misc``; a record with one unnamed or
    generic signal is typed by its label (``EMG`` -> EMG).
    """
    try:
        import wfdb
    except ImportError:  # pragma: no cover - wfdb is a runtime dependency
        raise MissingDependencyError("reading WFDB records needs wfdb: pip install wfdb") from None
    record_name = str(Path(path).with_suffix(""))
    warnings = []
    _check_header_sizes(Path(record_name + ".hea"), path)
    stated = _stated_rate(Path(record_name + ".hea"))
    if stated is None:
        warnings.append("the WFDB header states no sampling rate: WFDB's default of 250 Hz "
                        "is assumed")
    elif not (np.isfinite(stated) and stated > 0):
        raise CorruptFileError(f"'{path}': the WFDB header states a sampling rate of "
                               f"{stated:g} Hz")
    try:
        rec = wfdb.rdrecord(record_name, physical=True)
    except FileNotFoundError as exc:
        raise CorruptFileError(f"'{path}': WFDB record incomplete: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - wfdb raises bare ValueError/IndexError
        raise CorruptFileError(f"'{path}': wfdb cannot read the record: {exc}") from None
    if rec.p_signal is None or rec.p_signal.size == 0:
        raise EmptyRecordingError(f"'{path}': the WFDB record holds no samples")
    units = [str(u or "").strip().lower() for u in rec.units]
    scale = np.array([_UNIT_SCALE.get(u, np.nan) for u in units])
    names = [str(n) for n in rec.sig_name]
    types = types_from_labels(names, default="emg")
    for k, (u, s) in enumerate(zip(rec.units, scale)):
        if np.isnan(s):
            types[k] = "misc"
            warnings.append(f"signal {names[k]} is in {u!r}, not a voltage: not analysed")
    data = rec.p_signal.T * np.where(np.isnan(scale), 1.0, scale)[:, None]
    expected = int(rec.sig_len)
    if data.shape[1] < expected:
        raise CorruptFileError(f"'{path}': header says {expected} samples, the data file holds "
                               f"{data.shape[1]}")
    meas_date = None
    if rec.base_datetime is not None:
        meas_date = rec.base_datetime
    return Recording(
        data=np.ascontiguousarray(data), sfreq=float(rec.fs), ch_names=names, ch_types=types,
        meas_date=meas_date, source=str(path), format="wfdb",
        metadata={"comments": " | ".join(rec.comments or []), "units": list(rec.units)},
        warnings=warnings,
    )


def _stated_rate(header: Path) -> float | None:
    """Return the sampling rate the record line of a WFDB header states (NaN if unreadable,
    None if absent). wfdb falls back to 250 Hz for anything it cannot parse (``-4000``)."""
    try:
        with open(header, encoding="latin-1") as fh:
            lines = [ln for ln in (fh.readline() for _ in range(64)) if ln]
    except OSError:
        return None  # wfdb reports the missing header itself
    record = next((ln.split() for ln in lines if ln.strip() and not ln.startswith("#")), [])
    if len(record) < 3:
        return None
    field = record[2].split("/")[0]  # "fs[/counter freq[(base counter)]]"
    try:
        return float(field)
    except ValueError:
        return float("nan")


#: More signals than any EMG record has: a damaged count (wfdb would build lists that long).
_MAX_SIGNALS = 4096


def _check_header_sizes(header: Path, path) -> None:
    """Refuse a header whose signal count or length the files cannot back, before wfdb
    allocates for them (a damaged count of 2**31 signals took 16 GB)."""
    try:
        with open(header, encoding="latin-1") as fh:
            lines = [ln for ln in (fh.readline() for _ in range(_MAX_SIGNALS + 64)) if ln]
    except OSError:
        return
    content = [ln.split() for ln in lines if ln.strip() and not ln.startswith("#")]
    if not content or len(content[0]) < 2:
        return  # wfdb's own message
    record = content[0]
    try:
        n_sig = int(record[1])
        n_samples = int(record[3]) if len(record) > 3 else None
    except ValueError:
        raise CorruptFileError(f"'{path}': the WFDB record line is damaged "
                               f"({' '.join(record)[:80]!r})") from None
    if "/" in record[0]:
        return  # a multi-segment record: its segments carry the signals
    if not 0 < n_sig <= min(_MAX_SIGNALS, len(content) - 1):
        raise CorruptFileError(f"'{path}': the WFDB header announces {n_sig} signals and "
                               f"describes {len(content) - 1}")
    if n_samples is not None:
        files = {row[0] for row in content[1:n_sig + 1] if row and row[0] != "~"}
        stored = sum((header.parent / name).stat().st_size
                     for name in files if (header.parent / name).is_file())
        # stored formats take one to three bytes per sample (FLAC less): 8 x is lenient
        if n_samples < 0 or (files and n_samples * n_sig > 8 * stored + 4096):
            raise CorruptFileError(f"'{path}': the WFDB header announces {n_samples} samples "
                                   f"of {n_sig} signal(s); the signal file(s) hold "
                                   f"{stored} bytes")
