"""Classification stages: each decides the label of some candidate discharges.

A stage is a function ``stage(candidates, context) -> (labels, reasons)`` returning two
string arrays as long as the candidate table: a label from
:data:`fascidetect.candidates.LABELS` (``""`` where the stage does not decide) and the
reason (:data:`fascidetect.candidates.REASONS`). Stages only read the table and the
:class:`Context`; :meth:`~fascidetect.candidates.Candidates.apply` keeps the first
decision, so the order of the list in :mod:`fascidetect.pipeline` is the precedence.
See ``docs/architecture.md`` for a worked example of adding one.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np

from .. import _memory
from ..blocks import Geometry
from ..candidates import Candidates, coded
from ..params import DetectionParams


@dataclasses.dataclass
class Context:
    """What stages may read besides the candidate table.

    Attributes
    ----------
    params : DetectionParams
    sfreq : float
    names : list of str
        Analysed EMG channel names (the candidates' ``channel`` indexes them).
    sigma : ndarray
        Each channel's noise floor, V.
    geometry : Geometry
    scan : fascidetect.scan.Scan
        Envelopes, local noise and raw ranges of the whole recording.
    duration_s : float
    bad_spans : list of (float, float)
        Recording edges, ``BAD``/``EDGE`` annotations and NaN stretches (widened by
        ``edge_guard_s``).
    task_spans : list of (float, float)
        Annotated voluntary-task periods.
    motion_spans : list of (float, float)
        Motion artifacts found in the raw ranges.
    episode_spans : list of (float, float)
        Spasm and voluntary episodes (widened by ``episode_margin_s``).
    episode_types : list of str
        ``trial_type`` of each episode span.
    channel_spans : dict of int -> list of (float, float)
        Spans lost on single channels only (NaN stretches widened by ``edge_guard_s``,
        flat stretches): not rest for that channel, the others stay analysed.
    episode_channels : list of set of int
        The channels each episode of ``episode_spans`` held (its ``channels``).
    """

    params: DetectionParams
    sfreq: float
    names: list
    sigma: np.ndarray
    geometry: Geometry
    scan: object
    duration_s: float
    bad_spans: list
    task_spans: list
    motion_spans: list
    episode_spans: list
    episode_types: list
    channel_spans: dict = dataclasses.field(default_factory=dict)
    episode_channels: list = dataclasses.field(default_factory=list)

    @property
    def n_channels(self) -> int:
        return len(self.names)

    @functools.cached_property
    def background_active(self) -> np.ndarray:
        """Rest windows (``geometry.rest_win``) whose background is above the channel's
        noise floor, shape (n_channels, n_windows) (:func:`fascidetect.rest.with_hysteresis`)."""
        from ..rest import with_hysteresis

        band = self.params.band_for(self.sfreq)
        return with_hysteresis(self.scan.rest_ratio, self.scan.rest_threshold,
                               self.params.rest_hysteresis,
                               shape_score=getattr(self.scan, "rest_shape", None),
                               shape_z=self.params.rest_pooled_z(band),
                               noise_joins=0 if self.params.rest_spectral(band)
                               else int(round(self.params.rest_tail_join_s * self.sfreq
                                              / self.geometry.rest_win)))

    @functools.cached_property
    def low_level_windows(self) -> np.ndarray:
        """Rest windows inside low-level firing, shape (n_channels, n_windows): an excess
        of sub-threshold peaks on the channel (:mod:`fascidetect.low_level`)."""
        from ..low_level import low_level_windows

        counts = getattr(self.scan, "rest_subpeaks", None)
        if counts is None:
            return np.zeros((self.n_channels, 0), dtype=bool)
        cands = self.scan.candidates
        w = np.clip(cands.sample // self.geometry.rest_win, 0, counts.shape[1] - 1)
        return low_level_windows(counts, self.geometry.rest_win / self.sfreq,
                                 self.params.band_for(self.sfreq), self.sfreq, self.params,
                                 discharges=(cands.channel, w))

    @functools.cached_property
    def local_noise_rise(self) -> np.ndarray:
        """Each rest window's background over its noise segment's, shape (n_channels,
        n_windows), float32 (:func:`fascidetect.stages.local_noise.local_rise`)."""
        from .local_noise import local_rise

        if getattr(self.scan, "rest_ratio", None) is None:
            return np.ones((self.n_channels, 0), dtype=np.float32)
        return local_rise(self).astype(np.float32)

    @functools.cached_property
    def flat_windows(self) -> np.ndarray:
        """Rest windows in which a channel carries no signal (background under
        ``flat_ratio`` of its floor: a disconnected lead, a dropout filled with zeros)."""
        from ..rest import row_of

        ratio = self.scan.rest_ratio  # read a channel at a time (a temporary file)
        out = np.zeros(ratio.shape, dtype=bool)
        for c in range(ratio.shape[0]):  # loop over channels
            out[c] = np.nan_to_num(row_of(ratio, c), nan=1.0) < self.params.flat_ratio
        return out

    @functools.cached_property
    def isolated(self) -> np.ndarray:
        """Isolation flag of every candidate of the scan (both intervals to its channel's
        neighbours over ``isolation_interval_s``; :func:`.fasciculation.isolation`)."""
        from .fasciculation import isolation

        cands = self.scan.candidates
        return isolation(cands.times(self.sfreq), cands.channel,
                         self.params.isolation_interval_s)

    @property
    def analysed_s(self) -> float:
        """Length covered by the envelope, s (at least 1 s)."""
        return max(1.0, self.scan.subwindows * self.geometry.act_win / self.sfreq)


Stage = Callable[[Candidates, Context], "tuple[np.ndarray, np.ndarray]"]


def run_stages(cands: Candidates, context: Context, stages) -> Candidates:
    """Apply the stages in order to the candidate table and return it, labelled."""
    for stage in stages:
        labels, reasons = stage(cands, context)
        cands.apply(labels, reasons)
        del labels, reasons
        # A day's stage leaves tens of MB of freed candidate-length temporaries inside
        # the heap, resident under the next stage's (issue 14).
        _memory.release()
    return cands


def decide(n: int, rows: np.ndarray, label: str, reason) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, reasons)`` setting ``label`` on ``rows`` (a mask) and nothing else.

    ``reason`` is one string or an array of ``n`` reasons.
    """
    # Object arrays of shared strings (:func:`fascidetect.candidates.coded`): 16 bytes a
    # candidate per stage, where U16 + U24 columns took 160.
    labels = np.full(n, "", dtype=object)
    labels[rows] = label
    reasons = np.full(n, "", dtype=object)
    if isinstance(reason, str):
        reasons[rows] = reason
    else:
        reasons[rows] = np.broadcast_to(coded(reason), (n,))[rows]
    return labels, reasons


def choose(choices, default: str) -> np.ndarray:
    """Return, per row, the string of the first ``(mask, string)`` of ``choices`` whose
    mask is True there, else ``default``: nested ``np.where`` over strings, as an object
    array of shared strings (issue 14: the fixed-width string arrays of nested
    ``np.where`` took 60-80 bytes a candidate each, several at once).
    """
    masks = [np.asarray(m, dtype=bool) for m, _ in choices]
    # ``fill``, not ``np.full``: np.full converts a string to a new object per row (a
    # day's 200,000 copies of a reason stayed in the Python heap as the table's
    # reasons: 16 MB of it, issue 14); ``fill`` and mask assignment share the one.
    out = np.empty(masks[0].shape if masks else (), dtype=object)
    out.fill(default)
    for mask, (_, value) in zip(reversed(masks), reversed(choices)):  # loop over choices
        out[mask] = value
    return out

