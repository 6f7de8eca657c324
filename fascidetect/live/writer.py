"""Nothing lost: the raw stream to a BDF file and the live events to a TSV, both flushed
every few seconds.

The BDF is written record by record (1-s records, 24-bit samples) and its header's
record count is rewritten at every flush, so after a crash, a SIGKILL or a pulled cable
the file on disk is a valid BDF up to the last flush (MNE reads it). Lost samples (NaN)
are stored as 0 µV; the events file notes where they were.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..events import COLUMN_NAMES, EVENT_COLUMNS, _format_value

#: Columns the live events file adds to the events.tsv contract.
LIVE_COLUMNS = ("latency_ms", "note")
_DIG_MAX = 2 ** 23 - 1
_DIG_MIN = -(2 ** 23)


def _field(value, width: int) -> bytes:
    text = str(value)[:width]
    return text.ljust(width).encode("ascii", "replace")


class BdfWriter:
    """Append-only BDF writer that stays readable between flushes.

    Parameters
    ----------
    path : str | path-like
    sfreq : float
        Sampling rate; must be a whole number of Hz (1-s records).
    ch_names : list of str
    range_v : float
        Physical range +-range_v stored (24 bits over it); larger samples are clipped.
    start : datetime | None
        Recording start (default now, UTC).
    """

    def __init__(self, path, sfreq: float, ch_names, range_v: float = 0.25, start=None):
        if abs(sfreq - round(sfreq)) > 1e-9:
            raise ParameterError(f"BDF needs a whole sampling rate in Hz, got {sfreq:g}")
        self.path = Path(path)
        self.sfreq = int(round(sfreq))
        self.names = list(ch_names)
        self.range_uv = float(range_v) * 1e6
        self.start = start or _dt.datetime.now(_dt.timezone.utc)
        self._pending = np.empty((len(self.names), 0))
        self.n_records = 0
        self._fh = open(self.path, "wb")
        self._fh.write(self._header())
        self.flush()

    def _header(self) -> bytes:
        ns = len(self.names)
        head = (b"\xffBIOSEMI" + _field("X X X X", 80) + _field("Startdate fascidetect live", 80)
                + _field(self.start.strftime("%d.%m.%y"), 8)
                + _field(self.start.strftime("%H.%M.%S"), 8)
                + _field(256 * (ns + 1), 8) + _field("24BIT", 44)
                + _field(self.n_records, 8) + _field(1, 8) + _field(ns, 4))
        cols = [
            [_field(n, 16) for n in self.names],
            [_field("AgAgCl electrode", 80)] * ns,
            [_field("uV", 8)] * ns,
            [_field(f"{-self.range_uv:.0f}", 8)] * ns,
            [_field(f"{self.range_uv:.0f}", 8)] * ns,
            [_field(_DIG_MIN, 8)] * ns,
            [_field(_DIG_MAX, 8)] * ns,
            [_field("none", 80)] * ns,
            [_field(self.sfreq, 8)] * ns,
            [_field("", 32)] * ns,
        ]
        return head + b"".join(b"".join(c) for c in cols)

    def write(self, chunk: np.ndarray) -> None:
        """Queue samples (V, ``(n_channels, n)``); whole records are written at flush."""
        self._pending = np.concatenate([self._pending, np.asarray(chunk, float)], axis=1)

    def flush(self, pad: bool = False) -> None:
        """Write the whole 1-s records queued (the last partial one too, zero-padded,
        when ``pad``) and make the file consistent on disk."""
        n_rec = self._pending.shape[1] // self.sfreq
        if pad and self._pending.shape[1] % self.sfreq:
            n_rec += 1
            extra = n_rec * self.sfreq - self._pending.shape[1]
            self._pending = np.pad(self._pending, ((0, 0), (0, extra)))
        if n_rec:
            block = self._pending[:, :n_rec * self.sfreq]
            self._pending = self._pending[:, n_rec * self.sfreq:]
            scale = self.range_uv / _DIG_MAX
            digital = np.clip(np.round(np.nan_to_num(block) * 1e6 / scale), _DIG_MIN, _DIG_MAX)
            # Record layout: per record, each channel's sfreq samples in turn.
            ordered = digital.astype("<i4").reshape(len(self.names), n_rec, self.sfreq)
            ordered = ordered.transpose(1, 0, 2).ravel()
            self._fh.seek(0, os.SEEK_END)
            self._fh.write(ordered.view(np.uint8).reshape(-1, 4)[:, :3].tobytes())
            self.n_records += n_rec
            self._fh.seek(236)
            self._fh.write(_field(self.n_records, 8))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    @property
    def duration_s(self) -> float:
        """Seconds on disk."""
        return float(self.n_records)

    def close(self) -> None:
        """Write everything (last record zero-padded) and close."""
        if not self._fh.closed:
            self.flush(pad=True)
            self._fh.close()


class EventsWriter:
    """The live events TSV: the events.tsv columns plus ``latency_ms`` and ``note``,
    a row appended per discharge, episode and fault note, flushed with the BDF."""

    def __init__(self, path):
        self.path = Path(path)
        self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._fh.write("\t".join(COLUMN_NAMES + LIVE_COLUMNS) + "\n")
        self._kinds = [dt[0] for _, dt, _ in EVENT_COLUMNS]
        self.flush()

    def add_events(self, events: np.ndarray, latency_s: np.ndarray) -> None:
        """Append event rows with their latency."""
        for row, lat in zip(events, latency_s):  # loop over the few rows of one update
            cells = [_format_value(row[i], k) for i, k in enumerate(self._kinds)]
            self._fh.write("\t".join(cells + [f"{lat * 1000:.0f}", "n/a"]) + "\n")

    def add_note(self, note) -> None:
        """Append a fault or stream note (``trial_type`` ``note``, ``reason`` its kind)."""
        cells = dict.fromkeys(COLUMN_NAMES, "n/a")
        cells.update(onset=f"{note.onset:.3f}", duration="0", trial_type="note",
                     channel=note.channel or "n/a", reason=note.kind)
        text = note.text.replace("\t", " ")
        self._fh.write("\t".join([cells[c] for c in COLUMN_NAMES] + ["n/a", text]) + "\n")

    def flush(self) -> None:
        """Make the rows written so far durable."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Flush and close."""
        if not self._fh.closed:
            self.flush()
            self._fh.close()
