"""Is the muscle at rest? Discharges where their channel's background is above its noise
floor (low-level holding activity, an interference pattern) are voluntary, not
fasciculations: a muscle is at rest only where its background is at the floor."""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from . import Context, decide


def background_activity(cands: Candidates, ctx: Context):
    """Stage: candidates in an active rest window of their main channel are voluntary
    (reason ``not_at_rest``)."""
    active = ctx.background_active
    if active.shape[1] == 0 or len(cands) == 0:
        return decide(len(cands), np.zeros(len(cands), dtype=bool), "voluntary", "not_at_rest")
    # Judged over the window holding the discharge and, within rest_guard_s of its edges,
    # the neighbouring one: the grid must not cut a burst or a derecruitment tail off.
    guard = int(round(ctx.params.rest_guard_s * ctx.sfreq))
    busy = np.zeros(len(cands), dtype=bool)
    for shift in (-guard, 0, guard):  # a handful of shifts
        w = np.clip((cands.sample + shift) // ctx.geometry.rest_win, 0, active.shape[1] - 1)
        busy |= active[cands.channel, w]
    return decide(len(cands), busy, "voluntary", "not_at_rest")


def low_level_firing(cands: Candidates, ctx: Context):
    """Stage: small candidates (under ``tonic_support_max_sigma``) in a window of low-level
    firing on their main channel are voluntary (reason ``low_level_firing``): the
    threshold crossings of tonic units 2-5 times the noise, too sparse for a train.
    Larger discharges there still count: another, irregular unit (issue 11, item 1)."""
    low = ctx.low_level_windows
    if low.shape[1] == 0 or len(cands) == 0 or not low.any():
        return decide(len(cands), np.zeros(len(cands), dtype=bool), "voluntary",
                      "low_level_firing")
    # As for the background: the window holding the discharge and, within rest_guard_s
    # of its edges, the neighbouring one (a stretch's first and last discharges).
    guard = round(ctx.params.rest_guard_s * ctx.sfreq)
    inside = np.zeros(len(cands), dtype=bool)
    for shift in (-guard, 0, guard):  # a handful of shifts
        w = np.clip((cands.sample + shift) // ctx.geometry.rest_win, 0, low.shape[1] - 1)
        inside |= low[cands.channel, w]
    small = cands.snr < ctx.params.tonic_support_max_sigma
    return decide(len(cands), small & inside, "voluntary", "low_level_firing")


def busy_windows(cands: Candidates, ctx: Context) -> np.ndarray:
    """Return the rest windows that are not rest, per channel: an active background, or
    a discharge labelled voluntary on the channel (a firing train there is not rest,
    however quiet the background between its discharges, as in needle EMG)."""
    busy = ctx.background_active.copy()
    if busy.shape[1] == 0:
        return busy
    vol = cands.label == "voluntary"
    w = np.clip(cands.sample[vol] // ctx.geometry.rest_win, 0, busy.shape[1] - 1)
    busy[cands.channel[vol], w] = True
    return busy
