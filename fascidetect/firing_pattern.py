"""Firing pattern: which discharges belong to a regular (voluntary or tonic) firing train.

Voluntary and postural motor units fire regularly, about 6-20 Hz with an inter-discharge
coefficient of variation (CV) of about 0.1-0.3; fasciculating units fire irregularly and
sparsely (Poisson-like or bursty, mostly well under 1 Hz per unit), with doublets 5-20 ms
apart (domain.md, "Rest, voluntary firing and discharge patterns").

The test is a *chain walk*. From every discharge, and for every interval to one of its
next few discharges of the same group that lies in the firing band, a chain steps forward
one period at a time: the next member is the discharge found near ``m`` periods later
(``m`` = 1, or 2-3 when a discharge of a unit near the noise floor was missed), within a
tolerance that grows as ``sqrt(m)`` like the jitter of ``m`` summed intervals. Discharges
of other units interleaved on the same channel are stepped over, since only the
discharge nearest to the predicted time is taken. A chain whose first ``min_intervals``
steps (or more) exist, have a CV of the period-normalised intervals within ``max_cv``
and a share of missed discharges within ``max_missed_fraction`` marks its members as a
regular train. The walk is vectorised over all discharges and candidate periods at once;
Python loops run over the handful of neighbours and steps only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["regular_trains"]

def regular_trains(times_s, group, *, min_rate_hz: float = 5.0, max_rate_hz: float = 25.0,
                   min_intervals: int = 6, step_tolerance: float = 0.3, max_cv: float = 0.3,
                   max_multiple: int = 3, max_missed_fraction: float = 0.4,
                   max_gap_s: float = 0.45, neighbours: int = 6, max_steps: int = 6,
                   footprint=None, footprint_tolerance=(3.0, 0.15)) -> np.ndarray:
    """Return a mask of the discharges that belong to a regular firing train of their group.

    Parameters
    ----------
    times_s : array-like of float, shape (n,)
        Discharge times, s (any order).
    group : array-like, shape (n,)
        Per-discharge key of the train it may belong to: the motor-unit id where the
        clustering knows it, else the channel. Trains are looked for within a group only.
    min_rate_hz, max_rate_hz : float
        Firing band of a regular train (5-25 Hz brackets the 6-20 Hz of tonic units).
    min_intervals : int
        Fewest successive train intervals (steps, missed discharges included) that make a
        train: 6 steps are 7 discharges, about a second at 6 Hz. Shorter regular runs are
        left alone (a short burst of a fasciculating unit).
    step_tolerance : float
        Largest deviation of a step from ``m`` periods, as a share of ``sqrt(m)`` periods.
    max_cv : float
        Largest coefficient of variation of the period-normalised intervals of a chain.
    max_multiple : int
        Largest step in periods (``max_multiple - 1`` missed discharges in a row).
    max_missed_fraction : float
        Largest share of the chain's periods whose discharge was not detected.
    max_gap_s : float
        Longest step, s, missed discharges included. Without it a chain at a sub-harmonic
        of a fast train (every 4th discharge of a 20-Hz unit is a 5-Hz "train") could step
        over missed periods far beyond the train's end into sparse firing. 0.45 s admits
        one missed discharge at 6 Hz with jitter; it is also well beyond the 250-ms
        isolation interval of Sleutjes et al. 2016.
    neighbours : int
        Following discharges of the group examined at each step (the interleaved
        discharges of other units it may step over, plus one).
    max_steps : int
        Steps walked from each discharge. Equal to ``min_intervals`` by default: every
        marked discharge then lies in a window of that many steps that is regular on its
        own, so a chain cannot carry a train's regularity into sparse firing beyond it;
        a long train is marked by its overlapping chains.
    footprint : array-like of float, shape (n, k) | None
        Per-discharge peak on each of ``k`` channels (noise units; NaN where unknown). When
        given, a step is taken only to a discharge whose footprint is about the current
        member's: on every channel within ``footprint_tolerance`` = (a, r), that is ``a +
        r *`` the larger of the two discharges' largest peaks. A unit's discharges differ
        by noise only; another unit interleaved on the group has another footprint.
        Unknown footprints pass.
    footprint_tolerance : tuple of float
        See ``footprint``.

    Returns
    -------
    ndarray of bool, shape (n,)
        True for members of a regular train, in the order of ``times_s``.

    Notes
    -----
    Interleaved discharges of other units are not marked unless a chain takes one of them
    as a member, which happens only when it falls closer to the predicted time than the
    train's own discharge. A doublet's second discharge (5-20 ms) is below the band and
    is never a step.

    Examples
    --------
    A steady 10-Hz unit and a sparse irregular one on the same channel:

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> steady = 5.0 + np.cumsum(rng.normal(0.1, 0.015, 30))
    >>> sparse = np.sort(rng.uniform(0, 20, 12))
    >>> times = np.concatenate([steady, sparse])
    >>> mask = regular_trains(times, np.zeros(times.size, dtype=int))
    >>> int(mask[:30].sum()), int(mask[30:].sum())
    (30, 0)
    """
    times_s = np.asarray(times_s, dtype=float)
    group = np.asarray(group)
    n = times_s.size
    if group.shape != times_s.shape:
        raise ValueError(f"group has shape {group.shape}, times_s {times_s.shape}: "
                         "give one group key per discharge")
    if not 0 < min_rate_hz < max_rate_hz:
        raise ValueError(f"need 0 < min_rate_hz < max_rate_hz, got {min_rate_hz}, {max_rate_hz}")
    if min_intervals < 2 or max_steps < min_intervals:
        raise ValueError(f"need 2 <= min_intervals <= max_steps, got {min_intervals}, "
                         f"{max_steps}")
    out = np.zeros(n, dtype=bool)
    if n <= min_intervals:
        return out
    order = np.lexsort((times_s, group))
    t = times_s[order]
    _, g = np.unique(group[order], return_inverse=True)
    p_lo, p_hi = 1.0 / max_rate_hz, 1.0 / min_rate_hz

    # Forward chains mark the members they reach; backward chains (the same walk on
    # reversed time) reach a train's first discharges. An anchor itself is not marked:
    # an interleaved discharge of another unit is the anchor of chains that step onto
    # the train, but it is not reached by any chain of the train.
    foot = None
    if footprint is not None:
        foot = np.asarray(footprint)
        foot = foot if np.issubdtype(foot.dtype, np.floating) else foot.astype(float)
        if foot.ndim != 2 or foot.shape[0] != n:
            raise ValueError(f"footprint has shape {foot.shape}: give one row per discharge")
        foot = foot[order]
    args = (p_lo, p_hi, min_intervals, step_tolerance, max_cv, max_multiple,
            max_missed_fraction, max_gap_s, neighbours, max_steps, footprint_tolerance)
    member = _reached(t, g, foot, *args)
    member |= _reached(-t[::-1], g[::-1], None if foot is None else foot[::-1], *args)[::-1]
    out[order] = member
    return out


#: Candidate chains walked at once (bounds the (chains x steps x neighbours) temporaries).
_CHAIN_SLICE = 5_000


def _reached(t, g, foot, p_lo, p_hi, min_intervals, step_tolerance, max_cv, max_multiple,
             max_missed_fraction, max_gap_s, neighbours, max_steps, footprint_tolerance):
    """Return a mask (sorted order) of the discharges reached as members by a forward
    chain that qualifies as a regular train."""
    n = t.size
    member = np.zeros(n, dtype=bool)
    # Candidate chains: an anchor and a period, from its intervals to its next neighbours
    # (a slice of anchors at a time: for a day's candidates and support peaks the
    # (discharges x neighbours) arrays took tens of MB at once, issue 14).
    lag = np.arange(1, neighbours + 1)
    anchors, periods = [], []
    for a in range(0, n, _CHAIN_SLICE):  # loop over slices of anchors
        here = np.arange(a, min(n, a + _CHAIN_SLICE))
        nxt = here[:, None] + lag[None, :]
        ok = nxt < n
        nxt = np.minimum(nxt, n - 1)
        ok &= g[nxt] == g[here, None]
        d = t[nxt] - t[here, None]
        rows, which = np.nonzero(ok & (d >= p_lo) & (d <= p_hi))
        anchors.append(rows + a)
        periods.append(d[rows, which])
    anchor = np.concatenate(anchors) if anchors else np.zeros(0, dtype=np.intp)
    period = np.concatenate(periods) if periods else np.zeros(0)
    del anchors, periods
    for a in range(0, anchor.size, _CHAIN_SLICE):  # slices bound the temporaries
        sl = slice(a, a + _CHAIN_SLICE)
        _walk_chains(t, g, anchor[sl], period[sl], member, lag, p_lo, p_hi, min_intervals,
                     step_tolerance, max_cv, max_multiple, max_missed_fraction, max_gap_s,
                     max_steps, foot, footprint_tolerance)
    return member


def _alike(a, b, tolerance) -> np.ndarray:
    """Return whether footprints ``a`` and ``b`` (last axis: channels) differ on no channel
    by more than ``tolerance[0] + tolerance[1] *`` the larger largest peak; NaN passes."""
    # ``fmax`` skips NaN as ``nanmax`` does (the same maxima), without its NaN copies
    # (issue 14: nanmax was most of this walk's cost on a busy hour).
    with np.errstate(invalid="ignore"):
        top = np.maximum(np.fmax.reduce(a, axis=-1, initial=0.0),
                         np.fmax.reduce(b, axis=-1, initial=0.0))
        diff = np.fmax.reduce(np.abs(a - b), axis=-1, initial=0.0)
    return diff <= tolerance[0] + tolerance[1] * top


def _walk_chains(t, g, anchor, period, member, lag, p_lo, p_hi, min_intervals,
                 step_tolerance, max_cv, max_multiple, max_missed_fraction, max_gap_s,
                 max_steps, foot=None, footprint_tolerance=(3.0, 0.15)):
    """Walk the chains from ``anchor`` at ``period`` and set ``member`` (sorted order) for
    the members of those that qualify."""
    n = t.size
    c = anchor.size
    cur = anchor.copy()
    total = np.zeros(c)  # sum of normalised intervals so far (running period estimate)
    x = np.zeros((c, max_steps))  # period-normalised interval of each step
    mult = np.zeros((c, max_steps))
    members = np.zeros((c, max_steps), dtype=np.int64)
    steps_ok = np.zeros((c, max_steps), dtype=bool)
    live = np.arange(c)  # the chains still alive: only they take the next step
    for s in range(max_steps):  # a handful of steps
        # A chain that broke stays where it is, adds nothing and takes no step (most
        # chains break within a few steps).
        members[:, s] = cur
        here = cur[live]
        p = period[live] if s == 0 else total[live] / s
        nb = here[:, None] + lag[None, :]
        valid = nb < n
        nb = np.minimum(nb, n - 1)
        valid &= g[nb] == g[here][:, None]
        dd = t[nb] - t[here][:, None]
        m = np.rint(dd / p[:, None])
        dev = np.abs(dd - m * p[:, None]) / (np.sqrt(np.maximum(m, 1.0)) * p[:, None])
        good = valid & (m >= 1) & (m <= max_multiple) & (dev <= step_tolerance) \
            & (dd <= max_gap_s)
        if foot is not None:  # compared only where the step is otherwise good
            r, j = np.nonzero(good)
            good[r, j] = _alike(foot[nb[r, j]], foot[here[r]], footprint_tolerance)
        cost = np.where(good, m + dev, np.inf)
        best = np.argmin(cost, axis=1)
        rows = np.arange(live.size)
        found = good[rows, best]
        mm = m[rows, best]
        xx = np.where(found, dd[rows, best] / np.maximum(mm, 1.0), 0.0)
        x[live, s], mult[live, s], steps_ok[live, s] = xx, np.where(found, mm, 0.0), found
        members[live, s] = np.where(found, nb[rows, best], here)
        total[live] = total[live] + xx
        cur = members[:, s]
        live = live[found]
        if live.size == 0:
            break

    # Statistics of every prefix of each chain; a chain qualifies at its longest
    # qualifying prefix of at least min_intervals steps.
    k = np.arange(1, max_steps + 1)
    sx = np.cumsum(x, axis=1)
    sxx = np.cumsum(x * x, axis=1)
    sm = np.cumsum(mult, axis=1)
    mean = sx / k
    var = np.maximum(sxx / k - mean ** 2, 0.0) * k / np.maximum(k - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.sqrt(var) / mean
        missed = (sm - k) / sm
    whole = np.cumprod(steps_ok, axis=1).astype(bool)
    qual = whole & (k >= min_intervals) & (cv <= max_cv) & (missed <= max_missed_fraction) \
        & (mean >= p_lo) & (mean <= p_hi)
    length = np.where(qual.any(axis=1), max_steps - np.argmax(qual[:, ::-1], axis=1), 0)
    hit = length > 0
    if not hit.any():
        return
    within = (k[None, :] <= length[:, None]) & hit[:, None]
    member[members[within]] = True
