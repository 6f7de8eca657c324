"""Whole-recording arrays kept out of memory: column blocks spilled to a temporary file,
and masks packed to bits, so that what a day-long recording holds stays small."""

from __future__ import annotations

import errno
import io
import tempfile
import weakref
from collections.abc import MutableMapping

import numpy as np


class ColumnSpill:
    """An array of shape ``(n_rows, n_columns)`` written block of columns by block of
    columns (in order) to a temporary file and read back by column ranges.

    The activity envelope of a day at 25 ms is 3.5 million columns per channel (55 MB
    for 8 channels as float16), of which the episodes read a few seconds: on disk it
    costs the page cache, not the process (issue 14). Where no temporary file can be
    made, or it cannot grow (a full disk), the blocks stay in memory.
    """

    def __init__(self, n_rows: int, n_columns: int, dtype, memory_fallback: bool = True):
        self.shape = (n_rows, n_columns)
        self.dtype = np.dtype(dtype)
        #: Without it, a file that cannot be made or grow raises OSError instead (for a
        #: copy the caller can do without: held in memory it would cost what it saves).
        self.memory_fallback = memory_fallback
        try:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (lives with the object)
        except OSError:  # no writable temporary directory
            if not memory_fallback:
                raise
            self._file = io.BytesIO()
        # Closed when the spill is collected: results hold spills (envelopes, motion
        # arrays) that nobody closes by hand, and an unclosed file is a ResourceWarning.
        self._closer = weakref.finalize(self, self._file.close)
        self._starts: list[int] = []  # first column of each block
        self._widths: list[int] = []
        self._offsets: list[int] = []  # byte offset of each block in the file
        self._end = 0

    def write(self, column: int, block: np.ndarray) -> None:
        """Store ``block`` (shape ``(n_rows, w)``) as the columns ``[column, column + w)``."""
        data = np.ascontiguousarray(block, dtype=self.dtype)
        self._starts.append(column)
        self._widths.append(data.shape[1])
        self._offsets.append(self._end)
        try:
            self._file.seek(self._end)
            self._file.write(data.tobytes())
        except OSError:  # the disk (or the file size limit) is full: hold it in memory
            if not self.memory_fallback:
                raise
            self._to_memory()
            self._file.seek(self._end)
            self._file.write(data.tobytes())
        self._end += data.nbytes

    def close(self) -> None:
        """Let the file go (the array cannot be read afterwards)."""
        self._closer()
        self._file.close()

    def _to_memory(self) -> None:
        """Move what was written into memory and go on there."""
        if self._file.__class__ is io.BytesIO:  # already in memory: nowhere else to go
            raise MemoryError("cannot hold the spilled envelope")
        self._file.seek(0)
        held = io.BytesIO(self._file.read(self._end))
        self._file.close()
        self._file = held

    def read(self, a: int, b: int) -> np.ndarray:
        """Return columns ``[a, b)`` (columns never written read as 0)."""
        a, b = max(0, a), min(self.shape[1], b)
        out = np.zeros((self.shape[0], max(0, b - a)), dtype=self.dtype)
        first = max(0, int(np.searchsorted(self._starts, a, side="right")) - 1)
        for i in range(first, len(self._starts)):  # loop over the few blocks overlapped
            start, width = self._starts[i], self._widths[i]
            if start >= b:
                break
            lo, hi = max(a, start), min(b, start + width)
            if hi <= lo:
                continue
            self._file.seek(self._offsets[i])
            raw = self._file.read(self.shape[0] * width * self.dtype.itemsize)
            block = np.frombuffer(raw, dtype=self.dtype).reshape(self.shape[0], width)
            out[:, lo - a:hi - a] = block[:, lo - start:hi - start]
        return out

    def read_row(self, r: int) -> np.ndarray:
        """Return row ``r`` over all columns (one read per block: a block is stored row
        after row, so its part of a row is contiguous in the file)."""
        out = np.zeros(self.shape[1], dtype=self.dtype)
        size = self.dtype.itemsize
        for start, width, offset in zip(self._starts, self._widths, self._offsets):  # blocks
            if start >= self.shape[1] or width == 0:
                continue
            self._file.seek(offset + r * width * size)
            block = np.frombuffer(self._file.read(width * size), dtype=self.dtype)
            hi = min(self.shape[1], start + width)
            out[start:hi] = block[:hi - start]
        return out

    def rows(self, first: int, n_rows: int) -> "SpilledRows":
        """Return the rows ``[first, first + n_rows)`` as a :class:`SpilledRows`."""
        return SpilledRows(self, first, n_rows)

    def __getitem__(self, key) -> np.ndarray:
        """``spill[rows, a:b]`` (a column slice with unit step, any row index)."""
        rows, cols = key
        if not isinstance(cols, slice) or cols.step not in (None, 1):
            raise TypeError("a ColumnSpill is read by column slices")
        a, b, _ = cols.indices(self.shape[1])
        return self.read(a, b)[rows]


