"""The event table: one row per detected discharge or episode, and its TSV form.

This is the output contract of ``fascidetect detect`` (``<stem>_events.tsv``) and the
format of simulated ground truth (``<stem>_truth.tsv``): keep the column names and their
order stable. The TSV follows BIDS ``events.tsv``: tab separated, a header row,
``onset duration trial_type`` first, ``n/a`` for missing values.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from ._text import clean_text
from .errors import InputError

#: Values of ``trial_type``.
TRIAL_TYPES = ("fasciculation", "spasm", "voluntary", "artifact")

#: Values of ``artifact_kind`` (for ``trial_type == "artifact"``).
ARTIFACT_KINDS = ("ecg", "motion", "line", "pop", "saturation", "large", "widespread", "glitch")

#: Column name, numpy dtype and meaning. Missing values: NaN for floats, -1 for ints,
#: "" for strings; all written as ``n/a``.
EVENT_COLUMNS = (
    ("onset", "f8", "start of the discharge or episode, s from recording start"),
    ("duration", "f8", "length, s"),
    ("trial_type", "U16", "fasciculation | spasm | voluntary | artifact"),
    ("channel", "O", "channel where the event is largest"),
    # Channel names as Python strings (object), not a fixed width: a 64-channel grid's
    # list is long, and fixed-width fields would cost 2 KB per row of a day-long recording.
    ("channels", "O", "all channels the event is seen on, comma separated"),
    ("peak_time", "f8", "time of the largest absolute deflection, s (under 200 Hz the "
                        "band-passed potential's energy centroid: its lobes are near-equal there)"),
    ("peak_amplitude_uv", "f8", "peak-to-peak amplitude on `channel`, µV"),
    ("duration_ms", "f8", "potential duration (discharges) or episode length, ms"),
    ("n_phases", "i4", "baseline crossings + 1 within the potential"),
    ("n_turns", "i4", "direction changes larger than the noise within the potential"),
    ("snr", "f8", "peak absolute amplitude over the channel's noise sigma"),
    ("isolated", "i1", "1 if the intervals to neighbouring discharges exceed the isolation interval"),
    ("artifact_kind", "U16", "ecg | motion | line | pop | saturation | large | widespread | glitch (artifacts only)"),
    ("unit", "i4", "motor-unit template id (fasciculations), -1 when not assigned"),
    ("rms_uv", "f8", "RMS of the band-passed signal over the episode (spasm/voluntary), µV"),
    ("firing_rate_hz", "f8", "mean discharge rate inside the episode (spasm/voluntary), Hz"),
    ("reason", "U24", "why the event got its trial_type (see fascidetect.candidates.REASONS)"),
    ("doublet", "i1", "1 for a fasciculation that follows the previous one of its channel by "
                      "doublet_max_ms at most with a like amplitude and polarity (a doublet or "
                      "multiplet of one unit), else 0"),
    ("doublet_interval_ms", "f8", "interval to the previous discharge of the doublet, ms"),
    ("match_score", "f8", "for discharges found by template matching (under the single-channel "
                          "threshold or overlapping another): the unit's whitened matched-filter "
                          "score in noise sigmas; n/a for threshold-detected events"),
)

EVENT_DTYPE = np.dtype([(name, dt) for name, dt, _ in EVENT_COLUMNS])
COLUMN_NAMES = tuple(name for name, _, _ in EVENT_COLUMNS)
_MISSING = "n/a"


def empty_events(n: int = 0) -> np.ndarray:
    """Return an event table of *n* rows with every value missing."""
    return _set_missing(np.zeros(n, dtype=EVENT_DTYPE))


def _missing_value(dtype: np.dtype):
    """Return what a missing value of a column of ``dtype`` is: NaN, -1 or ""."""
    return {"f": np.nan, "i": -1, "O": ""}.get(np.dtype(dtype).kind, "")


def _set_missing(table: np.ndarray) -> np.ndarray:
    """Set every float column of ``table`` to NaN, integer to -1, object to "" (in place)."""
    for name, dt, _ in EVENT_COLUMNS:
        if np.dtype(dt).kind in "fiO":
            table[name] = _missing_value(dt)
    return table


#: The text columns (fixed-width and object): 240 of the 334 bytes of an event row, and a
#: pointer per row for the channel columns. The pipeline holds them as small-int codes
#: (:class:`CodedEvents`) until the table is handed out.
CODED_COLUMNS = tuple(name for name, dt, _ in EVENT_COLUMNS if dt.startswith("U") or dt == "O")

_DTYPES = {name: np.dtype(dt) for name, dt, _ in EVENT_COLUMNS}


def _missing(name: str, n: int) -> np.ndarray:
    """Return a column of ``n`` missing values of a number column (NaN or -1)."""
    return np.full(n, _missing_value(_DTYPES[name]), dtype=_DTYPES[name])


class CodedEvents:
    """The event table held column by column, its text columns (``trial_type``,
    ``channel``, ``channels``, ``artifact_kind``, ``reason``) as small-int codes into
    per-column categories.

    A day-long recording's event table is 200,000 rows: 67 MB as :data:`EVENT_DTYPE`
    (three fixed-width text columns), 20 MB coded; a large one is kept in a temporary
    file (:meth:`spill`, issue 14), so that it costs the page cache, not the process,
    from the moment it is made to the writing. :class:`~fascidetect.results.
    DetectionResult` keeps this form for what it writes (``events.tsv``, the summary)
    and builds the :data:`EVENT_DTYPE` array once, the first time its ``events`` are
    read, so the public table and its dtype are as before.

    Attributes
    ----------
    columns : dict of str -> ndarray, or fascidetect._spill.SpilledColumns
        Every column of :data:`EVENT_DTYPE`, the text ones as unsigned codes.
    categories : dict of str -> ndarray
        Per coded column, its values in the column's own dtype (``U16``, ``U24``,
        object); code 0 is ``""`` (missing).
    """

    def __init__(self, columns, categories: dict, n_rows: int):
        self.columns = columns
        self.categories = categories
        self.n_rows = int(n_rows)

    @staticmethod
    def categories_of(vocabulary: dict) -> dict:
        """Return each coded column's categories: ``""`` first, then the strings of
        *vocabulary* (per column, in its order)."""
        out = {}
        for name in CODED_COLUMNS:
            values = [""] + [v for v in vocabulary.get(name, ()) if v != ""]
            out[name] = np.array(values, dtype=_DTYPES[name])
        return out

    @staticmethod
    def code_dtype(categories: np.ndarray) -> np.dtype:
        """Return the unsigned dtype of codes into *categories*."""
        return np.min_scalar_type(max(0, len(categories) - 1))

    @classmethod
    def empty(cls, n: int, vocabulary: dict) -> "CodedEvents":
        """Return *n* rows with every value missing; *vocabulary* gives each coded
        column's strings (``""`` is added first)."""
        categories = cls.categories_of(vocabulary)
        columns = {name: np.zeros(n, cls.code_dtype(categories[name])) if name in categories
                   else _missing(name, n) for name in COLUMN_NAMES}
        return cls(columns, categories, n)

    @classmethod
    def from_events(cls, events: np.ndarray) -> "CodedEvents":
        """Return an :data:`EVENT_DTYPE` table in coded form."""
        coded = cls.empty(len(events), {name: sorted(set(events[name].tolist()))
                                        for name in CODED_COLUMNS})
        for name in COLUMN_NAMES:
            coded.columns[name] = coded.encode(name, events[name]) if name in coded.categories \
                else np.array(events[name])
        return coded

    def __len__(self) -> int:
        return self.n_rows

    @property
    def nbytes(self) -> int:
        """Bytes of the columns (wherever they are held)."""
        return sum(self.n_rows * (_DTYPES[name].itemsize if name not in self.categories
                                  else self.code_dtype(self.categories[name]).itemsize)
                   for name in COLUMN_NAMES)

    def encode(self, name: str, values) -> np.ndarray:
        """Return the codes of *values* (strings of the column's categories)."""
        lookup = {}
        for i, v in enumerate(self.categories[name].tolist()):
            lookup.setdefault(v, i)
        values = np.asarray(values)
        if values.dtype != object:
            values = values.astype(object)
        dtype = self.code_dtype(self.categories[name])
        if self.categories[name].dtype.kind != "U":
            return np.fromiter(map(lookup.__getitem__, values.tolist()), dtype=dtype,
                               count=values.size)
        width = int(self.categories[name].dtype.itemsize // 4)
        # What a fixed-width column would hold: the string cut to the column's width.
        return np.fromiter((lookup[v[:width]] for v in values.tolist()),
                           dtype=dtype, count=values.size)

    def __getitem__(self, name: str) -> np.ndarray:
        """Return one column: numbers as held (held in memory, a view: assignments reach
        the table; spilled, a copy: use :meth:`put`), a text column as its strings in
        the public dtype (a new array)."""
        if name in self.categories:
            return self.categories[name][self.columns[name]]
        return self.columns[name]

    def put(self, name: str, rows, values) -> None:
        """Set ``self[name][rows] = values`` (a number column), wherever it is held."""
        column = self.columns[name]
        column[rows] = values
        self.columns[name] = column  # written back when spilled (a copy was read)

    def _part(self, name: str, start: int, stop: int) -> np.ndarray:
        """Return rows ``[start, stop)`` of a column as held (codes for text)."""
        read = getattr(self.columns, "read", None)
        return read(name, start, stop) if read is not None else self.columns[name][start:stop]

    def text(self, name: str, rows=None) -> np.ndarray:
        """Return the strings of a text column at *rows* (a mask or indices; all)."""
        codes = self.columns[name] if rows is None else self.columns[name][rows]
        return self.categories[name][codes]

    def equals(self, name: str, value: str) -> np.ndarray:
        """Return ``self[name] == value`` without building the column's strings."""
        hits = np.flatnonzero(self.categories[name] == value)
        if hits.size == 1:
            return self.columns[name] == hits[0]
        return np.isin(self.columns[name], hits)

    def rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Return rows ``[start, stop)`` as an :data:`EVENT_DTYPE` array."""
        start, stop, _ = slice(start, stop).indices(self.n_rows)
        out = np.empty(max(0, stop - start), dtype=EVENT_DTYPE)
        for name in COLUMN_NAMES:
            part = self._part(name, start, stop)
            out[name] = self.categories[name][part] if name in self.categories else part
        return out

    def materialise(self) -> np.ndarray:
        """Return the whole table as an :data:`EVENT_DTYPE` array."""
        return self.rows()

    def spill(self) -> None:
        """Keep the columns in a temporary file (:class:`fascidetect._spill.
        SpilledColumns`; in memory where none can be written)."""
        from ._spill import SpilledColumns

        if not isinstance(self.columns, SpilledColumns):
            store = SpilledColumns()
            for name in list(self.columns):  # each column let go as it is written
                store[name] = self.columns.pop(name)
            self.columns = store


def column_equals(events, name: str, value) -> np.ndarray:
    """Return ``events[name] == value`` for an :data:`EVENT_DTYPE` array or a
    :class:`CodedEvents` (whose text columns are compared by code)."""
    if isinstance(events, CodedEvents) and name in events.categories:
        return events.equals(name, value)
    return events[name] == value


def column_text(events, name: str, rows) -> np.ndarray:
    """Return ``events[name][rows]`` for either form of the table (see
    :func:`column_equals`)."""
    if isinstance(events, CodedEvents) and name in events.categories:
        return events.text(name, rows)
    return events[name][rows]


def sort_events(events: np.ndarray) -> np.ndarray:
    """Return the events sorted by onset, then peak time."""
    order = np.lexsort((events["peak_time"], events["onset"]))
    return events[order]


def _text_value(value) -> str:
    """Return a text field as written: its string, or ``n/a`` when empty.

    Every text field of the TSV goes through here (per value and per column).
    """
    value = clean_text(value)  # a tab or newline in a label must not split the row
    return value if value else _MISSING


def _format_value(value, kind: str) -> str:
    """Return one value as written to the TSV (*kind*: numpy dtype kind, f, i or text)."""
    if kind == "f":
        value = float(value)
        return _MISSING if math.isnan(value) else np.format_float_positional(value, precision=6, trim="-")
    if kind == "i":
        return _MISSING if int(value) < 0 else str(int(value))
    return _text_value(value)


def _float_column(values: np.ndarray) -> list[str]:
    """Return the column as :func:`_format_value` writes floats, value by value.

    ``%.6f`` with trailing zeros (and a bare point) cut is what
    ``format_float_positional(precision=6, trim='-')`` prints, both rounding the exact
    binary value: byte-identical, checked over ties such as k/2048 s (a test pins it).
    """
    text = [f"{v:.6f}".rstrip("0").rstrip(".") for v in values.tolist()]
    for i in np.flatnonzero(np.isnan(values)).tolist():
        text[i] = _MISSING
    return text


def _int_column(values: np.ndarray) -> list[str]:
    return [_MISSING if v < 0 else str(v) for v in values.tolist()]


def _text_column(values: np.ndarray) -> list[str]:
    return [_text_value(v) for v in values.tolist()]


_COLUMN_FORMATTERS = {"f": _float_column, "i": _int_column}

#: Rows rendered at once (as bytes: about 1.5 MB of buffers at 4096 rows).
_CHUNK_ROWS = 4096

# The TSV as bytes, built by numpy: each column is rendered into a (rows, width) byte
# array with a mask of the bytes in use (left to right), the columns and separators are
# laid side by side, and the masked bytes in row order are the file's bytes. Per value
# Python formatting cost about 10 us a row (1.5 s for the 154,000 rows of a busy hour).
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_POW10 = 10 ** np.arange(16, dtype=np.int64)
#: "000" to "999", each packed in 4 bytes (a 1-D gather is far cheaper than one of rows).
_TRIPLES = np.frombuffer(b"".join(b"%03d\0" % i for i in range(1000)), dtype=np.uint32)
#: The fraction digits kept, by how many are kept (0-6).
_FRACTION_MASKS = np.arange(6)[None, :] < np.arange(7)[:, None]
#: Trailing zeros of "000" to "999".
_TRAILING = np.array([3] + [len(str(i)) - len(str(i).rstrip("0")) for i in range(1, 1000)])
#: Integer parts up to this are rendered by numpy (beyond it, and for inf, Python).
_FAST_FLOAT = 1e15
#: Half a unit in the 6th decimal of the fraction is a rounding tie within this margin
#: (``f * 1e6`` is off the exact product by at most 1e6 * 2**-53 = 1.1e-10): such values
#: are formatted by Python, which rounds the exact binary value.
_TIE_MARGIN = 1e-8


def _strings_field(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return a (k, width) byte array of the UTF-8 strings, left-aligned, and lengths."""
    encoded = [t.encode("utf-8") for t in strings]
    lengths = np.array([len(b) for b in encoded], dtype=np.intp)
    width = max(1, int(lengths.max()) if lengths.size else 1)
    table = np.frombuffer(b"".join(b.ljust(width, b"\0") for b in encoded) or b"\0" * width,
                          dtype=np.uint8).reshape(-1, width)
    return table, lengths


def _override(buf, mask, rows, strings):
    """Put ``strings`` (left-aligned) into rows ``rows`` of a rendered column."""
    if rows.size == 0:
        return buf, mask
    part, used = _lookup(*_distinct_field(strings))
    if part.shape[1] > buf.shape[1]:
        extra = part.shape[1] - buf.shape[1]
        buf = np.concatenate([buf, np.zeros((buf.shape[0], extra), np.uint8)], axis=1)
        mask = np.concatenate([mask, np.zeros((mask.shape[0], extra), bool)], axis=1)
    buf[rows, :part.shape[1]] = part
    mask[rows] = False
    mask[rows, :used.shape[1]] = used
    return buf, mask


def _distinct_field(strs: list[str], clean=None):
    """Return the distinct strings' byte table and lengths (each passed through
    ``clean`` first, if given), and each string's row in it."""
    index = {t: i for i, t in enumerate(dict.fromkeys(strs))}
    inverse = np.fromiter(map(index.__getitem__, strs), dtype=np.intp, count=len(strs))
    table, lengths = _strings_field(list(index) if clean is None else list(map(clean, index)))
    return table, lengths, inverse


def _triples(values: np.ndarray) -> np.ndarray:
    """Return the 3 ASCII digits of each of ``values`` (0-999), shape (n, 3)."""
    return _TRIPLES[values].view(np.uint8).reshape(-1, 4)[:, :3]


def _lookup(table, lengths, inverse):
    """Return the rows ``inverse`` of a string table and their masks (``np.take``: a
    fraction of the cost of indexing rows)."""
    masks = np.arange(table.shape[1])[None, :] < lengths[:, None]
    return np.take(table, inverse, axis=0), np.take(masks, inverse, axis=0)


def _render_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text: each distinct value cleaned and encoded once (:func:`_text_value`)."""
    strs = list(map(str, values.tolist()))  # _text_value(v) == _text_value(str(v))
    return _lookup(*_distinct_field(strs, _text_value))


def _render_int(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integers: decimal digits, ``n/a`` under 0 (each distinct value formatted once)."""
    uniq, inverse = np.unique(values, return_inverse=True)
    table, lengths = _strings_field(_int_column(uniq))
    return _lookup(table, lengths, inverse.ravel())


def _render_float(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats as ``f"{v:.6f}"`` with trailing zeros and a bare point cut, ``n/a`` for NaN.

    The fraction is rounded from ``f * 1e6`` (``f = |v| - floor(|v|)``, exact); values
    whose product lies within :data:`_TIE_MARGIN` of a rounding tie, infinities and
    integer parts of :data:`_FAST_FLOAT` or more are formatted by Python.
    """
    v = values.astype(np.float64)
    n = v.size
    nan = np.isnan(v)
    a = np.abs(v)
    with np.errstate(invalid="ignore"):
        fast = a < _FAST_FLOAT                                      # False for NaN and inf
    a = np.where(fast, a, 0.0)
    ip = np.floor(a)
    r = (a - ip) * 1e6
    q = np.floor(r + 0.5)
    fast &= np.abs(r - np.floor(r) - 0.5) > _TIE_MARGIN
    carry = q >= 1e6
    ip = (ip + carry).astype(np.int64)
    q = np.where(carry, 0.0, q).astype(np.int64)
    # Layout: sign, the integer digits (right-aligned), point, 6 fraction digits; the
    # digits three at a time from a table of "000" to "999".
    n_int = np.maximum(np.searchsorted(_POW10, ip, side="right"), 1)  # digits
    d = int(n_int.max()) if n else 1
    g = -(-d // 3)
    buf = np.empty((n, d + 8), dtype=np.uint8)
    mask = np.empty((n, d + 8), dtype=bool)
    buf[:, 0] = ord("-")
    mask[:, 0] = np.signbit(v)
    groups = np.concatenate([_triples((ip // 1000 ** k) % 1000) for k in range(g - 1, -1, -1)],
                            axis=1)
    buf[:, 1:d + 1] = groups[:, 3 * g - d:]
    mask[:, 1:d + 1] = np.take(np.arange(d)[None, ::-1] < np.arange(d + 1)[:, None], n_int,
                               axis=0)
    nonzero = q > 0
    buf[:, d + 1] = ord(".")
    mask[:, d + 1] = nonzero
    hi, lo = np.divmod(q, 1000)
    buf[:, d + 2:d + 5] = _triples(hi)
    buf[:, d + 5:] = _triples(lo)
    kept = 6 - np.where(lo == 0, 3 + _TRAILING[hi], _TRAILING[lo])   # zeros cut
    mask[:, d + 2:] = np.take(_FRACTION_MASKS, kept, axis=0)
    buf, mask = _override(buf, mask, np.flatnonzero(nan), [_MISSING] * int(nan.sum()))
    slow = np.flatnonzero(~fast & ~nan)
    return _override(buf, mask, slow, _float_column(values[slow]))


_RENDERERS = {"f": _render_float, "i": _render_int}


def _render_rows(chunk: np.ndarray, renderers) -> bytes:
    """Return the TSV rows of ``chunk`` as UTF-8 bytes."""
    bufs, masks = [], []
    n = len(chunk)
    for k, (name, render) in enumerate(renderers):
        buf, mask = render(chunk[name])
        bufs += [buf, np.full((n, 1), 10 if k == len(renderers) - 1 else 9, np.uint8)]
        masks += [mask, np.ones((n, 1), dtype=bool)]
    return np.concatenate(bufs, axis=1)[np.concatenate(masks, axis=1)].tobytes()


def write_events_tsv(events: np.ndarray, path: str | os.PathLike) -> Path:
    """Write *events* (:data:`EVENT_DTYPE` or a :class:`CodedEvents`) as a BIDS-style
    events.tsv atomically and return the path.

    Byte for byte what the former per-value string formatting gave (tests pin it),
    rendered column-wise as bytes by numpy (:func:`_render_rows`).
    """
    path = Path(path)
    renderers = [(name, _RENDERERS.get(dt[0], _render_text)) for name, dt, _ in EVENT_COLUMNS]
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(("\t".join(COLUMN_NAMES) + "\n").encode("utf-8"))
        for start in range(0, len(events), _CHUNK_ROWS):
            # A coded table's chunk is made an EVENT_DTYPE array: written as it would be.
            chunk = events.rows(start, start + _CHUNK_ROWS) if isinstance(events, CodedEvents) \
                else events[start:start + _CHUNK_ROWS]
            fh.write(_render_rows(chunk, renderers))
    os.replace(tmp, path)
    return path


def read_events_tsv(path: str | os.PathLike) -> np.ndarray:
    """Return the event table stored in an events.tsv written by fascidetect (or BIDS).

    Columns other than ours are ignored; columns we expect but the file lacks are missing
    values, so a plain BIDS ``onset duration trial_type`` file reads too.
    """
    path = Path(path)
    if not path.exists():
        from .errors import FileMissingError

        raise FileMissingError(f"events file '{path}' does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if reader.fieldnames is None or not {"onset", "trial_type"} <= set(reader.fieldnames):
            raise InputError(f"'{path}' is not an events.tsv: it needs at least 'onset' and "
                             f"'trial_type' columns, found {reader.fieldnames}")
        rows = list(reader)
    events = empty_events(len(rows))
    for name, dt, _ in EVENT_COLUMNS:
        if not rows or name not in rows[0]:
            continue
        raw = [r[name] for r in rows]
        try:
            if dt[0] == "f":
                events[name] = [np.nan if v in (_MISSING, "") else float(v) for v in raw]
            elif dt[0] == "i":
                events[name] = [-1 if v in (_MISSING, "") else int(float(v)) for v in raw]
            else:
                events[name] = ["" if v == _MISSING else v for v in raw]
        except ValueError as exc:
            raise InputError(f"'{path}': column '{name}' has a non-numeric value ({exc})") from None
    # A truth or BIDS file may give only onset: the peak then is the onset.
    no_peak = np.isnan(events["peak_time"])
    events["peak_time"][no_peak] = events["onset"][no_peak]
    return events


#: Units of the columns that have one (BIDS sidecar ``Units``).
_UNITS = {"onset": "s", "duration": "s", "peak_time": "s", "peak_amplitude_uv": "uV",
          "duration_ms": "ms", "rms_uv": "uV", "firing_rate_hz": "Hz",
          "doublet_interval_ms": "ms"}


def events_sidecar() -> dict:
    """Return the BIDS ``events.json`` sidecar describing every column of the event table
    (``LongName``, ``Description``, ``Units``, and ``Levels`` for the categorical ones)."""
    from .candidates import REASONS

    levels = {
        "trial_type": {
            "fasciculation": "spontaneous discharge of one motor unit at rest: brief, localized",
            "spasm": "sustained recruitment of many units on several channels (>= 1 s)",
            "voluntary": "voluntary or tonic firing, sustained activity on one channel, or an "
                         "annotated task period; not counted as fasciculation",
            "artifact": "not EMG of a motor unit (see artifact_kind)",
        },
        "artifact_kind": {
            "ecg": "heart beat", "motion": "electrode motion (out-of-band swing)",
            "line": "power-line hum", "pop": "electrode pop (step on one channel)",
            "saturation": "amplifier at its rail", "large": "beyond any motor-unit potential",
            "widespread": "equally large on most channels of separate muscles",
            "glitch": "single-sample data error",
        },
        "reason": dict(REASONS),
        "isolated": {"0": "within the isolation interval of another discharge",
                     "1": "both intervals to neighbouring discharges exceed 250 ms"},
        "doublet": {"0": "not a doublet's later discharge",
                    "1": "later discharge of a doublet or multiplet of one unit"},
    }
    out = {}
    for name, _, meaning in EVENT_COLUMNS:
        entry = {"LongName": name.replace("_", " "), "Description": meaning}
        if name in _UNITS:
            entry["Units"] = _UNITS[name]
        if name in levels:
            entry["Levels"] = levels[name]
        out[name] = entry
    return out


def write_events_json(path: str | os.PathLike) -> Path:
    """Write the events.json sidecar (:func:`events_sidecar`) atomically; return the path."""
    import json

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(events_sidecar(), indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)
    return path
