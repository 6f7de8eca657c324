"""The zero-phase band-pass as one FFT convolution per block.

``sosfiltfilt`` runs the IIR cascade forwards and backwards: the result is the signal
convolved with the (two-sided, symmetric) impulse response of ``|H(f)|**2``. That
response decays within a fraction of a second for the Butterworth band-pass, so it is
cut where it falls below 1e-9 of its peak and applied by FFT, in float32: 2.0 x faster
than ``sosfiltfilt`` on a 62-s block here, with differences of about 1e-6 of the signal
RMS (issue 14: all events identical in channel, class and peak time within 1 ms).
"""

from __future__ import annotations

import numpy as np

#: The kernel is cut where its taps fall below this share of the largest one.
_TAIL = 1e-9


def zero_phase_kernel(sos: np.ndarray, sfreq: float, max_half: int) -> np.ndarray | None:
    """Return the taps (float32, length ``2*K+1``, centred) of the zero-phase response of
    the SOS cascade, or None when it rings longer than ``max_half`` samples (a narrow
    notch): such a cascade stays with ``sosfiltfilt``.
    """
    from scipy.signal import sosfreqz

    n = 1 << int(np.ceil(np.log2(max(8 * max_half, 4096))))
    _, h = sosfreqz(sos, worN=np.arange(n // 2 + 1) * sfreq / n, fs=sfreq)
    full = np.fft.irfft(np.abs(h) ** 2, n)
    mag = np.abs(full[: n // 2])
    above = np.flatnonzero(mag > _TAIL * mag.max())
    half = int(above[-1]) + 1 if above.size else 1
    if half > max_half:
        return None
    return np.concatenate([full[n - half:], full[: half + 1]]).astype(np.float32)


def fft_filtfilt(data: np.ndarray, kernel: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Return *data* (n_channels, n_samples) band-passed as ``sosfiltfilt(sos, data)`` does,
    by FFT convolution with the centred *kernel* of :func:`zero_phase_kernel` (float64 out).

    The convolution runs in float32 (about 1e-6 of the band-passed RMS). Within a kernel
    half-length of either end, where ``sosfiltfilt``'s own padding and initial conditions
    shape the output, those samples are taken from ``sosfiltfilt`` of the end stretch
    (three half-lengths, so its far end is forgotten to below 1e-9): the ends of a
    recording come out as they did, and a block's noise estimate with them.
    """
    from scipy import fft
    from scipy.signal import sosfiltfilt

    half = kernel.size // 2
    n = data.shape[1]
    end = 3 * half
    if n <= 2 * end:
        return sosfiltfilt(sos, data, axis=-1)
    # The band-pass removes DC; taking each channel's mean off first keeps a large
    # offset (consumer boards: tens of mV) from costing float32 its resolution.
    centred = (data - data.mean(axis=1, keepdims=True)).astype(np.float32)
    m = fft.next_fast_len(n + 2 * half, real=True)
    spec = fft.rfft(centred, m, axis=1)
    spec *= fft.rfft(kernel, m)
    out = fft.irfft(spec, m, axis=1)[:, half:half + n].astype(np.float64)
    out[:, :half] = sosfiltfilt(sos, data[:, :end], axis=-1)[:, :half]
    out[:, n - half:] = sosfiltfilt(sos, data[:, n - end:], axis=-1)[:, end - half:]
    return out
