"""Sustained activity: the RMS envelope and the spasm / voluntary episodes found in it.

A fasciculation raises the envelope for one short sub-window; a spasm keeps most
sub-windows of at least a second raised on several channels at once.
"""

from __future__ import annotations

import numpy as np

from .spans import prefix_counts, run_bounds  # noqa: F401 (re-exported)


def subwindow_rms(filtered: np.ndarray, window: int) -> np.ndarray:
    """Return the RMS of consecutive sub-windows, shape (n_channels, n_samples // window)."""
    n_ch, n = filtered.shape
    n_win = n // window
    blocks = filtered[:, : n_win * window].reshape(n_ch, n_win, window)
    return np.sqrt(np.einsum("cwk,cwk->cw", blocks, blocks) / window)


#: Motion is judged over windows of this length (its swing takes a few hundred ms).
MOTION_WINDOW_S = 0.2
#: Gaussian band-passed activity spans about 6-7 RMS in such a window; a swing well
#: beyond that (x 2) is out of band, i.e. low-frequency.
_IN_BAND_RANGE = 12.0


def subwindow_range(raw: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the max and min of the raw signal in consecutive sub-windows."""
    n_ch, n = raw.shape
    blocks = raw[:, : (n // window) * window].reshape(n_ch, -1, window)
    return blocks.max(axis=-1), blocks.min(axis=-1)


def motion_spans(raw_max: np.ndarray, raw_min: np.ndarray, envelope: np.ndarray,
                 window_s: float, params,
                 beats_s: np.ndarray | None = None) -> list[tuple[float, float]]:
    """Return (start, end) times of motion artifacts.

    Motion moves the electrodes: over a couple of hundred ms the raw signal swings far
    beyond its usual range on most channels at once, and the swing is low-frequency, far
    larger than the band-passed activity (a spasm swings as wide but is all in band; a
    fasciculation is on one or a few channels).

    Parameters
    ----------
    raw_max, raw_min : ndarray, shape (n_channels, n_subwindows)
        Output of :func:`subwindow_range` over the whole recording.
    envelope : ndarray, shape (n_channels, n_subwindows)
        Band-passed RMS per sub-window.
    window_s : float
        Sub-window length in seconds.
    params : DetectionParams
        Uses ``motion_range_factor`` and ``episode_margin_s``.
    beats_s : ndarray | None
        Heart beats (s): a QRS complex also swings on every channel, briefly.
    """
    n_ch, n = raw_max.shape
    k = max(1, int(round(MOTION_WINDOW_S / window_s)))
    g = n // k
    if n_ch < 2 or g == 0:  # one channel cannot tell motion from a large discharge
        return []
    mx = raw_max[:, : g * k].reshape(n_ch, g, k).max(axis=-1)
    mn = raw_min[:, : g * k].reshape(n_ch, g, k).min(axis=-1)
    rms = np.sqrt((envelope[:, : g * k] ** 2).reshape(n_ch, g, k).mean(axis=-1))
    span = mx - mn
    usual = np.median(span, axis=1, keepdims=True)
    wild = (span > params.motion_range_factor * np.maximum(usual, np.finfo(float).tiny)) \
        & (span > _IN_BAND_RANGE * rms)
    need = max(2, int(np.ceil(0.5 * n_ch)))
    moving = wild.sum(axis=0) >= need
    group_s = k * window_s
    if beats_s is not None and beats_s.size:
        near = np.floor(beats_s / group_s).astype(int)
        for shift in (-1, 0, 1):  # the beat's group and its neighbours
            moving[np.clip(near + shift, 0, g - 1)] = False
    starts, stops = run_bounds(moving)
    margin = params.episode_margin_s
    return [(a * group_s - margin, b * group_s + margin) for a, b in zip(starts, stops)]


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
    # One channel at a time: the temporaries are several times the mask, and a day-long
    # recording has millions of sub-windows per channel.
    out = np.zeros_like(active, dtype=bool)
    for c in range(active.shape[0]):  # loop over channels
        out[c] = _sustained_rows(active[c:c + 1], span, fraction)[0]
    return out


def _sustained_rows(active: np.ndarray, span: int, fraction: float) -> np.ndarray:
    """:func:`sustained_mask` on a block of channel rows."""
    n_ch, n = active.shape
    if n < span:
        return np.zeros_like(active)
    csum = prefix_counts(active)
    need = int(np.ceil(fraction * span - 1e-9))
    hit = (csum[:, span:] - csum[:, :-span]) >= need  # windows starting at 0..n-span
    del csum
    # Dilate: every sub-window inside a qualifying span is sustained.
    hcs = prefix_counts(hit)
    idx = np.arange(n, dtype=np.int32)
    start = np.clip(idx - span + 1, 0, hit.shape[1])
    stop = np.clip(idx + 1, 0, hit.shape[1])
    covered = (hcs[:, stop] - hcs[:, start]) > 0
    # Trim the ends of each run to the first/last active sub-window.
    return covered & _between_active(active, covered)


def _between_active(active: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Return covered sub-windows that lie between two active ones of the same run."""
    n = active.shape[1]
    idx = np.broadcast_to(np.arange(n, dtype=np.int32), active.shape)
    act = active & covered
    last_active = np.maximum.accumulate(np.where(act, idx, np.int32(-1)), axis=1)
    next_active = np.flip(np.minimum.accumulate(np.flip(np.where(act, idx, np.int32(n)), axis=1),
                                                axis=1), axis=1)
    # A sub-window counts when both neighbouring active sub-windows are in its run.
    run_id = np.cumsum(~covered, axis=1, dtype=np.int32)
    ok_prev = (last_active >= 0) & (np.take_along_axis(run_id, np.clip(last_active, 0, n - 1),
                                                       axis=1) == run_id)
    ok_next = (next_active < n) & (np.take_along_axis(run_id, np.clip(next_active, 0, n - 1),
                                                      axis=1) == run_id)
    return ok_prev & ok_next