class SpilledRows:
    """Some rows of a :class:`ColumnSpill`, read back one row at a time.

    The scan's motion-window arrays (raw extremes and band-passed range per 200 ms:
    41 MB for a day of 8 channels, issue 14) are judged channel by channel
    (:func:`fascidetect.episodes.motion_spans`), so only one row need be in memory.
    """

    def __init__(self, spill: ColumnSpill, first: int, n_rows: int):
        self.spill, self.first = spill, first
        self.shape = (n_rows, spill.shape[1])

    def read_row(self, r: int) -> np.ndarray:
        """Return row ``r`` (counted from the first of these rows)."""
        if not 0 <= r < self.shape[0]:
            raise IndexError(f"row {r} of {self.shape[0]}")
        return self.spill.read_row(self.first + r)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The rows as one array (tests; the pipeline reads row by row)."""
        out = np.stack([self.read_row(r) for r in range(self.shape[0])]) if self.shape[0] \
            else np.zeros(self.shape, dtype=self.spill.dtype)
        return out if dtype is None else out.astype(dtype, copy=False)


class SpilledMatrix:
    """A 2-D array in a :class:`ColumnSpill`, read back a row or a slice of one row at a
    time: ``m[r]`` and ``m[r, a:b]`` as the array would give them.

    The scan's active sub-windows as bits are 3.5 MB for a day of 8 channels; the
    episodes read them a channel at a time, the firing-train stage a channel's chunk at
    a time (issue 14: held, they sat under the scan's, the matching pass's and the
    stages' temporaries).
    """

    def __init__(self, spill: ColumnSpill):
        self.spill = spill
        self.shape, self.dtype = spill.shape, spill.dtype

    @classmethod
    def of(cls, array: np.ndarray, width: int = 2 ** 16) -> SpilledMatrix:
        """Return ``array`` written ``width`` columns at a time."""
        spill = ColumnSpill(*array.shape, array.dtype)
        for a in range(0, array.shape[1], width):  # loop over column blocks
            spill.write(a, array[:, a:a + width])
        return cls(spill)

    def __getitem__(self, key) -> np.ndarray:
        row, cols = key if isinstance(key, tuple) else (key, slice(None))
        if not isinstance(cols, slice) or cols.step not in (None, 1):
            raise TypeError("a SpilledMatrix is read by a row and a column slice")
        row = int(row)
        if not -self.shape[0] <= row < self.shape[0]:
            raise IndexError(f"row {row} of {self.shape[0]}")
        row %= self.shape[0]
        if cols == slice(None):
            return self.spill.read_row(row)
        a, b, _ = cols.indices(self.shape[1])
        return self.spill.read(a, b)[row]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The whole array (tests; the pipeline reads rows and slices)."""
        out = self.spill.read(0, self.shape[1])
        return out if dtype is None else out.astype(dtype, copy=False)


class BitColumns:
    """A boolean array of shape ``(n_rows, n_columns)`` filled block of columns by block
    of columns (in order) and kept as bits (``np.packbits`` along the columns) in a
    temporary file (:class:`SpilledMatrix`)."""

    def __init__(self, n_rows: int, n_columns: int):
        self.n_columns = n_columns
        self.spill = ColumnSpill(n_rows, (n_columns + 7) // 8, np.uint8)
        self._pending = np.zeros((n_rows, 0), dtype=bool)  # columns not yet a whole byte
        self._byte = 0

    def add(self, block: np.ndarray) -> None:
        """Append the columns of ``block`` (shape ``(n_rows, w)``)."""
        buf = np.concatenate([self._pending, block], axis=1)
        whole = buf.shape[1] // 8
        if whole:
            self.spill.write(self._byte, np.packbits(buf[:, :whole * 8], axis=1))
        self._byte += whole
        self._pending = buf[:, whole * 8:]

    def finish(self) -> SpilledMatrix:
        """Return the bits (as ``np.packbits(mask, axis=1)`` of the whole mask would;
        columns never added are 0)."""
        if self._pending.shape[1]:
            self.spill.write(self._byte, np.packbits(self._pending, axis=1))
            self._pending = self._pending[:, :0]
        return SpilledMatrix(self.spill)


def _unbuffered_temporary_file():
    """Return an unbuffered temporary file, or None where none can be made. Unbuffered,
    a write that fails (a full disk, a file size limit) raises at the write, where it is
    caught, not at a later seek or at closing."""
    try:
        return tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 (lives with its owner)
    except OSError:  # no writable temporary directory
        return None


def _write_at(file, offset: int, data: np.ndarray) -> None:
    """Write the bytes of ``data`` at ``offset``, all of them or raise OSError."""
    file.seek(offset)
    view = memoryview(np.ascontiguousarray(data).reshape(-1).view(np.uint8))
    while view.nbytes:  # a raw file may write part of it (up to a size limit)
        done = file.write(view)
        if not done:
            raise OSError(errno.ENOSPC, "the temporary file cannot grow")
        view = view[done:]


def _read_at(file, offset: int, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` with the bytes at ``offset`` (all of them or raise OSError); return it."""
    if out.size:
        file.seek(offset)
        if file.readinto(out.reshape(-1).view(np.uint8)) != out.nbytes:
            raise OSError("the spill file was cut short")
    return out


class RowSpill:
    """An array of rows (any row shape) kept in a temporary file, read back by rows.

    The scan's float16 waveform sample and the result's waveforms are 20 MB each for a
    day at their cap (issue 14), and are read a few rows at a time (the units learnt,
    the fasciculations' snippets, the motor units' slices): here they cost the page
    cache, not the process. Rows are read with ``readinto`` a window at a time, not
    through a memory map (touched mapped pages would count in the process's memory).
    Where no temporary file can be made or grow, the rows are held in memory.
    Indexing (``spill[rows]``, ``spill[rows, ...]``) returns arrays, as the array would;
    pickled, it becomes the array.
    """

    #: Bytes read at a time when rows are gathered.
    WINDOW_BYTES = 4 * 2 ** 20

    def __init__(self, row_shape: tuple, dtype):
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        self.n_rows = 0
        self._row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self._file = _unbuffered_temporary_file() or io.BytesIO()
        self._closer = weakref.finalize(self, self._file.close)

    @classmethod
    def of(cls, array: np.ndarray) -> RowSpill:
        """Return ``array`` (rows along its first axis) written to a spill."""
        spill = cls(array.shape[1:], array.dtype)
        spill.append(array)
        return spill

    @property
    def shape(self) -> tuple:
        return (self.n_rows,) + self.row_shape

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    def __len__(self) -> int:
        return self.n_rows

    def append(self, rows: np.ndarray) -> None:
        """Add ``rows`` (shape ``(n,) + row_shape``) after the last row."""
        data = np.ascontiguousarray(rows, dtype=self.dtype)
        if data.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {data.shape[1:]} added to rows of {self.row_shape}")
        end = self.n_rows * self._row_bytes
        try:
            _write_at(self._file, end, data)
        except OSError:  # the disk (or the file size limit) is full: hold it in memory
            held = io.BytesIO(self._read(0, self.n_rows).tobytes())
            self._file.close()
            self._file = held
            self._closer.detach()
            _write_at(self._file, end, data)
        self.n_rows += data.shape[0]

    def _read(self, first: int, stop: int) -> np.ndarray:
        """Return rows ``[first, stop)`` (in range)."""
        out = np.empty((stop - first,) + self.row_shape, dtype=self.dtype)
        return _read_at(self._file, first * self._row_bytes, out)

    def take(self, index) -> np.ndarray:
        """Return the rows ``index`` (integers or a boolean mask), as ``array[index]``."""
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (self.n_rows,):
                raise IndexError(f"a mask of {index.shape} for {self.n_rows} rows")
            index = np.flatnonzero(index)
        index = index.astype(np.int64, copy=False)
        if index.size and (index.min() < -self.n_rows or index.max() >= self.n_rows):
            raise IndexError(f"row index out of range for {self.n_rows} rows")
        index = np.where(index < 0, index + self.n_rows, index)
        flat = index.reshape(-1)
        out = np.empty((flat.size,) + self.row_shape, dtype=self.dtype)
        order = np.argsort(flat, kind="stable")
        wanted = flat[order]
        window = max(1, self.WINDOW_BYTES // max(1, self._row_bytes))
        i = 0
        while i < wanted.size:  # loop over windows of the file holding wanted rows
            first = int(wanted[i])
            j = int(np.searchsorted(wanted, first + window, side="left"))
            block = self._read(first, int(wanted[j - 1]) + 1)
            out[order[i:j]] = block[wanted[i:j] - first]
            i = j
        return out.reshape(index.shape + self.row_shape)

    def __getitem__(self, key) -> np.ndarray:
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.n_rows)
            rows = self._read(start, max(start, stop)) if step == 1 \
                else self.take(np.arange(start, stop, step))
        elif isinstance(key, (int, np.integer)):
            return self.take(np.array([key]))[0][rest]
        else:
            rows = self.take(key)
        return rows[(slice(None),) + rest] if rest else rows

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self._read(0, self.n_rows)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __reduce__(self):
        return (np.asarray, (np.asarray(self),))

    def close(self) -> None:
        """Let the file go (the rows cannot be read afterwards)."""
        self._closer()


def append_rows(array, parts: list):
    """Return ``array`` (an ndarray or a :class:`RowSpill`) with the rows of ``parts``
    added: a spill grows in place, an array is concatenated."""
    if isinstance(array, RowSpill):
        for part in parts:
            array.append(part)
        return array
    return np.concatenate([array] + list(parts), axis=0)


class SpilledColumns(MutableMapping):
    """A dict of 1-D arrays (the candidate table's features) kept in a temporary file:
    each read returns the stored array afresh, each assignment writes it.

    The features of a day's candidates are about 18 MB (issue 14); the matching pass and
    the stages read a few of them at a time, a few dozen reads in all. Where no temporary
    file can be made or grow, the arrays are held in memory (as a dict would). Names keep
    their order as in a dict. Pickled, it becomes a dict.
    """

    def __init__(self, columns=None):
        # name -> (offset, dtype, shape) in the file, or the array itself when held
        self._where: dict = {}
        self._end = 0
        self._file = _unbuffered_temporary_file()
        self._closer = weakref.finalize(self, self._file.close) if self._file else None
        for name, values in (columns or {}).items():
            self[name] = values

    def __setitem__(self, name, values) -> None:
        data = np.ascontiguousarray(values)
        where = self._where.get(name)
        if isinstance(where, tuple) and where[1:] == (data.dtype, data.shape):
            try:  # the same size: written over where it is
                _write_at(self._file, where[0], data)
                return
            except OSError:  # cannot be: the bytes were there; hold it as a new one below
                pass
        if self._file is not None:
            try:
                _write_at(self._file, self._end, data)
            except OSError:  # a full disk: this one stays in memory
                self._where[name] = data
                return
            self._where[name] = (self._end, data.dtype, data.shape)
            self._end += data.nbytes
        else:
            self._where[name] = data

    def __getitem__(self, name) -> np.ndarray:
        where = self._where[name]
        if isinstance(where, np.ndarray):
            return where
        offset, dtype, shape = where
        return _read_at(self._file, offset, np.empty(shape, dtype=dtype))

    def read(self, name, start: int, stop: int) -> np.ndarray:
        """Return rows ``[start, stop)`` of the column ``name`` (clipped to its length),
        as ``self[name][start:stop]`` without reading the rest."""
        where = self._where[name]
        if isinstance(where, np.ndarray):
            return where[start:stop].copy()
        offset, dtype, shape = where
        start, stop, _ = slice(start, stop).indices(shape[0] if shape else 0)
        stop = max(start, stop)
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        out = np.empty((stop - start,) + tuple(shape[1:]), dtype=dtype)
        return _read_at(self._file, offset + start * row_bytes, out)

    def __delitem__(self, name) -> None:
        del self._where[name]

    def __iter__(self):
        return iter(list(self._where))

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, name) -> bool:
        return name in self._where

    def __reduce__(self):
        return (dict, (dict(self.items()),))
