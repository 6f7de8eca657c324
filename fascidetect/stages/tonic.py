"""Tonic firing: discharges in a regular train (about 6-20 Hz, CV 0.1-0.3) are a
voluntary or postural motor unit, even when it is the only unit and barely above the
noise; fasciculating units fire irregularly and sparsely."""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from ..firing_pattern import regular_trains
from ..spans import in_spans
from ..support import train_members
from . import Context, decide


def tonic_firing(cands: Candidates, ctx: Context):
    """Stage: members of regular trains on their main channel are voluntary (reason
    ``tonic_firing``).

    Every candidate that is not an artifact takes part, those already excluded or
    labelled included: a train is made of them all. Only the discharges inside a spasm
    or voluntary episode on a channel it held do not: an interference pattern has a
    discharge near every predicted time, so any chain anchored there looks regular. A small unit's train is also walked
    through the scan's sub-threshold support peaks (:mod:`fascidetect.support`), which
    fill in the discharges the threshold missed.
    """
    p = ctx.params
    use = (cands.artifact_kind == "") & (cands.label != "artifact")
    # Not the discharges inside a spasm or voluntary episode on a channel it holds: an
    # interference pattern has a discharge near every predicted time, so a chain anchored
    # there passes for regular and walks out over the rest beside it (large
    # fasciculations 0.5-1 s before a spasm were labelled tonic firing).
    use &= ~_inside_episodes(cands, ctx)
    regular = regular_trains(cands.times(ctx.sfreq)[use], cands.channel[use],
                             min_rate_hz=p.tonic_min_rate_hz, max_rate_hz=p.tonic_max_rate_hz,
                             min_intervals=p.tonic_min_intervals, max_cv=p.tonic_max_cv)
    rows = use.copy()
    rows[use] = regular
    if ctx.scan.support is not None and p.tonic_support_sigma > 0:
        rows |= train_members(cands, ctx.scan.support, use, p, ctx.sfreq, ctx.geometry.dead)
    return decide(len(cands), rows, "voluntary", "tonic_firing")


def _inside_episodes(cands: Candidates, ctx: Context) -> np.ndarray:
    """Return a mask of the candidates inside an episode (without its margin) on a
    channel the episode held."""
    inside = np.zeros(len(cands), dtype=bool)
    if not ctx.episode_spans or not ctx.episode_channels:
        return inside
    margin = ctx.params.episode_margin_s
    t = cands.times(ctx.sfreq)
    for c in np.unique(cands.channel):  # a loop over channels: spans per channel
        spans = [(a + margin, b - margin) for (a, b), held
                 in zip(ctx.episode_spans, ctx.episode_channels) if int(c) in held]
        if spans:
            rows = np.flatnonzero(cands.channel == c)
            inside[rows] = in_spans(t[rows], spans)
    return inside
