"""The sustained-activity mask, written with runs and slices (issue 14), equals the
index-array formulation it replaced."""

import numpy as np

from fascidetect import episodes
from fascidetect.spans import prefix_counts


def _reference(active, span, fraction):
    """The former ``episodes._sustained_rows`` (one row), kept as the specification."""
    n = active.size
    if n < span:
        return np.zeros(n, dtype=bool)
    a = active[None, :]
    csum = prefix_counts(a)
    need = int(np.ceil(fraction * span - 1e-9))
    hit = (csum[:, span:] - csum[:, :-span]) >= need
    hcs = prefix_counts(hit)
    idx = np.arange(n)
    start, stop = np.clip(idx - span + 1, 0, hit.shape[1]), np.clip(idx + 1, 0, hit.shape[1])
    covered = (hcs[:, stop] - hcs[:, start]) > 0
    k = 8
    lo, hi = np.clip(idx - k // 2, 0, n), np.clip(idx + k // 2 + 1, 0, n)
    dense = 2 * (csum[:, hi] - csum[:, lo]) >= (hi - lo)
    act = (a & dense & covered)[0]
    out = np.zeros(n, dtype=bool)
    run = np.cumsum(~covered[0])
    for i in np.flatnonzero(covered[0]):  # a slow loop: a specification, not the code
        same = run == run[i]
        out[i] = act[: i + 1][same[: i + 1]].any() and act[i:][same[i:]].any()
    return out


def test_sustained_mask_matches_reference():
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 300))
        span = int(rng.integers(1, 50))
        fraction = float(rng.choice([0.3, 0.6, 1.0]))
        p = rng.random()
        row = rng.random(n) < p
        if trial % 2:  # bursts
            row = np.repeat(rng.random(n // 5 + 1) < p, 5)[:n] & (rng.random(n) < 0.8)
        got = episodes.sustained_mask(row[None, :], span, fraction)[0]
        assert np.array_equal(got, _reference(row, span, fraction)), (n, span, fraction)
