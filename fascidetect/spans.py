"""Spans and intervals: the one place for time-span arithmetic.

A span is a ``(start_s, stop_s)`` pair of seconds from recording start, half open. Runs
are the same idea on sample or sub-window indices of a boolean mask.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def in_spans(times, spans: Sequence[tuple[float, float]], margin: float = 0.0) -> np.ndarray:
    """Return a mask of the times inside any span widened by ``margin`` on both sides.

    Parameters
    ----------
    times : array-like of float
        Times, s.
    spans : sequence of (start, stop)
        Half-open spans ``[start, stop)``, in any order, possibly overlapping.
    margin : float
        Widening of every span on each side, s.

    Examples
    --------
    >>> in_spans([0.5, 1.5, 3.0], [(1.0, 2.0)])
    array([False,  True, False])
    >>> in_spans([0.95], [(1.0, 2.0)], margin=0.1)
    array([ True])
    """
    times = np.asarray(times, dtype=float)
    inside = np.zeros(times.size, dtype=bool)
    if len(spans) == 0 or times.size == 0:
        return inside
    arr = np.asarray(spans, dtype=float).reshape(-1, 2)
    order = np.argsort(arr[:, 0])
    starts = arr[order, 0] - margin
    ends = np.maximum.accumulate(arr[order, 1] + margin)
    k = np.searchsorted(starts, times, side="right") - 1
    ok = k >= 0
    inside[ok] = times[ok] < ends[k[ok]]
    return inside


def union_length(spans: Sequence[tuple[float, float]], duration: float) -> float:
    """Return the total length of the union of spans clipped to ``[0, duration]``.

    Examples
    --------
    >>> union_length([(0.0, 2.0), (1.0, 3.0), (9.0, 12.0)], duration=10.0)
    4.0
    """
    if len(spans) == 0:
        return 0.0
    arr = np.clip(np.asarray(spans, dtype=float).reshape(-1, 2), 0, duration)
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    a, b = arr[:, 0], arr[:, 1]
    # A span opens a new piece of the union when it starts after all before it ended.
    reach = np.maximum.accumulate(b)
    new = np.concatenate([[True], a[1:] > reach[:-1]])
    first = np.flatnonzero(new)
    ends = np.maximum.reduceat(b, first)
    return float(np.sum(np.maximum(ends - a[first], 0.0)))


def in_channel_spans(times, channel, spans_by_channel: dict, margin: float = 0.0) -> np.ndarray:
    """Return a mask of the times inside a span of their own channel.

    ``spans_by_channel`` maps a channel index to its spans (channels without spans have
    none).

    Examples
    --------
    >>> in_channel_spans([1.0, 1.0], [0, 1], {1: [(0.5, 1.5)]})
    array([False,  True])
    """
    times = np.asarray(times, dtype=float)
    channel = np.asarray(channel)
    inside = np.zeros(times.size, dtype=bool)
    for c, spans in spans_by_channel.items():  # loop over the channels with spans
        on = channel == c
        inside[on] = in_spans(times[on], spans, margin)
    return inside


def run_bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return start and stop (exclusive) indices of the runs of True in a 1-D mask.

    Examples
    --------
    >>> run_bounds(np.array([0, 1, 1, 0, 1], dtype=bool))
    (array([1, 4]), array([3, 5]))
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    # Compared shifted, not differenced: a padded int8 copy and its difference were
    # 7 MB each for a day's 25-ms sub-windows (issue 14).
    starts = np.flatnonzero(mask[1:] > mask[:-1]) + 1
    stops = np.flatnonzero(mask[:-1] > mask[1:]) + 1
    if mask[0]:
        starts = np.concatenate([[0], starts])
    if mask[-1]:
        stops = np.concatenate([stops, [mask.size]])
    return starts, stops


def run_length(mask: np.ndarray) -> np.ndarray:
    """Return, for each element, the length of the run of True it belongs to (0 if False).

    Examples
    --------
    >>> run_length(np.array([1, 1, 0, 1], dtype=bool))
    array([2, 2, 0, 1])
    """
    starts, stops = run_bounds(mask)
    lengths = stops - starts
    ids = np.zeros(mask.size + 1, dtype=int)
    np.add.at(ids, starts, lengths)
    np.add.at(ids, stops, -lengths)
    out = np.cumsum(ids)[:-1]
    return np.where(mask, out, 0)


def prefix_counts(mask: np.ndarray) -> np.ndarray:
    """Return running counts of True along the last axis with a leading zero column
    (int32: a day-long recording has millions of sub-windows per channel), so the count
    in ``[a, b)`` is ``out[..., b] - out[..., a]``."""
    out = np.zeros(mask.shape[:-1] + (mask.shape[-1] + 1,), dtype=np.int32)
    if mask.ndim == 1:  # a contiguous target: no buffer the size of the result
        np.cumsum(mask, dtype=np.int32, out=out[1:])
    else:
        for row, target in zip(mask.reshape(-1, mask.shape[-1]),
                               out.reshape(-1, out.shape[-1])):  # loop over rows
            np.cumsum(row, dtype=np.int32, out=target[1:])
    return out
