"""Footprint: does a discharge's waveform reach the neighbouring electrodes of a grid?

A surface motor-unit potential spreads over 10-20 mm of skin by volume conduction, more
than the 4-10 mm between the electrodes of an HD grid, so a real potential on its main
electrode shows, smaller, on the neighbouring ones. A crossing of the 5-sigma threshold
by noise is on one electrode only. On a 64-channel grid the noise alone crosses 5 sigma
about 1.5-2.5 times a minute (tuning seeds 6-11 of the simulator's declared grid), the
largest share of its false fasciculations.

The test projects each neighbour's snippet on the main channel's central waveform (a
matched filter with the discharge's own shape) in units of that neighbour's noise:
under noise alone the summed squares follow a chi-square law with one degree per
neighbour, once the band-limited noise's own correlation is allowed for (it makes a
projection on a smooth waveform wider than white noise would: with a white-noise null
pure noise gave p ~ 1e-6). A potential, other activity on the neighbours, or noise
common to them all make the sum larger and keep the discharge (the safe side). (A null
taken from the snippet's own lags outside the waveform was tried first: on the real
HD-sEMG ramp the lags held other potentials, and 40 real potentials visible on every
neighbour were judged unsupported.)
"""

from __future__ import annotations

import numpy as np

#: Half-width of the central waveform projected, ms (a surface potential's main phases).
HALF_MS = 5.0


def window_lags(sfreq: float) -> int:
    """Return the number of autocorrelation lags the test needs at ``sfreq`` (2h + 1)."""
    return 2 * max(1, round(HALF_MS * sfreq / 1000.0)) + 1


def noise_autocorrelation(filtered: np.ndarray, sigma: np.ndarray, n_lags: int,
                          max_samples: int = 32768) -> np.ndarray:
    """Return the band-passed noise's normalised autocorrelation at lags 0..n_lags-1.

    Pooled over channels, from the first ``max_samples`` samples clipped at 3 ``sigma``
    (so that discharges barely count). Band-limited noise is correlated over a few
    samples, which makes a projection on a smooth waveform wider than white noise would.
    """
    from scipy import fft

    x = np.asarray(filtered[:, :max_samples], dtype=np.float64)
    lim = 3.0 * np.maximum(np.asarray(sigma, dtype=float), np.finfo(float).tiny)[:, None]
    x = np.clip(x, -lim, lim)
    n = x.shape[1]
    nfft = fft.next_fast_len(n + n_lags)
    spec = fft.rfft(x, nfft, axis=1)
    acf = fft.irfft(np.abs(spec) ** 2, nfft, axis=1)[:, :n_lags].sum(axis=0)
    return acf / acf[0] if acf[0] > 0 else np.eye(1, n_lags).ravel()


def support_p(snippets: np.ndarray, main_channel: np.ndarray, adjacent: np.ndarray,
              sigma: np.ndarray, autocorr: np.ndarray) -> np.ndarray:
    """Return, per discharge, the p-value of "the neighbours carry only noise".

    Parameters
    ----------
    snippets : ndarray, shape (n_events, n_channels, n_samples)
        Band-passed snippets centred on each discharge.
    main_channel : ndarray of int, shape (n_events,)
    adjacent : ndarray of bool, shape (n_channels, n_channels)
        Neighbouring electrodes (:class:`fascidetect.neighbours.Neighbourhood`).
    sigma : ndarray, shape (n_events, n_channels)
        Noise sigma of every channel at each discharge.
    autocorr : ndarray, shape (2 * h + 1,)
        The noise's normalised autocorrelation at lags 0..2h
        (:func:`noise_autocorrelation`); the central window is ``2 * h + 1`` samples.

    Returns
    -------
    ndarray of float, shape (n_events,)
        Small when the neighbours carry the main channel's waveform (or any activity, or
        noise common to them: the safe side). NaN where the test cannot be made: no
        neighbour with a noise sigma above 0 (none declared, or all flat or dead).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> snips = rng.normal(size=(1, 3, 61))
    >>> snips[0, :, 25:36] += np.hanning(11) * 8 * np.array([1.0, 0.6, 0.5])[:, None]
    >>> acf = np.eye(1, 11).ravel()  # white noise
    >>> p = support_p(snips, np.array([0]), np.ones((3, 3), bool), np.ones((1, 3)), acf)
    >>> bool(p[0] < 0.01)
    True
    """
    from scipy.stats import chi2

    n_ev, _, n_s = snippets.shape
    out = np.ones(n_ev)
    h = min((len(autocorr) - 1) // 2, n_s // 2)
    if n_ev == 0 or h < 1:
        return out
    c = n_s // 2
    rows = np.arange(n_ev)
    x = np.asarray(snippets, dtype=np.float64)
    main = x[rows, main_channel, c - h:c + h + 1]
    unit = main / np.maximum(np.linalg.norm(main, axis=1, keepdims=True), np.finfo(float).tiny)
    # Variance of a noise projection on ``unit``, per unit sigma^2: u' R u with R the
    # Toeplitz matrix of the autocorrelation.
    gain = np.ones(n_ev)
    for lag in range(1, 2 * h + 1):  # a few lags
        gain += 2.0 * autocorr[lag] * np.sum(unit[:, lag:] * unit[:, :-lag], axis=1)
    proj = np.einsum("ecs,es->ec", x[:, :, c - h:c + h + 1], unit)
    var = np.asarray(sigma, dtype=np.float64) ** 2 * np.maximum(gain, 1e-3)[:, None]
    # A neighbour without a noise sigma (flat, dead or railed: sigma 0) can show no
    # footprint and has no null: it is left out, not divided by (0 / 0 gave NaN p-values).
    live = (var > 0) & np.isfinite(var) & np.isfinite(proj)
    z2 = np.divide(proj * proj, var, out=np.zeros_like(proj), where=live)
    neigh = adjacent[main_channel] & live
    neigh[rows, main_channel] = False
    k = neigh.sum(axis=1)
    stat = np.sum(np.where(neigh, z2, 0.0), axis=1)
    ok = k > 0
    out[~ok] = np.nan
    out[ok] = chi2.sf(stat[ok], k[ok])
    return out
