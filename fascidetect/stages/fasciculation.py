"""Fasciculations: what no earlier stage explained, brief and localized at rest."""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from . import Context, choose, decide


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
    reason = choose([(ctx.isolated == 1, "isolated_discharge")], "sporadic_discharge")
    return decide(len(cands), np.ones(len(cands), dtype=bool), "fasciculation", reason)


def doublets(cands: Candidates, sfreq: float, params) -> tuple[np.ndarray, np.ndarray]:
    """Return, per candidate, the doublet flag and the interval (ms) to the discharge it
    doubles.

    A fasciculation is the later discharge of a doublet (or multiplet) when the previous
    fasciculation on its channel came at most ``doublet_max_ms`` before it with a peak of
    the same polarity within ``doublet_amplitude_ratio`` of its own: the same unit firing
    again (pathological fasciculations do this often; Kleine et al. 2012). The dead time
    (``dead_time_ms``) bounds the shortest interval seen.

    Examples
    --------
    >>> from fascidetect.params import DetectionParams
    >>> c = Candidates(sample=np.array([0, 30, 2000]), centre=np.array([0, 30, 2000]),
    ...                channel=np.zeros(3, int), channels=np.ones((3, 1), bool),
    ...                amplitude=np.array([1.0, 0.8, 1.0]), snr=np.ones(3), features={},
    ...                snip_row=np.full(3, -1))
    >>> c.label[:] = "fasciculation"
    >>> flag, gap = doublets(c, 2000.0, DetectionParams())
    >>> flag.tolist(), float(gap[1])
    ([0, 1, 0], 15.0)
    """
    n = len(cands)
    flag = np.zeros(n, dtype=np.int8)
    gap_ms = np.full(n, np.nan)
    fasc = np.flatnonzero(cands.label == "fasciculation")
    if fasc.size < 2:
        return flag, gap_ms
    order = fasc[np.lexsort((cands.sample[fasc], cands.channel[fasc]))]
    prev, cur = order[:-1], order[1:]
    interval = (cands.sample[cur] - cands.sample[prev]) * 1000.0 / sfreq
    a, b = cands.amplitude[prev], cands.amplitude[cur]
    ratio = np.abs(b) / np.maximum(np.abs(a), np.finfo(float).tiny)
    pair = ((cands.channel[cur] == cands.channel[prev]) & (interval <= params.doublet_max_ms)
            & (np.sign(a) == np.sign(b)) & (ratio <= params.doublet_amplitude_ratio)
            & (ratio >= 1.0 / params.doublet_amplitude_ratio))
    flag[cur[pair]] = 1
    gap_ms[cur[pair]] = interval[pair]
    return flag, gap_ms
