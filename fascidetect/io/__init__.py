"""Reading recordings: one :func:`read` for every supported format, returning a Recording.

Formats: EDF/EDF+/BDF/BDF+ (MNE), OpenBCI GUI text, BrainFlow CSV, PhysioNet WFDB,
OT Bioelettronica OTBiolab+ MAT exports, and plain CSV/TSV/NPY arrays (with the sampling rate given). The format is found from the
file's content first and its suffix second; ``format=`` forces it.
"""

from __future__ import annotations

import errno
import functools
import os
from pathlib import Path

import numpy as np

from ..errors import FileMissingError, InputError, UnknownFormatError
from ..recording import Recording

#: Names accepted by ``format=`` / ``--format``.
FORMATS = ("edf", "bdf", "openbci", "brainflow", "wfdb", "otb-mat", "csv", "tsv", "npy")

__all__ = ["read", "detect_format", "describe_recording", "FORMATS"]


def _out_of_files_explained(read_func):
    """Turn the process running out of file descriptors while reading into an error that
    says why: a script that keeps many large results (each keeps a temporary file open)
    otherwise met a bare ``[Errno 24] Too many open files`` naming the recording."""

    @functools.wraps(read_func)
    def reader(path, *args, **kwargs):
        try:
            return read_func(path, *args, **kwargs)
        except Exception as exc:  # an OSError, or a reader's error made from one
            # A reader's own error may hide the OSError it was raised on with ``from None``
            # (the EDF reader's CorruptFileError for any MNE failure): still its context.
            causes = (exc, exc.__cause__, exc.__context__)
            if not any(getattr(e, "errno", None) in (errno.EMFILE, errno.ENFILE)
                       for e in causes):
                raise
            raise InputError(
                f"'{path}': the process has no file descriptor left to open it"
                f"{_descriptor_limit()}. A DetectionResult keeps a temporary file open for "
                "its event table and one for its waveforms once they pass 1 MB: write the "
                "results you need (result.to_tsv, or `fascidetect batch`) and delete them, "
                "or raise the limit (`ulimit -n`)") from exc

    return reader


def _descriptor_limit() -> str:
    """Return " (limit N)" for the process's open-file limit, or "" where unknown."""
    try:
        import resource  # POSIX only
    except ImportError:
        return ""
    return f" (limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]})"


