"""Is the muscle at rest? Per channel and window: background at the noise floor, or not.

A muscle is at rest only where its background is at the noise floor (domain.md, "Rest,
voluntary firing and discharge patterns"). Low-level holding activity is an interference
pattern of several units that raises the whole background, often to only 1.5-2x the floor.
A sparse discharge (one fasciculation, one sparse unit) raises only the few samples it
covers. The window statistic is therefore a *trimmed* RMS: the RMS of the samples left
after the largest ``trim_fraction`` of ``|x|`` are set aside, scaled so that it equals
sigma for Gaussian noise. Its ratio to the channel's noise floor is ~1 at rest.

The threshold follows from the statistic's sampling spread under noise alone. For
Gaussian noise the relative standard deviation of the trimmed RMS over ``N`` independent
samples is ``k(trim_fraction) / sqrt(N)`` (from its influence function; ``k`` = 0.71 for
the plain RMS). Band-passed samples are not independent: the variance of any even
function of the samples averaged over ``N`` samples of a Gaussian process is at most
``sum_k rho(k)^2`` times the independent value, and for a band of width ``B`` that sum is
``fs / (2 B)``, so the window holds ``N_eff = 2 B T`` effective samples (the classical
2BT degrees of freedom). The same 1-s window thus has 140 effective samples on a 200-Hz
board (band 20-90 Hz) and 860 at 2048 Hz (20-450 Hz), and each gets its own threshold.
"""

from __future__ import annotations

import numpy as np

__all__ = ["active_windows", "rest_seconds", "in_active_windows", "effective_samples"]


def effective_samples(n_samples, sfreq: float, band_hz: tuple[float, float]):
    """Return the effective number of independent samples of band-limited noise.

    ``2 * B * T`` for a band of width ``B`` over ``T = n_samples / sfreq`` seconds, never
    more than ``n_samples``.

    Parameters
    ----------
    n_samples : int or ndarray of int
        Samples in the window.
    sfreq : float
        Sampling rate, Hz.
    band_hz : (float, float)
        Pass band of the filter, Hz (the upper edge is capped at Nyquist).

    Examples
    --------
    >>> float(effective_samples(200, 200.0, (20.0, 90.0)))
    140.0
    >>> float(effective_samples(2048, 2048.0, (20.0, 450.0)))
    860.0
    """
    lo, hi = band_hz
    width = max(0.0, min(hi, sfreq / 2.0) - lo)
    n = np.asarray(n_samples, dtype=float)
    return np.minimum(n, 2.0 * width * n / sfreq)


def _trimmed_constants(trim_fraction: float) -> tuple[float, float]:
    """Return (c, k): the trimmed mean square of unit Gaussian noise and the relative
    standard deviation, times sqrt(N), of the trimmed RMS scaled by sqrt(c)."""
    from scipy.stats import norm

    keep = 1.0 - trim_fraction
    if trim_fraction <= 0:
        return 1.0, np.sqrt(0.5)
    q = norm.ppf(1.0 - trim_fraction / 2.0)
    phi = norm.pdf(q)
    t = keep - 2.0 * q * phi                       # E[x^2; |x| <= q]
    x4 = 3.0 * t - 2.0 * q ** 3 * phi              # E[x^4; |x| <= q]
    # Influence function of T = E[x^2; |x| <= q(F)]: x^2 1(|x|<=q) + q^2 (keep - 1(..)) - T.
    c0 = q * q * keep - t
    var = x4 - 2.0 * q * q * t + q ** 4 * keep - c0 * c0
    return t / keep, 0.5 * np.sqrt(var) / t


