"""Checks on the per-sample clock of streaming files (OpenBCI GUI, BrainFlow CSV) and on
rows cut off at the end of an interrupted recording."""

from __future__ import annotations

import io

import numpy as np

from ..errors import CorruptFileError

#: A clock may step back this much (s) from packet jitter or a clock adjustment without
#: saying anything about the order of the rows.
BACKWARD_TOLERANCE_S = 1.0


def as_seconds(stamps: np.ndarray) -> np.ndarray:
    """Return Unix time stamps in seconds (OpenBCI v5 writes milliseconds)."""
    finite = stamps[np.isfinite(stamps)]
    return stamps / 1000.0 if finite.size and np.median(finite) > 1e11 else stamps


def backward_steps_warning(stamps: np.ndarray) -> str | None:
    """Return a warning when the time stamps run backwards, else None.

    Rows appended from a second recording, blocks pasted out of order or a clock reset
    show as time going back; the samples are still read in file order as one recording.
    """
    seconds = as_seconds(np.asarray(stamps, dtype=float))
    steps = np.diff(seconds)
    back = np.flatnonzero(steps < -BACKWARD_TOLERANCE_S)
    if not back.size:
        return None
    return (f"time stamps run backwards {back.size} time(s), by up to "
            f"{-steps[back].min():.3g} s (first after row {back[0] + 1} of the samples): "
            "the rows are read in file order as one continuous recording; if the file joins "
            "recordings or holds rows out of order, split or sort it first")


def forward_span_s(stamps: np.ndarray) -> float:
    """Return the time the stamps advance in all, leaving out steps back (so a file of two
    recordings joined still gives the rate of either)."""
    steps = np.diff(as_seconds(np.asarray(stamps, dtype=float)))
    return float(steps[np.isfinite(steps) & (steps > 0)].sum())


def drop_cut_last_row(lines: list[str], sep: str | None) -> tuple[list[str], str | None]:
    """Return the data lines without a last row that has fewer cells than the one before
    it (a recording interrupted while writing, or a truncated copy), and a warning."""
    body = [ln for ln in lines if ln.strip()]
    if len(body) < 2:
        return lines, None
    last, before = body[-1].split(sep), body[-2].split(sep)
    if len(last) >= len(before):
        return lines, None
    keep = len(lines) - 1 - lines[::-1].index(body[-1])
    return lines[:keep], ("the last row is incomplete (cut off: an interrupted recording or a "
                          f"truncated copy, {len(last)} of {len(before)} cells): it was left out")


def reread_without_cut_row(lines: list[str], sep: str | None, error: Exception, message: str,
                           **loadtxt_kw) -> tuple[np.ndarray, str]:
    """Return the table of *lines* read again without a cut-off last row, and the warning.

    Called when the whole table failed with *error*: without such a row (or when the rows
    before it fail too) the file is corrupt, reported as ``message: <what failed>``.
    """
    rows, cut = drop_cut_last_row(lines, sep)
    if cut is None:
        raise CorruptFileError(f"{message}: {error}") from None
    try:
        table = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=sep, ndmin=2, dtype=float,
                           **loadtxt_kw)
    except ValueError as exc:
        raise CorruptFileError(f"{message}: {exc}") from None
    return table, cut
