"""OpenBCI GUI text recordings (Cyton, Cyton+Daisy, Ganglion), in the v6 and older layouts.

v6 (``%OpenBCI Raw EXG Data``): ``%`` header lines, then a CSV header naming ``Sample Index,
EXG Channel 0, ...``. v5 and older (``%OpenBCI Raw EEG Data``): ``%`` header lines, no column
names; v5 starts with an all-zero row. EXG values are already in µV. The first column is the
board's packet counter, which wraps (Cyton 0-255, Ganglion 0-200): a jump larger than the
usual step is a dropped packet.
"""

from __future__ import annotations

import datetime as _dt
import io as _io
import re

import numpy as np

from ..errors import CorruptFileError, EmptyRecordingError
from ..recording import Recording
from ._timestamps import backward_steps_warning, reread_without_cut_row

#: EXG channel count and sampling rate of the boards the GUI writes.
_BOARDS = {"cyton": (8, 250.0), "cytondaisy": (16, 125.0), "ganglion": (4, 200.0)}
_COUNTER_MODULUS = {250.0: 256, 125.0: 256, 200.0: 201}
#: A railed Cyton input reads about +/-187,500 µV (the ADC's full scale at gain 24).
_RAIL_UV = 187_000.0


def looks_like_openbci(first_line: str) -> bool:
    """True when a text file starts like an OpenBCI GUI recording (a UTF-8 BOM allowed)."""
    return first_line.lstrip("\ufeff").removeprefix("\xef\xbb\xbf").startswith("%OpenBCI")


def read_openbci(path) -> Recording:
    """Read an OpenBCI GUI ``.txt`` recording; every EXG channel is typed EMG.

    All-zero channels (inputs not connected, as Ganglion ch3-4 with two sensors) are typed
    ``misc``; dropped packets found in the sample counter are reported in ``warnings`` and
    ``metadata['dropped_samples']``.
    """
    with open(path, "r", encoding="latin-1") as fh:
        text = fh.read()
    text = text.removeprefix("\xef\xbb\xbf")  # a UTF-8 byte-order mark, read as Latin-1
    lines = text.splitlines()
    header = [ln for ln in lines[:50] if ln.startswith("%")]
    body_start = len(header)
    if body_start >= len(lines):
        raise EmptyRecordingError(f"'{path}': OpenBCI file with a header but no samples")
    sfreq = _header_number(header, r"Sample Rate\s*=\s*(\S*)", path, "Sample Rate")
    n_exg = _header_number(header, r"Number of channels\s*=\s*(\S*)", path, "Number of channels")
    if n_exg is not None and not (n_exg == int(n_exg) and 1 <= n_exg <= 256):
        raise CorruptFileError(f"'{path}': OpenBCI header says {n_exg:g} channels")
    board = _header_value(header, r"Board\s*=\s*(.+)")
    first = lines[body_start]
    # The GUI writes commas; hand-edited or older exports use semicolons or tabs.
    sep = "," if "," in first else (";" if ";" in first else "\t")
    names = None
    if first.lstrip().lower().startswith("sample index"):
        names = [c.strip() for c in first.split(sep)]
        body_start += 1
    body = "\n".join(lines[body_start:])
    if not body.strip():
        raise EmptyRecordingError(f"'{path}': OpenBCI file with a header but no samples")
    n_cols = len(lines[body_start].split(sep))
    if names is not None:
        exg_cols = [i for i, n in enumerate(names) if n.lower().startswith("exg channel")]
        ts_col = names.index("Timestamp") if "Timestamp" in names else None
    else:
        if sfreq is None:
            raise CorruptFileError(f"'{path}': OpenBCI header has no '%Sample Rate' line")
        if n_exg is None:
            n_exg = _board_from_rate(sfreq)[0]
        exg_cols = list(range(1, 1 + int(n_exg)))
        # v5 puts the Unix-ms timestamp second to last; v3/v4 end with a clock time only.
        probe = lines[body_start + 1 if len(lines) > body_start + 1 else body_start].split(sep)
        ts_col = n_cols - 2 if len(probe) >= 2 and _is_unix_ms(probe[-2]) else None
    if sfreq is None:
        sfreq = _board_from_rate(None, len(exg_cols))[1]
    if not exg_cols or max(exg_cols) >= n_cols:
        raise CorruptFileError(f"'{path}': OpenBCI rows have {n_cols} columns, too few for "
                               f"{len(exg_cols)} EXG channels")
    usecols = [0] + exg_cols + ([ts_col] if ts_col is not None else [])
    warnings = []
    try:
        table = np.loadtxt(_io.StringIO(body), delimiter=sep, usecols=usecols, ndmin=2,
                           dtype=float)
    except ValueError as exc:
        table, cut = reread_without_cut_row(lines[body_start:], sep, exc,
                                            f"'{path}': unreadable OpenBCI sample row",
                                            usecols=usecols)
        warnings.append(cut)
    if names is None and table.shape[0] and not table[0].any():
        table = table[1:]  # v5's leading all-zero row is not a sample
    if table.shape[0] == 0:
        raise EmptyRecordingError(f"'{path}': OpenBCI file holds no samples")
    counter = table[:, 0]
    exg_uv = table[:, 1:1 + len(exg_cols)].T
    ch_names = ([names[i] for i in exg_cols] if names is not None
                else [f"EXG Channel {k}" for k in range(len(exg_cols))])
    ch_types = ["emg"] * len(ch_names)
    if ts_col is not None:
        warnings += [w for w in [backward_steps_warning(table[:, -1])] if w]
    zero = ~exg_uv.any(axis=1)
    for k in np.flatnonzero(zero):
        ch_types[k] = "misc"
    if zero.any():
        warnings.append(f"channel(s) {', '.join(np.asarray(ch_names)[zero])} are all zero "
                        "(input not connected): not analysed")
    dropped, restarts, missing = _dropped_samples(counter, sfreq)
    if dropped > max(counter.size, 10 * sfreq):
        # More missing than the file holds: a corrupt counter, not dropped packets. Filling
        # would be an allocation the file cannot justify (and shift every later time).
        warnings.append(f"sample counter implies {dropped} dropped samples, more than the "
                        f"{counter.size} the file holds: the counter looks corrupt, so no gaps "
                        "were filled (times assume no dropped samples)")
        dropped, missing = 0, np.zeros_like(missing)
    if dropped:
        # Put NaN where samples are missing, so later times stay right and nothing is
        # detected across a hole (NaN spans are excluded from analysis).
        exg_uv = np.insert(exg_uv, np.repeat(np.flatnonzero(missing) + 1,
                                             missing[missing > 0].astype(int)), np.nan, axis=1)
        warnings.append(f"sample counter shows {dropped} dropped sample(s) in {restarts} "
                        "place(s): filled with NaN (excluded from analysis)")
    railed = (np.abs(exg_uv) >= _RAIL_UV).mean(axis=1)
    for name, share in zip(ch_names, railed):
        if share > 0.01:
            warnings.append(f"channel {name} is railed (at the ADC limit) in {100 * share:.0f} % "
                            "of samples: check the electrode contact")
    meas_date = None
    if ts_col is not None:
        stamp = table[0, -1]
        if 1e12 < stamp < 1e13:  # Unix time in ms
            meas_date = _dt.datetime.fromtimestamp(stamp / 1000.0, tz=_dt.timezone.utc)
    return Recording(
        data=exg_uv * 1e-6, sfreq=sfreq, ch_names=ch_names, ch_types=ch_types,
        meas_date=meas_date, source=str(path), format="openbci",
        metadata={"device": board or _board_from_rate(sfreq)[2],
                  "layout": "v6" if names is not None else ("v5" if ts_col is not None else "legacy"),
                  "dropped_samples": int(dropped),
                  "placement": "not recorded in the file"},
        warnings=warnings,
    )