def active_windows(filtered, sfreq: float, noise_sigma, *, window_s: float = 1.0,
                   band_hz: tuple[float, float] = (20.0, 450.0), trim_fraction: float = 0.1,
                   z: float = 4.0, min_excess: float = 0.2):
    """Return the windows whose background is above the noise floor, and the ratios.

    Parameters
    ----------
    filtered : ndarray, shape (n_channels, n_samples)
        Band-passed EMG (the detector's filter; any unit, the same as ``noise_sigma``).
    sfreq : float
        Sampling rate, Hz.
    noise_sigma : array-like, shape (n_channels,)
        Each channel's noise floor (robust: median ``|x|`` / 0.6745 over its quiet
        windows, as the detector estimates it). Channels with sigma <= 0 are never active.
    window_s : float
        Window length, s. 1 s keeps the threshold near 1.3x the floor even at 200 Hz;
        a trailing partial window of at least half that length is judged with its own
        (higher) threshold, a shorter one is merged into the window before it.
    band_hz : (float, float)
        Pass band of the filter, Hz, for the effective samples (upper edge capped at
        Nyquist; the detector's default band is 20 Hz to min(450, 0.45 fs)).
    trim_fraction : float
        Share of each window's largest ``|x|`` left out of the RMS: 10 % of a 1-s window
        is 100 ms, the footprint of several large potentials, yet an interference pattern
        raises the other 90 % as much.
    z : float
        Threshold in standard deviations of the ratio under noise alone (one-sided; 4
        gives ~3e-5 false active windows per channel-window if the noise is Gaussian).
    min_excess : float
        Smallest excess of the ratio over 1 that counts as activity whatever the window
        holds, for the slow drift of real electrode noise around its floor (a 1.2x
        background is not called activity).

    Returns
    -------
    active : ndarray of bool, shape (n_channels, n_windows)
        True where the background is above the floor (not rest).
    ratio : ndarray of float, shape (n_channels, n_windows)
        Trimmed RMS over the noise floor (NaN on channels without a floor).
    threshold : ndarray of float, shape (n_windows,)
        The ratio above which a window is active.

    Examples
    --------
    Noise, then noise with a background at 1.6x the floor:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1, 8000))
    >>> x[:, 4000:] *= 1.6
    >>> active, ratio, thr = active_windows(x, 1000.0, [1.0], band_hz=(0.0, 500.0))
    >>> active.astype(int)
    array([[0, 0, 0, 0, 1, 1, 1, 1]])
    """
    x = np.asarray(filtered, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"filtered must be (n_channels, n_samples), got shape {x.shape}")
    sigma = np.asarray(noise_sigma, dtype=float).reshape(-1)
    if sigma.size != x.shape[0]:
        raise ValueError(f"noise_sigma has {sigma.size} values for {x.shape[0]} channels")
    if not 0 <= trim_fraction < 0.5:
        raise ValueError(f"trim_fraction must be in [0, 0.5), got {trim_fraction}")
    n_ch, n = x.shape
    win = max(1, int(round(window_s * sfreq)))
    n_full = n // win
    bounds = np.arange(n_full + 1) * win
    if n - bounds[-1] >= win / 2 or n_full == 0:
        bounds = np.append(bounds, n)
    else:
        bounds[-1] = n
    lengths = np.diff(bounds)
    c, k = _trimmed_constants(trim_fraction)
    ms = np.empty((n_ch, lengths.size))
    head = n_full * win if lengths.size > n_full else (n_full - 1) * win
    if head > 0:
        ms[:, : head // win] = _trimmed_mean_square(x[:, :head].reshape(n_ch, -1, win),
                                                    trim_fraction)
    if head < n:
        ms[:, -1] = _trimmed_mean_square(x[:, head:][:, None, :], trim_fraction)[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(ms / c) / np.where(sigma > 0, sigma, np.nan)[:, None]
    n_eff = effective_samples(lengths, sfreq, band_hz)
    threshold = 1.0 + np.maximum(min_excess, z * k / np.sqrt(np.maximum(n_eff, 1.0)))
    active = np.nan_to_num(ratio, nan=0.0) > threshold[None, :]
    return active, ratio, threshold


def _trimmed_mean_square(blocks: np.ndarray, trim_fraction: float) -> np.ndarray:
    """Return the mean square of each block's samples without its largest ``|x|``
    (last axis: samples)."""
    a = np.abs(blocks)
    m = a.shape[-1]
    keep = max(1, int(round(m * (1.0 - trim_fraction))))
    if keep < m:
        a.partition(keep - 1, axis=-1)
        a = a[..., :keep]
    return np.mean(a * a, axis=-1)


def rest_seconds(active, sfreq: float, n_samples: int, window_s: float = 1.0,
                 excluded=None) -> np.ndarray:
    """Return each channel's seconds at rest: the length of its windows that are not active.

    Parameters
    ----------
    active : ndarray of bool, shape (n_channels, n_windows)
        From :func:`active_windows` (same ``window_s``).
    sfreq : float
    n_samples : int
        Samples in the analysed signal (for the length of the last window).
    window_s : float
    excluded : ndarray of bool, shape (n_windows,) or (n_channels, n_windows), optional
        Windows not analysed for other reasons (motion, annotated tasks, edges).

    Examples
    --------
    >>> rest_seconds(np.array([[False, True, False]]), 100.0, 250, window_s=1.0)
    array([1.5])
    """
    active = np.asarray(active, dtype=bool)
    lengths = _window_lengths(active.shape[1], sfreq, n_samples, window_s)
    rest = ~active
    if excluded is not None:
        rest = rest & ~np.broadcast_to(np.asarray(excluded, dtype=bool), rest.shape)
    return rest.astype(float) @ lengths


def _window_lengths(n_windows: int, sfreq: float, n_samples: int, window_s: float):
    win = max(1, int(round(window_s * sfreq)))
    bounds = np.minimum(np.arange(n_windows + 1) * win, n_samples)
    bounds[-1] = n_samples
    return np.diff(bounds) / sfreq


def in_active_windows(times_s, channel, active, window_s: float = 1.0) -> np.ndarray:
    """Return a mask of the discharges that fall in an active window of their channel.

    Parameters
    ----------
    times_s : array-like of float
        Discharge times, s.
    channel : array-like of int
        Row of ``active`` of each discharge (its main channel).
    active : ndarray of bool, shape (n_channels, n_windows)
    window_s : float

    Examples
    --------
    >>> in_active_windows([0.5, 1.5, 2.9], [0, 0, 0], np.array([[False, True, False]]))
    array([False,  True, False])
    """
    t = np.asarray(times_s, dtype=float)
    ch = np.asarray(channel, dtype=int)
    active = np.asarray(active, dtype=bool)
    if t.size == 0:
        return np.zeros(0, dtype=bool)
    w = np.clip((t // window_s).astype(int), 0, active.shape[1] - 1)
    return active[ch, w]
