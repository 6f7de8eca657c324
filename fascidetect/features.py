"""Waveform snippets and their features, vectorized over the snippet matrix."""

from __future__ import annotations

import numpy as np

from .detection import take_2d
from .params import DetectionParams

_DEFAULTS = DetectionParams()


def cut_snippets(data: np.ndarray, centers: np.ndarray, half: int) -> np.ndarray:
    """Return windows of ``2*half+1`` samples around each centre on every channel.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_samples)
    centers : ndarray of int, shape (n_events,)
        Centre samples; windows are clipped at the data edges (edge samples repeated).
    half : int

    Returns
    -------
    snippets : ndarray, shape (n_events, n_channels, 2*half+1)
    """
    offsets = np.arange(-half, half + 1)
    pos = np.clip(centers[:, None] + offsets[None, :], 0, data.shape[1] - 1)
    return np.moveaxis(data[:, pos], 0, 1)


def cut_snippets_by_sample(data: np.ndarray, centers: np.ndarray, half: int) -> np.ndarray:
    """Return the windows of :func:`cut_snippets` laid out sample-major.

    Shape (n_channels, 2*half+1, n_events): a reduction over the window (peak to peak of
    every channel and event) then runs along contiguous rows of events instead of over
    many short windows, several times faster. ``np.moveaxis(out, 2, 0)`` is the
    ``(n_events, n_channels, 2*half+1)`` view of :func:`cut_snippets`, with equal values.
    """
    offsets = np.arange(-half, half + 1)
    pos = np.clip(offsets[:, None] + centers[None, :], 0, data.shape[1] - 1)
    if data.flags.c_contiguous:  # the same gather, about twice as fast as data[:, pos]
        return np.take(data, pos, axis=1)
    return data[:, pos]


def cut_channel_snippets(data: np.ndarray, channels: np.ndarray, centers: np.ndarray,
                         half: int) -> np.ndarray:
    """Return the window of ``2*half+1`` samples around each centre on its own channel.

    The same as ``cut_snippets(data, centers, half)[arange(n), channels]`` without cutting
    the other channels. Returns shape (n_events, 2*half+1).
    """
    n, w = data.shape[1], 2 * half + 1
    channels, centers = np.asarray(channels), np.asarray(centers)
    if data.ndim == 2 and n >= w:
        # Each window is a contiguous run of its channel: one row of a sliding-window
        # view, copied whole (7-10 times cheaper than gathering its samples one by one
        # through an index matrix). Windows cut by the data's edges repeat the edge
        # samples, as the index matrix's clipping does.
        start = centers - half
        rows = np.lib.stride_tricks.sliding_window_view(data, w, axis=1)[
            channels, np.clip(start, 0, n - w)]
        edge = np.flatnonzero((start < 0) | (start > n - w))
        if edge.size:
            rows[edge] = _gather_windows(data, channels[edge], centers[edge], half)
        return rows
    return _gather_windows(data, channels, centers, half)


def _gather_windows(data, channels, centers, half):
    """:func:`cut_channel_snippets` by an index matrix clipped to the data."""
    offsets = np.arange(-half, half + 1)
    pos = np.clip(centers[:, None] + offsets[None, :], 0, data.shape[1] - 1)
    return take_2d(data, channels[:, None], pos)


def energy_centroid_offset(snippets: np.ndarray) -> np.ndarray:
    """Return the offset (samples, int) of each snippet's energy centroid from its centre."""
    if snippets.shape[0] == 0:
        return np.zeros(0, dtype=int)
    w = snippets.shape[1]
    energy = snippets.astype(float) ** 2
    t = np.arange(w) - (w - 1) / 2
    c = (energy @ t) / np.maximum(energy.sum(axis=1), np.finfo(float).tiny)
    return np.rint(c).astype(int)