def _dropped_samples(counter: np.ndarray, sfreq: float):
    """Return (samples missing, places, missing count after each sample) from a wrapping
    packet counter."""
    if counter.size < 3:
        return 0, 0, np.zeros(max(0, counter.size - 1))
    # The counter's range: the board's, or what it reaches in (nearly) every cycle, so one
    # corrupt cell cannot make the modulus, and with it the gaps, absurd.
    finite = counter[np.isfinite(counter)]
    modulus = _COUNTER_MODULUS.get(float(sfreq),
                                   int(np.percentile(finite, 99.9)) + 1 if finite.size else 1)
    steps = np.mod(np.nan_to_num(np.diff(counter)), max(1, modulus))
    step = max(1.0, float(np.median(steps)))
    # A single corrupt cell breaks the sequence while its neighbours continue it: two
    # odd steps around it that add up to two plain ones. It is no gap.
    odd = steps != step
    pair = odd[:-1] & odd[1:] & (np.mod(steps[:-1] + steps[1:], max(1, modulus)) == 2 * step)
    steps[:-1][pair] = step
    steps[1:][pair] = step
    # A wrapping counter shows at most one cycle less one step missing in one jump.
    missing = np.clip(np.round(steps / step) - 1, 0, max(0, modulus // step - 1))
    bad = missing > 0
    return int(missing[bad].sum()), int(bad.sum()), missing


def _is_unix_ms(text: str) -> bool:
    """True when a field reads like a Unix time in milliseconds."""
    try:
        return 1e12 < float(text) < 1e13
    except ValueError:
        return False


def _board_from_rate(sfreq, n_exg=None):
    """Return (channels, rate, name) of the GUI board that fits a rate or channel count."""
    for name, (n, rate) in _BOARDS.items():
        if (sfreq is not None and float(sfreq) == rate) or (sfreq is None and n_exg == n):
            return n, rate, f"OpenBCI {name}"
    return 8, 250.0, "OpenBCI"


def _header_number(header, pattern, path, name):
    """Return the number a header line states, None without the line; refuse nonsense."""
    for line in header:
        m = re.search(pattern, line)
        if m:
            try:
                value = float(m.group(1))
            except ValueError:
                value = float("nan")
            if not (np.isfinite(value) and value > 0):
                raise CorruptFileError(f"'{path}': OpenBCI header line '%{name} = "
                                       f"{m.group(1)[:20]}' is not a positive number")
            return value
    return None


def _header_value(header, pattern):
    for line in header:
        m = re.search(pattern, line)
        if m:
            return m.group(1).strip()
    return None
