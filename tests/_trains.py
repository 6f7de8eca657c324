"""Simulated discharge trains with known truth (shared by the firing-pattern tests)."""

from __future__ import annotations

import numpy as np


def poisson_train(rate_per_min: float, duration_s: float, rng) -> np.ndarray:
    """Return sorted Poisson discharge times, s."""
    n = rng.poisson(rate_per_min / 60.0 * duration_s)
    return np.sort(rng.uniform(0.0, duration_s, n))


def bursty_train(rate_per_min: float, duration_s: float, rng, doublet_share: float = 0.3,
                 burst_share: float = 0.15) -> np.ndarray:
    """Return a fasciculating unit's times: Poisson onsets, some doublets (5-20 ms) and
    some irregular bursts (2-5 extra discharges 5-150 ms apart, exponential intervals)."""
    onsets = poisson_train(rate_per_min, duration_s, rng)
    kind = rng.uniform(size=onsets.size)
    parts = [onsets]
    dbl = onsets[kind < doublet_share]
    parts.append(dbl + rng.uniform(0.005, 0.020, dbl.size))
    burst = onsets[(kind >= doublet_share) & (kind < doublet_share + burst_share)]
    for b in burst:  # test generator: a handful of bursts
        k = rng.integers(2, 6)
        gaps = np.clip(rng.exponential(0.05, k), 0.005, 0.15)
        parts.append(b + np.cumsum(gaps))
    t = np.sort(np.concatenate(parts))
    return t[(t >= 0) & (t < duration_s)]


def regular_train(rate_hz: float, cv: float, missed: float, start_s: float, stop_s: float,
                  rng) -> np.ndarray:
    """Return a steady unit's detected discharge times: gamma-like intervals of mean
    1/rate_hz and CV ``cv``, each discharge missed with probability ``missed``."""
    n = int((stop_s - start_s) * rate_hz * 1.5) + 10
    iv = np.clip(rng.normal(1.0 / rate_hz, cv / rate_hz, n), 0.2 / rate_hz, None)
    t = start_s + np.cumsum(iv)
    t = t[t < stop_s]
    return t[rng.uniform(size=t.size) >= missed]
