"""What is not rest: recording edges, bad and NaN spans, annotated tasks, episodes.

Candidates there are ``excluded``: not counted, not written as events (an episode row
stands for the discharges inside it).
"""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from ..spans import in_channel_spans, in_spans
from . import Context, choose, decide


def excluded_spans(annotations, duration_s: float, params, nonfinite_spans):
    """Return ``(bad_spans, task_spans)`` from the annotations and NaN stretches.

    Bad spans are the recording's first and last ``edge_guard_s``, annotations starting
    with ``BAD`` or ``EDGE`` and NaN/inf stretches, each widened by ``edge_guard_s``
    (amplifier settling, filter edges). Task spans are annotations with a duration whose
    description contains one of ``voluntary_labels``.
    """
    labels = tuple(lbl.lower() for lbl in params.voluntary_labels)
    guard = params.edge_guard_s
    bad = [(a - guard, b + guard) for a, b in nonfinite_spans]
    bad += [(0.0, guard), (duration_s - guard, duration_s)]
    task = []
    for a in annotations:  # loop over annotations
        desc = a.description.lower()
        span = (a.onset, a.onset + max(a.duration, 0.0))
        if desc.startswith("bad") or desc.startswith("edge"):
            bad.append((span[0] - guard, span[1] + guard))
        elif a.duration > 0 and any(lbl in desc for lbl in labels):
            task.append(span)
    return bad, task


def outside_rest(cands: Candidates, ctx: Context):
    """Stage: candidates in bad spans (of the recording, or of their own channel),
    annotated tasks or episodes are excluded."""
    t = cands.times(ctx.sfreq)
    types = np.asarray(ctx.episode_types, dtype="U16")
    in_spasm = in_spans(t, [s for s, k in zip(ctx.episode_spans, types) if k == "spasm"])
    in_episode = in_spans(t, ctx.episode_spans)
    in_task = in_spans(t, ctx.task_spans)
    bad = in_spans(t, ctx.bad_spans) | in_channel_spans(t, cands.channel, ctx.channel_spans)
    reason = choose([(in_task, "annotated_task"), (in_spasm, "in_spasm"),
                     (in_episode, "in_voluntary_episode")], "outside_rest")
    return decide(len(cands), in_task | in_episode | bad, "excluded", reason)
