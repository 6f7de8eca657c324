"""Classification of discharges: fasciculation, firing train, or artifact (ECG, motion,
pop, saturation), per the definitions in domain.md."""

from __future__ import annotations

import numpy as np

from .spans import prefix_counts, run_length
from .params import DetectionParams

#: Artifact evidence thresholds (est.). Motion and pops are low-frequency dominated
#: transients; a pop is also a step seen on one channel; clipping leaves flat tops.
MOTION_LF_RATIO = 3.0
POP_STEP_RATIO = 0.5
POP_LF_RATIO = 1.0
SATURATION_FLAT_SAMPLES = 4
#: Beyond any surface fasciculation (domain: ~20-300 µV p2p; needle up to 3.6 mV).
MAX_FASCICULATION_P2P_V = 2e-3
#: Regularity of a heart rhythm: successive intervals within this share of each other.
ECG_RR_TOLERANCE = 0.25
ECG_MIN_BEATS = 4
#: Share of the expected beats that must be found before a rhythm counts as a heart.
ECG_MIN_COVERAGE = 0.5
#: Events closer than this are one heart beat (QRS ~80-120 ms).
ECG_BEAT_S = 0.15
#: Median/max channel amplitude above which an event is evenly spread (common mode).
EVEN_SPREAD = 0.4
#: Above this many channels without a layout, the montage is taken as a dense array.
_MAX_SEPARATE_MUSCLES = 16


