"""Artifacts: ECG, motion, electrode pops, saturation, oversized and widespread events.

:func:`artifact_evidence` judges every candidate before any label is set (the ECG
rhythm and the firing-train test look at all of them); the stages :func:`motion` and
:func:`artifacts` turn the evidence into labels.
"""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from ..glitches import lone_samples
from ..params import DetectionParams
from ..spans import in_spans, run_length
from . import Context, decide


def artifact_evidence(cands: Candidates, n_channels: int, sfreq: float,
                      params: DetectionParams, channel_rhythm: bool = True,
                      neighbourhood=None) -> np.ndarray:
    """Return the artifact kind of each candidate ('' when it is not an artifact).

    ECG: quasi-periodic beats at heart-rate intervals of events common to most channels
    (or regular chains on one channel); motion: low-frequency dominated and large or
    widespread; pop: a low-frequency step on one channel; large: beyond
    ``max_fasciculation_p2p_uv``; saturation: flat tops; widespread: evenly large on most
    of 4-16 separate muscles. ``channel_rhythm=False`` leaves out the long heart
    rhythms of single channels (:func:`channel_heart_rhythm`).

    On a declared montage (``neighbourhood``; :mod:`fascidetect.neighbours`) "common"
    counts every channel with a peak at the same instant (``common_spread``), since a
    discharge no longer spans muscles, and the ``widespread`` test applies only to
    declared separate muscles (4 up to ``max_separate_muscles`` of them, counted with
    ``common_muscles``): the spread over an array's electrodes is a unit's footprint.
    """
    times = cands.times(sfreq)
    snr = cands.snr
    spread = cands.features.get("common_spread", cands.spread)
    f = cands.features
    n = times.size
    kind = np.full(n, "", dtype=object)  # shared strings (candidates.coded)
    if n == 0:
        return kind
    big = snr >= params.artifact_sigma
    # ECG: quasi-periodic beats of events common to most channels at once (seen on many
    # channels, or evenly spread); with fewer than three channels "common" cannot be
    # judged, so a longer regular chain is required.
    even = f["evenness"] >= params.even_spread
    if n_channels >= 3:
        common = (spread >= max(3, int(np.ceil(params.ecg_min_channel_fraction * n_channels)))) \
            | (even & (spread >= 2))
        min_beats = params.ecg_min_beats
    else:
        common = np.ones(n, dtype=bool)
        min_beats = params.ecg_min_beats + 2
    ecg = np.zeros(n, dtype=bool)
    span_s = float(times.max() - times.min()) if n > 1 else 0.0
    idx = np.flatnonzero(common)
    ecg[idx] = periodic_beats(times[idx], params, min_beats, span_s=span_s)
    # ECG seen on a few channels only (the usual case at gluteal, paraspinal and thigh
    # sites): short regular heart-rate chains on one main channel (residues of beats the
    # subtraction left), and long heart rhythms with beats under the threshold bridged.
    for c in np.unique(cands.channel):  # loop over channels
        idx = np.flatnonzero((cands.channel == c) & ~ecg)
        ecg[idx] |= periodic_beats(times[idx], params, params.ecg_min_beats + 2,
                                   tolerance=params.ecg_rr_tolerance / 2, span_s=span_s)
    if channel_rhythm:
        # Only beat-like discharges take part: a QRS complex and its P and T waves put
        # most of a 200-ms raw window's energy below the EMG band; a motor-unit
        # potential firing near the heart rate does not.
        beat_like = f["lf_ratio"] >= params.ecg_min_lf_ratio
        idx = np.flatnonzero(beat_like)
        ecg[idx] |= channel_heart_rhythm(times[idx], cands.channel[idx], params, span_s)
    kind[ecg] = "ecg"
    # The other artifacts, on what the heart rhythm does not explain.
    free = kind == ""
    wide = spread >= max(2, int(np.ceil(0.5 * n_channels)))
    lf = f["lf_ratio"]
    kind[free & (lf >= params.motion_lf_ratio) & (big | wide)] = "motion"
    pop = (spread <= 1) & (f["step_ratio"] >= params.pop_step_ratio) & (lf >= params.pop_lf_ratio)
    if "jump_ratio" in f:
        # A step at the event, not a baseline that only travels far over the window.
        pop &= f["jump_ratio"] >= params.pop_jump_ratio
    kind[free & pop] = "pop"
    if "spike_neighbour_ratio" in f:
        kind[(kind == "") & lone_samples(f, cands.channel, params)] = "glitch"
    limit_uv = params.needle_max_p2p_uv if params.electrode == "needle" \
        else params.max_fasciculation_p2p_uv
    kind[free & (f["p2p"] > limit_uv * 1e-6)] = "large"
    kind[free & (f["flat_top"] >= params.saturation_flat_samples) & big] = "saturation"
    # Only for a few separate muscles: on a dense grid one unit's footprint is wide.
    units, n_units = _separate_muscles(cands, n_channels, params, neighbourhood)
    if 4 <= n_units <= params.max_separate_muscles:
        widespread = (units >= max(3, int(np.ceil(params.widespread_fraction * n_units)))) & even
        kind[widespread & (kind == "")] = "widespread"
    return kind


