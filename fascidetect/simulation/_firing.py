"""Discharge timing: renewal trains, operational-time trains for varying rates, clusters,
uniform draws over spans, refractory thinning and placement of non-overlapping episodes."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ._ranges import _draw, _pair


def _gamma_renewal(rng, duration_s, rate_hz, cv, min_isi_s, start_s=0.0):
    """Return discharge times of a gamma renewal process (mean rate, CV) with dead time."""
    mean_isi = 1.0 / rate_hz
    shape = 1.0 / max(cv, 1e-3) ** 2
    extra = max(mean_isi - min_isi_s, 1e-4)
    times = []
    t0 = start_s + rng.uniform(0, mean_isi)
    while True:  # draws in blocks; loops once or twice
        n = int(duration_s / mean_isi * 1.3) + 10
        isi = min_isi_s + rng.gamma(shape, extra / shape, n)
        block = t0 + np.concatenate([[0.0], np.cumsum(isi[:-1])])
        times.append(block)
        t0 = block[-1] + isi[-1]
        if t0 > start_s + duration_s:
            break
    times = np.concatenate(times)
    return times[times < start_s + duration_s]


def _operational_time_train(rng, t, rate, cv, min_step=0.25):
    """Return discharge times for a time-varying rate: a gamma renewal in operational time.

    ``rate`` (Hz, >= 0) is sampled on the grid ``t``; the cumulative rate maps gamma
    increments of mean 1 (CV ``cv``) back to time, so intervals follow the rate with the
    given irregularity. ``min_step`` keeps a refractory period at any rate.
    """
    dt = np.diff(t, prepend=t[0])
    phase = np.cumsum(rate * dt) + 1e-9 * np.arange(t.size)  # strictly increasing
    total = phase[-1]
    if total < 1:
        return np.empty(0)
    shape = 1.0 / cv ** 2
    n = int(total * 1.5) + 10
    steps = np.maximum(rng.gamma(shape, 1.0 / shape, n), min_step)
    targets = rng.uniform(0, 1) + np.cumsum(steps) - steps[0]
    targets = targets[targets < total]
    times = np.interp(targets, phase, t)
    active = np.interp(times, t, rate) > 0
    return times[active]


def _place_intervals(rng, lengths, total_s, edge_s, gap_s=1.0):
    """Return (starts, lengths) of random non-overlapping intervals (lengths may shrink)."""
    lengths = np.array(lengths, float)
    if lengths.size == 0:
        return lengths, lengths
    room = total_s - 2 * edge_s - gap_s * (lengths.size + 1)
    if lengths.sum() > 0.8 * room:
        # Short recordings (tests, quick demos): shrink the episodes to fit rather than fail.
        lengths *= 0.8 * room / lengths.sum()
        if lengths.min() < 0.5:
            raise ParameterError(
                f"a {total_s:g} s recording is too short for {lengths.size} episodes; "
                "lengthen the recording or ask for fewer episodes")
    free = room - lengths.sum()
    order = rng.permutation(lengths.size)
    cuts = np.sort(rng.uniform(0, free, lengths.size))
    starts = np.empty(lengths.size)
    pos = edge_s + gap_s
    prev_cut = 0.0
    for slot, i in enumerate(order):  # a loop over a handful of episodes
        pos += cuts[slot] - prev_cut
        prev_cut = cuts[slot]
        starts[i] = pos
        pos += lengths[i] + gap_s
    return starts, lengths


def _cluster_members(rng, starts, size, interval_ms):
    """Return (times, owner) of the later discharges of clusters that begin at ``starts``.

    Each cluster holds ``size`` discharges in all (drawn per cluster, the first being
    the start itself) separated by intervals drawn independently in ``interval_ms``, so
    clusters are irregular in both length and spacing. ``owner`` indexes ``starts``.
    """
    lo, hi = _pair(size)
    sizes = rng.integers(int(round(lo)), int(round(hi)) + 1, starts.size)
    n_after = sizes - 1
    gaps = _draw(rng, interval_ms, int(n_after.sum())) / 1000.0
    # Cumulative sums restarted at each cluster: subtract the running total at its start.
    total = np.cumsum(gaps)
    first = np.cumsum(n_after) - n_after
    restart = np.repeat(total[first[n_after > 0]] - gaps[first[n_after > 0]], n_after[n_after > 0])
    owner = np.repeat(np.arange(starts.size), n_after)
    return starts[owner] + total - restart, owner


def _uniform_in_spans(rng, spans, n):
    """Return ``n`` times drawn uniformly over the union of disjoint spans."""
    arr = np.asarray(spans, float).reshape(-1, 2)
    lengths = arr[:, 1] - arr[:, 0]
    u = rng.uniform(0.0, lengths.sum(), n)
    cum = np.cumsum(lengths)
    k = np.minimum(np.searchsorted(cum, u, side="right"), arr.shape[0] - 1)
    return arr[k, 0] + u - (cum[k] - lengths[k])


def _drop_close(times, keep_times, min_gap_s):
    """Return the sorted ``times`` that keep ``min_gap_s`` to ``keep_times`` and to each other.

    A time is dropped when it lies closer than ``min_gap_s`` to any of ``keep_times``
    (sorted) or to the previous one of ``times``; a kept time is then never closer than
    ``min_gap_s`` to any other.
    """
    times = np.sort(times)
    nearest = np.full(times.size, np.inf)
    if keep_times.size and times.size:
        j = np.searchsorted(keep_times, times)
        below = keep_times[np.maximum(j - 1, 0)]
        above = keep_times[np.minimum(j, keep_times.size - 1)]
        nearest = np.minimum(np.abs(times - below), np.abs(above - times))
    prev = np.diff(times, prepend=-np.inf)
    return times[(nearest >= min_gap_s) & (prev >= min_gap_s)]
