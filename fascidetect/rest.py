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

from typing import NamedTuple

import numpy as np

__all__ = ["active_windows", "rest_seconds", "in_active_windows", "effective_samples",
           "FloorShape", "robust_difference_share", "tail_scores"]


class FloorShape(NamedTuple):
    """Where in the band the noise floor's energy lies (see :func:`difference_share`).

    Attributes
    ----------
    reference : ndarray, shape (n_channels,)
        The difference share of white noise through the band-pass: a rise of the
        background is electrode noise only when its own share comes near this.
    measured : ndarray, shape (n_channels,)
        The channel floor's own difference share (measured on its quiet windows): the
        floor's difference energy taken out of a window's before the rise is judged.
        Electrode noise is often partly 1/f, lower in the band than white noise: taking a
        white floor's difference energy out of such a window left too little for the rise,
        so a floor that drifted up slowly read as muscle activity.
    """

    reference: np.ndarray
    measured: np.ndarray


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
                   z: float = 4.0, min_excess: float = 0.2, exclude=None,
                   floor_shape=None,
                   max_shape_share: float | None = None, shape_z: float = 0.0,
                   merge_tail: bool = True, shape_scores: bool = False,
                   tail_max_ratio: float | None = None):
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
    exclude : ndarray of bool, shape (n_channels, n_samples), optional
        Samples left out of the background, e.g. those of detected discharges: a busy
        window of large fasciculations is still at rest. Needs ``trim_fraction=0``
        (excluding what is known is better than trimming what is largest); the
        threshold then follows each window's own count of samples.
    floor_shape : array-like, shape (n_channels,), or FloorShape, optional
        With ``exclude``: the :func:`difference_share` of broadband (white) noise in the
        band, e.g. :func:`white_difference_share` (the floor is then taken as white), or a
        :class:`FloorShape` with the floor's own measured share as well.
    max_shape_share : float | None
        With ``floor_shape``: a window's rise over the floor is activity only when its own
        difference share is below this share of white noise's. Electrode and amplifier
        noise that rises (drying gel, a loosened lead) is broadband;
        a muscle's interference pattern has its energy low in the EMG band (surface EMG
        median frequency about 60-120 Hz). Only meaningful when the band reaches well
        above that (e.g. >= 300 Hz); ``None`` takes every rise as activity (unless
        ``tail_max_ratio`` is given).
    shape_z : float
        With ``max_shape_share``: the rise's share must fall below the limit by more than
        this many of its standard errors (sampling spread of a Gaussian window's mean
        squares at its effective samples). A small rise's share is noisy: 0 judges the
        share as measured, so a 1.2x drift of electrode noise read as activity in about
        half its windows.

    tail_max_ratio : float | None
        With ``exclude``, where the spectral test cannot be made (``max_shape_share``
        None: a band too narrow for it): a rise up to this ratio is scored by the
        tails of its amplitude distribution instead (:func:`tail_scores`; ``None``: no
        such score, every rise is activity).
    merge_tail : bool
        Merge a trailing window shorter than half ``window_s`` into the one before it
        (False: judge it alone, as the block scan must, since the window before it may lie
        in the previous block).
    shape_scores : bool
        With ``exclude`` and ``max_shape_share``: leave ``ratio`` as measured and return
        as well each window's shape score (see :func:`pooled_noise_like`), for a decision
        pooled over neighbouring windows later (the block scan's windows end at its
        blocks' edges).

    Returns
    -------
    active : ndarray of bool, shape (n_channels, n_windows)
        True where the background is above the floor (not rest).
    ratio : ndarray of float, shape (n_channels, n_windows)
        Trimmed RMS over the noise floor (NaN on channels without a floor).
    threshold : ndarray of float, shape (n_windows,), or (n_channels, n_windows) with
        ``exclude``
        The ratio above which a window is active.
    score : ndarray of float, shape (n_channels, n_windows)
        Only with ``shape_scores``: how far the rise's difference share lies above the
        limit, in its standard errors (NaN where the background is not above the floor).

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
    if n - bounds[-1] >= win / 2 or n_full == 0 or (not merge_tail and n > bounds[-1]):
        bounds = np.append(bounds, n)
    else:
        bounds[-1] = n
    lengths = np.diff(bounds)
    c, k = _trimmed_constants(trim_fraction)
    if exclude is not None:
        if trim_fraction:
            raise ValueError("exclude needs trim_fraction=0")
        return _active_excluding(x, sigma, bounds, np.asarray(exclude, dtype=bool), sfreq,
                                 band_hz, k, z, min_excess, floor_shape,
                                 max_shape_share, shape_z, shape_scores, tail_max_ratio)
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
    if shape_scores:  # no spectral test without the excluded samples
        return active, ratio, threshold, np.full(ratio.shape, np.nan)
    return active, ratio, threshold


def _window_sums(values, keep, bounds):
    """Return the sums of ``values`` where ``keep`` and the counts of ``keep`` per window
    of ``bounds`` (``values`` is overwritten)."""
    values *= keep
    starts = bounds[:-1]
    return (np.add.reduceat(values, starts, axis=1, dtype=np.float64),
            np.add.reduceat(keep, starts, axis=1, dtype=np.int64))


def _active_excluding(x, sigma, bounds, exclude, sfreq, band_hz, k, z, min_excess,
                      floor_shape, max_shape_share, shape_z=0.0, shape_scores=False,
                      tail_max_ratio=None):
    """:func:`active_windows` with samples left out: mean square of the rest per window."""
    keep = ~exclude
    square = np.square(x, dtype=np.float32)
    fourth = None
    if max_shape_share is None and tail_max_ratio is not None:
        fourth, fourth_count = _window_sums(np.square(square), keep, bounds)
    total, count = _window_sums(square, keep, bounds)
    del square
    n_eff = effective_samples(count, sfreq, band_hz)
    score = np.full(total.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ms = total / count
        ratio = np.sqrt(ms) / np.where(sigma > 0, sigma, np.nan)[:, None]
        if fourth is not None:
            score = tail_scores(fourth / fourth_count / (ms * ms), ratio, n_eff,
                                tail_max_ratio)
            if not shape_scores:
                ratio = np.where(score >= -shape_z, np.minimum(ratio, 1.0), ratio)
        elif floor_shape is not None and max_shape_share is not None:
            # The rise's own shape: difference energy over signal energy of the excess.
            d = np.empty(x.shape, dtype=np.float32)
            d[:, 0] = 0.0
            np.subtract(x[:, 1:], x[:, :-1], out=d[:, 1:])
            np.square(d, out=d)
            keep[:, 1:] &= keep[:, :-1]  # a difference needs both of its samples
            d_total, d_count = _window_sums(d, keep, bounds)
            if isinstance(floor_shape, FloorShape):
                shape0 = np.asarray(floor_shape.reference, dtype=float)[:, None]
                own = np.asarray(floor_shape.measured, dtype=float)[:, None]
                own = np.where(np.isfinite(own), own, shape0)
            else:
                shape0 = own = np.asarray(floor_shape, dtype=float)[:, None]
            floor_ms = (sigma ** 2)[:, None]
            excess = ms - floor_ms
            # The floor's own difference energy out, the rise's left: judged against white.
            ms_d = d_total / d_count
            limit = max_shape_share * shape0
            margin = ms_d - own * floor_ms - limit * excess  # < 0: lower than the limit
            score = np.where((excess > 0) & np.isfinite(shape0),
                             margin / _margin_se(ms_d, ms, limit, n_eff), np.nan)
            if not shape_scores:
                ratio = np.where(score >= -shape_z, np.minimum(ratio, 1.0), ratio)
    threshold = 1.0 + np.maximum(min_excess, z * k / np.sqrt(np.maximum(n_eff, 1.0)))
    active = np.nan_to_num(ratio, nan=0.0) > threshold
    if shape_scores:
        judged = np.where(pooled_noise_like(score, shape_z), np.minimum(ratio, 1.0), ratio)
        return np.nan_to_num(judged, nan=0.0) > threshold, ratio, threshold, score
    return active, ratio, threshold


def tail_scores(kurtosis, ratio, n_eff, max_ratio: float) -> np.ndarray:
    """Return how Gaussian each window's background rise is: its excess kurtosis below
    Gaussian noise's, in standard errors (NaN where not judged).

    Where the band is too narrow for the spectral test (fs under about 670 Hz), a surface
    EMG interference pattern and a 1/f electrode floor put their energy at the same place
    in the band (benchmarks/README.md, drift29 and rest31), but not their amplitude
    distribution: electrode and amplifier noise whose gain drifts stays Gaussian (kurtosis
    3), while the few sub-threshold units of low-level or tonic firing make the background
    heavy-tailed (a unit's potential sits on a small share of the samples). The kurtosis of
    a Gaussian window has standard error ``sqrt(24 / n_eff)`` (``n_eff`` its 2BT effective
    samples; the spread measured on drifting 1/f floors at 200-500 Hz is that or less).
    A rise above ``max_ratio`` is activity whatever its distribution (a dense interference
    pattern is Gaussian too; the electrode floor is taken to drift by less).

    Parameters
    ----------
    kurtosis : ndarray
        ``mean(x^4) / mean(x^2)^2`` of each window's samples.
    ratio : ndarray
        Background over the noise floor (only rises, ``1 < ratio <= max_ratio``, are scored).
    n_eff : ndarray
        Effective samples of each window.
    max_ratio : float

    Returns
    -------
    ndarray
        ``(3 - kurtosis) / sqrt(24 / n_eff)``: about 0 for Gaussian noise, strongly
        negative for a heavy-tailed background; read with :func:`pooled_noise_like`.

    Examples
    --------
    >>> tail_scores(np.array([3.0, 4.0, 3.0]), np.array([1.3, 1.3, 2.0]), 384.0, 1.6)
    array([ 0., -4., nan])
    """
    se = np.sqrt(24.0 / np.maximum(n_eff, 1.0))
    with np.errstate(invalid="ignore"):
        judged = (ratio > 1.0) & (ratio <= max_ratio) & np.isfinite(kurtosis)
    return np.where(judged, (3.0 - kurtosis) / se, np.nan)


def pooled_noise_like(score, shape_z: float = 1.0, reach: int = 1) -> np.ndarray:
    """Return the windows whose background rise is electrode noise by its shape, judged
    on the window and its neighbours within ``reach`` that are above the floor as well.

    A window's score is how far its rise's difference share lies above the limit in
    standard errors (:func:`active_windows` with ``shape_scores``). One window's share is
    noisy when the rise is small, and both a drifting floor and a contraction last
    seconds: the scores of the (up to ``2 reach + 1``) neighbouring rises are pooled,
    ``sum(score) / sqrt(count)`` (as for independent windows of similar spread), and the
    rise is noise unless that is below ``-shape_z``.

    Parameters
    ----------
    score : ndarray, shape (n_channels, n_windows) or (n_windows,)
        NaN where the window's background is not above the floor (not pooled).
    shape_z : float
    reach : int

    Examples
    --------
    >>> pooled_noise_like(np.array([np.nan, -1.5, 0.5, 0.4, np.nan, -3.0])).astype(int)
    array([0, 1, 1, 1, 0, 0])
    """
    s = np.asarray(score, dtype=float)
    have = np.isfinite(s)
    total = np.where(have, s, 0.0)
    count = have.astype(float)
    sums, counts = total.copy(), count.copy()
    n = s.shape[-1]
    for k in range(1, reach + 1):  # the neighbours on either side
        sums[..., k:] += total[..., :n - k]
        counts[..., k:] += count[..., :n - k]
        sums[..., :n - k] += total[..., k:]
        counts[..., :n - k] += count[..., k:]
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = sums / np.sqrt(counts)
    return have & (pooled >= -shape_z)


def _margin_se(ms_d, ms, limit, n_eff):
    """Return the standard error of a window's ``ms_d - limit * ms`` (mean squares of the
    first difference and of the signal) for a Gaussian window with those mean squares.

    Per sample, ``var(d^2 - c x^2) = 2 D^2 + 2 c^2 M^2 - 4 c cov(x, d)^2`` with
    ``cov(x_t, x_t - x_(t-1)) = D / 2``; the mean over the window has ``n_eff`` effective
    samples (the 2BT rule of :func:`effective_samples`, as for the ratio itself).
    """
    var = (2.0 - limit) * ms_d ** 2 + 2.0 * (limit * ms) ** 2
    return np.sqrt(var / np.maximum(n_eff, 1.0))


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


def row_of(rows, c: int) -> np.ndarray:
    """Return row ``c`` of an array, or of rows read one at a time (``read_row``)."""
    return rows.read_row(c) if hasattr(rows, "read_row") else rows[c]


def with_hysteresis(ratio, threshold, hysteresis: float = 0.5, shape_score=None,
                    shape_z: float = 1.0, noise_joins: int = 0) -> np.ndarray:
    """Return the active windows: above ``threshold``, plus the runs of windows above the
    lower level ``1 + hysteresis * (threshold - 1)`` that touch one ("detect high,
    delimit low", for the recruitment and derecruitment tails of a contraction).

    Parameters
    ----------
    ratio : ndarray, shape (n_channels, n_windows)
        Background over the noise floor (from :func:`active_windows`); or rows read one
        at a time (anything with ``read_row``, as :attr:`fascidetect.scan.Scan.rest_ratio`).
    threshold : ndarray, shape (n_windows,) or (n_channels, n_windows); or such rows
    hysteresis : float
        Share of the threshold's excess over 1 that the joined windows need (1: none).
    shape_score : ndarray or rows, shape (n_channels, n_windows), optional
        The windows' shape scores (:func:`active_windows` with ``shape_scores``): a rise
        that is electrode noise by :func:`pooled_noise_like` counts as the floor.
    shape_z : float
    noise_joins : int
        Any window above the lower level (as measured: one that is noise by its shape
        included) is active within this many windows of an active run, even across a
        window under that level; such windows cannot start a run nor carry it on. For
        the tail test (:func:`tail_scores`), whose single windows are noisy at 200-250 Hz,
        so the Gaussian-looking windows at the edges of a burst of activity stay with it,
        while a floor that drifted up beside the burst does not join it all along.

    Examples
    --------
    >>> ratio = np.array([[1.0, 1.15, 1.4, 1.15, 1.0, 1.15]])
    >>> with_hysteresis(ratio, np.full(6, 1.2)).astype(int)
    array([[0, 1, 1, 1, 0, 0]])
    """
    ratio = ratio if hasattr(ratio, "read_row") else np.asarray(ratio)
    if not hasattr(threshold, "read_row"):
        threshold = np.asarray(threshold, dtype=float)
    n_ch, n = ratio.shape
    out = np.zeros((n_ch, n), dtype=bool)
    for c in range(n_ch):  # one channel at a time (issue 14: float64 and int64 copies of
        # a day's windows of every channel at once were tens of MB)
        r = np.nan_to_num(np.asarray(row_of(ratio, c), dtype=float), nan=0.0)
        measured = r
        if shape_score is not None:
            noise = pooled_noise_like(np.asarray(row_of(shape_score, c), dtype=float), shape_z)
            r = np.where(noise, np.minimum(r, 1.0), r)
        thr = threshold if len(threshold.shape) == 1 else np.asarray(row_of(threshold, c),
                                                                dtype=float)
        strong = r > thr
        low = 1.0 + hysteresis * (thr - 1.0)
        weak = r > low
        # Label each run of weak windows and keep the runs holding a strong one.
        run = np.cumsum(~weak)
        has_strong = np.bincount(run[strong], minlength=n + 1) > 0
        out[c] = weak & has_strong[run]
        if noise_joins > 0:
            near = out[c].copy()
            for k in range(1, noise_joins + 1):  # dilate by the reach
                near[k:] |= out[c, :-k]
                near[:-k] |= out[c, k:]
            out[c] |= near & (measured > low)
    return out


def channel_rest_s(active, window_s: float, duration_s: float, excluded_spans,
                   channel_spans=None) -> np.ndarray:
    """Return each channel's seconds at rest: the recording less the spans excluded for
    every channel (edges, bad spans, tasks, motion, episodes), its own ``channel_spans``
    (a dict of channel -> spans) and its own active windows.

    Examples
    --------
    >>> channel_rest_s(np.array([[False, True, False], [False] * 3]), 1.0, 3.0, [(2.5, 3.0)])
    array([1.5, 2.5])
    """
    from .spans import run_bounds, union_length

    active = np.asarray(active, dtype=bool)
    out = np.empty(active.shape[0])
    for c, row in enumerate(active):  # loop over channels
        starts, stops = run_bounds(row)
        own = [(a * window_s, min(b * window_s, duration_s)) for a, b in zip(starts, stops)]
        if own and stops[-1] == row.size:  # the last window runs to the end
            own[-1] = (own[-1][0], duration_s)
        extra = list((channel_spans or {}).get(c, []))
        out[c] = duration_s - union_length(list(excluded_spans) + own + extra, duration_s)
    return out


def difference_share(filtered) -> np.ndarray:
    """Return, per channel, the mean square of the first difference over the mean square
    of the signal: about ``(2 pi f_rms / fs) ** 2``, a measure of where in the band the
    energy lies (broadband noise high, a muscle's interference pattern lower).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> white = rng.standard_normal((1, 10000))
    >>> round(float(difference_share(white)[0]), 1)
    2.0
    """
    x = np.asarray(filtered, dtype=float)
    d = np.diff(x, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mean(d * d, axis=1) / np.mean(x[:, 1:] * x[:, 1:], axis=1)


def robust_difference_share(filtered, max_samples: int = 4096) -> np.ndarray:
    """Return :func:`difference_share` from medians, per channel: ``(median |dx| /
    median |x|) ** 2``.

    For Gaussian noise both medians are the same multiple of their RMS, so this equals
    the plain share; a few large discharges in the window barely move it. The medians
    are taken over about ``max_samples`` evenly spaced samples (and differences), as the
    noise windows' sigmas are.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> white = rng.standard_normal((1, 10000))
    >>> white[0, 5000:5010] += 50.0
    >>> round(float(robust_difference_share(white, max_samples=10000)[0]), 1)
    2.0
    """
    x = np.asarray(filtered, dtype=float)
    stride = max(1, x.shape[1] // max_samples)
    d = np.abs(x[:, 1::stride] - x[:, :-1:stride])  # fresh arrays: partitioned in place
    a = np.abs(x[:, 1::stride])
    k = a.shape[1] // 2
    d.partition(k, axis=1)
    a.partition(k, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (d[:, k] / a[:, k]) ** 2


def white_difference_share(sos, sfreq: float) -> float:
    """Return the :func:`difference_share` of white noise through a zero-phase SOS filter.

    Examples
    --------
    >>> from scipy.signal import butter
    >>> sos = butter(4, [20, 450], btype="bandpass", fs=2048.0, output="sos")
    >>> round(white_difference_share(sos, 2048.0), 2)
    0.55
    """
    from scipy.signal import sosfreqz

    f, h = sosfreqz(sos, worN=4096, fs=sfreq)
    gain = np.abs(h) ** 4  # forward and backward (sosfiltfilt)
    return float(np.sum(gain * (2 * np.sin(np.pi * f / sfreq)) ** 2) / np.sum(gain))
