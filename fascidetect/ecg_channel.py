"""Heart beats under the detection threshold on one or two channels.

A QRS at about the threshold on one channel (a lumbar or gluteal electrode near the
heart) crosses it on one beat in a few: the crossings are too sparse for the rhythm
tests of :mod:`fascidetect.stages.artifacts` (any interval is near some multiple of any
RR interval), so they would pass for fasciculations. When the ordinary ECG model
(:func:`fascidetect.ecg.model_from_candidates`) finds no heart, a channel with many
beat-like candidates has their average beat slid over it (a matched filter): the beats
under the threshold match too. Only a wide average beat (a QRS, not a motor unit
potential) whose matches form a dense heart rhythm times an ECG model, which the
second scan subtracts as any ECG, so a fasciculation on a beat stays.
"""

from __future__ import annotations

import numpy as np

from .ecg import (
    _MAX_TEMPLATE_BEATS,
    EcgModel,
    _fill_gaps,
    build_model,
    heart_channels_only,
)
from .params import DetectionParams

#: Beat-like candidates a channel needs before its beats are searched for.
MIN_SEEDS = 10
#: ... and per minute: a QRS at the threshold crosses it on one beat in 5-6 (10-15 per
#: minute); a channel with a beat-like discharge a minute is not searched (the search
#: reads the whole recording once more).
MIN_SEEDS_PER_MIN = 2.0
#: A matched-filter peak is a beat from this many robust sigmas of the filter's output.
PEAK_SIGMAS = 4.0
#: An average beat is at least this wide (s) where it exceeds 30 % of its peak: a
#: band-passed QRS is 65-90 ms wide (both simulators), a motor unit potential 4-12 ms
#: (neuropathic ones up to about 20); a steady unit firing at a heart rate is no heart.
MIN_BEAT_WIDTH_S = 0.04
#: Blocks the channel is searched in (bounded memory).
BLOCK_S = 60.0


def beat_width_s(template: np.ndarray, sfreq: float, share: float = 0.3) -> float:
    """Return the time (s) from the first to the last sample of ``template`` at or over
    ``share`` of its largest absolute value.

    Examples
    --------
    >>> round(beat_width_s(np.array([0.0, 0.2, 1.0, -0.5, 0.1]), 1000.0), 4)
    0.002
    """
    mag = np.abs(template)
    over = np.flatnonzero(mag >= share * mag.max()) if mag.size and mag.max() > 0 else []
    return float((over[-1] - over[0] + 1) / sfreq) if len(over) else 0.0


def channel_beats(read_filtered, channel: int, seeds: np.ndarray, n_samples: int,
                  sfreq: float, params: DetectionParams) -> np.ndarray:
    """Return the beat samples of a dense heart rhythm on ``channel`` (empty if none).

    One channel's :func:`search_channels`.

    Parameters
    ----------
    read_filtered : callable
        ``read_filtered(lo, hi) -> ndarray (n_channels, hi - lo)`` of band-passed data.
    channel : int
        Index of the channel searched.
    seeds : ndarray of int
        Samples of the beat-like candidates on that channel (template seeds).
    n_samples : int
        Length of the recording.
    sfreq : float
    params : DetectionParams

    Returns
    -------
    ndarray of int
        Sorted beat samples, on the matched filter's peak (the average beat's anchor).
    """
    found = search_channels(read_filtered, {channel: seeds}, n_samples, sfreq, params)
    return found.get(channel, np.zeros(0, np.int64))


