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
