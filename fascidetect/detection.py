"""Candidate discharges: threshold crossings, per-channel peak picking, cross-channel merge.

Everything is vectorized over channels and over the (sparse) supra-threshold samples; the
only Python loops run over a handful of neighbour offsets, as in SpikeInterface's
``by_channel`` detector.
"""

from __future__ import annotations

import numpy as np

_MAX_NEIGHBOURS = 64
_BLOCK = 512
#: Share of a block's samples crossing from which only the crossings that are local
#: maxima are expanded (each crossing costs three gathers; two more comparisons over the
#: block pay off beyond a few per cent: busy blocks 7-9 %, a quiet hour's 0.3 %).
_DENSE = 0.02


def find_channel_peaks(filtered: np.ndarray, thresholds: np.ndarray, dead_samples: int,
                       shadow_samples: int, shadow_fraction: float,
                       lo: int = 0, hi: int | None = None, segment: int | None = None,
                       origin: int = 0, phase_samples: int = 0, phase_fraction: float = 0.0,
                       with_echoes: bool = False, span_samples: int = 0,
                       with_spanned: bool = False, polarity: int = 0):
    """Return the discharges found on each channel: (channel, sample, signed amplitude).

    A discharge is a local maximum of ``|x|`` above the channel's threshold that is the
    largest within ``dead_samples`` on its channel, and not a small echo (below
    ``shadow_fraction`` of a larger peak within ``shadow_samples``), nor a phase of a
    larger peak (opposite polarity, below ``phase_fraction`` of it, within
    ``phase_samples``): filter ringing and the other phases of a big potential must not
    count as new discharges.

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
    phase_samples : int
        Window for opposite-polarity phases (0: none). A doublet's second discharge has
        the polarity of the first, so it is not removed.
    phase_fraction : float
        Phase amplitude ratio.
    with_echoes : bool
        Also return the peaks removed only as echoes or phases (they are samples of a
        kept discharge's waveform or ringing, which a background estimate leaves out).
    span_samples : int
        A peak within this many samples of a larger one on its channel is that
        potential's phase, whatever its size or polarity (at rates too low to resolve a
        potential's phases; 0: none). Such peaks count as echoes.
    with_spanned : bool
        Also return the peaks the other rules keep and only ``span_samples`` removes
        (the phases merged into a kept discharge at low rates; a firing-density test
        still counts them).
    lo, hi : int
        Only samples in ``[lo, hi)`` are considered.
    segment, origin : int
        Segment length and start for 2-D ``thresholds``.
    polarity : {0, 1, -1}
        1: the peaks of ``np.maximum(filtered, 0)``, -1: those of
        ``np.minimum(filtered, 0)`` (each polarity apart), without making either array:
        the same peaks and amplitudes. 0: of ``filtered``.

    Returns
    -------
    channel, sample : ndarray of int
        Sorted by channel, then sample.
    amplitude : ndarray of float
        Signed value at the peak.
    echoes : tuple of (channel, sample) arrays
        Only with ``with_echoes``.
    spanned : tuple of (channel, sample) arrays
        Only with ``with_spanned`` (after ``echoes``).
    """
    n = filtered.shape[1]
    hi = n if hi is None else hi
    lo, hi = max(lo, 1), min(hi, n - 1)
    per_segment = np.ndim(thresholds) == 2
    screen = thresholds.min(axis=1) if per_segment else thresholds
    # The magnitude of the signal searched: |x|, or of one polarity max(+-x, 0) (a
    # supra-threshold sample of that polarity is +-x itself).
    size = np.abs if polarity == 0 else \
        (lambda v: np.maximum(polarity * v, 0.0).astype(v.dtype, copy=False))
    ch, idx = _supra_threshold(filtered[:, lo:hi], screen, polarity=polarity,
                               maxima_of=(filtered, lo, hi, size) if hi > lo else None)
    idx = idx + lo
    if per_segment and idx.size:
        k = np.clip((idx - origin) // segment, 0, thresholds.shape[1] - 1)
        above = size(filtered[ch, idx]) > thresholds[ch, k]
        ch, idx = ch[above], idx[above]
    extra = int(with_echoes) + int(with_spanned)
    if idx.size == 0:
        return (ch, idx, np.empty(0)) + ((ch, idx),) * extra
    absx_c = size(take_2d(filtered, ch, idx))
    before, after = size(take_2d(filtered, ch, idx - 1)), size(take_2d(filtered, ch, idx + 1))
    is_max = (absx_c > before) & (absx_c >= after)
    ch, idx, mag = ch[is_max], idx[is_max], absx_c[is_max]
    sign = (np.sign(filtered[ch, idx]) if polarity == 0 else
            np.full(idx.size, polarity, dtype=filtered.dtype)) if phase_samples > 0 else None
    keep = _suppress(ch, idx, mag, max(dead_samples, span_samples), shadow_samples,
                     shadow_fraction, sign=sign, phase=phase_samples,
                     phase_fraction=phase_fraction)
    out = (ch[keep], idx[keep], filtered[ch[keep], idx[keep]])  # a peak of max(+-x, 0) is x
    if with_echoes:
        echo = _suppress(ch, idx, mag, dead_samples, 0, 0.0) & ~keep
        out += ((ch[echo], idx[echo]),)
    if with_spanned:
        spanned = np.zeros_like(keep)
        if span_samples > dead_samples:
            spanned = _suppress(ch, idx, mag, dead_samples, shadow_samples, shadow_fraction,
                                sign=sign, phase=phase_samples,
                                phase_fraction=phase_fraction) & ~keep
        out += ((ch[spanned], idx[spanned]),)
    return out


def take_2d(data: np.ndarray, rows, cols) -> np.ndarray:
    """Return ``data[rows, cols]`` (index arrays broadcast together).

    On a C-contiguous 2-D array by a 1-D take of the flat array: the same elements, 2-3
    times cheaper than numpy's two-index gather.
    """
    if data.ndim != 2 or not data.flags.c_contiguous:
        return data[rows, cols]
    return np.take(data.reshape(-1), np.asarray(rows, dtype=np.intp) * data.shape[1] + cols)


def _supra_threshold(seg: np.ndarray, thresholds: np.ndarray, block: int = _BLOCK,
                     polarity: int = 0, maxima_of=None):
    """Return (channel, sample) of samples whose magnitude exceeds the channel threshold
    (``polarity`` 1 or -1: whose value exceeds it, or lies under its negative).

    Crossings are sparse, so blocks are screened with max/min reductions (no temporaries)
    and only the blocks that cross are expanded: much cheaper than ``np.nonzero`` on a
    full-size boolean mask.

    ``maxima_of``, ``(filtered, lo, hi, size)`` with ``seg = filtered[:, lo:hi]``: where
    most blocks cross and at least :data:`_DENSE` of the samples (a busy recording),
    only the crossings that are local maxima of ``size`` (over the sample before, at
    least the one after: the test :func:`find_channel_peaks` applies next) are
    returned, found on the mask of the whole array; a busy block has about six times
    more crossings than maxima, and each crossing cost three gathers. Elsewhere all
    crossings, as without it.
    """
    n_ch, n = seg.shape
    m = (n // block) * block
    blocks = seg[:, :m].reshape(n_ch, -1, block)
    thr = thresholds[:, None]

    def crossing(x, t):
        if polarity > 0:
            return x > t
        if polarity < 0:
            return x < -t
        return np.abs(x) > t

    if polarity > 0:
        hot = blocks.max(axis=-1) > thr
    elif polarity < 0:
        hot = blocks.min(axis=-1) < -thr
    else:
        hot = (blocks.max(axis=-1) > thr) | (blocks.min(axis=-1) < -thr)
    hot_c, hot_b = np.nonzero(hot)
    if hot_c.size * 4 > blocks.shape[0] * blocks.shape[1]:
        # Most blocks cross (a busy recording): one mask of the whole array is cheaper
        # than gathering the blocks (the same samples, in the same order).
        if maxima_of is None:
            return np.nonzero(crossing(seg, thr))
        filtered, lo, hi, size = maxima_of
        # One polarity: a crossing is over 0, where max(+-x, 0) orders as +-x does.
        x = size(filtered[:, lo - 1:hi + 1]) if polarity == 0 else filtered[:, lo - 1:hi + 1]
        core = x[:, 1:-1]
        mask = crossing(core, thr) if polarity else core > thr  # core is |seg| when 0
        if np.count_nonzero(mask) < _DENSE * mask.size:
            return np.nonzero(mask)
        if polarity >= 0:
            mask &= core > x[:, :-2]
            mask &= core >= x[:, 2:]
        else:
            mask &= core < x[:, :-2]
            mask &= core <= x[:, 2:]
        return np.nonzero(mask)
    pos = hot_b[:, None] * block + np.arange(block)[None, :]
    vals = seg[hot_c[:, None], pos]
    sel = crossing(vals, thresholds[hot_c][:, None])
    ch = np.broadcast_to(hot_c[:, None], pos.shape)[sel]
    idx = pos[sel]
    if m < n:  # the tail shorter than one block
        tc, ti = np.nonzero(crossing(seg[:, m:], thr))
        ch, idx = np.concatenate([ch, tc]), np.concatenate([idx, ti + m])
        order = np.lexsort((idx, ch))
        ch, idx = ch[order], idx[order]
    return ch, idx


def _suppress(ch, idx, mag, dead, shadow, fraction, sign=None, phase=0, phase_fraction=0.0):
    """Return a keep-mask: the peaks a greedy selection keeps, largest first.

    As ``scipy.signal.find_peaks`` does with ``distance``: the largest peak is kept and
    removes the peaks within the dead time of it and its echoes (below ``fraction`` of it
    within ``shadow``); a removed peak removes nothing. Peaks of 12, 11 and 10 units 0, 14
    and 28 ms apart with a 15-ms dead time keep the first and the last (a chain of
    mutual suppression would keep only the first). With ``sign``, a peak of the other
    polarity below ``phase_fraction`` of its neighbour within ``phase`` samples is removed
    as that neighbour's phase. Done in rounds over the peaks that
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
    if sign is not None and phase > 0:
        # A biphasic potential of 15-20 ms has its phases 8-10 ms apart, past the dead time.
        other_phase = (sign[i] != sign[j]) & ((idx[j] - idx[i]) <= phase)
        i_removes_j |= other_phase & (b < phase_fraction * a)
        j_removes_i |= other_phase & (a < phase_fraction * b)
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
                          weak_ratio: float = 0.5, neighbourhood=None, crosstalk_samples: int = 0,
                          join_radius: float | None = None, shadow_samples: int = 0,
                          shadow_fraction: float = 0.25, signal=None, crosstalk_half: int = 0,
                          crosstalk_corr: float = 0.7, propagation_samples: float = 0.0,
                          cross_phase_samples: int = 0, cross_phase_fraction: float = 0.6):
    """Group per-channel peaks into multichannel discharges.

    Peaks closer than ``merge_samples`` (chained) are one discharge. A group up to
    ``loose_samples`` away from its neighbour also joins it when it is weak (largest peak
    below ``weak_ratio`` of the neighbour's) and peaks on other channels: the same
    potential seen on a distant channel peaks a few ms off (propagation, another phase
    of a changed shape), whereas two units firing together are each large on their own
    channel.

    With a declared ``neighbourhood`` (:class:`fascidetect.neighbours.Neighbourhood`)
    only peaks on adjacent channels chain (on a linear array up to
    ``propagation_samples`` later per electrode of distance: the potential travels along
    the fibres), and the
    weaker-group join stays within one
    muscle (or array; on a layout it is judged against the larger group's peaks within
    ``join_radius`` electrodes). A group of one muscle under ``shadow_fraction`` of a
    larger one within ``shadow_samples`` is its late lobe or ringing seen elsewhere (as
    the per-channel echo shadow). A weaker group on another muscle joins only as
    crosstalk: its trace (``signal``, the band-passed block the peaks index) around the
    larger discharge's peak (+/- ``crosstalk_half``) matches the larger one's within
    ``crosstalk_samples`` of lag (correlation at least ``crosstalk_corr``): volume
    conduction carries the same potential at the same instant, a unit of the other
    muscle has its own shape and time. Without a declared neighbourhood every channel
    joins every other.

    With ``cross_phase_samples`` (coarse sampling only, see
    :func:`_cross_phase_join`), two groups whose largest peaks lie on different channels
    up to that many samples apart with opposite polarities, each channel holding the
    other's polarity at the other's instant, are one potential whose two lobes the two
    channels rank differently.

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
    if neighbourhood is not None and neighbourhood.declared:
        group, main = _merge_neighbours(t, c, mag, merge_samples, loose_samples, weak_ratio,
                                        neighbourhood, crosstalk_samples, join_radius,
                                        shadow_samples, shadow_fraction, signal,
                                        crosstalk_half, crosstalk_corr, propagation_samples)
        if cross_phase_samples and signal is not None:
            group, main = _cross_phase_join(t, c, amp[order], group, main, cross_phase_samples,
                                            cross_phase_fraction, signal, neighbourhood.adjacent)
        return group, order, main
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
        # A weak group between two joins only the nearer (ties: the larger), so two
        # discharges never chain through a small peak between them: a doublet 15-20 ms
        # apart on one channel, its first discharge seen weakly on another channel in
        # between, stays two discharges.
        weaker_is_later = mag[main[1:]] < mag[main[:-1]]
        both = join[:-1] & join[1:] & weaker_is_later[:-1] & ~weaker_is_later[1:]
        k = np.flatnonzero(both)  # group k + 1 is the weaker of pairs k and k + 1
        if k.size:
            prefer_later = (gap[k + 1] < gap[k]) | ((gap[k + 1] == gap[k])
                                                     & (big[k + 1] > big[k]))
            join[k[prefer_later]] = False
            join[k[~prefer_later] + 1] = False
        relabel = np.cumsum(np.concatenate([[True], ~join])) - 1
        group = relabel[group]
        main = _largest_per_group(group, mag)
    if cross_phase_samples and signal is not None:
        group, main = _cross_phase_join(t, c, amp[order], group, main, cross_phase_samples,
                                        cross_phase_fraction, signal)
    return group, order, main


def _cross_phase_join(t, c, amp, group, main, window: int, fraction: float, signal,
                      adjacent=None):
    """Join pairs of groups that are one potential's two lobes on two channels.

    Where a phase is about a sample (250 Hz and under), a biphasic potential comes out of the
    band as two lobes of nearly equal size a couple of samples apart, and which one is
    the larger changes from channel to channel (the spread copy of a potential is
    blurred). Two channels then report its two lobes as two discharges 8-10 ms apart,
    past ``merge_ms``, of similar size (so not the weak join) and of opposite
    polarities. Such a pair is one discharge when each channel, at the other's peak,
    holds the other's polarity at ``fraction`` or more of its own peak: both channels
    carry both lobes. Two discharges (a doublet, two units) keep the same polarity on
    a shared channel, or leave the other channel without the matching lobe. A group
    pairs with at most one neighbour in time (the better-evidenced pair of a run), so
    a doublet whose discharges are each seen twice stays two discharges.

    ``t``, ``c``, ``amp``: time-sorted peaks (sample, channel, signed amplitude) as
    :func:`merge_across_channels` sorts them; ``signal`` the band-passed block they index;
    ``adjacent``: channels that may share a discharge (None: all).
    """
    if main.size < 2:
        return group, main
    by = np.argsort(t[main], kind="stable")
    m = main[by]
    ta, tb, ca, cb = t[m[:-1]], t[m[1:]], c[m[:-1]], c[m[1:]]
    pa, pb = amp[m[:-1]], amp[m[1:]]
    cand = (tb - ta <= window) & (ca != cb) & (np.sign(pa) != np.sign(pb))
    if adjacent is not None:
        cand &= adjacent[ca, cb]
    k = np.flatnonzero(cand)
    if not k.size:
        return group, main
    n = signal.shape[1]
    at_b = np.asarray(signal[ca[k], np.minimum(tb[k], n - 1)], dtype=float)
    at_a = np.asarray(signal[cb[k], np.minimum(ta[k], n - 1)], dtype=float)
    score = np.full(cand.size, -np.inf)
    score[k] = np.minimum(at_b * np.sign(pb[k]) / np.abs(pa[k]),
                          at_a * np.sign(pa[k]) / np.abs(pb[k]))
    ok = score >= fraction
    # A group joins one neighbour only: a pair joins when neither adjacent pair sharing
    # one of its groups is better evidenced (no chains through a run of lobes).
    prev = np.concatenate([[-np.inf], np.where(ok, score, -np.inf)[:-1]])
    nxt = np.concatenate([np.where(ok, score, -np.inf)[1:], [-np.inf]])
    join = ok & (score >= prev) & (score > nxt)
    if not join.any():
        return group, main
    j = np.flatnonzero(join)
    g_of = group[m]  # group id of each time-ordered group
    relabel = _components(main.size, g_of[j], g_of[j + 1])
    group = relabel[group]
    return group, _largest_per_group(group, np.abs(amp))


def _close_pairs(t: np.ndarray, window: int):
    """Return index pairs (i < j) of time-sorted samples at most ``window`` apart."""
    first, second = [], []
    for k in range(1, t.size):  # offsets: as many as peaks fall within one window
        near = t[k:] - t[:-k] <= window
        if not near.any():
            break
        i = np.flatnonzero(near)
        first.append(i)
        second.append(i + k)
    if not first:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate(first), np.concatenate(second)


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Return the connected component of each of ``n`` nodes, numbered by their first node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(i.size, dtype=np.int8), (i, j)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    # Number components by their earliest peak (scipy numbers them in node order too,
    # but do not rely on it).
    _, first = np.unique(label, return_index=True)
    rank = np.empty(first.size, dtype=int)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[label]


def _merge_neighbours(t, c, mag, merge, loose, weak_ratio, nb, crosstalk, join_radius,
                      shadow, shadow_fraction, signal=None, crosstalk_half=0, crosstalk_corr=0.7,
                      propagation=0.0):
    """Return (group, main) of time-sorted peaks merged within neighbourhoods."""
    n = t.size
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    if nb.linear and propagation:
        # Along an array the potential travels: a neighbour farther away peaks later.
        i, j = _close_pairs(t, merge + int(np.ceil(propagation * nb.distance[nb.adjacent].max())))
        linked = nb.adjacent[c[i], c[j]] & (t[j] - t[i] <= merge + propagation * nb.distance[c[i], c[j]])
    else:
        i, j = _close_pairs(t, merge)
        linked = nb.adjacent[c[i], c[j]]
    group = _components(n, i[linked], j[linked])
    main = _largest_per_group(group, mag)
    window = max(loose or 0, shadow or 0)
    if not window or main.size < 2:
        return group, main
    n_groups = main.size
    start = np.full(n_groups, np.iinfo(np.int64).max)
    end = np.full(n_groups, np.iinfo(np.int64).min)
    np.minimum.at(start, group, t)
    np.maximum.at(end, group, t)
    # Pairs of groups of one muscle (or array) near in time: the weaker is the larger's
    # other phase, propagation or late lobe (within loose_samples when under weak_ratio
    # of it, within the echo shadow when under shadow_fraction).
    by = np.argsort(start, kind="stable")
    a, b = _close_pairs(start[by], window + int((end - start).max()))
    a, b = by[a], by[b]
    gap = np.maximum(start[b] - end[a], start[a] - end[b])
    ma, mb = mag[main[a]], mag[main[b]]
    weaker = np.where(ma < mb, a, b)
    larger = np.where(ma < mb, b, a)
    small, big = mag[main[weaker]], mag[main[larger]]
    if nb.distance is not None and join_radius is not None:
        # On a layout the weaker group must lie within join_radius of the larger one's
        # electrodes: a unit at the far side of a grid firing just after is a discharge
        # of its own. On a grid it is judged against the larger one's peaks near its own
        # electrode (a unit beside a large unit's footprint is not its echo); along a
        # linear array the potential travels, and its other lobe far down the array is
        # judged against the discharge as a whole.
        per_channel = np.zeros((n_groups, nb.n_channels))
        np.maximum.at(per_channel, (group, c), mag)
        near = nb.distance[c[main[weaker]]] <= join_radius
        local = np.where(near, per_channel[larger], 0.0).max(axis=1)
        big = np.where(local > 0, big, 0.0) if nb.linear else local
    same = nb.muscle[c[main[a]]] == nb.muscle[c[main[b]]]
    join = same & (c[main[a]] != c[main[b]])
    join &= (((gap <= (loose or 0)) & (small < weak_ratio * big))
             | ((gap <= (shadow or 0)) & (small < shadow_fraction * big)))
    if signal is not None and crosstalk_half > 0:
        other = np.flatnonzero(~same & (gap <= (loose or 0))
                               & (mag[main[weaker]] < weak_ratio * mag[main[larger]]))
        if other.size:
            join[other] = _crosstalk(signal, t[main[larger[other]]], c[main[larger[other]]],
                                     c[main[weaker[other]]], crosstalk_half,
                                     crosstalk) >= crosstalk_corr
    if join.any():
        # Each weaker group joins its largest partner only, so two discharges of similar
        # size never chain through a small peak between them.
        w, l = weaker[join], larger[join]
        pick = np.lexsort((mag[main[l]], w))
        last = np.ones(pick.size, dtype=bool)
        last[:-1] = w[pick][1:] != w[pick][:-1]
        group = _components(n_groups, w[pick][last], l[pick][last])[group]
        main = _largest_per_group(group, mag)
    return group, main


def _crosstalk(signal, at, source, target, half: int, max_lag: int) -> np.ndarray:
    """Return the largest |correlation| between ``signal[source]`` and ``signal[target]``
    over ``at +/- half`` samples, at lags up to ``max_lag`` (one value per pair)."""
    n = signal.shape[1]
    span = np.arange(-half, half + 1)
    pos = np.clip(at[:, None] + span[None, :], 0, n - 1)
    x = signal[source[:, None], pos]
    x = x - x.mean(axis=1, keepdims=True)
    best = np.zeros(at.size)
    for lag in range(-max_lag, max_lag + 1):  # a few lags (volume-conduction delay)
        y = signal[target[:, None], np.clip(pos + lag, 0, n - 1)]
        y = y - y.mean(axis=1, keepdims=True)
        r = (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1) + 1e-300)
        best = np.maximum(best, np.abs(r))
    return best


def _largest_per_group(group: np.ndarray, mag: np.ndarray) -> np.ndarray:
    """Return the index of the largest magnitude in each (contiguous, sorted) group."""
    by = np.lexsort((-mag, group))
    first = np.ones(by.size, dtype=bool)
    first[1:] = group[by][1:] != group[by][:-1]
    return by[first]
