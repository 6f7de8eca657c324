"""Footprint: does a discharge's waveform reach the neighbouring electrodes of a grid?

A surface motor-unit potential spreads over 10-20 mm of skin by volume conduction, more
than the 4-10 mm between the electrodes of an HD grid, so a real potential on its main
electrode shows, smaller, on the neighbouring ones. A crossing of the 5-sigma threshold
by noise is on one electrode only. On a 64-channel grid the noise alone crosses 5 sigma
about 1.5-2.5 times a minute (tuning seeds 6-11 of the simulator's declared grid), the
largest share of its false fasciculations.

The test projects each neighbour's snippet on the main channel's central waveform (a
matched filter with the discharge's own shape) and compares the summed squared
projections with the same projections at lags outside the waveform: under noise alone
they are alike (their ratio follows an F law; band-limited noise makes each projection
wider than white noise would, which the lags measure), under a potential the central
ones are larger. Spatially correlated noise makes the neighbours look
supported, so it keeps the discharge (the safe side).
"""

from __future__ import annotations

import numpy as np

#: Half-width of the central waveform projected, ms (a surface potential's main phases).
HALF_MS = 5.0


def support_p(snippets: np.ndarray, main_channel: np.ndarray, adjacent: np.ndarray,
              sfreq: float) -> np.ndarray:
    """Return, per discharge, the p-value of "the neighbours carry only noise".

    Parameters
    ----------
    snippets : ndarray, shape (n_events, n_channels, n_samples)
        Band-passed snippets centred on each discharge.
    main_channel : ndarray of int, shape (n_events,)
    adjacent : ndarray of bool, shape (n_channels, n_channels)
        Neighbouring electrodes (:class:`fascidetect.neighbours.Neighbourhood`).
    sfreq : float

    Returns
    -------
    ndarray of float, shape (n_events,)
        Small when the neighbours carry the main channel's waveform; 1.0 where there are
        no neighbours or the snippet is too short for lags outside the waveform.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> snips = rng.normal(size=(1, 3, 61))
    >>> wave = np.hanning(11) * 8
    >>> snips[0, :, 25:36] += wave * np.array([1.0, 0.6, 0.5])[:, None]
    >>> adj = np.ones((3, 3), dtype=bool)
    >>> bool(support_p(snips, np.array([0]), adj, 1000.0)[0] < 0.01)
    True
    """
    from scipy.stats import f as f_dist

    n_ev, _, n_s = snippets.shape
    out = np.ones(n_ev)
    h = max(1, round(HALF_MS * sfreq / 1000.0))
    c = n_s // 2
    length = 2 * h + 1
    lags = [o for o in (0, n_s - length) if abs(o - (c - h)) >= length]
    if n_ev == 0 or not lags:
        return out
    rows = np.arange(n_ev)
    x = np.asarray(snippets, dtype=np.float64)
    main = x[rows, main_channel, c - h:c + h + 1]
    unit = main / np.maximum(np.linalg.norm(main, axis=1, keepdims=True), np.finfo(float).tiny)
    neigh = adjacent[main_channel].copy()
    neigh[rows, main_channel] = False
    k = neigh.sum(axis=1)

    def energy(lo):
        proj = np.einsum("ecs,es->ec", x[:, :, lo:lo + length], unit)
        return np.sum(np.where(neigh, proj * proj, 0.0), axis=1)

    null = np.mean([energy(lo) for lo in lags], axis=0)
    stat = energy(c - h) / np.maximum(null, np.finfo(float).tiny)
    ok = k > 0
    # Both energies are sums of k squared projections, the null's over len(lags) lags:
    # under noise their ratio follows F(k, k * len(lags)).
    out[ok] = f_dist.sf(stat[ok], k[ok], k[ok] * len(lags))
    return out
