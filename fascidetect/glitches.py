"""Single-sample glitches: one sample standing alone, with no waveform around it.

Consumer boards (and radio links) now and then deliver one wrong sample. After the
band-pass it rings like a small biphasic potential, and at 125-250 Hz, where a
motor-unit potential spans only 1-4 samples, its filtered shape is close to a real
one's. In the raw samples the two differ: every potential has passed the board's
anti-alias (decimation) filter, so its neighbours carry part of it, and the charge of
the transmembrane currents that make it balances, so its net area is near zero; a
glitch happens after that filter, its neighbours sit at the baseline and its area is
the sample's own. Real units recur with the same polarity and size on their channel,
so a lone sample that matches a unit firing with a real waveform there is kept.
"""

from __future__ import annotations

import numpy as np

from .params import DetectionParams


def spike_features(raw_snippets: np.ndarray, sfreq: float, window_ms: float = 10.0) -> dict:
    """Return how much each raw snippet's centre looks like one lone sample.

    Parameters
    ----------
    raw_snippets : ndarray, shape (n_events, n_samples)
        Unfiltered samples of each event's main channel, centred on its filtered peak.
    sfreq : float
    window_ms : float
        Half-width of the area window; the baseline is taken from 2-5 windows away (far
        enough to leave out the rest of a potential's waveform).

    Returns
    -------
    dict of ndarray
        ``spike_neighbour_ratio``: the larger deviation of the two samples beside the
        raw peak from the local baseline, over the peak's; ``spike_noise_ratio``: the
        baseline's robust sigma (from its sample-to-sample steps) over the peak; ``spike_area``: net area within
        ``window_ms`` of the peak in units of the peak sample (a lone sample about 1, a
        potential about 0); ``spike_amplitude``: the signed peak over the baseline (V).
    """
    n_ev, w = raw_snippets.shape
    names = ("spike_neighbour_ratio", "spike_noise_ratio", "spike_area", "spike_amplitude")
    c = w // 2
    half = max(2, round(window_ms * 1e-3 * sfreq))
    half = min(half, (c - 1) // 5)
    if n_ev == 0 or half < 1:
        # Too short to judge: nothing looks like a lone sample.
        return {k: np.full(n_ev, np.inf if k != "spike_amplitude" else 0.0) for k in names}
    x = np.asarray(raw_snippets, dtype=float)
    flank = np.concatenate([x[:, c - 5 * half:c - 2 * half],
                            x[:, c + 2 * half + 1:c + 5 * half + 1]], axis=1)
    base = np.median(flank, axis=1)
    # Noise from sample-to-sample steps: slow wander of the baseline does not count.
    steps = np.concatenate([np.diff(x[:, c - 5 * half:c - 2 * half], axis=1),
                            np.diff(x[:, c + 2 * half + 1:c + 5 * half + 1], axis=1)], axis=1)
    sigma = 1.4826 * np.median(np.abs(steps), axis=1) / np.sqrt(2.0)
    # The raw peak: the filtered one may sit a sample off for a potential.
    near = x[:, c - 1:c + 2] - base[:, None]
    k = c - 1 + np.argmax(np.abs(near), axis=1)
    rows = np.arange(n_ev)
    peak = x[rows, k] - base
    size = np.maximum(np.abs(peak), np.finfo(float).tiny)
    beside = np.maximum(np.abs(x[rows, k - 1] - base), np.abs(x[rows, k + 1] - base))
    offsets = np.arange(-half, half + 1)
    area = (x[rows[:, None], k[:, None] + offsets] - base[:, None]).sum(axis=1)
    return {"spike_neighbour_ratio": beside / size, "spike_noise_ratio": sigma / size,
            "spike_area": area / np.where(peak == 0, np.finfo(float).tiny, peak),
            "spike_amplitude": peak}


def lone_samples(features: dict, channel: np.ndarray, params: DetectionParams) -> np.ndarray:
    """Return a mask of candidates that are single-sample glitches.

    A candidate is a lone sample when the samples beside its raw peak stay within
    ``glitch_max_neighbour_ratio`` of it (or within ``glitch_noise_sigmas`` of the
    baseline noise), its net area is at least ``glitch_min_area`` of the peak sample and
    it rises at least ``glitch_min_height_sigmas`` above the baseline noise.
    It is kept as a discharge when at least ``glitch_unit_min_matches`` candidates of
    the same channel with a real waveform (neighbour ratio above
    ``glitch_unit_min_neighbour_ratio``) have the same polarity and a size within
    ``glitch_unit_amplitude_tolerance``: a unit whose potential happened to be sampled
    narrow.
    """
    ratio = features["spike_neighbour_ratio"]
    # Beside a small glitch the noise alone can reach a quarter of its height; never
    # more than 0.4, where a sampled potential's own neighbours begin.
    beside_limit = np.clip(params.glitch_noise_sigmas * features["spike_noise_ratio"],
                           params.glitch_max_neighbour_ratio, 0.4)
    # A lone sample stands out of a quiet baseline; inside an interference pattern
    # single samples are not judged.
    alone = (ratio < beside_limit) \
        & (features["spike_area"] >= params.glitch_min_area) \
        & (features["spike_noise_ratio"] * params.glitch_min_height_sigmas <= 1.0)
    if not alone.any():
        return alone
    amp = features["spike_amplitude"]
    sign = np.sign(amp)
    shaped = ratio > params.glitch_unit_min_neighbour_ratio
    tol = params.glitch_unit_amplitude_tolerance
    kept = np.zeros_like(alone)
    for c in np.unique(channel[alone]):  # loop over the channels with lone samples
        for s in (-1.0, 1.0):
            ref = np.sort(np.abs(amp[(channel == c) & shaped & (sign == s)]))
            q = np.flatnonzero(alone & (channel == c) & (sign == s))
            if ref.size == 0 or q.size == 0:
                continue
            size = np.abs(amp[q])
            n_like = np.searchsorted(ref, size * (1 + tol)) - np.searchsorted(ref, size * (1 - tol))
            kept[q] = n_like >= params.glitch_unit_min_matches
    return alone & ~kept
