"""ECG removal by template subtraction.

Each heart beat leaves a QRS complex on the EMG channels that can cross the threshold
several times (its lobes, on whichever channel is largest). Classifying every crossing is
fragile; subtracting a per-channel average beat, scaled to each beat, removes them at
the source and leaves the fasciculations that overlap a beat intact. This is the usual
remedy for ECG-contaminated trunk EMG (template subtraction; cf. Drake & Callaghan 2006).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .params import DetectionParams

#: Beats averaged into the template (a uniform sample of the beats beyond that).
_MAX_TEMPLATE_BEATS = 80
#: Length of the blocks the beat search reads (bounded memory on long recordings).
_MATCH_BLOCK_S = 60.0
#: A channel's average beat is subtracted from this many noise sigmas of the median.
TEMPLATE_SIGMAS = 5.0
#: Re-anchoring passes of the beats on their average (it stops when no beat moves).
_ALIGN_PASSES = 4
#: Samples further than this many robust sigmas from the first fit are left out of the
#: second (a discharge on the beat, not the beat's own noise).
_REFIT_SIGMAS = 4.0


@dataclasses.dataclass(frozen=True)
class EcgModel:
    """Average beat per channel and the approximate beat samples to subtract it at."""

    beats: np.ndarray      # approximate beat samples (absolute)
    template: np.ndarray   # (n_channels, 2 * half + 1), filtered, aligned on its anchor
    half: int
    search: int
    gain_range: tuple = (0.3, 2.0)


def _anchor(window_abs_sum: np.ndarray) -> np.ndarray:
    """Return the index of the largest summed absolute deflection per row."""
    return np.argmax(window_abs_sum, axis=-1)


def build_model(read_filtered, beat_samples: np.ndarray, n_samples: int,
                sfreq: float, params: DetectionParams | None = None) -> EcgModel | None:
    """Return the ECG model from filtered windows around the detected beats.

    Parameters
    ----------
    read_filtered : callable
        ``read_filtered(lo, hi) -> ndarray (n_channels, hi - lo)`` of band-passed data.
    beat_samples : ndarray of int
        Approximate sample of each beat.
    n_samples : int
        Length of the recording.
    sfreq : float
    params : DetectionParams | None
        Uses ``ecg_model_min_beats``, ``ecg_half_window_s``, ``ecg_search_s`` and
        ``ecg_gain_range``.
    """
    params = params or DetectionParams()
    if beat_samples.size < params.ecg_model_min_beats:
        return None
    half = int(round(params.ecg_half_window_s * sfreq))
    search = int(round(params.ecg_search_s * sfreq))
    span = half + search
    usable = beat_samples[(beat_samples - span >= 0) & (beat_samples + span < n_samples)]
    if usable.size < params.ecg_model_min_beats:
        return None
    pick = usable[np.linspace(0, usable.size - 1, min(usable.size, _MAX_TEMPLATE_BEATS))
                  .astype(int)]
    windows = np.stack([read_filtered(b - span, b + span + 1) for b in pick])  # few beats
    # Anchor each beat on its largest summed deflection, average, then re-anchor every
    # beat on the average by cross-correlation (the largest lobe can differ beat to beat).
    offs = _anchor(np.abs(windows[:, :, half:half + 2 * search + 1]).sum(axis=1))
    template = np.median(_cut(windows, offs, half), axis=0)
    # Re-anchoring until the beats stop moving: on a QRS with lobes of about the same
    # size, the first anchors fall on different lobes and their median smears the
    # template; each pass pulls more of them onto the majority's lobe.
    for _ in range(_ALIGN_PASSES):  # a few passes over at most 80 beats
        new = _best_lags(windows, template, search) + search
        template = np.median(_cut(windows, new, half), axis=0)
        if np.array_equal(new, offs):
            break
        offs = new
    template = heart_channels_only(_cut(windows, offs, half), template)
    return EcgModel(beats=np.sort(beat_samples), template=template, half=half, search=search,
                    gain_range=tuple(params.ecg_gain_range))


def heart_channels_only(aligned: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Return ``template`` with the channels the heart does not reach set to zero.

    A channel's average beat under :data:`TEMPLATE_SIGMAS` of the median's own noise
    (about 1.25 sigma / sqrt(beats)) is noise: subtracting it would add noise at every
    beat, and matching it would weigh the channel's noise against the beats.

    Parameters
    ----------
    aligned : ndarray, shape (n_beats, n_channels, n_times)
        The beats' windows, aligned as ``template`` was averaged.
    template : ndarray, shape (n_channels, n_times)
    """
    sigma = 1.4826 * np.median(np.abs(aligned - template), axis=(0, 2))
    noise = 1.25 * sigma / np.sqrt(aligned.shape[0])
    out = template.copy()
    out[np.max(np.abs(template), axis=1) < TEMPLATE_SIGMAS * noise] = 0.0
    return out


