"""Derecruitment tails: as a contraction or spasm fades, its last motor units go on
discharging for a while (slowing trains at about 5-8 Hz, over about 0.5-2 s) after the
sustained activity has ended; those discharges are voluntary, not fasciculations.

The tail is followed on each channel of the episode from its end through the channel's
own evidence of firing, not over a fixed margin: its candidates (of any label but
artifact, those inside the episode included) and its sub-threshold support peaks
(:mod:`fascidetect.support`), chained while successive ones are at most
``derecruitment_gap_s`` apart (a derecruiting unit's interval, plus its jitter), and
never beyond ``derecruitment_max_s``. The tail ends where the channel falls silent, i.e.
where it is back at its floor; a channel that was quiet when the episode ended has no
tail.
"""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from . import Context, decide


def tail_ends(marks: np.ndarray, ends: np.ndarray, gap_s: float, max_s: float) -> np.ndarray:
    """Return where the tail after each end reaches through sorted ``marks``.

    A tail starts at an end and steps to the next mark while it lies at most ``gap_s``
    on; it stops at the last mark reached, never beyond ``max_s`` after the end. An end
    with no mark within ``gap_s`` after it has no tail (its own time is returned).

    Parameters
    ----------
    marks : ndarray of float
        Times of a channel's firing evidence, s, sorted.
    ends : ndarray of float
        Times at which episodes end, s.
    gap_s, max_s : float

    Examples
    --------
    >>> marks = np.array([9.9, 10.1, 10.25, 10.4, 11.5])
    >>> tail_ends(marks, np.array([10.0, 11.0]), 0.25, 2.0).tolist()
    [10.4, 11.0]
    """
    ends = np.asarray(ends, dtype=float)
    out = ends.copy()
    if marks.size == 0 or ends.size == 0:
        return out
    # The last mark of the run of close marks holding each mark.
    breaks = np.flatnonzero(np.diff(marks) > gap_s)
    run_last = np.append(breaks, marks.size - 1)
    last = marks[run_last[np.searchsorted(run_last, np.arange(marks.size))]]
    i = np.searchsorted(marks, ends, side="right")
    ok = i < marks.size
    first = np.where(ok, marks[np.minimum(i, marks.size - 1)], np.inf)
    ok &= first - ends <= gap_s
    reach = np.minimum(last[np.minimum(i, marks.size - 1)], ends + max_s)
    out[ok] = reach[ok]
    return out


def derecruitment(cands: Candidates, ctx: Context):
    """Stage: candidates in the derecruitment tail of an episode on a channel the episode
    held are voluntary (reason ``derecruitment``)."""
    p = ctx.params
    n = len(cands)
    rows = np.zeros(n, dtype=bool)
    if n == 0 or not ctx.episode_spans or p.derecruitment_max_s <= 0:
        return decide(n, rows, "voluntary", "derecruitment")
    ends = np.array([b for _, b in ctx.episode_spans]) - p.episode_margin_s
    held = ctx.episode_channels
    t = cands.times(ctx.sfreq)
    evidence = (cands.artifact_kind == "") & (cands.label != "artifact")
    support = ctx.scan.support
    for c in range(ctx.n_channels):  # loop over channels
        mine = [k for k, chans in enumerate(held) if c in chans]
        if not mine:
            continue
        on = np.flatnonzero(cands.channel == c)
        on = on[np.argsort(t[on], kind="stable")]
        marks = t[on[evidence[on]]]
        if support is not None and len(support):
            marks = np.sort(np.concatenate([marks,
                                            support.sample[support.channel == c] / ctx.sfreq]))
        e = ends[mine]
        reach = tail_ends(marks, e, p.derecruitment_gap_s, p.derecruitment_max_s)
        tail = reach > e
        # The channel's candidates in (end, reach] of any tail: counts of tails opened
        # minus closed before each candidate, on the sorted times.
        lo = np.searchsorted(t[on], e[tail], side="right")
        hi = np.searchsorted(t[on], reach[tail], side="right")
        step = np.zeros(on.size + 1, dtype=np.int64)
        np.add.at(step, lo, 1)
        np.add.at(step, hi, -1)
        rows[on[np.cumsum(step[:-1]) > 0]] = True
    return decide(n, rows, "voluntary", "derecruitment")
