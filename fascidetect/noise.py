"""Robust per-channel noise level of band-passed EMG.

sigma = median(|x|) / 0.6745 (Quiroga et al. 2004), computed in windows so that bursts
and spasms do not inflate it, on a subsample of each window because a full-length median
costs more than the whole detector.
"""

from __future__ import annotations

import numpy as np

_MAD_TO_SIGMA = 0.6745
_SAMPLES_PER_WINDOW = 1024


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
    n = sub.shape[-1]
    k = n // 2
    if n % 2:
        sub.partition(k, axis=-1)
        median = sub[..., k]
    else:
        sub.partition((k - 1, k), axis=-1)
        median = 0.5 * (sub[..., k - 1] + sub[..., k])
    return median / _MAD_TO_SIGMA


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