def search_channels(read_filtered, seeds: dict, n_samples: int, sfreq: float,
                    params: DetectionParams) -> dict:
    """Return ``{channel: beat samples}`` of the channels with a dense heart rhythm.

    Each channel's average beat (at its seeds; none narrower than
    :data:`MIN_BEAT_WIDTH_S`) is slid over it: peaks of :data:`PEAK_SIGMAS` robust
    sigmas of the filter's output, with the average beat's shape (normalised correlation
    of at least ``ecg_match_min_corr``) and size (gain in ``ecg_gain_range``), at least
    half the shortest RR interval apart, are the beats. They must form long regular
    chains (``ecg_channel_min_beats``, tolerance ``ecg_rr_tolerance / 2``) covering
    ``ecg_min_coverage`` of the beats expected over the recording; the chains' gaps are
    filled with the best weaker match near each expected beat, as for the ordinary model.

    Parameters
    ----------
    read_filtered : callable
        ``read_filtered(lo, hi) -> ndarray (n_channels, hi - lo)`` of band-passed data;
        the recording is read once, block by block, for all channels searched.
    seeds : dict
        ``{channel: samples of its beat-like candidates}`` (fewer than
        :data:`MIN_SEEDS`: not searched).
    n_samples : int
        Length of the recording.
    sfreq : float
    params : DetectionParams

    Returns
    -------
    dict
        ``{channel: sorted beat samples}``, only channels with a rhythm.
    """
    from scipy.signal import fftconvolve, find_peaks

    from .stages.artifacts import periodic_beats

    cores, core = {}, None
    for c, s in seeds.items():  # a loop over the channels searched (templates)
        if s.size < MIN_SEEDS:
            continue
        model = build_model(lambda lo, hi, c=c: read_filtered(lo, hi)[c:c + 1], np.sort(s),
                            n_samples, sfreq, params)
        if model is None or beat_width_s(model.template[0], sfreq) < MIN_BEAT_WIDTH_S:
            continue
        core = min(int(round(params.ecg_match_core_s * sfreq)), model.half)
        tmpl = model.template[0, model.half - core:model.half + core + 1]
        if np.any(tmpl):
            cores[c] = tmpl
    if not cores:
        return {}
    length = 2 * core + 1
    # Half the shortest RR interval: a tonic unit's train (6-20 Hz) thinned by the peak
    # picking stays under the heart-rate range instead of posing as a rhythm.
    distance = max(1, int(0.5 * params.ecg_rr_range_s[0] * sfreq))
    block = int(BLOCK_S * sfreq)
    found, weak = {c: [] for c in cores}, {c: [] for c in cores}
    for lo in range(0, n_samples, block):  # a loop over 60-s blocks
        hi = min(n_samples, lo + block)
        a, b = max(0, lo - core), min(n_samples, hi + core)
        if b - a < length:
            continue
        x = read_filtered(a, b)
        for c, tmpl in cores.items():  # a loop over the channels searched
            xc = np.asarray(x[c], dtype=np.float64)  # the cache's are float32
            score = fftconvolve(xc, tmpl[::-1], mode="valid")
            spread = 1.4826 * np.median(np.abs(score - np.median(score)))
            if spread <= 0:
                continue
            # A beat has the average beat's shape (normalised correlation of at least
            # ``ecg_match_min_corr``) and size (gain in ``ecg_gain_range``), as for the
            # ordinary model: a fasciculation between beats would break the chains.
            norm2 = float(np.sum(tmpl * tmpl))
            energy = np.concatenate([[0.0], np.cumsum(xc * xc)])
            energy = np.maximum(energy[length:] - energy[:-length], np.finfo(float).tiny)
            corr = score / np.sqrt(norm2 * energy)
            gain = score / norm2
            in_gain = (gain >= params.ecg_gain_range[0]) & (gain <= params.ecg_gain_range[1])
            shaped = (corr >= params.ecg_match_min_corr) & in_gain
            # Weaker matches (half the correlation, any height) are kept to fill the
            # rhythm's gaps below, as the ordinary model does.
            weakly = (corr >= 0.5 * params.ecg_match_min_corr) & in_gain
            for mask, height, store in ((shaped, PEAK_SIGMAS * spread, found),
                                        (weakly, np.finfo(float).tiny, weak)):
                peaks, _ = find_peaks(np.where(mask, score, 0.0), height=height,
                                      distance=distance)
                centre = a + core + peaks
                keep = (centre >= lo) & (centre < hi)
                store[c].append((centre[keep], corr[peaks[keep]]))
    out = {}
    for c, parts in found.items():  # a loop over the channels searched
        if not parts:
            continue
        beats = np.concatenate([p[0] for p in parts])
        # A dense rhythm: long regular chains (the channel test's length and tolerance)
        # covering at least ``ecg_min_coverage`` of the beats expected at their own rate.
        rhythm = periodic_beats(beats / sfreq, params, params.ecg_channel_min_beats,
                                tolerance=params.ecg_rr_tolerance / 2,
                                span_s=n_samples / sfreq)
        if not rhythm.any():
            continue
        chained = beats[rhythm]
        # Beats the chains miss (a fasciculation on the QRS, a beat under the peak
        # height, a chain broken by a missed beat): the best weaker match near each
        # expected time in the rhythm's gaps, as for the ordinary model.
        others = np.concatenate([p[0] for p in weak[c]])
        others_corr = np.concatenate([p[1] for p in weak[c]])
        rr = float(np.median(np.diff(chained)))
        out[c] = _fill_gaps(chained, others, others_corr, rr)
    return out