def _separate_muscles(cands: Candidates, n_channels: int, params: DetectionParams,
                      neighbourhood) -> tuple[np.ndarray, int]:
    """Return, per candidate, how many separate muscles it is seen on at once, and how
    many the montage has (0: no separate muscles, the ``widespread`` test is off)."""
    if neighbourhood is None or not neighbourhood.declared:
        # Undeclared: without a layout the channels are taken as separate muscles.
        return cands.spread, (n_channels if params.layout is None else 0)
    if neighbourhood.n_muscles == 0:  # an array, no muscles named
        return cands.spread, 0
    return cands.features.get("common_muscles", cands.spread), neighbourhood.n_muscles


def channel_heart_rhythm(times: np.ndarray, channel: np.ndarray, params: DetectionParams,
                         span_s: float) -> np.ndarray:
    """Return a mask of discharges in a heart rhythm on their channel.

    A chain of at least ``ecg_channel_min_beats`` discharges at heart-rate intervals
    (``ecg_rr_range_s``) as regular as a heart (interval CV within ``ecg_channel_max_cv``;
    up to three beats in a row under the threshold are bridged), on a channel whose chained
    discharges cover at least ``ecg_channel_min_coverage`` of the beats expected over the
    recording: a heart beats all the time, a fasciculating unit lines up by chance now and
    then.
    """
    from ..firing_pattern import regular_trains

    rr_lo, rr_hi = params.ecg_rr_range_s
    n_int = params.ecg_channel_min_beats - 1
    member = regular_trains(times, channel, min_rate_hz=1.0 / rr_hi, max_rate_hz=1.0 / rr_lo,
                            min_intervals=n_int, max_steps=n_int,
                            step_tolerance=params.ecg_rr_tolerance / 2,
                            max_cv=params.ecg_channel_max_cv, max_multiple=4,
                            max_missed_fraction=0.5, max_gap_s=4 * rr_hi)
    if span_s <= 0 or not member.any():
        return member
    for c in np.unique(channel[member]):  # loop over channels with a rhythm
        on = member & (channel == c)
        rr = np.diff(np.sort(times[on]))
        rr = rr[(rr >= rr_lo) & (rr <= rr_hi)]
        if rr.size == 0 or on.sum() < params.ecg_channel_min_coverage * span_s / np.median(rr):
            member[on] = False
    return member


def periodic_chain(times: np.ndarray, rr_range: tuple, tolerance: float,
                   min_beats: int) -> np.ndarray:
    """Return a mask of events that sit in a quasi-periodic chain at heart-rate intervals.

    A chain is at least ``min_beats`` events whose successive intervals all lie in
    ``rr_range`` and differ from each other by less than ``tolerance`` (relative).

    Examples
    --------
    >>> t = np.array([0.0, 0.8, 1.6, 2.4, 3.2, 5.0])
    >>> periodic_chain(t, (0.4, 1.5), 0.25, 4)
    array([ True,  True,  True,  True,  True, False])
    """
    n = times.size
    if n < min_beats:
        return np.zeros(n, dtype=bool)
    d = np.diff(times)
    in_range = (d >= rr_range[0]) & (d <= rr_range[1])
    # An interval is regular if it matches the previous or the next one.
    similar = np.zeros(d.size, dtype=bool)
    close = np.abs(d[1:] - d[:-1]) <= tolerance * np.minimum(d[1:], d[:-1])
    similar[1:] |= close
    similar[:-1] |= close
    good = in_range & similar
    runs = run_length(good)
    chain_interval = runs >= (min_beats - 1)
    member = np.zeros(n, dtype=bool)
    member[:-1] |= chain_interval
    member[1:] |= chain_interval
    return member


def periodic_beats(times: np.ndarray, params: DetectionParams, min_beats: int,
                   tolerance: float | None = None, span_s: float = 0.0) -> np.ndarray:
    """Return a mask of events (sorted times, s) belonging to quasi-periodic heart beats.

    Events closer than ``ecg_beat_s`` form one beat (a QRS complex can cross the
    threshold several times); beats are timed by their first event. A heart beats all
    the time: when the periodic beats cover less than ``ecg_min_coverage`` of the beats
    expected over ``span_s`` at their own rhythm, the chains are chance alignments of
    irregular discharges (a busy fasciculating unit), not a heart.
    """
    tolerance = params.ecg_rr_tolerance if tolerance is None else tolerance
    rr_range = params.ecg_rr_range_s
    n = times.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    new_beat = np.concatenate([[True], np.diff(times) > params.ecg_beat_s])
    beat_id = np.cumsum(new_beat) - 1
    beat_times = times[new_beat]
    periodic = periodic_chain(beat_times, rr_range, tolerance, min_beats)
    if span_s > 0 and periodic.any():
        chained = beat_times[periodic]
        rr = np.diff(chained)
        rr = rr[(rr >= rr_range[0]) & (rr <= rr_range[1])]
        if rr.size == 0 or periodic.sum() < params.ecg_min_coverage * span_s / np.median(rr):
            return np.zeros(n, dtype=bool)
    return periodic[beat_id]


def motion(cands: Candidates, ctx: Context):
    """Stage: candidates inside motion spans are artifacts (their own kind, else motion).

    They are kept as events even where the span is excluded from rest, so a user sees
    what the motion swept away.
    """
    inside = in_spans(cands.times(ctx.sfreq), ctx.motion_spans)
    kind = cands.artifact_kind.copy()  # shared strings (np.where would copy "motion" per row)
    kind[kind == ""] = "motion"
    return decide(len(cands), inside, "artifact", kind)


def artifacts(cands: Candidates, ctx: Context):
    """Stage: candidates with artifact evidence are artifacts (reason: the kind)."""
    return decide(len(cands), cands.artifact_kind != "", "artifact", cands.artifact_kind)
