"""Sustained activity: the RMS envelope and the spasm / voluntary episodes found in it.

A fasciculation raises the envelope for one short sub-window; a spasm keeps most
sub-windows of at least a second raised on several channels at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .spans import prefix_counts, run_bounds  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # annotations only
    from ._spill import SpilledMatrix


def subwindow_rms(filtered: np.ndarray, window: int) -> np.ndarray:
    """Return the RMS of consecutive sub-windows, shape (n_channels, n_samples // window)."""
    n_ch, n = filtered.shape
    n_win = n // window
    blocks = filtered[:, : n_win * window].reshape(n_ch, n_win, window)
    return np.sqrt(np.einsum("cwk,cwk->cw", blocks, blocks) / window)


#: Gaussian band-passed activity spans about 6-7 RMS in such a window; a swing well
#: beyond that (x 2) is out of band, i.e. low-frequency.
_IN_BAND_RANGE = 12.0


def subwindow_range(raw: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the max and min of the raw signal in consecutive sub-windows."""
    n_ch, n = raw.shape
    blocks = raw[:, : (n // window) * window].reshape(n_ch, -1, window)
    return blocks.max(axis=-1), blocks.min(axis=-1)


def motion_spans(raw_max: np.ndarray, raw_min: np.ndarray, envelope: np.ndarray,
                 window_s: float, params, beats_s: np.ndarray | None = None,
                 band_range: np.ndarray | None = None) -> list[tuple[float, float]]:
    """Return (start, end) times of motion artifacts.

    Motion moves the electrodes: over a couple of hundred ms the raw signal swings far
    beyond its usual range on most channels at once, and the swing is low-frequency, far
    larger than the band-passed activity (a spasm swings as wide but is all in band; a
    fasciculation is on one or a few channels).

    Parameters
    ----------
    raw_max, raw_min : ndarray | fascidetect._spill.SpilledRows, shape (n_channels, n_subwindows)
        Output of :func:`subwindow_range` over the whole recording (the scan's are on
        disk and read back one channel at a time).
    envelope : ndarray, shape (n_channels, n_subwindows)
        Band-passed RMS per sub-window.
    window_s : float
        Sub-window length in seconds.
    params : DetectionParams
        Uses ``motion_window_ms`` (its swing takes a few hundred ms),
        ``motion_range_factor`` and ``episode_margin_s``.
    beats_s : ndarray | None
        Heart beats (s): a QRS complex also swings on every channel, briefly.
    band_range : ndarray | SpilledRows, shape (n_channels, n_subwindows) | None
        Band-passed peak-to-peak per sub-window. When given, a swing is out of band when
        the raw range exceeds ``motion_out_of_band`` times it: several units firing close
        together swing widely too, but all in band (clusters are not motion). Without
        it, the raw range is compared with the band-passed RMS.
    """
    n_ch, n = raw_max.shape
    k = max(1, int(round(params.motion_window_ms / 1000.0 / window_s)))
    g = n // k
    if n_ch < 2 or g == 0:  # one channel cannot tell motion from a large discharge
        return []

    def grouped(a, reduce):
        # k == 1 (the usual tiling): the windows themselves, not a copy of them
        return a[:, :g] if k == 1 else reduce(a[:, : g * k].reshape(1, g, k), axis=-1)

    # One channel at a time (each judged against its own median): the scan keeps these
    # arrays on disk, and a day has 432,000 motion windows per channel (issue 14).
    n_wild = np.zeros(g, dtype=np.int32)  # channels swinging wildly, per group
    for c in range(n_ch):  # loop over channels
        span = grouped(_row(raw_max, c), np.max) - grouped(_row(raw_min, c), np.min)
        usual = np.median(span, axis=1, keepdims=True)
        if band_range is not None:
            inband = grouped(_row(band_range, c), np.max)
            out_of_band = span > params.motion_out_of_band * inband
            del inband
        else:
            rms = np.sqrt((_row(envelope, c)[:, : g * k] ** 2).reshape(1, g, k).mean(axis=-1))
            out_of_band = span > _IN_BAND_RANGE * rms
        wild = (span > params.motion_range_factor * np.maximum(usual, np.finfo(float).tiny)) \
            & out_of_band
        n_wild += wild[0]
        del span, out_of_band, wild
    need = max(2, int(np.ceil(0.5 * n_ch)))
    moving = n_wild >= need
    group_s = k * window_s
    if beats_s is not None and beats_s.size:
        near = np.floor(beats_s / group_s).astype(int)
        for shift in (-1, 0, 1):  # the beat's group and its neighbours
            moving[np.clip(near + shift, 0, g - 1)] = False
    starts, stops = run_bounds(moving)
    margin = params.episode_margin_s
    return [(a * group_s - margin, b * group_s + margin) for a, b in zip(starts, stops)]


def _bit_range(bits: np.ndarray, a: int, b: int) -> np.ndarray:
    """Return columns ``[a, b)`` of a mask held as bits (``np.packbits`` along axis 1)."""
    b0 = a // 8
    part = np.unpackbits(bits[:, b0:(b + 7) // 8], axis=1, count=b - 8 * b0)
    return part[:, a - 8 * b0:].view(bool)


def _set_bit_range(bits: np.ndarray, a: int, values: np.ndarray) -> None:
    """Set columns ``[a, a + w)`` of a mask held as bits to ``values`` (shape (n, w))."""
    b = a + values.shape[1]
    b0, b1 = a // 8, (b + 7) // 8
    whole = np.unpackbits(bits[:, b0:b1], axis=1).view(bool)  # the bytes touched
    whole[:, a - 8 * b0:b - 8 * b0] = values
    bits[:, b0:b1] = np.packbits(whole, axis=1)


def _row(a, c: int) -> np.ndarray:
    """Return row ``c`` of ``a`` as a (1, n) array: an array's row, or one read back from
    a spill (:class:`fascidetect._spill.SpilledRows`)."""
    if hasattr(a, "read_row"):
        return a.read_row(c)[None, :]
    return np.asarray(a[c:c + 1])


def sustained_mask(active: np.ndarray, span: int, fraction: float) -> np.ndarray:
    """Return, per channel, the sub-windows covered by a ``span`` in which at least
    ``fraction`` of the sub-windows are active.

    Parameters
    ----------
    active : ndarray of bool, shape (n_channels, n_windows)
    span : int
        Sub-windows per minimum episode length.
    fraction : float
    """
    # One channel at a time: the temporaries are several times the mask, and a day-long
    # recording has millions of sub-windows per channel.
    out = np.zeros_like(active, dtype=bool)
    for c in range(active.shape[0]):  # loop over channels
        out[c] = _sustained_rows(active[c:c + 1], span, fraction)[0]
    return out


def _sustained_rows(active: np.ndarray, span: int, fraction: float) -> np.ndarray:
    """:func:`sustained_mask` on a block of channel rows."""
    out = np.zeros_like(active, dtype=bool)
    if active.shape[-1] >= span:
        for row, target in zip(active.reshape(-1, active.shape[-1]),
                               out.reshape(-1, out.shape[-1])):  # loop over rows
            target[:] = _sustained_row(row, span, fraction)
    return out


def _sustained_row(active: np.ndarray, span: int, fraction: float) -> np.ndarray:
    """:func:`sustained_mask` of one row (at least ``span`` sub-windows long).

    Written with runs and shifted slices rather than index arrays: a day has 3.5 million
    sub-windows per channel, and each int64 index array of that length is 28 MB.
    """
    n = active.size
    need = int(np.ceil(fraction * span - 1e-9))
    hit = np.empty(n - span + 1, dtype=bool)  # windows starting at 0..n-span
    for a in range(0, hit.size, _CHUNK):  # chunks: counts of the whole row were 28 MB a day
        b = min(hit.size, a + _CHUNK)
        counts = prefix_counts(active[a:b + span - 1])  # active in [a, a + k) at k
        np.greater_equal(counts[span:] - counts[:-span], need, out=hit[a:b])
    # Dilate: every sub-window inside a qualifying span is sustained. A run of ``hit``
    # over window starts [s, e) covers the sub-windows [s, e + span - 1).
    starts, stops = run_bounds(hit)
    del hit
    covered = _mark(n, starts, stops + span - 1)
    c_starts, c_stops = run_bounds(covered)
    # Trim the ends of each run to the first/last sub-window of dense activity: a lone
    # active sub-window (a fasciculation) within a second of a spasm is no part of it.
    # Found from the runs of dense activity (inside the covered runs), not from their
    # sub-windows' indices (issue 14: 8 bytes an active sub-window, 7 MB for a day).
    dense = _dense(active)
    dense &= active
    dense &= covered
    del covered
    d_starts, d_stops = run_bounds(dense)
    del dense
    first = np.searchsorted(d_starts, c_starts)  # first dense run in each covered run
    last = np.searchsorted(d_starts, c_stops) - 1  # and the last
    ok = first <= last  # the run holds one
    return _mark(n, d_starts[first[ok]], d_stops[last[ok]])


def _mark(n: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Return a mask of length ``n`` True over the spans ``[starts, stops)`` (sorted by
    start, stops non-decreasing with them; overlapping spans are merged)."""
    out = np.zeros(n, dtype=bool)
    if starts.size == 0:
        return out
    stops = np.minimum(stops, n)
    new = np.concatenate([[True], starts[1:] > stops[:-1]])  # a gap before the span
    starts = starts[new]
    stops = stops[np.concatenate([new[1:], [True]])]
    # Each span's ends toggle the mask and a running xor fills between them (merged
    # spans never start where another stops): no int8 steps beside it (issue 14).
    out[starts] = True
    out[stops[stops < n]] ^= True
    np.logical_xor.accumulate(out, out=out)
    return out


#: Sub-windows (25 ms each) of the neighbourhood in which an episode's ends must be
#: mostly active (200 ms: a twitch raises one or two, a contraction all of them).
_DENSE_SUBWINDOWS = 8


#: Sub-windows whose running counts are held at a time (a day has 3.5 million).
_CHUNK = 2 ** 18


def _dense(active: np.ndarray) -> np.ndarray:
    """Return sub-windows at least half of whose centred neighbourhood is active (one
    row; the neighbourhood is clipped at the ends)."""
    h = _DENSE_SUBWINDOWS // 2
    n = active.size
    out = np.empty(n, dtype=bool)
    # Inside, the neighbourhood is [i - h, i + h + 1): shifted slices of running counts,
    # a chunk at a time (issue 14: the whole row's counts were 28 MB for a day).
    a, b = min(h, n), max(min(h, n), n - h)
    for lo in range(a, b, _CHUNK):  # loop over chunks
        hi = min(b, lo + _CHUNK)
        counts = prefix_counts(active[lo - h:hi + h])  # active in [lo - h, lo - h + k) at k
        # 2 * count >= 2 h + 1 for integer counts: count > h.
        np.greater(np.subtract(counts[2 * h + 1:], counts[:hi - lo]), h, out=out[lo:hi])
    for i in list(range(a)) + list(range(b, n)):  # loop over the 2 h end sub-windows
        lo, hi = max(i - h, 0), min(i + h + 1, n)
        out[i] = 2 * int(np.count_nonzero(active[lo:hi])) >= hi - lo
    return out


def without_motion_ranges(scan):
    """Return the scan without its whole-recording motion-window arrays (raw extremes,
    band-passed range and RMS: 16 bytes per 200 ms and channel), once
    :func:`motion_spans` has judged them."""
    import dataclasses

    return dataclasses.replace(scan, motion_envelope=None, raw_max=None, raw_min=None,
                               band_range=None)


def without_envelopes(scan, params, geometry):
    """Return the scan without its spilled envelope, once the episodes have been measured
    on it; the stages need only which sub-windows are active (``active_bits``)."""
    import dataclasses

    return dataclasses.replace(scan, envelope_spill=None)


def sustained_bits(active_bits: SpilledMatrix | np.ndarray, n_sub: int, span: int,
                   fraction: float, min_ch: int, gap: int) -> np.ndarray:
    """Return the sustained sub-windows of each channel as bits (``np.packbits`` along
    axis 1): each channel's own (:func:`sustained_mask`), those of activity hopping
    between ``min_ch`` channels or more, and brief dips of at most ``gap`` sub-windows
    between sustained stretches filled on the channels of the stretch before.

    ``active_bits`` are the active sub-windows as bits. One channel is unpacked at a
    time (issue 14: a day's masks of 8 channels are 28 MB each as bool).
    """
    n_ch = active_bits.shape[0]

    def active_row(c):
        return np.unpackbits(active_bits[c], count=n_sub).view(bool)

    # The sustained sub-windows are kept as bits too (a day's mask of 8 channels: 28 MB
    # as bool) and the count of active channels in the smallest integer that holds it.
    sustained = np.zeros((n_ch, (n_sub + 7) // 8), dtype=np.uint8)
    n_active = np.zeros(n_sub, dtype=np.min_scalar_type(n_ch))
    for c in range(n_ch):  # loop over channels
        row = active_row(c)
        if n_sub >= span:
            sustained[c] = np.packbits(_sustained_row(row, span, fraction))
        n_active += row
        del row
    if min_ch >= 2:
        # Activity that hops between channels (several muscles taking turns) is sustained
        # for the group even when no single channel stays active.
        need = max(min_ch, int(np.ceil(0.5 * n_ch)))
        several = n_active >= need
        del n_active
        pooled = _sustained_row(several, span, fraction) if n_sub >= span \
            else np.zeros(n_sub, dtype=bool)
        del several
        for c in range(n_ch):  # loop over channels (no mask-sized temporary)
            sustained[c] |= np.packbits(pooled & active_row(c))
        del pooled

    def any_channel():
        return np.unpackbits(np.bitwise_or.reduce(sustained, axis=0), count=n_sub).view(bool)

    any_sustained = any_channel()
    # A brief dip inside a spasm does not split it into two episodes.
    starts, stops = run_bounds(any_sustained)
    if starts.size > 1:
        short = (starts[1:] - stops[:-1]) <= gap
        for k in np.flatnonzero(short):  # loop over a handful of episode gaps
            part = _bit_range(sustained, starts[k], starts[k + 1])
            part[:, stops[k] - starts[k]:] = part[:, :stops[k] - starts[k]].any(axis=1)[:, None]
            _set_bit_range(sustained, starts[k], part)
    return sustained


def channel_sets(rows, names) -> list:
    """Return, per episode row, the set of indexes into ``names`` of its ``channels``."""
    index = {name: i for i, name in enumerate(names)}
    return [{index[c] for c in str(chans).split(",") if c in index}
            for chans in rows["channels"]]


def find_episodes(scan, sigma, names, params, geometry, sfreq, voluntary_spans,
                  motion_spans=()):
    """Return the episode rows (spasm / voluntary) and their spans widened by
    ``episode_margin_s``.

    A span of sustained RMS elevation (at least ``activity_fraction`` of the 25-ms
    sub-windows active over ``spasm_min_duration_s``) is a spasm when it involves at least
    ``spasm_min_channels`` channels (and at least two) and lies outside annotated task
    periods; otherwise (one channel, or a task) it is voluntary. Sustained "activity" that is mostly a motion
    artifact is the artifact, not an episode.
    """
    from .events import empty_events
    from .spans import in_spans

    win_s = geometry.act_win / sfreq
    # noise units; times ``unit`` for volts (read back by ranges when spilled)
    env = scan.envelope_spill
    unit = scan.envelope_unit
    span = max(1, int(round(params.spasm_min_duration_s / win_s)))
    # One channel's active sub-windows unpacked at a time (issue 14: a day's mask of 8
    # channels is 28 MB, and it sat beside the sustained mask and the rows' counts).
    n_sub = scan.n_subwindows
    gap = int(round(2 * params.episode_margin_s / win_s))
    sustained = sustained_bits(scan.active_bits, n_sub, span, params.activity_fraction,
                               min(params.spasm_min_channels, len(names)), gap)
    min_ch = min(params.spasm_min_channels, len(names))
    starts, stops = run_bounds(np.unpackbits(np.bitwise_or.reduce(sustained, axis=0),
                                             count=n_sub).view(bool))
    rows = empty_events(starts.size)
    keep = np.zeros(starts.size, dtype=bool)
    spans = []
    t = scan.candidates.sample / sfreq
    cand_ch = scan.candidates.channel
    for i, (a, b) in enumerate(zip(starts, stops)):  # loop over episodes
        if (b - a) < span:
            continue
        onset, end = a * win_s, b * win_s
        if motion_spans and in_spans([onset + 0.5 * (end - onset)], motion_spans)[0]:
            continue
        chans = _bit_range(sustained, a, b).any(axis=1)
        seg_rms = np.sqrt(np.mean(env[:, a:b].astype(np.float32) ** 2, axis=1)) * unit
        main = int(np.argmax(np.where(chans, seg_rms, -1)))
        in_ep = (t >= onset) & (t < end) & (cand_ch == main)
        task = in_spans([0.5 * (onset + end)], voluntary_spans)[0]
        # A spasm is a muscle group's: one channel can show sustained activity, never
        # that a group contracts (a one-channel recording reports it as voluntary).
        several = chans.sum() >= max(2, min_ch)
        rows[i]["trial_type"] = "voluntary" if (task or not several) else "spasm"
        rows[i]["reason"] = ("annotated_task" if task else
                             "sustained_recruitment" if several else "one_channel_sustained")
        rows[i]["onset"], rows[i]["duration"] = onset, end - onset
        rows[i]["peak_time"] = onset + (int(np.argmax(env[main, a:b])) + 0.5) * win_s
        rows[i]["channel"] = names[main]
        rows[i]["channels"] = ",".join(np.asarray(names)[chans])
        rows[i]["duration_ms"] = (end - onset) * 1000.0
        rows[i]["rms_uv"] = seg_rms[main] * 1e6
        rows[i]["peak_amplitude_uv"] = 2 * np.sqrt(2) * seg_rms[main] * 1e6
        rows[i]["snr"] = seg_rms[main] / sigma[main] if sigma[main] > 0 else np.nan
        rows[i]["firing_rate_hz"] = in_ep.sum() / (end - onset)
        keep[i] = True
        spans.append((onset - params.episode_margin_s, end + params.episode_margin_s))
    return rows[keep], spans
