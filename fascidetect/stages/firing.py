"""Firing trains: discharges in clusters too dense for sporadic firing, at the edges of
such bursts, or inside ongoing sub-threshold activity are voluntary, not fasciculations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..candidates import Candidates
from ..params import DetectionParams
from ..spans import prefix_counts
from . import Context, choose, decide

if TYPE_CHECKING:  # annotations only
    from .._spill import SpilledMatrix


def in_ongoing_activity(samples: np.ndarray, main_channel: np.ndarray, active: np.ndarray,
                        window: int, params: DetectionParams, sfreq: float) -> np.ndarray:
    """Return a mask of discharges surrounded by ongoing activity on their channel.

    Parameters
    ----------
    samples, main_channel : ndarray of int
        Peak sample and main channel of each discharge.
    active : ndarray of bool, shape (n_channels, n_subwindows)
        Envelope sub-windows above the activity level (artifact sub-windows removed).
    window : int
        Sub-window length in samples.
    params : DetectionParams
        Uses ``isolation_interval_s`` (the neighbourhood) and ``burst_active_windows``.
    sfreq : float
    """
    n_sub = active.shape[1]
    if samples.size == 0 or n_sub == 0:
        return np.zeros(samples.size, dtype=bool)
    k = int(round(params.isolation_interval_s * sfreq / window))
    sub = np.clip(samples // window, 0, n_sub - 1)
    lo = np.clip(sub - k, 0, n_sub)
    hi = np.clip(sub + k + 1, 0, n_sub)
    count = np.zeros(samples.size, dtype=np.int64)
    # One channel's running counts at a time: all channels' (int32) took 4 bytes per
    # sub-window and channel, 110 MB for 8 channels of a day (issue 14).
    for c in np.unique(main_channel):  # loop over channels
        rows = np.flatnonzero(main_channel == c)
        csum = prefix_counts(active[c])
        count[rows] = csum[hi[rows]] - csum[lo[rows]]
    return count >= params.burst_active_windows


#: Sub-windows of one channel unpacked at a time by :func:`ongoing_from_bits` (2^18:
#: 1.8 h at 25 ms; a 256-kB mask and its 1-MB running counts: at 2^20 the stage's
#: temporaries made a day's peak, issue 14).
_CHUNK_SUBWINDOWS = 1 << 18


def ongoing_from_bits(bits: SpilledMatrix | np.ndarray, n_sub: int, samples: np.ndarray,
                      main_channel: np.ndarray, art: np.ndarray, window: int,
                      params: DetectionParams, sfreq: float) -> np.ndarray:
    """Return :func:`in_ongoing_activity` of the discharges on the active sub-windows
    held as bits (``np.packbits`` along each channel), each discharge's own sub-windows
    (and its neighbours) on its channel and the artifacts' on every channel cleared.

    One channel and at most :data:`_CHUNK_SUBWINDOWS` sub-windows (with the
    neighbourhood on each side) are unpacked at a time: the whole mask of a day of 8
    channels is 28 MB, and its running counts four times that per channel (issue 14).
    """
    n = samples.size
    ongoing = np.zeros(n, dtype=bool)
    if n == 0 or n_sub == 0:
        return ongoing
    k = int(round(params.isolation_interval_s * sfreq / window))
    last = n_sub - 1
    sub = np.clip(samples // window, 0, last)
    shifts = np.array([-1, 0, 1])
    art_cols = np.clip(sub[art][:, None] + shifts, 0, last).ravel()
    step = _CHUNK_SUBWINDOWS
    for c in np.unique(main_channel):  # loop over channels
        rows = np.flatnonzero(main_channel == c)
        cleared = np.unique(np.concatenate(
            [art_cols, np.clip(sub[rows][:, None] + shifts, 0, last).ravel()]))
        chunk_of = sub[rows] // step
        for j in np.unique(chunk_of):  # loop over the chunks with discharges
            here = rows[chunk_of == j]
            # The chunk with each discharge's whole neighbourhood (k sub-windows a side).
            w0, w1 = max(0, j * step - k), min(n_sub, (j + 1) * step + k + 1)
            b0 = w0 // 8
            active = np.unpackbits(bits[c, b0:(w1 + 7) // 8], count=w1 - b0 * 8)[w0 - b0 * 8:]
            active = active.view(bool)
            active[cleared[(cleared >= w0) & (cleared < w1)] - w0] = False
            ongoing[here] = in_ongoing_activity(samples[here] - w0 * window,
                                                np.zeros(here.size, dtype=np.intp),
                                                active[None, :], window, params, sfreq)
    return ongoing


def firing_clusters(times: np.ndarray, main_channel: np.ndarray, params: DetectionParams,
                    analysed_s: float, ignore: np.ndarray | None = None,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """Return a mask of discharges in clusters too dense for sporadic firing.

    Fasciculations are sporadic: on each channel their count in any window of
    2 x ``isolation_interval_s`` follows a Poisson law at the channel's own mean rate.
    A discharge whose window holds more discharges than that law allows (tail
    probability under ``cluster_p_value``) belongs to a firing train or burst
    (voluntary or cramp firing), not to a fasciculation. The test adapts to each
    channel's rate, so busy but random channels are not penalised.

    Parameters
    ----------
    times, main_channel : ndarray
        Peak time (s) and main channel of each discharge.
    params : DetectionParams
    analysed_s : float
        Length of the analysed recording, s.
    ignore : ndarray of bool | None
        Discharges that take no part (artifacts).
    weights : ndarray of int | None
        How many threshold peaks each discharge stands for (default 1 each): at low
        rates one discharge absorbs the peaks of its phase span
        (``phase_span_ms``), and a burst of an interference pattern is judged by its
        density of peaks, as at rates that resolve them.

    Examples
    --------
    >>> from fascidetect.params import DetectionParams
    >>> burst = 10.0 + np.arange(12) * 0.05           # 12 discharges at 20 Hz
    >>> sporadic = np.arange(0.5, 120, 3.0)           # one every 3 s
    >>> t = np.sort(np.concatenate([burst, sporadic]))
    >>> flagged = firing_clusters(t, np.zeros(t.size, int), DetectionParams(), 120.0)
    >>> int(flagged.sum())
    12
    """
    from scipy.stats import poisson

    n = times.size
    out = np.zeros(n, dtype=bool)
    use = np.ones(n, dtype=bool) if ignore is None else ~ignore
    if use.sum() == 0:
        return out
    idx = np.flatnonzero(use)
    order = idx[np.lexsort((times[idx], main_channel[idx]))]
    del idx, use
    t, c = times[order], main_channel[order]
    # Put channels far apart on one time axis so one searchsorted serves all of them.
    key = t + c * (10.0 * max(analysed_s, t.max(initial=0.0)) + 10.0)
    half = params.isolation_interval_s
    w = np.ones(key.size, np.int64) if weights is None else np.asarray(weights)[order]
    # Each discharge's window, found once; the temporaries go as soon as they are used
    # (issue 14: each is 1.6 MB for a day's candidates, and they made the stage's peak).
    start = np.searchsorted(key, key - half, side="left")
    stop = np.searchsorted(key, key + half, side="right")
    del key
    csum = np.concatenate([[0], np.cumsum(w)])
    count = csum[stop] - csum[start]
    del csum
    # A channel busier than any sporadic fasciculation rate is firing continually: judge
    # its windows against the highest plausible fasciculation rate instead.
    rate = np.minimum(background_rate(t, c, analysed_s, params, w)[c],
                      params.max_fasciculation_rate_per_min / 60.0)
    del t, c, w
    lam = rate * 2 * half
    del rate
    dense = (poisson.sf(count - 1, lam) < params.cluster_p_value) & \
        (count >= params.cluster_min_discharges)
    del lam, count
    # Every member of a dense window is part of the cluster.
    marks = np.zeros(start.size + 1, dtype=int)
    np.add.at(marks, start[dense], 1)
    np.add.at(marks, stop[dense], -1)
    del start, stop, dense
    member = np.cumsum(marks)[:-1] > 0
    out[order] = member
    return out


def background_rate(t: np.ndarray, c: np.ndarray, analysed_s: float,
                    params: DetectionParams, weights: np.ndarray | None = None) -> np.ndarray:
    """Return each channel's sporadic discharge rate (per s), robust to bursts.

    The mean over the recording counts the bursts themselves, which then look ordinary
    against it; the mean over ``rate_bin_s`` bins leaving out the busiest ``rate_trim``
    does not, and equals about the mean for sporadic (Poisson) firing. It is kept above a
    quarter of the plain mean so that a truly irregular channel is not judged against
    nothing. ``weights``: peaks each discharge stands for (see :func:`firing_clusters`).
    """
    n_ch = int(c.max()) + 1 if c.size else 0
    w = np.ones(c.size) if weights is None else np.asarray(weights, float)
    mean = np.bincount(c, weights=w, minlength=n_ch) / analysed_s
    n_bins = int(analysed_s // params.rate_bin_s)
    if n_bins < 3:  # too short to tell bursts from the background
        return mean
    counts = np.zeros((n_ch, n_bins))
    np.add.at(counts, (c, np.minimum((t // params.rate_bin_s).astype(int), n_bins - 1)), w)
    counts.sort(axis=1)
    keep = max(1, int(round(n_bins * (1.0 - params.rate_trim))))
    trimmed = counts[:, :keep].mean(axis=1) / params.rate_bin_s
    return np.maximum(trimmed, 0.25 * mean)


def near_members(times: np.ndarray, channel: np.ndarray, members: np.ndarray,
                 within_s: float) -> np.ndarray:
    """Return a mask of discharges within ``within_s`` of a member on the same channel."""
    out = np.zeros(times.size, dtype=bool)
    for ch in np.unique(channel[members]):  # loop over channels with members
        ref = np.sort(times[members & (channel == ch)])
        on = np.flatnonzero(channel == ch)
        pos = np.searchsorted(ref, times[on])
        before = np.abs(times[on] - ref[np.clip(pos - 1, 0, ref.size - 1)])
        after = np.abs(ref[np.clip(pos, 0, ref.size - 1)] - times[on])
        out[on] = np.minimum(before, after) <= within_s
    return out


#: Peaks within one discharge's phase span (``phase_span_ms``) from which they are an
#: interference pattern's, each a discharge of its own: one potential shows its two
#: phases there (its other phase: one absorbed peak), not three.
INTERFERENCE_SPAN_PEAKS = 2


def interference_weights(span_peaks: np.ndarray | None) -> np.ndarray | None:
    """Return how many discharges each candidate stands for in the firing-cluster test.

    At rates too low to resolve a potential's phases one discharge absorbs the peaks of
    its phase span. Its own other phase (one peak) is part of the same potential and
    counts nothing: a fasciculation multiplet of one unit (2-5 discharges, Kleine et al.
    2012) stays that many discharges. Where the span holds more peaks than one
    potential's phases (:data:`INTERFERENCE_SPAN_PEAKS` or more), the discharge is a
    stretch of an interference pattern and counts each of them (a 0.1-s burst of many
    units is judged by its peaks, as at rates that resolve them).

    Parameters
    ----------
    span_peaks : ndarray of int | None
        Peaks absorbed by each candidate's phase span (None: no span at this rate).

    Returns
    -------
    ndarray of int | None
        None when ``span_peaks`` is None (every candidate counts once).

    Examples
    --------
    >>> interference_weights(np.array([0, 1, 2, 3])).tolist()
    [1, 1, 3, 4]
    """
    if span_peaks is None:
        return None
    span_peaks = np.asarray(span_peaks)
    return 1 + np.where(span_peaks >= INTERFERENCE_SPAN_PEAKS, span_peaks, 0)


def firing_trains(cands: Candidates, ctx: Context):
    """Stage: voluntary firing (dense clusters, their edges, ongoing activity).

    Artifacts (by evidence or by an earlier stage) take no part in the cluster test and
    explain their own envelope sub-windows on every channel; each discharge explains its
    own sub-windows on its channel and the neighbouring ones. What stays active around a
    discharge is ongoing firing too small to cross the threshold.
    """
    g, params = ctx.geometry, ctx.params
    times = cands.times(ctx.sfreq)
    main_ch = cands.channel
    art = (cands.artifact_kind != "") | (cands.label == "artifact")
    ongoing = ongoing_from_bits(ctx.scan.active_bits, ctx.scan.n_subwindows, cands.sample,
                                main_ch, art, g.act_win, params, ctx.sfreq)
    weights = interference_weights(cands.features.get("span_peaks"))
    clusters = firing_clusters(times, main_ch, params, ctx.analysed_s, ignore=art,
                               weights=weights)
    trains = clusters | ongoing
    # The sparse edges of a burst (recruitment, derecruitment) belong to it too.
    edges = near_members(times, main_ch, trains & ~art, params.burst_edge_s)
    reason = choose([(clusters, "firing_cluster"), (ongoing, "ongoing_activity")],
                    "burst_edge")
    return decide(len(cands), trains | edges, "voluntary", reason)