def waveform_features(snippets: np.ndarray, sigma: np.ndarray, sfreq: float,
                      delimit_sigma: float = _DEFAULTS.delimit_sigma,
                      delimit_fraction: float = _DEFAULTS.delimit_fraction) -> dict:
    """Return shape features of single-channel snippets (one row per event).

    Parameters
    ----------
    snippets : ndarray, shape (n_events, n_samples)
        Band-passed potentials centred on their peak.
    sigma : ndarray, shape (n_events,)
        Noise sigma of each snippet's channel.
    sfreq : float
    delimit_sigma, delimit_fraction : float
        A potential extends while it stays above ``delimit_sigma`` noise sigmas or
        ``delimit_fraction`` of its peak, whichever is higher ("detect high, delimit
        low": Jahanmiri-Nezhad et al. 2014).

    Returns
    -------
    dict of ndarray
        ``p2p`` (peak to peak), ``duration_ms`` (span above the delimiting level),
        ``n_phases`` (sign changes of the supra-level samples + 1), ``n_turns``
        (direction changes larger than 2 sigma), ``onset_offset`` (samples from the
        snippet start to the potential's start), ``length`` (samples).
    """
    n_ev, w = snippets.shape
    if n_ev == 0:
        z = np.zeros(0)
        return {"p2p": z, "duration_ms": z, "n_phases": z.astype(int), "n_turns": z.astype(int),
                "onset_offset": z.astype(int), "length": z.astype(int)}
    mag = np.abs(snippets)
    peak = mag.max(axis=1)
    p2p = snippets.max(axis=1) - snippets.min(axis=1)
    level = np.maximum(delimit_sigma * sigma, delimit_fraction * peak)[:, None]
    supra = mag > level
    del mag
    first = np.argmax(supra, axis=1)
    last = w - 1 - np.argmax(supra[:, ::-1], axis=1)
    length = last - first + 1

    # Phases: sign changes between successive supra-level samples (gaps forward-filled).
    sign = np.where(supra, np.sign(snippets), 0).astype(np.int8)
    pos = np.where(sign != 0, np.arange(w)[None, :], 0)
    np.maximum.accumulate(pos, axis=1, out=pos)
    filled = np.take_along_axis(sign, pos, axis=1)
    changes = (filled[:, 1:] != filled[:, :-1]) & (filled[:, :-1] != 0)
    n_phases = changes.sum(axis=1) + 1

    # Turns: local extrema inside the potential whose excursion to the next extremum
    # exceeds 2 sigma (a surface analogue of the needle-EMG 100 µV turn rule).
    d = np.diff(snippets, axis=1)
    ext = np.zeros_like(snippets, dtype=bool)
    ext[:, 1:-1] = (d[:, :-1] * d[:, 1:]) < 0
    inside = (np.arange(w)[None, :] >= first[:, None]) & (np.arange(w)[None, :] <= last[:, None])
    ext &= inside
    # Excursion between consecutive extrema: forward-fill extremum values and compare
    # (the value before the first extremum, and in the first column, is 0).
    vals = np.nan_to_num(np.where(ext, snippets, 0.0))
    ext_pos = np.where(ext, np.arange(w)[None, :], 0)
    np.maximum.accumulate(ext_pos, axis=1, out=ext_pos)
    prev_val = np.zeros_like(vals)
    prev_val[:, 1:] = np.take_along_axis(vals, ext_pos[:, :-1], axis=1)
    big = ext & (np.abs(snippets - prev_val) > 2 * sigma[:, None])
    n_turns = big.sum(axis=1)
    return {"p2p": p2p, "duration_ms": length * 1000.0 / sfreq, "n_phases": n_phases,
            "n_turns": n_turns, "onset_offset": first, "length": length}


