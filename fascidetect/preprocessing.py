"""Preprocessing: power-line detection and removal, and the zero-phase band-pass.

The band-pass (Butterworth, SOS, zero-phase as ``sosfiltfilt``; applied per block as one
FFT convolution with its squared-magnitude response, :mod:`fascidetect.fftfilter`) also
removes baseline wander, which lies far below the 20 Hz corner. Hum is removed only where the spectrum shows it: by
default by fitting and subtracting sinusoids at the exact line frequency and its
prominent harmonics in 1-s windows (as EEGLAB's CleanLine does), because a narrow IIR
notch rings for a fifth of a second after every large discharge and those echoes cross
the threshold; a notch cascade is available as ``line_removal="notch"``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .params import DetectionParams

_LINE_CANDIDATES_HZ = (50.0, 60.0)


@dataclasses.dataclass(frozen=True)
class LineNoise:
    """Power-line hum found in a recording.

    Attributes
    ----------
    freq_hz : float | None
        Fundamental (50 or 60 Hz), ``None`` when no hum stands out.
    notch_hz : tuple of float
        Frequencies that get a notch (the fundamental and prominent harmonics).
    per_channel_hz : tuple
        Per channel: the fundamental found on it, or ``None``.
    ratio_db : float
        How far the fundamental stands above the neighbouring spectrum (largest channel).
    """

    freq_hz: float | None
    notch_hz: tuple
    per_channel_hz: tuple
    ratio_db: float


def _peak_ratio_db(freqs: np.ndarray, psd: np.ndarray, f0: float) -> np.ndarray:
    """Return, per channel, the power at ``f0`` over the median of its neighbourhood, in dB."""
    df = freqs[1] - freqs[0]
    at = np.abs(freqs - f0) <= max(df, 0.6)
    near = (np.abs(freqs - f0) >= 2.5) & (np.abs(freqs - f0) <= 8.0)
    if not at.any() or near.sum() < 3:
        return np.full(psd.shape[0], -np.inf)
    peak = psd[:, at].max(axis=1)
    floor = np.median(psd[:, near], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(peak / np.maximum(floor, np.finfo(float).tiny))


def detect_line_noise(segments: np.ndarray, sfreq: float, params: DetectionParams,
                      band_high_hz: float) -> LineNoise:
    """Return the power-line hum found in sample segments of a recording.

    Parameters
    ----------
    segments : ndarray, shape (n_channels, n_samples)
        Raw samples (a few seconds, possibly several stretches joined, each with its
        median removed) in volts.
    sfreq : float
        Sampling rate in Hz.
    params : DetectionParams
        Uses ``notch`` and ``line_ratio_db``.
    band_high_hz : float
        Upper band edge; harmonics above it are filtered out anyway.
    """
    n_ch = segments.shape[0]
    if params.notch == "off":
        return LineNoise(None, (), (None,) * n_ch, 0.0)
    from scipy.signal import welch

    nyq_limit = min(band_high_hz, 0.5 * sfreq - 2.0)
    nperseg = int(min(segments.shape[1], 2 * sfreq))  # 0.5 Hz resolution
    freqs, psd = welch(segments, fs=sfreq, nperseg=nperseg, axis=-1, detrend=False)
    if params.notch in ("50", "60"):
        f0 = float(params.notch)
        ratios = _peak_ratio_db(freqs, psd, f0)
        per_channel = tuple(f0 if r >= params.line_ratio_db else None for r in ratios)
    else:
        ratios_by_f = {f: _peak_ratio_db(freqs, psd, f) for f in _LINE_CANDIDATES_HZ
                       if f < nyq_limit}
        if not ratios_by_f:
            return LineNoise(None, (), (None,) * n_ch, 0.0)
        stacked = np.vstack(list(ratios_by_f.values()))
        best = np.argmax(stacked, axis=0)
        cand = list(ratios_by_f)
        per_channel = tuple(cand[b] if stacked[b, c] >= params.line_ratio_db else None
                            for c, b in enumerate(best))
        found = [f for f in per_channel if f is not None]
        if not found:
            return LineNoise(None, (), per_channel, float(stacked.max()))
        f0 = max(set(found), key=found.count)
        ratios = ratios_by_f[f0]
    if not any(f is not None for f in per_channel):
        return LineNoise(None, (), per_channel, float(np.max(ratios)))
    f0 = refine_line_frequency(segments, sfreq, f0)
    notch = [f0]
    for k in range(2, params.line_max_harmonic + 1):
        fk = k * f0
        if fk >= nyq_limit:
            break
        if np.max(_peak_ratio_db(freqs, psd, fk)) >= params.line_ratio_db:
            notch.append(fk)
    return LineNoise(f0, tuple(notch), per_channel, float(np.max(ratios)))


def refine_line_frequency(segments: np.ndarray, sfreq: float, f0: float,
                          span_hz: float = 0.3, step_hz: float = 0.002) -> float:
    """Return the hum frequency within ``span_hz`` of ``f0`` with the most sinusoid power.

    Sinusoid subtraction needs the frequency to about 0.01 Hz (mains drift from the
    nominal 50/60 Hz by a few hundredths); a fine grid of complex projections over a few
    seconds of data resolves it.
    """
    n = min(segments.shape[1], int(8 * sfreq))
    x = segments[:, :n]
    grid = f0 + np.arange(-span_hz, span_hz + step_hz / 2, step_hz)
    t = np.arange(n) / sfreq
    power = np.zeros(grid.size)
    for a in range(0, n, int(sfreq)):  # one-second pieces keep the basis small
        piece = x[:, a:a + int(sfreq)]
        basis = np.exp(-2j * np.pi * grid[:, None] * t[None, a:a + piece.shape[1]])
        power += (np.abs(piece @ basis.T) ** 2).sum(axis=0)
    return float(grid[np.argmax(power)])


def remove_line(filt: np.ndarray, sfreq: float, freqs, lo: int, window: int,
                mask_sigma: float = 4.0, mask_dilate_s: float = 0.008) -> None:
    """Subtract the least-squares fit of sinusoids at ``freqs`` in place, window by window.

    Parameters
    ----------
    filt : ndarray, shape (n_channels, n_samples)
        Band-passed data holding samples ``[lo, lo + n_samples)`` of the recording.
    sfreq : float
    freqs : sequence of float
        Line frequency and harmonics to remove.
    lo : int
        Absolute index of the first sample: windows sit on a grid of ``window`` samples
        from the recording start, so cutting the recording into blocks changes nothing.
    window : int
        Window length in samples (about 1 s: hum amplitude and phase drift slowly).
    mask_sigma, mask_dilate_s : float
        Discharges (residual over ``mask_sigma`` robust sigmas, widened by
        ``mask_dilate_s``) are left out of the fit (``DetectionParams.line_mask_sigma``,
        ``line_mask_dilate_ms``).
    """
    if not len(freqs):
        return
    n = filt.shape[1]
    first = (-lo) % window
    n_full = max(0, (n - first) // window)
    if n_full:
        seg = filt[:, first:first + n_full * window].reshape(filt.shape[0], n_full, window)
        basis = _sinusoid_basis(freqs, window, sfreq)
        seg -= _robust_fit(seg, basis, int(round(mask_dilate_s * sfreq)), mask_sigma)
    for a, b in ((0, min(first, n)), (first + n_full * window, n)):  # partial ends
        if b - a >= 8 * len(freqs):
            basis = _sinusoid_basis(freqs, b - a, sfreq)
            part = filt[:, a:b][:, None, :]
            filt[:, a:b] -= _robust_fit(part, basis, int(round(mask_dilate_s * sfreq)),
                                        mask_sigma)[:, 0]


def _robust_fit(seg: np.ndarray, basis: np.ndarray, dilate: int,
                mask_sigma: float = 4.0) -> np.ndarray:
    """Return the hum fitted in each window, ignoring samples of large discharges.

    A large discharge inside a window leaks into a plain least-squares fit, and
    subtracting that fit spreads an echo of it over the whole window. So: fit, find the
    samples whose residual exceeds ``mask_sigma`` robust sigmas (widened by ``dilate``),
    and refit without them. The masked samples are few, so the per-window normal
    equations are corrected by their outer products instead of being rebuilt.

    Parameters
    ----------
    seg : ndarray, shape (n_channels, n_windows, window)
    basis : ndarray, shape (window, n_basis)
    dilate : int
    """
    gram = basis.T @ basis
    rhs = seg @ basis                                            # (c, w, k)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0] if rhs.size else rhs
    fit = coef @ basis.T
    resid = seg - fit
    sub = np.abs(resid[..., ::4])
    sigma = np.median(sub.reshape(sub.shape[0], -1), axis=1) / 0.6745
    big = np.abs(resid) > mask_sigma * sigma[:, None, None]
    if not big.any():
        return fit
    if dilate > 0:  # widen by a handful of shifts, not a loop over samples
        grown = big.copy()
        for shift in range(1, dilate + 1, max(1, dilate // 4)):
            grown[..., shift:] |= big[..., :-shift]
            grown[..., :-shift] |= big[..., shift:]
        big = grown
    c, w, pos = np.nonzero(big)
    b = basis[pos]                                               # (m, k)
    grams = np.broadcast_to(gram, seg.shape[:2] + gram.shape).copy()
    np.add.at(grams, (c, w), -b[:, :, None] * b[:, None, :])
    rhs = rhs.copy()
    np.add.at(rhs, (c, w), -seg[c, w, pos][:, None] * b)
    # Windows left with too few samples keep their plain fit.
    kept = window_ok = (big.sum(axis=-1) < 0.5 * seg.shape[-1])
    coef2 = coef.copy()
    if window_ok.any():
        coef2[kept] = np.linalg.solve(grams[kept], rhs[kept][..., None])[..., 0]
    return coef2 @ basis.T


def _sinusoid_basis(freqs, length: int, sfreq: float) -> np.ndarray:
    """Return the (length, 4 * n_freqs) basis: cosine and sine, and both times a ramp.

    The ramp terms let amplitude and phase drift linearly within the window, so a line
    frequency off by a few hundredths of a Hz (mains wander) leaves a second-order
    residual only.
    """
    t = np.arange(length)[:, None] / sfreq
    ramp = (np.arange(length)[:, None] - (length - 1) / 2) / length
    w = 2 * np.pi * np.asarray(freqs, dtype=float)[None, :]
    c, s = np.cos(w * t), np.sin(w * t)
    return np.hstack([c, s, ramp * c, ramp * s])


def design_filter(sfreq: float, params: DetectionParams, notch_hz=()) -> np.ndarray:
    """Return the SOS cascade: Butterworth band-pass plus a notch at each of ``notch_hz``.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    params : DetectionParams
        Band, order and notch Q.
    notch_hz : sequence of float
        Frequencies to notch (from :func:`detect_line_noise`).

    Returns
    -------
    sos : ndarray, shape (n_sections, 6)
    """
    from scipy.signal import butter, iirnotch, tf2sos

    low, high = params.band_for(sfreq)
    sections = [butter(params.filter_order, [low, high], btype="bandpass", fs=sfreq,
                       output="sos")]
    for f in notch_hz:
        if f < 0.5 * sfreq - 1:
            b, a = iirnotch(f, params.notch_q, fs=sfreq)
            sections.append(tf2sos(b, a))
    return np.vstack(sections)


def filter_emg(data: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Return the zero-phase filtered data (``sosfiltfilt`` along the last axis).

    Non-finite samples must be replaced before calling (see :func:`repair_nonfinite`).
    """
    from scipy.signal import sosfiltfilt

    return sosfiltfilt(sos, data, axis=-1)


