"""Low-level firing: a channel whose sub-threshold peaks are too many for noise.

One to three tonic (postural) units 2-5 times the noise, firing at 6-20 Hz, barely raise a
channel's background (at 8 Hz a 3-sigma unit adds a few per cent to its RMS, under the
rest test of :mod:`fascidetect.rest`) and cross the detection threshold only when the
noise adds to them: a few of their discharges a second are candidates, too sparse and
irregular for the train walk of :mod:`fascidetect.support`, and were reported as
fasciculations (simulated tonic row, seed 300: 22 in 30 s of five such units on two
channels). Their discharges above 3.5 sigma are plain, however: Gaussian noise gives
about one such peak a second (Rice: ``2 nu0 exp(-u^2 / 2)`` for both polarities, ``nu0``
the band's zero-crossing rate), a few tonic units several times more.

Per channel and rest window the scan counts these peaks (:func:`fascidetect.support.
block_support`), leaving out those a threshold discharge and its ringing cover: a
fasciculation's own later phases do not count. A run of ``low_level_windows`` windows is
*low-level firing* when its count reaches ``low_level_ratio`` times its expectation at
rest, is improbable under a Poisson law at that expectation (``low_level_p``), is
sustained (all but one of its windows at twice the expectation and 3 peaks) and holds
more of these peaks than threshold discharges on the channel (many fasciculating units
make both; small tonic units mostly the peaks). The
expectation is the channel's own (:func:`rest_expectation`: real electrode noise has
heavier tails than Gaussian noise, and a small heartbeat on the channel adds its peaks
to every window), never under a share of the Gaussian noise's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gaussian_peak_rate", "low_level_windows", "rest_expectation"]


def gaussian_peak_rate(level_sigma: float, band_hz: tuple[float, float], sfreq: float) -> float:
    """Return the rate (per s) of peaks of band-limited Gaussian noise beyond
    ``level_sigma`` of either polarity (Rice's up-crossing rate, flat spectrum in band).

    Examples
    --------
    >>> round(gaussian_peak_rate(3.5, (20.0, 450.0), 2048.0), 2)
    1.16
    """
    lo, hi = band_hz[0], min(band_hz[1], sfreq / 2.0)
    if hi <= lo:
        return 0.0
    nu0 = np.sqrt((hi ** 3 - lo ** 3) / (3.0 * (hi - lo)))
    return float(2.0 * nu0 * np.exp(-0.5 * level_sigma ** 2))


#: The expectation at rest is never under this share of Gaussian noise's peak rate: the
#: scan's peak rules (dead time, shadow, phase) keep about half of Rice's count (simulated
#: rest, 2 kHz: 0.6 a second at 3.5 sigma against 1.16).
_FLOOR_SHARE = 0.25
#: Fewest peaks a window of a passing run holds on average: the slowest tonic unit (6 Hz)
#: at 3-5 sigma gives more than that.
_MIN_PER_WINDOW = 2.0
#: Fewest peaks of a busy window: a fasciculating unit near the threshold firing at 1-2 Hz
#: for seconds gives 1-2 sub-threshold peaks a window (consumer_250hz tuning seed 7, BF_R
#: 55-62 s: with 2, two of its 5-sigma discharges were taken), tonic units more.
_BUSY_PEAKS = 3.0


def rest_expectation(row: np.ndarray, floor: float = 0.0) -> float:
    """Return a channel's expected count per window at rest, from its counts ``row``.

    The larger of the median and ``-ln`` of the share of empty windows (a Poisson count
    is 0 with probability ``exp(-lambda)``; at rest about 0.6 a window, so the median of
    whole counts says little), never under ``floor``. Windows of activity raise both, so
    the estimate errs high (fewer windows called low-level firing).

    Examples
    --------
    >>> round(rest_expectation(np.array([0, 1, 0, 2, 0, 1, 0, 0, 1, 12.0])), 2)
    0.69
    """
    if row.size == 0:
        return floor
    empty = max(float(np.mean(row == 0)), 0.5 / row.size)
    return float(max(float(np.median(row)), -np.log(empty), floor))


def low_level_windows(counts, window_s: float, band_hz: tuple[float, float], sfreq: float,
                      params, discharges=None) -> np.ndarray:
    """Return the rest windows of each channel inside low-level firing.

    Parameters
    ----------
    counts : ndarray, shape (n_channels, n_windows), or rows read one at a time
        Sub-threshold peaks per channel and rest window (``Scan.rest_subpeaks``).
    window_s : float
        Rest window length, s.
    band_hz : (float, float)
        Pass band of the detector's filter, Hz.
    sfreq : float
    params : DetectionParams
        Uses ``low_level_sigma``, ``low_level_windows``, ``low_level_ratio`` and
        ``low_level_p``.
    discharges : (ndarray, ndarray), optional
        Main channel and window of each threshold discharge. A run needs more
        sub-threshold peaks than discharges: a channel busy with fasciculating units has
        the smaller discharges of those units too (the busy hour of the speed benchmark,
        EHL_R: some 7 discharges and 4 sub-threshold peaks a second), small tonic units
        10-30 times more peaks than discharges.

    Returns
    -------
    ndarray of bool, shape (n_channels, n_windows)
        True for the windows of every run of ``low_level_windows`` windows whose count
        is an excess, except those of its windows that hold no more than the expectation
        (the quiet windows either side of a short stretch).

    Examples
    --------
    Noise peaks at about one a window, then 4 s of a small tonic unit:

    >>> from fascidetect.params import DetectionParams
    >>> c = np.array([[1, 0, 2, 1, 1, 0, 9, 7, 8, 6, 1, 0, 1, 2]], dtype=float)
    >>> low_level_windows(c, 1.0, (20.0, 450.0), 2048.0, DetectionParams()).astype(int)
    array([[0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]])
    """
    from scipy.stats import poisson

    from .rest import row_of

    n_ch = counts.shape[0]
    n_win = counts.shape[1]
    out = np.zeros((n_ch, n_win), dtype=bool)
    k = int(params.low_level_windows)
    if params.low_level_sigma <= 0 or n_win < k:
        return out
    floor = _FLOOR_SHARE * gaussian_peak_rate(params.low_level_sigma, band_hz, sfreq) * window_s
    for c in range(n_ch):  # loop over channels
        row = np.nan_to_num(np.asarray(row_of(counts, c), dtype=float))
        expected = k * rest_expectation(row, floor)
        need = max(params.low_level_ratio * expected,
                   float(poisson.isf(params.low_level_p, expected)) + 1.0, _MIN_PER_WINDOW * k)
        run = np.convolve(row, np.ones(k), mode="valid")  # run j: windows j .. j + k - 1
        # Sustained: all but one of the run's windows busy, at twice the expectation and
        # at least _BUSY_PEAKS (a cluster of a fasciculating unit's sub-threshold
        # discharges fills one or two windows).
        full = row >= max(2.0 * expected / k, _BUSY_PEAKS)
        busy = np.convolve(full.astype(float), np.ones(k), mode="valid")
        hit = (run >= need) & (busy >= k - 1)
        if discharges is not None:
            own = np.bincount(discharges[1][discharges[0] == c], minlength=n_win)[:n_win]
            hit &= run >= np.convolve(own, np.ones(k), mode="valid")
        if not hit.any():
            continue
        # Every window of a run that passes (window i lies in runs i - k + 1 .. i).
        in_run = np.convolve(hit.astype(float), np.ones(k))[:n_win] > 0
        out[c] = in_run & (row > expected / k)
    return out
