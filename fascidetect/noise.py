"""Robust per-channel noise level of band-passed EMG.

sigma = median(|x|) / 0.6745 (Quiroga et al. 2004), computed in windows so that bursts
and spasms do not inflate it, on a subsample of each window because a full-length median
costs more than the whole detector.
"""

from __future__ import annotations

import numpy as np

from ._median import median_in_place

_MAD_TO_SIGMA = 0.6745
_SAMPLES_PER_WINDOW = 1024
#: Samples per window for the raw step noise (:func:`step_window_sigmas`): it only sets
#: the glitch test's noise, where a median of a few hundred is close enough (200 Hz:
#: every sample of a 2-s window all the same), at a quarter of the cost at 2 kHz.
_STEP_SAMPLES_PER_WINDOW = 256


def window_sigmas(filtered: np.ndarray, window: int) -> np.ndarray:
    """Return the robust sigma of each whole window, shape (n_channels, n_windows).

    Parameters
    ----------
    filtered : ndarray, shape (n_channels, n_samples)
        Band-passed (zero-mean) data.
    window : int
        Window length in samples; a trailing partial window is ignored.
    """
    n_ch, n = filtered.shape
    n_win = n // window
    if n_win == 0:
        n_win, window = 1, n
    blocks = filtered[:, : n_win * window].reshape(n_ch, n_win, window)
    stride = max(1, window // _SAMPLES_PER_WINDOW)
    sub = np.abs(blocks[:, :, ::stride])  # a fresh array: partition it in place
    return median_in_place(sub) / _MAD_TO_SIGMA


def channel_sigma(sigmas: np.ndarray, percentile: float) -> np.ndarray:
    """Return one noise sigma per channel from its window sigmas (last axis: windows;
    leading axes, e.g. channels x segments, are kept).

    The quiet floor is the ``percentile`` of the window sigmas; the estimate is the median
    of the windows near that floor (within 30 %), so a recording that is mostly bursts
    still gets its floor while stationary noise is not biased low by a low percentile.
    Windows with a sigma of zero (flat stretches, repaired NaN spans) are ignored.
    """
    import warnings

    if (sigmas > 0).all():  # the usual case: plain (much faster) reductions
        floor = np.percentile(sigmas, percentile, axis=-1)
        near = np.where(sigmas <= 1.3 * floor[..., None], sigmas, np.inf)
        count = (sigmas <= 1.3 * floor[..., None]).sum(axis=-1)
        ordered = np.sort(near, axis=-1)
        lo_i = np.maximum(count - 1, 0) // 2
        hi_i = count // 2
        return 0.5 * (np.take_along_axis(ordered, lo_i[..., None], -1)[..., 0]
                      + np.take_along_axis(ordered, hi_i[..., None], -1)[..., 0])
    masked = np.where(sigmas > 0, sigmas, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        floor = np.nanpercentile(masked, percentile, axis=-1)
        near = np.where(masked <= 1.3 * floor[..., None], masked, np.nan)
        out = np.nanmedian(near, axis=-1)
    return np.nan_to_num(out, nan=0.0)


def segment_floors(window_sigmas_of, n: int, window: int, segment: int,
                   percentile: float) -> np.ndarray:
    """Return each channel's quiet floor per segment of a block's owned part, shape
    (n_channels, n_segments): the floor (:func:`channel_sigma`) of the robust sigmas of
    a segment's noise windows.

    Parameters
    ----------
    window_sigmas_of : callable
        ``window_sigmas_of(i0, i1)`` returns the per-window sigmas, shape (n_channels,
        n_windows), of the owned samples ``i0:i1`` (as :func:`window_sigmas` does).
    n : int
        Owned samples (whole segments but perhaps the last).
    window, segment : int
        Noise window and segment lengths in samples (a segment is whole windows).
    percentile : float
    """
    per_window = window_sigmas_of(0, n)
    k = segment // window
    n_ch, n_w = per_window.shape
    full = n_w // k
    local = channel_sigma(per_window[:, :full * k].reshape(n_ch, full, k), percentile)
    if full * k < n_w or full == 0:  # a last, partial segment
        tail = channel_sigma(per_window[:, full * k:], percentile)
        local = np.concatenate([local, tail[:, None]], axis=1)
    elif n_w * window < n:
        # A last segment shorter than one noise window: judged on its own samples, as a
        # block holding only it would be (block-by-block output equals whole-file output).
        tail = channel_sigma(window_sigmas_of(n_w * window, n), percentile)
        local = np.concatenate([local, tail[:, None]], axis=1)
    return local


def step_window_sigmas(raw: np.ndarray, i0: int, i1: int, window: int) -> np.ndarray:
    """Return the robust sigma of the raw samples' white noise in each whole window of
    ``raw[:, i0:i1]``, shape (n_channels, n_windows), from their second differences
    (which neither a DC offset, nor a slope, nor slow wander enters; sigma =
    median |d2| / 0.6745 / sqrt(6)).

    Computed on a subsample of each window (every k-th sample, at least
    ``_STEP_SAMPLES_PER_WINDOW``), from views of ``raw`` (one array of the subsample's
    size is made); the samples just outside ``i0:i1`` (a block's margins) complete the
    first and last differences, and at the recording's ends the end sample stands in for
    the missing one (a copy of that one window only).
    """
    n = i1 - i0
    n_win = n // window
    if n_win == 0:
        n_win, window = 1, n
    stride = max(1, window // _STEP_SAMPLES_PER_WINDOW)
    n_all = raw.shape[1]
    first = 0 if i0 >= 1 else 1  # windows [first, last) have both outer neighbours
    last = n_win if i0 + n_win * window + 1 <= n_all else n_win - 1
    parts = []
    if first == 1:
        parts.append(_edge_window(raw, i0, window, stride))
    if last > first:
        parts.append(_step_medians(raw, i0 + first * window, last - first, window, stride))
    if last < n_win and (last > 0 or first == 0):
        parts.append(_edge_window(raw, i0 + last * window, window, stride))
    return np.concatenate(parts, axis=1) / (_MAD_TO_SIGMA * np.sqrt(6.0))


def _step_medians(raw, s0, n_win, window, stride):
    """Median |second difference| over the subsample of ``n_win`` windows from ``s0``
    (``raw[:, s0 - 1]`` and the sample after the last window must exist)."""
    span = n_win * window

    def at(offset):
        part = raw[:, s0 + offset:s0 + offset + span]
        return part.reshape(raw.shape[0], n_win, window)[:, :, ::stride]

    d2 = at(-1) + at(1)  # a fresh array: the rest in place
    centre = at(0)
    d2 -= centre
    d2 -= centre
    np.abs(d2, out=d2)
    return median_in_place(d2)


def _edge_window(raw, s0, window, stride):
    """:func:`_step_medians` of one window at a recording's end, its missing outer
    neighbour replaced by the end sample."""
    lo, hi = max(s0 - 1, 0), min(s0 + window + 1, raw.shape[1])
    part = np.pad(raw[:, lo:hi], ((0, 0), (lo - (s0 - 1), (s0 + window + 1) - hi)), mode="edge")
    return _step_medians(part, 1, 1, window, stride)