#: Samples beyond this many volts are no EMG (amplifiers span a few hundred mV at most):
#: data errors, treated as missing like NaN, so one absurd value cannot ring through the
#: filter over a whole block.
MAX_ABS_V = 10.0


def repair_nonfinite(data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Return data with NaN/inf (and samples beyond :data:`MAX_ABS_V`) replaced by the
    channel median, and the bad-sample mask.

    The mask is ``None`` when every sample is usable (the common case, no copy made).
    """
    if np.size(data) == 0:
        return data, None
    data_max, data_min = np.max(data), np.min(data)  # NaN if any sample is NaN
    if data_max <= MAX_ABS_V and data_min >= -MAX_ABS_V:
        # Every sample finite and in range (the common case): two reductions instead of
        # a mask of the whole block.
        return data, None
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(data) & (np.abs(data) <= MAX_ABS_V)
    if finite.all():
        return data, None
    data = np.array(data, dtype=float, copy=True)
    fill = np.array([np.median(row[ok]) if ok.any() else 0.0 for row, ok in zip(data, finite)])
    data[~finite] = np.broadcast_to(fill[:, None], data.shape)[~finite]
    return data, ~finite


@dataclasses.dataclass(frozen=True)
class Preprocessor:
    """The whole preprocessing of one recording: band-pass (and notches) plus hum removal.

    Attributes
    ----------
    sos : ndarray
        Band-pass cascade (with notches in ``notch`` mode).
    line_hz : tuple of float
        Frequencies removed by sinusoid fitting (empty in ``notch`` mode or without hum).
    sfreq : float
    window : int
        Hum-fitting window in samples.
    mask_sigma, mask_dilate_s : float
        Discharges are left out of the hum fit (see :func:`remove_line`).
    kernel : ndarray | None
        Zero-phase response of ``sos`` for the FFT filter
        (:mod:`fascidetect.fftfilter`); None: ``sosfiltfilt``.
    """

    sos: np.ndarray
    line_hz: tuple
    sfreq: float
    window: int
    mask_sigma: float = 4.0
    mask_dilate_s: float = 0.008
    kernel: np.ndarray | None = None

    @classmethod
    def build(cls, sfreq: float, params: DetectionParams, line: LineNoise) -> "Preprocessor":
        """Return the preprocessing for a recording with the hum found in ``line``."""
        notch = line.notch_hz if params.line_removal == "notch" else ()
        fitted = line.notch_hz if params.line_removal == "regression" else ()
        from .fftfilter import zero_phase_kernel

        sos = design_filter(sfreq, params, notch)
        # The kernel must settle within the blocks' margins (half of them, to be safe).
        kernel = zero_phase_kernel(sos, sfreq, int(0.5 * params.filter_margin_s * sfreq))
        return cls(sos=sos, line_hz=tuple(fitted),
                   sfreq=float(sfreq), window=max(8, int(round(sfreq))),
                   mask_sigma=params.line_mask_sigma,
                   mask_dilate_s=params.line_mask_dilate_ms / 1000.0, kernel=kernel)

    def apply(self, raw: np.ndarray, lo: int) -> np.ndarray:
        """Return band-passed, hum-free data of samples ``[lo, lo + raw.shape[1])``."""
        if self.kernel is not None:
            from .fftfilter import fft_filtfilt

            filt = fft_filtfilt(raw, self.kernel, self.sos)
        else:
            filt = filter_emg(raw, self.sos)
        remove_line(filt, self.sfreq, self.line_hz, lo, self.window, self.mask_sigma,
                    self.mask_dilate_s)
        return filt