def channel_rhythms(cands, read_filtered, n_channels: int, n_samples: int, sfreq: float,
                    params: DetectionParams) -> dict:
    """Return ``{channel: beat samples}`` of the channels with a dense heart rhythm.

    A channel is searched (:func:`search_channels`) when at least :data:`MIN_SEEDS`, and
    :data:`MIN_SEEDS_PER_MIN` a minute, of its candidates are beat-like (``lf_ratio`` of
    at least ``ecg_min_lf_ratio``, no artifact evidence yet).
    """
    if len(cands) == 0:
        return {}
    beat_like = (cands.features["lf_ratio"] >= params.ecg_min_lf_ratio) \
        & (cands.artifact_kind == "")
    seeds = {c: cands.sample[(cands.channel == c) & beat_like] for c in range(n_channels)}
    least = max(MIN_SEEDS, MIN_SEEDS_PER_MIN * n_samples / sfreq / 60.0)
    seeds = {c: s for c, s in seeds.items() if s.size >= least}
    return search_channels(read_filtered, seeds, n_samples, sfreq, params)


def model_from_channels(cands, read_filtered, n_channels: int, n_samples: int, sfreq: float,
                        params: DetectionParams):
    """Return an ECG subtraction model from the densest one-channel rhythm, else None.

    The beats found under the threshold (:func:`channel_rhythms`) time the average beat
    of every channel (median window, re-anchored within 2 ms at subtraction), which the
    second scan subtracts: the QRS crossings go, a fasciculation on a beat stays.
    Channels whose average beat is under :data:`fascidetect.ecg.TEMPLATE_SIGMAS` of the
    median's own noise get nothing subtracted.

    Parameters
    ----------
    cands : Candidates
        The first scan's candidates, with their ``artifact_kind`` evidence.
    read_filtered : callable
        ``read_filtered(lo, hi)`` -> band-passed samples (see :func:`search_channels`).
    n_channels, n_samples : int
    sfreq : float
    params : DetectionParams

    Returns
    -------
    EcgModel or None
    """
    rhythms = channel_rhythms(cands, read_filtered, n_channels, n_samples, sfreq, params)
    if not rhythms:
        return None
    beats = np.sort(max(rhythms.values(), key=len))
    half = int(round(params.ecg_half_window_s * sfreq))
    usable = beats[(beats - half >= 0) & (beats + half < n_samples)]
    if usable.size < params.ecg_model_min_beats:
        return None
    # The beats are aligned on the one channel's matched filter already: the average of
    # every channel is taken there, not re-anchored on the summed deflection of all
    # channels (noise on all but one, which smears the template).
    pick = usable[np.linspace(0, usable.size - 1, min(usable.size, _MAX_TEMPLATE_BEATS))
                  .astype(int)]
    windows = np.stack([read_filtered(b - half, b + half + 1) for b in pick])
    # Channels where the average beat is no larger than the median's own noise get
    # nothing subtracted: the noise template would only add noise at every beat.
    template = heart_channels_only(windows, np.median(windows, axis=0))
    return EcgModel(beats=beats, template=template, half=half,
                    search=max(1, int(0.002 * sfreq)), gain_range=tuple(params.ecg_gain_range))