def _cut(windows: np.ndarray, offs: np.ndarray, half: int) -> np.ndarray:
    """Return ``windows[..., off:off + 2*half + 1]`` for each beat's own offset."""
    idx = offs[:, None] + np.arange(2 * half + 1)[None, :]
    idx = np.broadcast_to(idx[:, None, :], (windows.shape[0], windows.shape[1], idx.shape[1]))
    return np.take_along_axis(windows, idx, axis=2)


def _best_lags(windows: np.ndarray, template: np.ndarray, search: int) -> np.ndarray:
    """Return, per beat, the lag in ``[-search, search]`` that best matches the template.

    ``windows`` are (n_beats, n_channels, 2*(half+search)+1) centred on the beat guess.
    """
    length = template.shape[-1]
    scores = np.empty((windows.shape[0], 2 * search + 1))
    for k in range(2 * search + 1):  # a loop over lags, not samples
        scores[:, k] = np.einsum("bcl,cl->b", windows[:, :, k:k + length], template)
    return np.argmax(scores, axis=1) - search


def subtract(filt: np.ndarray, lo: int, model: EcgModel) -> None:
    """Subtract the scaled template at every beat inside the block ``filt`` (in place).

    ``filt`` holds samples ``[lo, lo + filt.shape[1])``; beats are re-anchored on the
    block's own data so the result does not depend on how the recording was cut.
    """
    n_ch, n = filt.shape
    h, s = model.half, model.search
    b = model.beats - lo
    b = b[(b - h - s >= 0) & (b + h + s < n)]
    if b.size == 0:
        return
    # Re-anchor on the template by cross-correlation within +/- search of each beat.
    span = np.arange(-h - s, h + s + 1)
    windows = np.moveaxis(filt[:, b[:, None] + span[None, :]], 0, 1)   # (beats, ch, 2(h+s)+1)
    anchors = np.unique(b + _best_lags(windows, model.template, s))
    pos = anchors[:, None] + np.arange(-h, h + 1)[None, :]          # (n_beats, L)
    segs = filt[:, pos]                                              # (n_ch, n_beats, L)
    # Fit gain * template + shift * derivative per channel and beat: the derivative term
    # absorbs the sub-sample misalignment that would leave a QRS-sized residual.
    t = model.template[:, None, :]
    d = np.gradient(model.template, axis=-1)[:, None, :]
    gain, shift = _fit_beats(segs, t, d, model.gain_range)
    # Refit without the samples the first fit left far off (a fasciculation on the beat
    # pulls a least-squares gain aside, and the QRS it leaves passes as a discharge).
    resid = segs - gain[..., None] * t - shift[..., None] * d
    spread = 1.4826 * np.median(np.abs(resid), axis=-1, keepdims=True)
    weight = (np.abs(resid) <= _REFIT_SIGMAS * spread).astype(float)
    gain, shift = _fit_beats(segs, t, d, model.gain_range, weight)
    # Beats are >= 0.4 s apart and windows 0.24 s long: no overlap, plain assignment.
    filt[:, pos] = segs - gain[..., None] * t - shift[..., None] * d


def _fit_beats(segs, t, d, gain_range, weight=None):
    """Return the (weighted) least-squares gain and shift of ``t`` and ``d`` per beat."""
    w = 1.0 if weight is None else weight
    tt, dd, td = (w * t * t).sum(-1), (w * d * d).sum(-1), (w * t * d).sum(-1)
    xt, xd = (w * segs * t).sum(-1), (w * segs * d).sum(-1)
    det = tt * dd - td * td
    ok = det > np.finfo(float).tiny * np.maximum(tt * dd, np.finfo(float).tiny)
    safe = np.where(ok, det, 1.0)
    gain = np.where(ok, (xt * dd - xd * td) / safe, xt / np.maximum(tt, np.finfo(float).tiny))
    shift = np.where(ok, (xd * tt - xt * td) / safe, 0.0)
    # Gain within physiological limits; the shift term at most one sample's worth.
    gain = np.clip(gain, *gain_range)
    return gain, np.clip(shift, -gain, gain)


