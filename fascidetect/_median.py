"""Medians along the last axis, by one selection instead of two.

``np.median`` partitions every row at two or three positions (the two middle order
statistics and the last, for its NaN check). NumPy's partition is several times faster
at one position (its vectorised selection: a row of 316 float64 about 4.5 x, measured on
NumPy 2.4), and the other middle value is then the largest of the lower part. The values
are the same order statistics combined by the same arithmetic, so the results equal
``np.median``'s bit for bit.
"""

from __future__ import annotations

import numpy as np


def median_last_axis(a: np.ndarray, overwrite_input: bool = False) -> np.ndarray:
    """Return ``np.median(a, axis=-1)``, equal bit for bit (a row holding NaN gives NaN).

    Parameters
    ----------
    a : ndarray of float32 or float64, shape (..., n), n >= 1
    overwrite_input : bool
        Partition ``a`` itself (a fresh array the caller does not need again) instead
        of a copy.

    Returns
    -------
    ndarray, shape (...)
    """
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64) or a.ndim == 0 or a.shape[-1] == 0:
        return np.median(a, axis=-1, overwrite_input=overwrite_input)
    if overwrite_input:
        a.partition(a.shape[-1] // 2, axis=-1)
        part = a
    else:
        part = np.partition(a, a.shape[-1] // 2, axis=-1)
    out = median_of_partitioned(part)
    # A NaN sorts after every number, so a row holding one holds it at or after the
    # middle: there the maximum is NaN, and np.median's answer is NaN.
    k = a.shape[-1] // 2
    nan = np.isnan(part[..., k:].max(axis=-1))
    if nan.any():
        out = np.where(nan, np.nan, out).astype(a.dtype, copy=False)
    return out


def median_in_place(a: np.ndarray) -> np.ndarray:
    """Return the median along the last axis of ``a``, partitioning ``a`` in place
    (NaN is not checked: with NaN the middle order statistics are returned, NaN sorting
    last)."""
    a.partition(a.shape[-1] // 2, axis=-1)
    return median_of_partitioned(a)


def median_of_partitioned(part: np.ndarray) -> np.ndarray:
    """Return the median along the last axis of an array partitioned at ``n // 2``."""
    n = part.shape[-1]
    k = n // 2
    if n % 2:
        return part[..., k].copy()
    # The lower middle value is the largest of the part before k. Halved as np.mean
    # halves the two's sum (times 0.5 and over 2 round alike).
    return (part[..., :k].max(axis=-1) + part[..., k]) / 2
