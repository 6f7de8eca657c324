"""Parameter ranges: a number or a ``(low, high)`` pair, and draws from them."""

from __future__ import annotations

from typing import Any

import numpy as np

Range = Any  # a number or a (low, high) pair; a value is drawn uniformly in the pair


def _pair(value) -> tuple[float, float]:
    if value is None:
        return (0.0, 0.0)
    if np.isscalar(value):
        return (float(value), float(value))
    lo, hi = value
    return (float(lo), float(hi))


def _draw(rng: np.random.Generator, value, size=None):
    lo, hi = _pair(value)
    return rng.uniform(lo, hi, size) if hi > lo else (np.full(size, lo) if size is not None else lo)


def _draw_int(rng: np.random.Generator, value) -> int:
    lo, hi = _pair(value)
    return int(rng.integers(int(round(lo)), int(round(hi)) + 1))
