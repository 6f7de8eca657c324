"""Plain arrays: CSV/TSV text and NumPy ``.npy`` files, with the sampling rate given."""

from __future__ import annotations

import csv
import io
import warnings as _warnings

import numpy as np

from ..errors import (CorruptFileError, EmptyRecordingError, FascidetectWarning,
                      ParameterError)
from ..recording import Recording
from ._channels import types_from_labels

#: Volts per unit for the ``units`` option.
UNIT_SCALE = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "nV": 1e-9}


def read_array_file(path, *, fmt, sfreq=None, ch_names=None, units=None) -> Recording:
    """Read a CSV/TSV (one column per channel, optional header row) or ``.npy`` array.

    Parameters
    ----------
    path : path-like
    fmt : {"csv", "tsv", "npy"}
    sfreq : float
        Sampling rate in Hz; required, these files do not store it.
    ch_names : list of str | None
        Channel names (default: the CSV header, else ``EMG1``, ``EMG2``...).
    units : {"V", "mV", "uV", "nV"} | None
        Unit of the values. Default: guessed from their size (volts if the typical
        deviation is under 0.01, else µV) with a warning naming the guess.
    """
    if sfreq is None:
        raise ParameterError(f"'{path}': a {fmt.upper()} file does not store its sampling rate; "
                             "give it with sfreq=... / --sfreq")
    header = None
    notes = []
    if fmt == "npy":
        _check_npy_size(path)
        try:
            data = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise CorruptFileError(f"'{path}': not a readable .npy array: {exc}") from None
    else:
        data, header, notes = _read_text(path, "\t" if fmt == "tsv" else None)
    data, dtype_notes = as_float_samples(data, f"'{path}'", CorruptFileError)
    notes += dtype_notes
    if data.size == 0:
        raise EmptyRecordingError(f"'{path}': the file holds no samples")
    if data.ndim == 1:
        data = data[np.newaxis, :]
    elif data.ndim != 2:
        raise CorruptFileError(f"'{path}': expected a 1-D or 2-D array, got shape {data.shape}")
    elif fmt != "npy" and data.shape[1] > data.shape[0]:
        raise CorruptFileError(
            f"'{path}': {data.shape[0]} rows of {data.shape[1]} columns: the file is read as one "
            "column per channel, one row per sample, and no recording has more channels than "
            "samples: it looks like one row per channel; save it transposed")
    elif fmt != "npy" or data.shape[0] > data.shape[1]:
        # Text files hold one column per channel; .npy is channels x samples, unless it is
        # clearly the other way round (more rows than columns).
        if fmt == "npy":
            notes.append(f"array of shape {data.shape} taken as samples x channels "
                         f"({data.shape[1]} channels); save it as channels x samples to be sure")
        data = data.T
    names = list(ch_names) if ch_names is not None else header
    if names is None or len(names) != data.shape[0]:
        names = [f"EMG{k + 1}" for k in range(data.shape[0])]
    types = types_from_labels(names, default="emg")
    types = [t if t in ("emg", "ecg", "misc", "stim") else "emg" for t in types]
    # A steadily rising column is a time or sample counter, not a signal.
    for k in range(len(types)):
        if types[k] == "emg" and data.shape[1] > 2 and np.all(np.diff(data[k]) > 0):
            types[k] = "misc"
    signal = [k for k, t in enumerate(types) if t in ("emg", "ecg")] or list(range(len(types)))
    scale, note, warning = _unit_scale(data[signal], units, path)
    return Recording(data=data * scale, sfreq=float(sfreq), ch_names=names, ch_types=types,
                     source=str(path), format=fmt, metadata={"units": note},
                     warnings=notes + ([warning] if warning else []))


#: float16's smallest normal number: under it the format keeps fewer than its 10 bits.
_FLOAT16_TINY = float(np.finfo(np.float16).tiny)