def periodic_chain(times: np.ndarray, rr_range: tuple, tolerance: float,
                   min_beats: int) -> np.ndarray:
    """Return a mask of events that sit in a quasi-periodic chain at heart-rate intervals.

    A chain is at least ``min_beats`` events whose successive intervals all lie in
    ``rr_range`` and differ from each other by less than ``tolerance`` (relative).
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


def classify_artifacts(features: dict, spread: np.ndarray, n_channels: int,
                       snr: np.ndarray, times: np.ndarray, main_channel: np.ndarray,
                       params: DetectionParams) -> np.ndarray:
    """Return the artifact kind of each discharge ('' when it is not an artifact).

    Parameters
    ----------
    features : dict
        Output of :func:`features.waveform_features` and :func:`features.artifact_features`
        merged (``p2p``, ``lf_ratio``, ``step_ratio``, ``flat_top``).
    spread : ndarray of int
        Channels each discharge is seen on.
    n_channels : int
        EMG channels analysed.
    snr, times, main_channel : ndarray
        Peak SNR, peak time in s, main channel index.
    params : DetectionParams
    """
    n = times.size
    kind = np.full(n, "", dtype="U16")
    if n == 0:
        return kind
    big = snr >= params.artifact_sigma
    # ECG: quasi-periodic beats of events common to most channels at once (seen on many
    # channels, or evenly spread); with fewer than three channels "common" cannot be
    # judged, so a longer regular chain is required.
    even = features["evenness"] >= EVEN_SPREAD
    if n_channels >= 3:
        common = (spread >= max(3, int(np.ceil(params.ecg_min_channel_fraction * n_channels)))) \
            | (even & (spread >= 2))
        min_beats = ECG_MIN_BEATS
    else:
        common = np.ones(n, dtype=bool)
        min_beats = ECG_MIN_BEATS + 2
    ecg = np.zeros(n, dtype=bool)
    span_s = float(times.max() - times.min()) if n > 1 else 0.0
    idx = np.flatnonzero(common)
    ecg[idx] = _periodic_beats(times[idx], params.ecg_rr_range_s, min_beats, span_s=span_s)
    # ECG seen on a few channels only: regular heart-rate chains on one main channel.
    for c in np.unique(main_channel):  # loop over channels
        idx = np.flatnonzero((main_channel == c) & ~ecg)
        ecg[idx] |= _periodic_beats(times[idx], params.ecg_rr_range_s, ECG_MIN_BEATS + 2,
                                    tolerance=ECG_RR_TOLERANCE / 2, span_s=span_s)
    kind[ecg] = "ecg"
    # The other artifacts, on what the heart rhythm does not explain.
    free = kind == ""
    wide = spread >= max(2, int(np.ceil(0.5 * n_channels)))
    lf = features["lf_ratio"]
    kind[free & (lf >= MOTION_LF_RATIO) & (big | wide)] = "motion"
    pop = (spread <= 1) & (features["step_ratio"] >= POP_STEP_RATIO) & (lf >= POP_LF_RATIO)
    kind[free & pop] = "pop"
    kind[free & (features["p2p"] > MAX_FASCICULATION_P2P_V)] = "large"
    kind[free & (features["flat_top"] >= SATURATION_FLAT_SAMPLES) & big] = "saturation"
    # Only for a few separate muscles: on a dense grid one unit's footprint is wide.
    if params.layout is None and 4 <= n_channels <= _MAX_SEPARATE_MUSCLES:
        widespread = (spread >= max(3, int(np.ceil(params.widespread_fraction * n_channels)))) \
            & even
        kind[widespread & (kind == "")] = "widespread"
    return kind


def _periodic_beats(times: np.ndarray, rr_range: tuple, min_beats: int,
                    tolerance: float = ECG_RR_TOLERANCE, span_s: float = 0.0) -> np.ndarray:
    """Return a mask of events belonging to quasi-periodic beats.

    Events closer than ``ECG_BEAT_S`` form one beat (a QRS complex can cross the
    threshold several times); beats are timed by their first event. A heart beats all
    the time: when the periodic beats cover less than ``ECG_MIN_COVERAGE`` of the beats
    expected over ``span_s`` at their own rhythm, the chains are chance alignments of
    irregular discharges (a busy fasciculating unit), not a heart.
    """
    n = times.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    new_beat = np.concatenate([[True], np.diff(times) > ECG_BEAT_S])
    beat_id = np.cumsum(new_beat) - 1
    beat_times = times[new_beat]
    periodic = periodic_chain(beat_times, rr_range, tolerance, min_beats)
    if span_s > 0 and periodic.any():
        chained = beat_times[periodic]
        rr = np.diff(chained)
        rr = rr[(rr >= rr_range[0]) & (rr <= rr_range[1])]
        if rr.size == 0 or periodic.sum() < ECG_MIN_COVERAGE * span_s / np.median(rr):
            return np.zeros(n, dtype=bool)
    return periodic[beat_id]


def in_ongoing_activity(samples: np.ndarray, main_channel: np.ndarray, active: np.ndarray,
                        window: int, params: DetectionParams, sfreq: float) -> np.ndarray:
    """Return a mask of discharges surrounded by ongoing activity on their channel.

    Parameters
    ----------
    samples, main_channel : ndarray of int
        Peak sample and main channel of each discharge.
    active : ndarray of bool, shape (n_channels, n_subwindows)
        Envelope sub-windows above the activity level (artifact sub-windows removed).
    window : int
        Sub-window length in samples.
    params : DetectionParams
    sfreq : float
    """
    n_sub = active.shape[1]
    if samples.size == 0 or n_sub == 0:
        return np.zeros(samples.size, dtype=bool)
    k = int(round(params.isolation_interval_s * sfreq / window))
    csum = prefix_counts(active)
    sub = np.clip(samples // window, 0, n_sub - 1)
    lo = np.clip(sub - k, 0, n_sub)
    hi = np.clip(sub + k + 1, 0, n_sub)
    count = csum[main_channel, hi] - csum[main_channel, lo]
    return count >= params.burst_active_windows


def firing_clusters(times: np.ndarray, main_channel: np.ndarray, params: DetectionParams,
                    analysed_s: float, ignore: np.ndarray | None = None) -> np.ndarray:
    """Return a mask of discharges in clusters too dense for sporadic firing.

    Fasciculations are sporadic: on each channel their count in any window of
    2 x ``isolation_interval_s`` follows a Poisson law at the channel's own mean rate.
    A discharge whose window holds more discharges than that law allows (tail
    probability under ``cluster_p_value``) belongs to a firing train or burst
    (voluntary or cramp firing), not to a fasciculation. The test adapts to each
    channel's rate, so busy but random channels are not penalised.

    Parameters
    ----------
    times, main_channel : ndarray
        Peak time (s) and main channel of each discharge.
    params : DetectionParams
    analysed_s : float
        Length of the analysed recording, s.
    ignore : ndarray of bool | None
        Discharges that take no part (artifacts).
    """
    from scipy.stats import poisson

    n = times.size
    out = np.zeros(n, dtype=bool)
    use = np.ones(n, dtype=bool) if ignore is None else ~ignore
    if use.sum() == 0:
        return out
    idx = np.flatnonzero(use)
    order = idx[np.lexsort((times[idx], main_channel[idx]))]
    t, c = times[order], main_channel[order]
    # Put channels far apart on one time axis so one searchsorted serves all of them.
    key = t + c * (10.0 * max(analysed_s, t.max(initial=0.0)) + 10.0)
    half = params.isolation_interval_s
    count = np.searchsorted(key, key + half, side="right") - \
        np.searchsorted(key, key - half, side="left")
    # A channel busier than any sporadic fasciculation rate is firing continually: judge
    # its windows against the highest plausible fasciculation rate instead.
    rate = np.minimum(_background_rate(t, c, analysed_s)[c],
                      params.max_fasciculation_rate_per_min / 60.0)
    lam = rate * 2 * half
    dense = poisson.sf(count - 1, lam) < params.cluster_p_value
    # Every member of a dense window is part of the cluster.
    start = np.searchsorted(key, key - half, side="left")
    stop = np.searchsorted(key, key + half, side="right")
    marks = np.zeros(key.size + 1, dtype=int)
    np.add.at(marks, start[dense], 1)
    np.add.at(marks, stop[dense], -1)
    member = np.cumsum(marks)[:-1] > 0
    out[order] = member
    return out


#: Bins of the background-rate estimate, s, and the share of the busiest bins left out.
_RATE_BIN_S = 10.0
_RATE_TRIM = 0.25


def _background_rate(t: np.ndarray, c: np.ndarray, analysed_s: float) -> np.ndarray:
    """Return each channel's sporadic discharge rate (per s), robust to bursts.

    The mean over the recording counts the bursts themselves, which then look ordinary
    against it; the mean over 10-s bins leaving out the busiest quarter does not, and
    equals about the mean for sporadic (Poisson) firing. It is kept above a quarter of
    the plain mean so that a truly irregular channel is not judged against nothing.
    """
    n_ch = int(c.max()) + 1 if c.size else 0
    mean = np.bincount(c, minlength=n_ch) / analysed_s
    n_bins = int(analysed_s // _RATE_BIN_S)
    if n_bins < 3:  # too short to tell bursts from the background
        return mean
    counts = np.zeros((n_ch, n_bins))
    np.add.at(counts, (c, np.minimum((t // _RATE_BIN_S).astype(int), n_bins - 1)), 1)
    counts.sort(axis=1)
    keep = max(1, int(round(n_bins * (1.0 - _RATE_TRIM))))
    trimmed = counts[:, :keep].mean(axis=1) / _RATE_BIN_S
    return np.maximum(trimmed, 0.25 * mean)


def near_members(times: np.ndarray, channel: np.ndarray, members: np.ndarray,
                 within_s: float) -> np.ndarray:
    """Return a mask of discharges within ``within_s`` of a member on the same channel."""
    out = np.zeros(times.size, dtype=bool)
    for ch in np.unique(channel[members]):  # loop over channels with members
        ref = np.sort(times[members & (channel == ch)])
        on = np.flatnonzero(channel == ch)
        pos = np.searchsorted(ref, times[on])
        before = np.abs(times[on] - ref[np.clip(pos - 1, 0, ref.size - 1)])
        after = np.abs(ref[np.clip(pos, 0, ref.size - 1)] - times[on])
        out[on] = np.minimum(before, after) <= within_s
    return out


def isolation(times: np.ndarray, group_key: np.ndarray, interval_s: float) -> np.ndarray:
    """Return 1 where both intervals to the neighbouring discharges of the same channel or
    unit exceed ``interval_s`` (Sleutjes et al. 2016), else 0."""
    n = times.size
    out = np.zeros(n, dtype=np.int8)
    if n == 0:
        return out
    order = np.lexsort((times, group_key))
    t, g = times[order], group_key[order]
    gap = np.diff(t)
    same = g[1:] == g[:-1]
    far = ~same | (gap > interval_s)
    prev_far = np.concatenate([[True], far])
    next_far = np.concatenate([far, [True]])
    out[order] = (prev_far & next_far).astype(np.int8)
    return out