def beat_samples(samples: np.ndarray, snr: np.ndarray, is_ecg: np.ndarray,
                 beat_gap: int) -> np.ndarray:
    """Return one sample per heart beat: the largest ECG-classified event of each beat.

    Parameters
    ----------
    samples, snr : ndarray
        Peak sample and SNR of every detected event (sorted by sample).
    is_ecg : ndarray of bool
        Events classified as ECG.
    beat_gap : int
        Events closer than this many samples belong to one beat.
    """
    s, q = samples[is_ecg], snr[is_ecg]
    if s.size == 0:
        return s
    order = np.argsort(s, kind="stable")
    s, q = s[order], q[order]
    beat = np.cumsum(np.concatenate([[True], np.diff(s) > beat_gap])) - 1
    best = np.lexsort((-q, beat))
    first = np.concatenate([[True], beat[best][1:] != beat[best][:-1]])
    return s[best[first]]


def model_from_candidates(cands, read_filtered, n_channels: int, n_samples: int, sfreq: float,
                          params: DetectionParams) -> EcgModel | None:
    """Return an ECG template model when a first pass found a heart rhythm, else None.

    Parameters
    ----------
    cands : Candidates
        The first pass's candidates, with their ``artifact_kind`` evidence.
    read_filtered : callable
        ``read_filtered(lo, hi)`` -> band-passed samples (see :func:`build_model`).
    n_channels, n_samples : int
    sfreq : float
    params : DetectionParams
    """
    from .stages.artifacts import artifact_evidence

    # Beats seen on many channels (or in short regular chains) come first; a long rhythm
    # on one or two channels adds the beats they miss, but none near one already there
    # (it bridges gaps with whatever discharge falls near the predicted time).
    gap = int(params.ecg_beat_s * sfreq)
    common = artifact_evidence(cands, n_channels, sfreq, params, channel_rhythm=False) == "ecg"
    beats = beat_samples(cands.sample, cands.snr, common, gap)
    extra = beat_samples(cands.sample, cands.snr, (cands.artifact_kind == "ecg") & ~common, gap)
    if beats.size >= 2 and extra.size:
        k = np.clip(np.searchsorted(beats, extra), 1, beats.size - 1)
        near = np.minimum(np.abs(extra - beats[k - 1]), np.abs(beats[k] - extra))
        extra = extra[near > 0.5 * np.median(np.diff(beats))]
    beats = np.sort(np.concatenate([beats, extra]))
    model = build_model(read_filtered, beats, n_samples, sfreq, params)
    if model is None:
        return None
    # The beats above come from threshold crossings classified one by one: about one in
    # ten is missed (its QRS left to pass as a discharge) or is a fasciculation taken for
    # a beat. Searching the data for the model's own QRS finds the beats themselves.
    matched = match_beats(read_filtered, model, n_samples, sfreq, params)
    if matched.size >= 0.5 * model.beats.size:
        # Matched beats sit on the template's anchor: the subtraction's own re-anchoring
        # (which a large discharge beside a small QRS pulls aside) shrinks to 2 ms.
        model = dataclasses.replace(model, beats=matched,
                                    search=min(model.search, max(1, int(0.002 * sfreq))))
    return model


