"""Motor-unit templates: group fasciculations by their multichannel waveform.

Two discharges of one motor unit have the same shape on the same channels; they differ
only by noise (and a little amplitude jitter). Following Jahanmiri-Nezhad et al. 2014
(PCA + clustering), snippets are whitened by each channel's noise, projected on their
main principal components, and joined by average linkage when their distance is within
what noise and jitter explain. Discharges with different main channels are different
units (a unit's footprint peaks in one place).
"""

from __future__ import annotations

import numpy as np

_MAX_CLUSTERED = 1000
_N_COMPONENTS = 5
#: 99th percentiles of chi-square with k = 1..5 degrees of freedom: two noisy copies of one
#: waveform are farther apart than sqrt(2 * lambda * chi2_99) in 1 % of pairs only...
_CHI2_99 = (0.0, 6.63, 9.21, 11.34, 13.28, 15.09)
#: ...and differences within this share of the waveform's own norm are amplitude jitter,
#: not another unit.
_RELATIVE_TOLERANCE = 0.3
#: Waveforms used to estimate the principal components.
_MAX_BASIS = 400
#: Discharges aligned and placed per slice (bounds the temporaries: the alignment of a
#: slice takes about 25 kB a discharge for 8 channels at 2 kHz, issue 14).
_SLICE = 500
#: Pairs of discharges whose distance tolerance is computed at a time.
_PAIRS = 2 ** 16


