"""Candidate discharges: threshold crossings, per-channel peak picking, cross-channel merge.

Everything is vectorized over channels and over the (sparse) supra-threshold samples; the
only Python loops run over a handful of neighbour offsets, as in SpikeInterface's
``by_channel`` detector.
"""

from __future__ import annotations

import numpy as np

_MAX_NEIGHBOURS = 64
_BLOCK = 512


def find_channel_peaks(filtered: np.ndarray, thresholds: np.ndarray, dead_samples: int,
                       shadow_samples: int, shadow_fraction: float,
                       lo: int = 0, hi: int | None = None, segment: int | None = None,
                       origin: int = 0):
    """Return the discharges found on each channel: (channel, sample, signed amplitude).

    A discharge is a local maximum of ``|x|`` above the channel's threshold that is the
    largest within ``dead_samples`` on its channel, and not a small echo (below
    ``shadow_fraction`` of a larger peak within ``shadow_samples``): filter ringing and the
    later phases of a big potential must not count as new discharges.

    Parameters
    ----------
    filtered : ndarray, shape (n_channels, n_samples)
        Band-passed data.
    thresholds : ndarray, shape (n_channels,) or (n_channels, n_segments)
        Absolute thresholds in the data's unit; ``inf`` disables a channel. 2-D: one
        threshold per consecutive ``segment`` samples starting at sample ``origin`` (the
        first and last apply beyond the ends).
    dead_samples, shadow_samples : int
        Dead time and echo window in samples.
    shadow_fraction : float
        Echo amplitude ratio.
    lo, hi : int
        Only samples in ``[lo, hi)`` are considered.
    segment, origin : int
        Segment length and start for 2-D ``thresholds``.

    Returns
    -------
    channel, sample : ndarray of int
        Sorted by channel, then sample.
    amplitude : ndarray of float
        Signed value at the peak.
    """
    n = filtered.shape[1]
    hi = n if hi is None else hi
    lo, hi = max(lo, 1), min(hi, n - 1)
    per_segment = np.ndim(thresholds) == 2
    screen = thresholds.min(axis=1) if per_segment else thresholds
    ch, idx = _supra_threshold(filtered[:, lo:hi], screen)
    idx = idx + lo
    if per_segment and idx.size:
        k = np.clip((idx - origin) // segment, 0, thresholds.shape[1] - 1)
        above = np.abs(filtered[ch, idx]) > thresholds[ch, k]
        ch, idx = ch[above], idx[above]
    if idx.size == 0:
        return ch, idx, np.empty(0)
    absx_c = np.abs(filtered[ch, idx])
    is_max = (absx_c > np.abs(filtered[ch, idx - 1])) & (absx_c >= np.abs(filtered[ch, idx + 1]))
    ch, idx, mag = ch[is_max], idx[is_max], absx_c[is_max]
    keep = _suppress(ch, idx, mag, dead_samples, shadow_samples, shadow_fraction)
    ch, idx = ch[keep], idx[keep]
    return ch, idx, filtered[ch, idx]


def _supra_threshold(seg: np.ndarray, thresholds: np.ndarray, block: int = _BLOCK):
    """Return (channel, sample) of samples whose magnitude exceeds the channel threshold.

    Crossings are sparse, so blocks are screened with max/min reductions (no temporaries)
    and only the blocks that cross are expanded: much cheaper than ``np.nonzero`` on a
    full-size boolean mask.
    """
    n_ch, n = seg.shape
    m = (n // block) * block
    blocks = seg[:, :m].reshape(n_ch, -1, block)
    thr = thresholds[:, None]
    hot_c, hot_b = np.nonzero((blocks.max(axis=-1) > thr) | (blocks.min(axis=-1) < -thr))
    pos = hot_b[:, None] * block + np.arange(block)[None, :]
    vals = seg[hot_c[:, None], pos]
    sel = np.abs(vals) > thresholds[hot_c][:, None]
    ch = np.broadcast_to(hot_c[:, None], pos.shape)[sel]
    idx = pos[sel]
    if m < n:  # the tail shorter than one block
        tc, ti = np.nonzero(np.abs(seg[:, m:]) > thr)
        ch, idx = np.concatenate([ch, tc]), np.concatenate([idx, ti + m])
        order = np.lexsort((idx, ch))
        ch, idx = ch[order], idx[order]
    return ch, idx


def _suppress(ch, idx, mag, dead, shadow, fraction):
    """Return a keep-mask: the peaks a greedy selection keeps, largest first.

    As ``scipy.signal.find_peaks`` does with ``distance``: the largest peak is kept and
    removes the peaks within the dead time of it and its echoes (below ``fraction`` of it
    within ``shadow``); a removed peak removes nothing. Peaks of 12, 11 and 10 units 0, 14
    and 28 ms apart with a 15-ms dead time keep the first and the last (a chain of
    mutual suppression would keep only the first). Done in rounds over the peaks that
    no larger undecided neighbour can still remove, each round vectorized over the
    neighbour pairs (the largest undecided peak always wins, so the rounds end).
    """
    n = idx.size
    if n == 0:
        return np.ones(0, dtype=bool)
    window = max(dead, shadow)
    first, second = [], []
    for k in range(1, _MAX_NEIGHBOURS + 1):  # a handful of neighbour offsets
        if k >= n:
            break
        near = (ch[k:] == ch[:-k]) & (idx[k:] - idx[:-k] <= window)
        if not near.any():
            break
        i = np.flatnonzero(near)
        first.append(i)
        second.append(i + k)
    if not first:
        return np.ones(n, dtype=bool)
    i, j = np.concatenate(first), np.concatenate(second)  # i earlier than j
    a, b = mag[i], mag[j]
    in_dead = (idx[j] - idx[i]) <= dead
    # Who may remove whom: within the dead time the larger (ties: the earlier); within
    # the shadow, a peak over 1/fraction times its neighbour.
    i_removes_j = (in_dead & (a >= b)) | (b < fraction * a)
    j_removes_i = (in_dead & (b > a)) | (a < fraction * b)
    undecided, kept = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    while undecided.any():  # a few rounds
        both = undecided[i] & undecided[j]
        blocked = np.zeros(n, dtype=bool)
        blocked[i[both & j_removes_i]] = True
        blocked[j[both & i_removes_j]] = True
        win = undecided & ~blocked
        kept |= win
        undecided &= ~win
        removed = np.zeros(n, dtype=bool)
        removed[j[kept[i] & undecided[j] & i_removes_j]] = True
        removed[i[kept[j] & undecided[i] & j_removes_i]] = True
        undecided &= ~removed
    return kept


def merge_across_channels(ch, idx, amp, merge_samples: int, loose_samples: int | None = None,
                          weak_ratio: float = 0.5):
    """Group per-channel peaks into multichannel discharges.

    Peaks closer than ``merge_samples`` (chained) are one discharge. A group up to
    ``loose_samples`` away from its neighbour also joins it when it is weak (largest peak
    below ``weak_ratio`` of the neighbour's) and peaks on other channels: the same
    potential seen on a distant channel peaks a few ms off (propagation, another phase
    of a changed shape), whereas two units firing together are each large on their own
    channel.

    Returns
    -------
    group : ndarray of int
        Group id of every peak (peaks re-sorted by time).
    order : ndarray of int
        The time order applied to the inputs.
    main : ndarray of int
        Index (into the time-sorted peaks) of each group's largest peak.
    """
    order = np.argsort(idx, kind="stable")
    t = idx[order]
    c = ch[order]
    mag = np.abs(amp[order])
    new_group = np.empty(t.size, dtype=bool)
    if t.size:
        new_group[0] = True
        new_group[1:] = np.diff(t) > merge_samples
    group = np.cumsum(new_group) - 1
    main = _largest_per_group(group, mag)
    if loose_samples and main.size > 1:
        starts = np.flatnonzero(new_group)
        ends = np.concatenate([starts[1:], [t.size]]) - 1
        gap = t[starts[1:]] - t[ends[:-1]]
        big, small = np.maximum(mag[main[1:]], mag[main[:-1]]), \
            np.minimum(mag[main[1:]], mag[main[:-1]])
        join = (gap <= loose_samples) & (small < weak_ratio * big) & (c[main[1:]] != c[main[:-1]])
        relabel = np.cumsum(np.concatenate([[True], ~join])) - 1
        group = relabel[group]
        main = _largest_per_group(group, mag)
    return group, order, main


def _largest_per_group(group: np.ndarray, mag: np.ndarray) -> np.ndarray:
    """Return the index of the largest magnitude in each (contiguous, sorted) group."""
    by = np.lexsort((-mag, group))
    first = np.ones(by.size, dtype=bool)
    first[1:] = group[by][1:] != group[by][:-1]
    return by[first]