@_out_of_files_explained
def read(path: str | os.PathLike, *, format: str | None = None, sfreq: float | None = None,
         emg_channels=None, ch_names=None, board=None, preload: bool | None = None,
         units: str | None = None) -> Recording:
    """Read an EMG recording from a file.

    Parameters
    ----------
    path : path-like
        The file (for WFDB, the ``.hea`` or ``.dat`` file or the record name).
    format : str | None
        One of :data:`FORMATS`; default found from content and suffix.
    sfreq : float | None
        Sampling rate in Hz: required for CSV/TSV/NPY, ignored by formats that store it.
    emg_channels : list of str | None
        Channels to analyse, typed EMG whatever their label says (others become
        ``misc``). Default: channels typed EMG by the reader (label prefix ``EMG``, a
        channel called ``EMG``, muscle names, OpenBCI/BrainFlow EXG inputs).
    ch_names : list of str | None
        Channel names for CSV/TSV/NPY arrays.
    board : int | str | None
        BrainFlow board id or name (default Cyton).
    preload : bool | None
        EDF/BDF: load all samples now. Default: only when they take under 256 MB;
        larger files stay on disk and are processed block by block.
    units : str | None
        Unit of CSV/TSV/NPY values (V, mV, uV); default guessed with a warning.

    Returns
    -------
    Recording
        Samples in volts.

    Raises
    ------
    FileMissingError, UnknownFormatError, CorruptFileError, EmptyRecordingError, InputError
        With a message naming the file and what is wrong.

    Examples
    --------
    >>> rec = fascidetect.read("signals/sim_mixed_L5.edf")  # doctest: +SKIP
    >>> rec.sfreq, rec.ch_names[:2]  # doctest: +SKIP
    (2000.0, ['EMG TA_R', 'EMG EHL_R'])
    """
    path = Path(path)
    if sfreq is not None:
        try:
            ok = float(sfreq) > 0 and np.isfinite(float(sfreq))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            from ..errors import ParameterError

            raise ParameterError(f"'{path}': sampling rate must be a positive number of Hz, "
                                 f"got {sfreq!r}")
    if path.exists() and not path.is_dir() and not path.is_file():
        # a FIFO or device: opening it to sniff the format could wait forever
        raise UnknownFormatError(f"'{path}' is not a regular file (a pipe, socket or device); "
                                 "copy the recording to a file first")
    fmt = (format or "").lower() or detect_format(path)
    if fmt not in FORMATS:
        raise UnknownFormatError(f"'{path}': unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if fmt == "wfdb":
        path = _wfdb_header(path)
    elif path.is_dir():
        raise UnknownFormatError(f"'{path}' is a directory, not a recording")
    elif not path.is_file():
        raise FileMissingError(f"'{path}': no such file")
    if path.stat().st_size == 0:
        from ..errors import EmptyRecordingError

        raise EmptyRecordingError(f"'{path}': the file is empty")
    if fmt in ("edf", "bdf"):
        from ._edf import read_edf

        rec = read_edf(path, emg_channels=emg_channels, preload=preload)
        emg_channels = None  # applied while choosing which channels to read
    elif fmt == "openbci":
        from ._openbci import read_openbci

        rec = read_openbci(path)
    elif fmt == "brainflow":
        from ._brainflow import read_brainflow

        rec = read_brainflow(path, board=board)
    elif fmt == "wfdb":
        from ._wfdb import read_wfdb

        rec = read_wfdb(path)
    elif fmt == "otb-mat":
        from ._otb import read_otb_mat

        rec = read_otb_mat(path)
    else:
        from ._arrays import read_array_file

        rec = read_array_file(path, fmt=fmt, sfreq=sfreq, ch_names=ch_names, units=units)
    from ._validate import finish

    return finish(rec, emg_channels)


def detect_format(path: str | os.PathLike) -> str:
    """Return the format name of a file from its first bytes, else from its suffix.

    Raises
    ------
    FileMissingError
        If neither the file nor (for WFDB) its ``.hea`` header exists.
    UnknownFormatError
        If neither content nor suffix is recognised.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".hea", ".dat") or (not path.exists() and path.with_suffix(".hea").exists()):
        return "wfdb"
    if not path.exists():
        raise FileMissingError(f"'{path}': no such file")
    if path.is_dir():
        raise UnknownFormatError(f"'{path}' is a directory, not a recording")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:8] == b"\xffBIOSEMI":
        return "bdf"
    if head[:8].strip() == b"0" and len(head) >= 8 and head[:1] == b"0":
        return "bdf" if suffix == ".bdf" else "edf"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head.startswith(b"MATLAB 5.0 MAT-file") or suffix == ".mat":
        return "otb-mat"  # the MATLAB files read are OTBiolab+ exports
    text = head.decode("latin-1", errors="replace")
    first = text.splitlines()[0] if text.strip() else ""
    from ._brainflow import looks_like_brainflow
    from ._openbci import looks_like_openbci

    if looks_like_openbci(first):
        return "openbci"
    if suffix in (".edf", ".bdf", ".rec"):
        return "bdf" if suffix == ".bdf" else "edf"
    if looks_like_brainflow(first) and suffix in (".csv", ".txt", ""):
        return "brainflow"
    if suffix == ".npy":
        return "npy"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise UnknownFormatError(
        f"'{path}': unknown format (suffix {suffix or 'none'!r}, content not EDF/BDF, OpenBCI, "
        f"BrainFlow, MATLAB or NumPy); force one with format=... / --format ({', '.join(FORMATS)})")


def _wfdb_header(path: Path) -> Path:
    header = path.with_suffix(".hea")
    if not header.is_file():
        raise FileMissingError(f"'{path}': no WFDB header {header.name} next to it")
    data = path.with_suffix(".dat")
    if not data.is_file():
        raise FileMissingError(f"'{path}': WFDB signal file {data.name} is missing")
    return header


def describe_recording(rec: Recording) -> dict:
    """Return a plain dict describing a recording (for ``fascidetect info``)."""
    emg = [rec.ch_names[i] for i in rec.emg_picks]
    return {
        "path": rec.source, "source": rec.source, "format": rec.format, "sfreq": rec.sfreq,
        "n_samples": rec.n_samples, "duration_s": round(rec.duration_s, 3),
        "meas_date": rec.meas_date.isoformat() if rec.meas_date is not None else None,
        "n_channels": rec.n_channels, "ch_names": list(rec.ch_names),
        "channels": list(rec.ch_names), "ch_types": list(rec.ch_types),
        "channel_types": list(rec.ch_types), "emg_channels": emg,
        "n_annotations": len(rec.annotations),
        "metadata": {k: v for k, v in rec.metadata.items() if v not in (None, "", [], {})},
        "warnings": list(rec.warnings),
    }