def assign_units(snippets: np.ndarray, main_channel: np.ndarray, sigma: np.ndarray,
                 seed: int = 0, min_discharges: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Return a unit id per discharge (0 = most frequent, -1 = unassigned) and the templates.

    Clusters of fewer than ``min_discharges`` discharges (``DetectionParams.
    min_unit_discharges``) are left unassigned.

    Parameters
    ----------
    snippets : ndarray, shape (n_events, n_channels, n_samples)
        Band-passed multichannel snippets centred on each discharge.
    main_channel : ndarray of int, shape (n_events,)
        Channel where each discharge is largest.
    sigma : ndarray, shape (n_channels,)
        Noise sigma per channel (same unit as the snippets).
    seed : int
        Seed of the subsample clustered when a channel has more than 1000 discharges.
    min_discharges : int
        Fewest discharges that make a motor-unit template.

    Returns
    -------
    units : ndarray of int, shape (n_events,)
    templates : ndarray, shape (n_units, n_channels, n_samples)
        Mean snippet of each unit.
    """
    n = snippets.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros((0,) + snippets.shape[1:])
    scale = np.where(sigma > 0, sigma, 1.0)[None, :, None]
    labels = np.full(n, -1, dtype=int)
    next_label = 0
    rng = np.random.default_rng(seed)
    for ch in np.unique(main_channel):  # loop over channels, not events
        idx = np.flatnonzero(main_channel == ch)
        # Busy channels: cluster a random subset, then give every other discharge the
        # nearest cluster, a slice at a time (bounded memory whatever the count).
        chosen = idx if idx.size <= _MAX_CLUSTERED else \
            np.sort(rng.choice(idx, _MAX_CLUSTERED, replace=False))
        ref = (snippets[chosen, ch, :] / scale[0, ch]).astype(float).mean(axis=0)
        aligned = np.empty((chosen.size,) + snippets.shape[1:])
        for start in range(0, chosen.size, _SLICE):  # slices: each row is aligned alone
            part = chosen[start:start + _SLICE]
            aligned[start:start + _SLICE] = align_to_template(snippets[part] / scale, ch,
                                                              reference=ref)
        local, model = _fit_clusters(aligned.reshape(chosen.size, -1), rng)
        del aligned
        labels[chosen] = local + next_label
        rest = np.setdiff1d(idx, chosen, assume_unique=True)
        for start in range(0, rest.size, _SLICE):
            part = rest[start:start + _SLICE]
            aligned = align_to_template(snippets[part] / scale, ch, reference=ref)
            labels[part] = _nearest_cluster(aligned.reshape(part.size, -1), model) + next_label
        next_label += int(local.max()) + 1
    counts = np.bincount(labels, minlength=next_label)
    # A cluster of one or two discharges (an overlap, a doublet's distorted second
    # potential) is not evidence of another unit: those stay unassigned (-1).
    real = counts >= min_discharges
    n_units = int(real.sum())
    rank = np.full(next_label, -1, dtype=int)
    order = np.argsort(-counts, kind="stable")
    rank[order[: n_units]] = np.arange(n_units)
    units = rank[labels]
    templates = np.zeros((n_units,) + snippets.shape[1:])
    for start in range(0, n, _SLICE):  # slices keep the float64 copy small
        u = units[start:start + _SLICE]
        ok = u >= 0
        np.add.at(templates, u[ok], snippets[start:start + _SLICE][ok].astype(float))
    templates /= np.maximum(np.bincount(units[units >= 0], minlength=n_units), 1)[:, None, None]
    return units, templates


def align_to_template(snippets: np.ndarray, channel: int, max_lag: int | None = None,
                      reference: np.ndarray | None = None) -> np.ndarray:
    """Return snippets shifted (by a fractional lag) to best match their mean on ``channel``.

    Short potentials sampled at a few samples per phase jitter by up to half a sample
    around any integer alignment, which looks like a different shape; the lag of the
    cross-correlation peak, refined by a parabola, is applied as an FFT phase shift.

    Parameters
    ----------
    snippets : ndarray, shape (n_events, n_channels, n_samples)
    channel : int
        Channel whose waveform drives the alignment (the main channel).
    max_lag : int | None
        Largest shift in samples (default a quarter of the snippet).
    reference : ndarray, shape (n_samples,) | None
        Waveform to align to (default the mean of ``snippets`` on ``channel``).
    """
    n_ev, n_ch, w = snippets.shape
    if n_ev < 2 and reference is None:
        return snippets.astype(float)
    max_lag = w // 4 if max_lag is None else max_lag
    nfft = 2 * w
    main = snippets[:, channel, :].astype(float)
    ref = main.mean(axis=0) if reference is None else np.asarray(reference, dtype=float)
    cc = np.fft.irfft(np.fft.rfft(main, nfft, axis=1) * np.conj(np.fft.rfft(ref, nfft))[None, :],
                      nfft, axis=1)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    cc = cc[:, lags]
    best = np.argmax(cc, axis=1)
    # Parabolic refinement around the peak (neighbours in lag order).
    order = np.argsort(lags)
    pos = np.argsort(order)[best]
    left = cc[np.arange(n_ev), order[np.clip(pos - 1, 0, lags.size - 1)]]
    mid = cc[np.arange(n_ev), best]
    right = cc[np.arange(n_ev), order[np.clip(pos + 1, 0, lags.size - 1)]]
    denom = left - 2 * mid + right
    frac = np.where(np.abs(denom) > 0, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    shift = lags[best] + np.clip(frac, -0.5, 0.5)
    freqs = np.fft.rfftfreq(nfft)
    phase = np.exp(2j * np.pi * freqs[None, :] * shift[:, None])[:, None, :]
    # float32 transforms: half the cost, far more precision than the waveforms carry.
    spec = np.fft.rfft(snippets.astype(np.float32), nfft, axis=-1)
    return np.fft.irfft(spec * phase.astype(np.complex64), nfft, axis=-1)[..., :w].astype(float)


def _leading_components(x: np.ndarray, k: int) -> np.ndarray:
    """Return the ``k`` leading right singular vectors of ``x`` (rows), shape (k, n_features).

    Through the eigenvectors of the smaller Gram matrix: the same vectors as a full SVD
    at a fraction of its cost when only a few are needed.
    """
    if x.shape[0] <= x.shape[1]:
        vals, vecs = np.linalg.eigh(x @ x.T)
        top = np.argsort(vals)[::-1][:k]
        v = vecs[:, top].T @ x
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), np.finfo(float).tiny)
    vals, vecs = np.linalg.eigh(x.T @ x)
    return vecs[:, np.argsort(vals)[::-1][:k]].T


def _fit_clusters(vectors: np.ndarray, rng):
    """Return cluster labels (0..k-1) of whitened snippet vectors of one main channel,
    and the model (mean, components, centroids) that places further vectors."""
    n = vectors.shape[0]
    if n == 1:
        return np.zeros(1, dtype=int), None
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    mean = vectors.mean(axis=0)
    centred = vectors - mean
    # The few leading components are well estimated from a few hundred waveforms; the
    # SVD of every one would cost more than the rest of the detector.
    basis = np.arange(n) if n <= _MAX_BASIS else np.sort(rng.choice(n, _MAX_BASIS,
                                                                   replace=False))
    k = min(_N_COMPONENTS, basis.size - 1, vectors.shape[1])
    vt = _leading_components(centred[basis], k)
    proj = centred @ vt[:k].T
    # Norm of each waveform in the same space (its own size, for the relative tolerance).
    own = np.linalg.norm((vectors @ vt[:k].T), axis=1)
    # Condensed (upper-triangle) distances: a square matrix of pairwise differences would
    # take hundreds of MB for a busy channel.
    diff = pdist(proj)
    # With more dimensions than discharges, the top components of pure (whitened) noise
    # have variance up to the Marchenko-Pastur edge (1 + sqrt(p/n))^2, not 1.
    mp_edge = (1.0 + np.sqrt(vectors.shape[1] / basis.size)) ** 2
    noise_distance = np.sqrt(2.0 * mp_edge * _CHI2_99[k])
    _divide_by_tolerance(diff, own, n, noise_distance)
    z = linkage(diff, method="average")
    labels = fcluster(z, t=1.0, criterion="distance") - 1
    centroids = np.zeros((labels.max() + 1, k))
    np.add.at(centroids, labels, proj)
    centroids /= np.bincount(labels)[:, None]
    return labels, (mean, vt[:k], centroids)


def _divide_by_tolerance(diff: np.ndarray, own: np.ndarray, n: int, noise_distance) -> None:
    """Divide the condensed distances ``diff`` (pairs ``i < j`` of ``n``, as ``pdist``)
    by their tolerance, in place and :data:`_PAIRS` pairs at a time: the pairs' index
    arrays and tolerance of 1,000 discharges took 28 MB at once (issue 14)."""
    # First condensed position of each row i: its pairs (i, i+1..n-1) follow.
    first = np.concatenate([[0], np.cumsum(np.arange(n - 1, 0, -1))])
    for a in range(0, diff.size, _PAIRS):  # loop over pieces of the condensed array
        pos = np.arange(a, min(diff.size, a + _PAIRS))
        iu = np.searchsorted(first, pos, side="right") - 1
        ju = pos - first[iu] + iu + 1
        tol = np.maximum(noise_distance, _RELATIVE_TOLERANCE * 0.5 * (own[iu] + own[ju]))
        diff[a:a + pos.size] /= tol


def _nearest_cluster(vectors: np.ndarray, model) -> np.ndarray:
    """Return the label of the nearest cluster centroid of each vector."""
    if model is None:
        return np.zeros(vectors.shape[0], dtype=int)
    mean, vt, centroids = model
    proj = (vectors - mean) @ vt.T
    return np.argmin(np.linalg.norm(proj[:, None, :] - centroids[None, :, :], axis=-1), axis=1)
