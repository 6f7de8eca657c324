"""Footprint: on a declared grid, a small threshold crossing that the neighbouring
electrodes do not see is noise, not a motor-unit potential (:mod:`fascidetect.footprint`)."""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from . import Context, decide


def no_footprint(cands: Candidates, ctx: Context):
    """Stage: grid candidates under ``footprint_max_sigma`` found by the threshold (not by
    template matching) whose footprint test gives p above ``footprint_p_value`` are
    excluded (reason ``no_footprint``). Candidates with no neighbour to test (p NaN: all
    its neighbours flat or dead) are not judged."""
    p = ctx.params
    support = cands.features.get("footprint_p")
    if support is None or p.footprint_p_value <= 0:
        return decide(len(cands), np.zeros(len(cands), dtype=bool), "excluded", "no_footprint")
    # NaN: no usable neighbour (all flat or dead), so no evidence either way: not judged.
    tested = np.isfinite(support)
    rows = tested & (support > p.footprint_p_value) & (cands.snr < p.footprint_max_sigma) \
        & np.isnan(cands.match_score)
    return decide(len(cands), rows, "excluded", "no_footprint")