def artifact_features(raw_snippets: np.ndarray, sfreq: float, band_low_hz: float) -> dict:
    """Return artifact evidence from unfiltered snippets (one row per event).

    Parameters
    ----------
    raw_snippets : ndarray, shape (n_events, n_samples)
        Raw (unfiltered) samples of the event's main channel, about 200 ms around it.
    sfreq : float
    band_low_hz : float
        Frequencies below this are "low" (motion).

    Returns
    -------
    dict of ndarray
        ``lf_ratio``: energy below ``band_low_hz`` over energy above it after removing a
        linear trend (motion artifacts and pops are low-frequency dominated);
        ``step_ratio``: the level shift between the first and last quarter over the
        in-band peak-to-peak (electrode pops are steps); ``jump_ratio``: the level shift
        at the event itself, net of the baseline's slope, over the range of the
        ``jump_core_ms`` either side of it (:func:`jump_at_event`; a pop jumps there, a
        potential on drifting baseline does not); ``flat_top``: samples sitting at the
        snippet's extreme value (saturation/clipping).
    """
    n_ev, w = raw_snippets.shape
    if n_ev == 0:
        z = np.zeros(0)
        return {"lf_ratio": z, "step_ratio": z, "jump_ratio": z, "flat_top": z.astype(int)}
    t = np.arange(w) - (w - 1) / 2
    x = raw_snippets - raw_snippets.mean(axis=1, keepdims=True)
    # Remove the line through the end quarters so slow wander does not count as motion.
    q = max(1, w // 4)
    left = x[:, :q].mean(axis=1)
    right = x[:, -q:].mean(axis=1)
    step = right - left
    detr = x
    detr -= np.multiply.outer(step / (w - q), t)  # in place: x is our own copy
    low, high = _band_energies(detr * np.hanning(w)[None, :], sfreq, band_low_hz)
    lf_ratio = low / np.maximum(high, np.finfo(float).tiny)
    inband_p2p = np.ptp(detr, axis=1)
    step_ratio = np.abs(step) / np.maximum(inband_p2p, np.finfo(float).tiny)
    mx = raw_snippets.max(axis=1, keepdims=True)
    mn = raw_snippets.min(axis=1, keepdims=True)
    flat_top = np.maximum((raw_snippets == mx).sum(axis=1), (raw_snippets == mn).sum(axis=1))
    return {"lf_ratio": lf_ratio, "step_ratio": step_ratio,
            "jump_ratio": jump_at_event(raw_snippets, sfreq), "flat_top": flat_top}


def jump_at_event(raw_snippets: np.ndarray, sfreq: float, core_ms: float = 10.0) -> np.ndarray:
    """Return the level shift at each snippet's centre, net of its baseline's slope, over
    the range of the samples within ``core_ms`` of the centre.

    A line with a step at the centre (``a + b t + c [t > 0]``) is fitted by least squares
    to the samples beyond ``core_ms`` either side; ``|c|`` is the jump. An electrode pop
    jumps at the event and the window's range is mostly that jump (ratio about 1, and
    far above 1 for a clean step, whose fitted line leaves little residual range within
    the core); a potential on a steep or drifting baseline leaves the two sides on one
    line (ratio near 0), however far the baseline travels over the window, which the end
    quarters' level difference (``step_ratio``) counts as a step.

    Parameters
    ----------
    raw_snippets : ndarray, shape (n_events, n_samples)
        Raw samples centred on each event.
    sfreq : float
    core_ms : float
        Half-width of the event's own samples, left out of the fit.

    Returns
    -------
    ndarray, shape (n_events,)
        ``|c|`` over the range (peak to peak) of the residual within ``core_ms``.
    """
    n_ev, w = raw_snippets.shape
    t = np.arange(w) - w // 2
    core = np.abs(t) <= max(1, round(core_ms * sfreq / 1000.0))
    basis = np.stack([np.ones(w), t, (t > 0).astype(float)], axis=1)
    if n_ev == 0 or np.count_nonzero(~core) < 4:
        return np.zeros(n_ev)
    x = np.asarray(raw_snippets, dtype=float)
    # The core is one run of columns: the flanks are two slices joined (the same array
    # as the boolean gather ``x[:, ~core]``, several times faster) and the core a view.
    a, b = np.flatnonzero(core)[[0, -1]] + [0, 1]
    flanks = np.concatenate([x[:, :a], x[:, b:]], axis=1)
    coef = np.linalg.pinv(basis[~core]) @ flanks.T  # (3, n_events)
    resid = x[:, a:b] - (basis[core] @ coef).T
    rng = np.ptp(resid, axis=1)
    return np.abs(coef[2]) / np.maximum(rng, np.finfo(float).tiny)


def _band_energies(x: np.ndarray, sfreq: float, split_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the one-sided spectral energy of each row below *split_hz* (DC left out)
    and at or above it, as the sums of ``|rfft(x)|**2`` over those bins.

    Only the few bins below *split_hz* are computed (a small DFT matrix product); the
    energy above follows from Parseval's theorem, ``N * sum(x**2) = sum over all N bins
    of |X_k|**2``. That is the same sum as a full FFT to rounding (about 1e-14 relative),
    at a fraction of the cost for windows of a prime length like 401 samples.
    """
    n = x.shape[1]
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    k_low = np.flatnonzero((freqs > 0) & (freqs < split_hz))
    # Real and imaginary parts as one real product: x stays real (no complex copy).
    angle = 2.0 * np.pi * np.outer(np.arange(n), k_low) / n
    parts = x @ np.concatenate([np.cos(angle), np.sin(angle)], axis=1)
    low = (parts * parts).sum(axis=1)
    dc = x.sum(axis=1) ** 2
    # The full spectrum counts each bin 1..ceil(n/2)-1 twice (k and n-k); the Nyquist bin
    # of an even length once.
    two_sided = n * np.einsum("ij,ij->i", x, x) - dc
    if n % 2 == 0:
        nyquist = (x @ np.where(np.arange(n) % 2 == 0, 1.0, -1.0)) ** 2
        one_sided = (two_sided - nyquist) / 2 + nyquist
    else:
        one_sided = two_sided / 2
    return low, one_sided - low
