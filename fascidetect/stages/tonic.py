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


#: How far before an episode a chain anchored in it can reach, s: ``tonic_min_intervals``
#: (6) steps of at most ``max_gap_s`` (0.45 s) of :func:`fascidetect.firing_pattern.
#: regular_trains`.
_LEAD_S = 3.0


def tonic_firing(cands: Candidates, ctx: Context):
    """Stage: members of regular trains on their main channel are voluntary (reason
    ``tonic_firing``).

    Every candidate that is not an artifact takes part, those already excluded or
    labelled included: a train is made of them all. A small unit's train is also walked
    through the scan's sub-threshold support peaks (:mod:`fascidetect.support`), which
    fill in the discharges the threshold missed.

    An episode's interference pattern has a discharge near every predicted time, so a
    chain anchored inside a spasm or voluntary episode passes for regular. After the
    episode such a chain mostly follows a unit's derecruitment, and its members are
    voluntary; in the ``_LEAD_S`` before it, it walked back over the rest (large
    fasciculations 0.5-1 s before a spasm were labelled tonic firing), so there only the
    trains found without the episode's own discharges count.
    """
    use = (cands.artifact_kind == "") & (cands.label != "artifact")
    rows = _train_members(cands, ctx, use)
    before = rows & _leading_up_to_episodes(cands, ctx)
    if before.any():
        # Trains are walked per channel: only the channels concerned are walked again.
        again = use & ~_inside_episodes(cands, ctx) & np.isin(cands.channel,
                                                               np.unique(cands.channel[before]))
        rows[before] = _train_members(cands, ctx, again)[before]
    return decide(len(cands), rows, "voluntary", "tonic_firing")


def _train_members(cands: Candidates, ctx: Context, use: np.ndarray) -> np.ndarray:
    """Return a mask of the candidates in ``use`` that belong to a regular train of them
    (and of the support peaks)."""
    p = ctx.params
    regular = regular_trains(cands.times(ctx.sfreq)[use], cands.channel[use],
                             min_rate_hz=p.tonic_min_rate_hz, max_rate_hz=p.tonic_max_rate_hz,
                             min_intervals=p.tonic_min_intervals, max_cv=p.tonic_max_cv)
    rows = use.copy()
    rows[use] = regular
    if ctx.scan.support is not None and p.tonic_support_sigma > 0:
        rows |= train_members(cands, ctx.scan.support, use, p, ctx.sfreq, ctx.geometry.dead)
    return rows


def _episode_masks(cands: Candidates, ctx: Context, spans_of) -> np.ndarray:
    """Return a mask of the candidates inside ``spans_of(start, stop)`` (spans of one
    episode, without its margin) of an episode that held their channel."""
    inside = np.zeros(len(cands), dtype=bool)
    if not ctx.episode_spans or not ctx.episode_channels:
        return inside
    margin = ctx.params.episode_margin_s
    t = cands.times(ctx.sfreq)
    for c in np.unique(cands.channel):  # a loop over channels: spans per channel
        spans = [span for (a, b), held in zip(ctx.episode_spans, ctx.episode_channels)
                 if int(c) in held for span in spans_of(a + margin, b - margin)]
        if spans:
            rows = np.flatnonzero(cands.channel == c)
            inside[rows] = in_spans(t[rows], spans)
    return inside


def _inside_episodes(cands: Candidates, ctx: Context) -> np.ndarray:
    """Return a mask of the candidates inside an episode on a channel it held."""
    return _episode_masks(cands, ctx, lambda a, b: [(a, b)])


def _leading_up_to_episodes(cands: Candidates, ctx: Context) -> np.ndarray:
    """Return a mask of the candidates in the ``_LEAD_S`` before an episode on a channel
    it held, and not within ``_LEAD_S`` after another one's end there."""
    lead = _episode_masks(cands, ctx, lambda a, b: [(a - _LEAD_S, a)])
    return lead & ~_episode_masks(cands, ctx, lambda a, b: [(b, b + _LEAD_S)])
