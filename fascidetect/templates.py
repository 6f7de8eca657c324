"""Motor-unit templates: group fasciculations by multichannel waveform similarity.

Two discharges of one motor unit have the same shape on the same channels, so the
correlation of their concatenated multichannel snippets is high; different units differ
in shape, footprint or both (Jahanmiri-Nezhad et al. 2014 use PCA + clustering).
"""

from __future__ import annotations

import numpy as np

_MAX_CLUSTERED = 1500
#: Amplitudes of one unit vary little; a two-fold difference means another unit.
_MAX_LOG2_AMPLITUDE_RATIO = 1.0


def assign_units(snippets: np.ndarray, p2p: np.ndarray, max_distance: float,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return a unit id per discharge (0 = most frequent) and the templates (mean snippets).

    Parameters
    ----------
    snippets : ndarray, shape (n_events, n_channels, n_samples)
        Band-passed multichannel snippets centred on the main peak.
    p2p : ndarray, shape (n_events,)
        Peak-to-peak amplitude on the main channel.
    max_distance : float
        Correlation distance (1 - r) below which discharges join (average linkage).
    seed : int
        Seed of the subsample used when there are more than 1500 discharges.

    Returns
    -------
    units : ndarray of int, shape (n_events,)
    templates : ndarray, shape (n_units, n_channels, n_samples)
    """
    n = snippets.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros((0,) + snippets.shape[1:])
    if n == 1:
        return np.zeros(1, dtype=int), snippets.astype(float).copy()
    from scipy.cluster.hierarchy import fcluster, linkage

    vec = snippets.reshape(n, -1).astype(float)
    vec = vec - vec.mean(axis=1, keepdims=True)
    vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), np.finfo(float).tiny)
    logamp = np.log2(np.maximum(p2p, np.finfo(float).tiny))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(n, _MAX_CLUSTERED, replace=False)) if n > _MAX_CLUSTERED \
        else np.arange(n)
    sub = vec[chosen]
    # Distance: correlation distance, made large where amplitudes differ two-fold.
    dist = 1.0 - sub @ sub.T
    amp_far = np.abs(logamp[chosen][:, None] - logamp[chosen][None, :]) > _MAX_LOG2_AMPLITUDE_RATIO
    dist = np.where(amp_far, 2.0, np.clip(dist, 0.0, 2.0))
    iu = np.triu_indices(chosen.size, k=1)
    z = linkage(dist[iu], method="average")
    labels = fcluster(z, t=max_distance, criterion="distance") - 1
    n_clusters = labels.max() + 1
    centroids = np.zeros((n_clusters, vec.shape[1]))
    np.add.at(centroids, labels, sub)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), np.finfo(float).tiny)
    if chosen.size < n:
        labels_all = np.argmax(vec @ centroids.T, axis=1)
        labels_all[chosen] = labels
    else:
        labels_all = labels
    # Renumber by size so unit 0 is the most frequent.
    counts = np.bincount(labels_all, minlength=n_clusters)
    rank = np.empty(n_clusters, dtype=int)
    rank[np.argsort(-counts, kind="stable")] = np.arange(n_clusters)
    units = rank[labels_all]
    templates = np.zeros((n_clusters,) + snippets.shape[1:])
    np.add.at(templates, units, snippets.astype(float))
    templates /= np.bincount(units, minlength=n_clusters)[:, None, None]
    return units, templates
