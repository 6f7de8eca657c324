"""Tonic firing: discharges in a regular train (about 6-20 Hz, CV 0.1-0.3) are a
voluntary or postural motor unit, even when it is the only unit and barely above the
noise; fasciculating units fire irregularly and sparsely."""

from __future__ import annotations

from ..candidates import Candidates
from ..firing_pattern import regular_trains
from ..support import train_members
from . import Context, decide


def tonic_firing(cands: Candidates, ctx: Context):
    """Stage: members of regular trains on their main channel are voluntary (reason
    ``tonic_firing``).

    Every candidate that is not an artifact takes part, those already excluded or
    labelled included: a train is made of them all. A small unit's train is also walked
    through the scan's sub-threshold support peaks (:mod:`fascidetect.support`), which
    fill in the discharges the threshold missed.
    """
    p = ctx.params
    use = (cands.artifact_kind == "") & (cands.label != "artifact")
    regular = regular_trains(cands.times(ctx.sfreq)[use], cands.channel[use],
                             min_rate_hz=p.tonic_min_rate_hz, max_rate_hz=p.tonic_max_rate_hz,
                             min_intervals=p.tonic_min_intervals, max_cv=p.tonic_max_cv)
    rows = use.copy()
    rows[use] = regular
    if ctx.scan.support is not None and p.tonic_support_sigma > 0:
        rows |= train_members(cands, ctx.scan.support, use, p, ctx.sfreq, ctx.geometry.dead)
    return decide(len(cands), rows, "voluntary", "tonic_firing")
