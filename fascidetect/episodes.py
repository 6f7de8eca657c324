"""Sustained activity: the RMS envelope and the spasm / voluntary episodes found in it.

A fasciculation raises the envelope for one short sub-window; a spasm keeps most
sub-windows of at least a second raised on several channels at once.
"""

from __future__ import annotations

import numpy as np


def subwindow_rms(filtered: np.ndarray, window: int) -> np.ndarray:
    """Return the RMS of consecutive sub-windows, shape (n_channels, n_samples // window)."""
    n_ch, n = filtered.shape
    n_win = n // window
    blocks = filtered[:, : n_win * window].reshape(n_ch, n_win, window)
    return np.sqrt(np.einsum("cwk,cwk->cw", blocks, blocks) / window)


#: Shortest motion artifact (a QRS complex lasts about 0.1 s).
MOTION_MIN_S = 0.2
_BEAT_SUBWINDOWS = 3


def subwindow_ptp(raw: np.ndarray, window: int) -> np.ndarray:
    """Return the peak-to-peak range of the raw signal in consecutive sub-windows."""
    n_ch, n = raw.shape
    blocks = raw[:, : (n // window) * window].reshape(n_ch, -1, window)
    return blocks.max(axis=-1) - blocks.min(axis=-1)


def motion_spans(raw_ptp: np.ndarray, window_s: float, params,
                 beats_s: np.ndarray | None = None) -> list[tuple[float, float]]:
    """Return (start, end) times of motion artifacts found in the raw sub-window ranges.

    Motion moves the electrodes: the raw signal swings far beyond its usual range on
    most channels at once (a fasciculation, even a large one, is on one or a few). The
    usual range is each channel's median sub-window range (noise, hum and wander).

    Parameters
    ----------
    raw_ptp : ndarray, shape (n_channels, n_subwindows)
        Output of :func:`subwindow_ptp` over the whole recording.
    window_s : float
        Sub-window length in seconds.
    params : DetectionParams
        Uses ``motion_range_factor`` and ``episode_margin_s``.
    beats_s : ndarray | None
        Heart beats (s): a QRS complex also swings on every channel, briefly.
    """
    n_ch, n = raw_ptp.shape
    if n == 0:
        return []
    usual = np.median(raw_ptp, axis=1, keepdims=True)
    wild = raw_ptp > params.motion_range_factor * np.maximum(usual, np.finfo(float).tiny)
    if n_ch < 2:  # one channel cannot tell motion from a large discharge
        return []
    need = max(2, int(np.ceil(0.5 * n_ch)))
    moving = wild.sum(axis=0) >= need
    if beats_s is not None and beats_s.size:
        near = np.round(beats_s / window_s).astype(int)
        for shift in range(-_BEAT_SUBWINDOWS, _BEAT_SUBWINDOWS + 1):  # a handful of shifts
            moving[np.clip(near + shift, 0, n - 1)] = False
    starts, stops = run_bounds(moving)
    # Motion lasts hundreds of ms; shorter swings on all channels are QRS complexes.
    long_enough = (stops - starts) * window_s >= MOTION_MIN_S
    margin = params.episode_margin_s
    return [(a * window_s - margin, b * window_s + margin)
            for a, b in zip(starts[long_enough], stops[long_enough])]


def run_bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return start and stop (exclusive) indices of the runs of True in a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(padded)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def sustained_mask(active: np.ndarray, span: int, fraction: float) -> np.ndarray:
    """Return, per channel, the sub-windows covered by a ``span`` in which at least
    ``fraction`` of the sub-windows are active.

    Parameters
    ----------
    active : ndarray of bool, shape (n_channels, n_windows)
    span : int
        Sub-windows per minimum episode length.
    fraction : float
    """
    n_ch, n = active.shape
    if n < span:
        return np.zeros_like(active)
    csum = np.concatenate([np.zeros((n_ch, 1)), np.cumsum(active, axis=1)], axis=1)
    share = (csum[:, span:] - csum[:, :-span]) / span  # windows starting at 0..n-span
    hit = share >= fraction
    # Dilate: every sub-window inside a qualifying span is sustained.
    hcs = np.concatenate([np.zeros((n_ch, 1)), np.cumsum(hit, axis=1)], axis=1)
    idx = np.arange(n)
    start = np.clip(idx - span + 1, 0, hit.shape[1])
    stop = np.clip(idx + 1, 0, hit.shape[1])
    covered = (hcs[:, stop] - hcs[:, start]) > 0
    # Trim the ends of each run to the first/last active sub-window.
    return covered & _between_active(active, covered)


def _between_active(active: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Return covered sub-windows that lie between two active ones of the same run."""
    n = active.shape[1]
    idx = np.broadcast_to(np.arange(n), active.shape)
    act = active & covered
    last_active = np.maximum.accumulate(np.where(act, idx, -1), axis=1)
    next_active = np.flip(np.minimum.accumulate(np.flip(np.where(act, idx, n), axis=1), axis=1),
                          axis=1)
    # A sub-window counts when both neighbouring active sub-windows are in its run.
    run_id = np.cumsum(~covered, axis=1)
    ok_prev = (last_active >= 0) & (np.take_along_axis(run_id, np.clip(last_active, 0, n - 1),
                                                       axis=1) == run_id)
    ok_next = (next_active < n) & (np.take_along_axis(run_id, np.clip(next_active, 0, n - 1),
                                                      axis=1) == run_id)
    return ok_prev & ok_next