def as_float_samples(data, where: str, error=CorruptFileError) -> tuple[np.ndarray, list[str]]:
    """Return *data* as a float64 array and notes on its dtype; refuse values that are not
    real numbers (complex, boolean, text, dates, ragged nested sequences).

    Parameters
    ----------
    data : array_like
    where : str
        What the data are, for the messages (a quoted path or "array input").
    error : type
        The exception raised.
    """
    try:
        arr = np.asarray(data)
    except ValueError:  # nested sequences of unequal lengths
        lengths = sorted({len(c) for c in data if hasattr(c, "__len__")})
        raise error(f"{where}: channels of unequal length (a ragged list, lengths "
                    f"{', '.join(map(str, lengths[:4]))}): give one 2-D array, channels x "
                    "samples") from None
    kind = arr.dtype.kind
    if kind == "O":  # numbers in an object array convert exactly; anything else is refused
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise error(f"{where}: the array holds Python objects ({type(arr.flat[0]).__name__}"
                        f"...), not numbers: give one 2-D float array, channels x samples"
                        ) from None
        kind = "f"
    if kind not in "iuf":
        hint = (": pass the real part or the magnitude explicitly" if kind == "c" else
                ": a signal needs real-valued samples (float or integer)")
        raise error(f"{where}: the array holds {arr.dtype} values, not real numbers{hint}")
    notes = []
    if arr.dtype == np.float16 and arr.size:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", RuntimeWarning)
            typical = float(np.nanmedian(np.abs(arr.astype(float))))
        if 0 < typical < _FLOAT16_TINY:
            notes.append(f"{where}: float16 values of typical size {typical:.2g} are under "
                         f"float16's smallest normal number ({_FLOAT16_TINY:.2g}) and keep only "
                         "a few bits: small potentials are lost in the rounding; save the "
                         "samples as float32, or in µV with units='uV'")
    return np.asarray(arr, dtype=float), notes


def _check_npy_size(path) -> None:
    """Refuse a .npy whose header announces more data than the file holds, before NumPy
    allocates it (a damaged shape field asked for terabytes)."""
    import os

    fmt = np.lib.format
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as fh:
            version = fmt.read_magic(fh)
            # the header's own length: numpy would allocate it whole before reading
            width = 2 if version == (1, 0) else 4
            header_len = int.from_bytes(fh.read(width), "little")
            if header_len > min(size, 1 << 20):
                raise ValueError(f"header length {header_len} bytes in a {size}-byte file")
            fh.seek(-width, 1)
            read_header = (fmt.read_array_header_1_0 if version == (1, 0)
                           else fmt.read_array_header_2_0)
            shape, _, dtype = read_header(fh)
            offset = fh.tell()
    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises many types
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise CorruptFileError(f"'{path}': not a readable .npy array: {reason}") from None
    if any(n < 0 for n in shape):
        raise CorruptFileError(f"'{path}': the .npy header states a shape of {shape}")
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    held = size - offset
    if needed > held:
        raise CorruptFileError(f"'{path}': the .npy header announces {needed} bytes of data "
                               f"(shape {shape}), the file holds {held}: truncated or damaged")


