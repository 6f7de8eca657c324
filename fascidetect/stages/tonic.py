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
    if p.tonic_copy_ratio > 0:
        rows |= _copied_train_members(cands, ctx, use)
    if ctx.scan.support is not None and p.tonic_support_sigma > 0:
        rows |= train_members(cands, ctx.scan.support, use, p, ctx.sfreq, ctx.geometry.dead)
    return rows


#: Half width of the window around a snippet's centre where each channel's peak is read, ms.
_PEAK_HALF_MS = 4.0


def _copied_train_members(cands: Candidates, ctx: Context, use: np.ndarray) -> np.ndarray:
    """Return a mask of the candidates in ``use`` that belong to a regular train of the
    discharges about as large on some channel as on their main one.

    A unit whose potential is about equal on two neighbouring channels has the main
    channel of its discharges alternate between them with the noise, so neither
    channel's own candidates hold its whole train (independent simulator: 8-10-sigma
    tonic units' discharges reported on the neighbour of their main channel, tonic30).
    Here each channel's train is walked through its own candidates and copies of those
    whose peak there is at least ``tonic_copy_ratio`` of their main channel's peak
    (held snippets, in noise-floor units). Only discharges of about the same size on
    the channel are copied, so a large fasciculation on a neighbour does not join a
    small unit's train (copies of every discharge seen on a channel swallowed true ones),
    and the walk steps only between discharges of about the same footprint (the peaks on
    every channel; :func:`fascidetect.firing_pattern.regular_trains`): a fasciculating
    unit reaching the channel beside a tonic one is another footprint (independent
    simulator exploration seeds: without it 27 true fasciculations were taken, with
    it 1).
    """
    p = ctx.params
    out = np.zeros(len(cands), dtype=bool)
    snippets = getattr(ctx.scan, "snippets", None)
    held = np.flatnonzero(use & (cands.snip_row >= 0))
    if snippets is None or held.size == 0 or snippets.shape[1] < 2:
        return out
    peak = _channel_peaks(snippets, cands.snip_row[held], ctx.sfreq)
    own = peak[np.arange(held.size), cands.channel[held]]
    # A snippet whose largest peak is not on its own main channel holds another, larger
    # discharge beside it (a derecruiting unit 11 ms after a 13-sigma fasciculation took
    # its copy into that unit's train, project derecruitment seed 0): no copies.
    alone = (own >= _OWN_SHARE * peak.max(axis=1)) & (own > 0)
    about = (peak >= p.tonic_copy_ratio * own[:, None]) & alone[:, None]
    about[np.arange(held.size), cands.channel[held]] = False  # the original is walked
    src, ch = np.nonzero(about)
    if src.size == 0:
        return out
    # Only the channels that receive copies are walked again.
    rows = np.flatnonzero(use & np.isin(cands.channel, np.unique(ch)))
    t = cands.times(ctx.sfreq)
    times = np.concatenate([t[rows], t[held[src]]])
    group = np.concatenate([cands.channel[rows], ch])
    foot = np.full((rows.size + src.size, peak.shape[1]), np.nan, dtype=np.float32)
    at = np.searchsorted(held, rows)
    snipped = (at < held.size) & (held[np.minimum(at, held.size - 1)] == rows)
    foot[:rows.size][snipped] = peak[at[snipped]]
    foot[rows.size:] = peak[src]
    regular = regular_trains(times, group, min_rate_hz=p.tonic_min_rate_hz,
                             max_rate_hz=p.tonic_max_rate_hz,
                             min_intervals=p.tonic_min_intervals, max_cv=p.tonic_max_cv,
                             footprint=foot)
    out[rows] = regular[:rows.size]
    out[held[src[regular[rows.size:]]]] = True
    return out


#: Share of a snippet's largest peak its main channel's must reach for copies.
_OWN_SHARE = 0.9

#: Held snippets read at a time (bounds the float32 copy: 64 channels at 2 kHz, 16 MB).
_SNIPPET_ROWS = 1000


def _channel_peaks(snippets, snip_rows: np.ndarray, sfreq: float) -> np.ndarray:
    """Return each held snippet's absolute peak per channel within ``_PEAK_HALF_MS`` of
    its centre, float32, shape (n, n_channels) (noise-floor units, as the snippets)."""
    w = snippets.shape[2]
    half = max(1, int(round(_PEAK_HALF_MS * sfreq / 1000.0)))
    window = slice(max(0, w // 2 - half), min(w, w // 2 + half + 1))
    peak = np.empty((snip_rows.size, snippets.shape[1]), dtype=np.float32)
    for a in range(0, snip_rows.size, _SNIPPET_ROWS):  # slices bound the copy
        part = np.asarray(snippets[snip_rows[a:a + _SNIPPET_ROWS]])[:, :, window]
        peak[a:a + _SNIPPET_ROWS] = np.abs(part.astype(np.float32)).max(axis=2)
    return peak


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
