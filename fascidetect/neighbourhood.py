"""Neighbourhood detection on HD grids: a discharge too small for any single electrode
but seen on several neighbouring ones.

A motor unit under an electrode grid spreads over a patch of electrodes. Nine neighbours
at 3 noise sigmas each are far from noise together, though none reaches a 5-sigma
threshold alone: the sum of their squared, spatially whitened samples is chi-square with
9 degrees of freedom under noise (81 against a mean of 9). Each interior electrode's 3x3
neighbourhood is scored at every sample, turned into a Gaussian-equivalent z
(Wilson-Hilferty), and the peaks over ``neighbourhood_sigma`` are discharges.
"""

from __future__ import annotations

import numpy as np

from typing import NamedTuple

from . import detection
from .errors import ParameterError


class Grid(NamedTuple):
    """A 2-D electrode grid: its ``(rows, cols)`` and, per row-major slot, the channel
    there (-1: no channel, a missing electrode or an empty corner)."""

    shape: tuple[int, int]
    channel_of: np.ndarray


def grid_slots(layout, n_channels: int, missing=()) -> Grid | None:
    """Return the :class:`Grid` of the channels when ``layout`` (``(rows, cols)`` or a
    named grid, ``missing`` electrodes without a channel) has 3x3 neighbourhoods (at least
    3 rows and 3 columns), else None."""
    from .neighbours import electrode_positions

    if layout is None:
        return None
    try:
        pos = electrode_positions(layout, n_channels, missing).astype(int)
    except ParameterError:
        return None
    rows, cols = int(pos[:, 0].max()) + 1, int(pos[:, 1].max()) + 1
    if rows < 3 or cols < 3:
        return None
    channel_of = np.full(rows * cols, -1)
    channel_of[pos[:, 0] * cols + pos[:, 1]] = np.arange(n_channels)
    return Grid((rows, cols), channel_of)


def neighbourhoods(rows: int, cols: int) -> np.ndarray:
    """Return the channel indices (row-major) of every interior 3x3 neighbourhood,
    shape (n_neighbourhoods, 9), the centre in column 4."""
    r, c = np.meshgrid(np.arange(1, rows - 1), np.arange(1, cols - 1), indexing="ij")
    dr, dc = np.meshgrid(np.arange(-1, 2), np.arange(-1, 2), indexing="ij")
    rr = r.ravel()[:, None] + dr.ravel()[None, :]
    cc = c.ravel()[:, None] + dc.ravel()[None, :]
    return rr * cols + cc


def whitening(corr: np.ndarray | None, n_channels: int) -> np.ndarray:
    """Return the ZCA whitening matrix ``corr^-1/2`` of the noise's spatial correlation
    (identity when none is known)."""
    if corr is None:
        return np.eye(n_channels)
    vals, vecs = np.linalg.eigh(corr)
    vals = np.maximum(vals, 1e-3 * vals.max())
    return (vecs / np.sqrt(vals)) @ vecs.T


def wilson_hilferty(chi2: np.ndarray, dof: int) -> np.ndarray:
    """Return the Gaussian-equivalent z of chi-square values with ``dof`` degrees."""
    k = 2.0 / (9.0 * dof)
    return (np.cbrt(chi2 / dof) - (1.0 - k)) / np.sqrt(k)


def find_neighbourhood_peaks(y: np.ndarray, grid: Grid, z_threshold: float, dead: int,
                             white: np.ndarray | None = None):
    """Return discharges seen together on a 3x3 neighbourhood of a grid.

    Parameters
    ----------
    y : ndarray, shape (n_channels, n)
        Band-passed samples in units of each channel's local noise sigma.
    grid : Grid
        The electrodes' slots (:func:`grid_slots`).
    z_threshold : float
        Gaussian-equivalent z of the neighbourhood statistic a discharge must reach.
    dead : int
        Fewest samples between two discharges (largest first).
    white : ndarray, shape (n_channels, n_channels) | None
        Spatial whitening matrix applied to ``y`` first.

    Returns
    -------
    sample : ndarray of int
        Sample of each discharge.
    channel : ndarray of int
        The electrode of its neighbourhood where it is largest.
    members : ndarray of int, shape (n, 9)
        The neighbourhood's electrodes (``channel`` in place of a missing one).
    z : ndarray
        Its neighbourhood z.
    """
    shape, channel_of = grid
    hoods = neighbourhoods(*shape)
    w = y if white is None else white.astype(np.float32) @ y.astype(np.float32)
    sq = np.square(w, dtype=np.float32)
    present = channel_of >= 0
    if not present.all() or (channel_of != np.arange(channel_of.size)).any():
        # Slots in grid order; a slot without an electrode is silent (its neighbourhoods'
        # sums have fewer terms than the 9 the bar assumes: conservative).
        full = np.zeros((channel_of.size, sq.shape[1]), dtype=np.float32)
        full[present] = sq[channel_of[present]]
        sq = full
    # 3x3 box sums of squares over the grid (separable: rows, then columns).
    grid = sq.reshape(shape[0], shape[1], -1)
    rows3 = grid[:-2] + grid[1:-1] + grid[2:]
    box = (rows3[:, :-2] + rows3[:, 1:-1] + rows3[:, 2:]).reshape(len(hoods), -1)
    # The bar in chi-square units, so only the few samples over it are converted.
    k = 2.0 / 81.0
    bar = 9.0 * (1.0 - k + z_threshold * np.sqrt(k)) ** 3
    best_hood = np.argmax(box, axis=0)
    best = box[best_hood, np.arange(box.shape[1])]
    idx = np.flatnonzero(best >= bar)
    empty = (np.zeros(0, int), np.zeros(0, int), np.zeros((0, 9), int), np.zeros(0))
    idx = idx[(idx > 0) & (idx < best.size - 1)]
    if idx.size == 0:
        return empty
    idx = idx[(best[idx] > best[idx - 1]) & (best[idx] >= best[idx + 1])]
    keep = detection._suppress(np.zeros(idx.size, dtype=int), idx, best[idx], dead, 0, 0.0)
    idx = idx[keep]
    members = channel_of[hoods[best_hood[idx]]]
    size = np.where(members >= 0, np.abs(y[np.maximum(members, 0), idx[:, None]]), -1.0)
    main = members[np.arange(idx.size), np.argmax(size, axis=1)]
    members = np.where(members >= 0, members, main[:, None])  # a missing slot: the main
    return idx, main, members, wilson_hilferty(best[idx], 9)