def _read_text(path, delimiter):
    """Return (samples x columns array, header names or None, notes)."""
    notes = []
    with open(path, "r", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
        if not first.strip():
            raise EmptyRecordingError(f"'{path}': the file is empty")
        start = fh.tell()
        if delimiter is None:
            try:
                delimiter = csv.Sniffer().sniff(first, delimiters=",;\t ").delimiter
            except csv.Error:
                delimiter = ","
            if delimiter == ",":  # "1,5;2,5": ';' separates numbers with decimal commas
                for other in (";", "\t"):
                    parts = [c.strip().replace(",", ".") for c in first.strip().split(other)]
                    if len(parts) > 1 and all(_is_number(c) for c in parts if c):
                        delimiter = other
                        break
        cells = [c.strip() for c in first.strip().split(delimiter)]
        # Spreadsheets often end every row with the separator: an empty last column.
        usecols = None
        if delimiter.strip() and len(cells) > 1 and cells[-1] == "":
            cells = cells[:-1]
            usecols = range(len(cells))
        # Spreadsheets in many locales write a decimal comma beside ';' or tab separators.
        comma = delimiter != "," and any("," in c for c in cells) and all(
            _is_number(c.replace(",", ".")) or c.lower() in _MISSING for c in cells if c)
        if comma:
            cells = [c.replace(",", ".") for c in cells]
        header = None
        # A header has a name that is not a number; "NA"/"nan" are missing numbers.
        if any(not _is_number(c) and c.lower() not in _MISSING for c in cells if c):
            header = cells
            first = ""
        sep = None if delimiter == " " else delimiter
        try:
            if comma:
                raise ValueError("decimal comma")
            rows = np.loadtxt(fh, delimiter=sep, ndmin=2, usecols=usecols)
        except ValueError as exc:
            fh.seek(start)
            rest = fh.read()
            if delimiter == "," or "," not in rest:
                raise CorruptFileError(f"'{path}': a row is not numeric: {exc}") from None
            try:
                rows = np.loadtxt(io.StringIO(rest.replace(",", ".")), delimiter=sep, ndmin=2,
                                  usecols=usecols)
            except ValueError:
                raise CorruptFileError(f"'{path}': a row is not numeric: {exc}") from None
            notes.append(f"'{path}': values written with a decimal comma ('1,5') beside "
                         f"{'tab' if delimiter == chr(9) else repr(delimiter)} separators: "
                         "read as decimal points")
    if first:
        head = np.array([float(c) if _is_number(c) else np.nan for c in cells if c], ndmin=2)
        rows = head if rows.size == 0 else np.vstack([head, rows])
    return rows, header, notes


_MISSING = {"na", "nan", "n/a", "null", "none", "-"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: Spellings accepted for each unit (compared in lower case).
_UNIT_ALIASES = {"v": "V", "mv": "mV", "uv": "uV", "µv": "uV", "μv": "uV", "nv": "nV"}

#: Typical deviation (median |x - channel median|) in volts that EMG can have: from an
#: amplifier's noise floor (about 0.1-0.3 µV) to a maximal contraction (about 1 mV); values
#: outside were almost surely given in another unit than the one stated.
PLAUSIBLE_TYPICAL_V = (1e-8, 2e-3)


def unit_scale(units) -> tuple[float, str]:
    """Return (volts per unit, canonical unit name) for a unit such as ``"uV"`` or ``"mV"``."""
    key = _UNIT_ALIASES.get(str(units).strip().lower())
    if key is None:
        raise ParameterError(f"unknown unit {units!r}; use one of V, mV, uV, nV")
    return UNIT_SCALE[key], key


def typical_deviation(data) -> float:
    """Return the median absolute deviation of the samples from their channel medians."""
    data = np.atleast_2d(np.asarray(data, dtype=float))
    with _warnings.catch_warnings():
        # All-NaN channels are refused or reported by the reader's own checks.
        _warnings.simplefilter("ignore", RuntimeWarning)
        centred = data - np.nanmedian(data, axis=1, keepdims=True)
        return float(np.nanmedian(np.abs(centred)))


def guess_unit(typical: float) -> str:
    """Return the unit ("V", "mV" or "uV") that a typical deviation of EMG values suggests."""
    # Surface EMG at rest deviates by about 1-20 µV: 1e-6..2e-5 in volts, 0.001..0.02 in
    # mV, 1..20 in µV; the bands below keep those apart.
    return "V" if typical < 5e-4 else ("mV" if typical < 0.5 else "uV")


def implausible_units_message(data, units, where: str, *, assumed: bool = False) -> str | None:
    """Return a one-line warning when *data* in *units* cannot be EMG, else None.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_samples)
        Values as given (before scaling to volts).
    units : str
        The unit stated by the caller (or assumed, see *assumed*).
    where : str
        What the data are, for the message (a quoted path or "array input").
    assumed : bool
        True when nobody stated the unit and it was taken as the default.
    """
    scale, key = unit_scale(units)
    typical = typical_deviation(data)
    volts = typical * scale
    low, high = PLAUSIBLE_TYPICAL_V
    if not np.isfinite(volts) or volts == 0 or low <= volts <= high:
        return None
    guess = guess_unit(typical)
    stated = f"taken as {key} (the default)" if assumed else f"given as {key}"
    hint = (f"they look like {guess}: pass units={guess!r}" if guess != key
            else "check the scaling of the data")
    return (f"{where}: values {stated} have a typical deviation of {volts:.3g} V, outside "
            f"the {low:g}-{high:g} V of EMG; {hint}")


def _unit_scale(data, units, path):
    """Return (volts per unit, unit note, warning or None)."""
    if units is not None:
        scale, key = unit_scale(units)
        message = implausible_units_message(data, key, f"'{path}'")
        if message:
            _warnings.warn(message, FascidetectWarning, stacklevel=4)
        return scale, key, message
    typical = typical_deviation(data)
    guess = guess_unit(typical)
    message = (f"'{path}': no unit given; values look like {guess} (typical deviation "
               f"{typical:.3g}); pass units=... / --units to be sure")
    _warnings.warn(message, FascidetectWarning, stacklevel=4)
    return UNIT_SCALE[guess], f"{guess} (guessed)", message