def match_beats(read_filtered, model: EcgModel, n_samples: int, sfreq: float,
                params: DetectionParams) -> np.ndarray:
    """Return the beat samples where the data match the model's QRS core.

    The core of the template (``ecg_match_core_s`` either side of its anchor) is slid
    over the band-passed channels (FFT correlation, block by block); a beat is a peak of
    the normalised correlation of at least ``ecg_match_min_corr`` whose fitted gain lies
    in ``ecg_gain_range``, at least ``ecg_match_min_rr_share`` of the median RR interval
    from a better one.
    """
    from scipy.signal import fftconvolve, find_peaks

    from .detection import _suppress

    core = min(int(round(params.ecg_match_core_s * sfreq)), model.half)
    # Only the channels the heart reaches: the others' noise would lower a beat's
    # normalised correlation (one ECG channel of twelve: a beat in three was missed).
    heart = np.flatnonzero(np.any(model.template != 0, axis=1))
    tmpl = model.template[heart, model.half - core:model.half + core + 1]
    norm2 = float(np.sum(tmpl * tmpl))
    if model.beats.size < 2 or norm2 <= 0:
        return model.beats
    length = tmpl.shape[1]
    rr = float(np.median(np.diff(model.beats)))
    distance = max(1, int(params.ecg_match_min_rr_share * rr))
    block = max(int(_MATCH_BLOCK_S * sfreq), 4 * distance)
    limit = model.gain_range[1] * np.max(np.abs(model.template[heart]), axis=1, keepdims=True)
    found, height = [], []
    for lo in range(0, n_samples, block):
        hi = min(n_samples, lo + block)
        a, b = max(0, lo - core - distance), min(n_samples, hi + core + distance)
        if b - a < length:
            continue
        x = read_filtered(a, b)[heart]
        score = fftconvolve(x, tmpl[:, ::-1], mode="valid", axes=1).sum(axis=0)
        energy = np.concatenate([[0.0], np.cumsum(np.sum(x * x, axis=0))])
        energy = np.maximum(energy[length:] - energy[:-length], np.finfo(float).tiny)
        gain = score / norm2
        corr = np.where((gain >= model.gain_range[0]) & (gain <= model.gain_range[1]),
                        score / np.sqrt(norm2 * energy), 0.0)
        # Weaker peaks (half the threshold) are kept to fill the rhythm's gaps below.
        peaks, props = find_peaks(corr, height=0.5 * params.ecg_match_min_corr,
                                  distance=distance)
        # The normalised correlation finds the beat; the plain correlation, largest where
        # the QRS is aligned, places it (a normalised peak can sit a lobe aside). The data
        # are clipped at the largest beat the gain allows first, so a large fasciculation
        # beside a small QRS cannot pull the beat onto itself.
        clipped = np.clip(x, -limit, limit)
        place = fftconvolve(clipped, tmpl[:, ::-1], mode="valid", axes=1).sum(axis=0)
        look = np.clip(peaks[:, None] + np.arange(-model.search, model.search + 1)[None, :],
                       0, score.size - 1)
        best = np.argmax(place[look], axis=1)
        centre = a + core + look[np.arange(peaks.size), best]
        keep = (centre >= lo) & (centre < hi)
        found.append(centre[keep])
        height.append(props["peak_heights"][keep])
    if not found:
        return model.beats
    beats, corr = np.concatenate(found), np.concatenate(height)
    strong = corr >= params.ecg_match_min_corr
    # Blocks were searched apart: keep the better of two beats that came too close.
    keep = _suppress(np.zeros(int(strong.sum()), np.int64), beats[strong], corr[strong],
                     distance, distance, 0.0)
    return _fill_gaps(beats[strong][keep], beats[~strong], corr[~strong], rr)


def _fill_gaps(beats: np.ndarray, weak: np.ndarray, weak_corr: np.ndarray,
               rr: float) -> np.ndarray:
    """Return ``beats`` plus the best weak peak near each beat a long RR interval misses.

    A fasciculation on top of a QRS lowers the correlation of that beat under the
    threshold; the rhythm says where it is (within a fifth of an RR interval of the
    predicted time), and the weak peak there is taken.
    """
    if beats.size < 2 or weak.size == 0:
        return beats
    gaps = np.diff(beats)
    long = np.flatnonzero(gaps > 1.5 * rr)
    extra = []
    order = np.argsort(weak)
    weak, weak_corr = weak[order], weak_corr[order]
    for g in long:  # a loop over missed beats (a few per minute at most)
        n_missing = int(round(gaps[g] / rr)) - 1
        for j in range(1, n_missing + 1):
            expected = beats[g] + j * gaps[g] / (n_missing + 1)
            lo, hi = np.searchsorted(weak, [expected - 0.2 * rr, expected + 0.2 * rr])
            if hi > lo:
                extra.append(weak[lo + int(np.argmax(weak_corr[lo:hi]))])
    if not extra:
        return beats
    return np.unique(np.concatenate([beats, np.asarray(extra, beats.dtype)]))
