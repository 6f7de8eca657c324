"""Fasciculations: what no earlier stage explained, brief and localized at rest."""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from . import Context, decide


def isolation(times: np.ndarray, group_key: np.ndarray, interval_s: float) -> np.ndarray:
    """Return 1 where both intervals to the neighbouring discharges of the same channel or
    unit exceed ``interval_s`` (Sleutjes et al. 2016), else 0.

    Examples
    --------
    >>> isolation(np.array([0.0, 0.1, 1.0]), np.zeros(3, int), 0.25)
    array([0, 0, 1], dtype=int8)
    """
    n = times.size
    out = np.zeros(n, dtype=np.int8)
    if n == 0:
        return out
    order = np.lexsort((times, group_key))
    t, g = times[order], group_key[order]
    gap = np.diff(t)
    same = g[1:] == g[:-1]
    far = ~same | (gap > interval_s)
    prev_far = np.concatenate([[True], far])
    next_far = np.concatenate([far, [True]])
    out[order] = (prev_far & next_far).astype(np.int8)
    return out


def fasciculations(cands: Candidates, ctx: Context):
    """Stage: every candidate still undecided is a fasciculation (reason: isolated or
    sporadic, by :func:`isolation` on its channel)."""
    iso = isolation(cands.times(ctx.sfreq), cands.channel, ctx.params.isolation_interval_s)
    reason = np.where(iso == 1, "isolated_discharge", "sporadic_discharge")
    return decide(len(cands), np.ones(len(cands), dtype=bool), "fasciculation", reason)
