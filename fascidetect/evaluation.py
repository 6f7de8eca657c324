"""Scoring detections against ground truth: precision, recall and F1 of fasciculations,
spasm episode recall and precision, artifact false alarms and per-channel rate errors.

Both inputs are event tables (:data:`fascidetect.events.EVENT_DTYPE`) or paths to
``events.tsv`` files, e.g. a ``<stem>_events.tsv`` written by ``fascidetect detect`` and a
``<stem>_truth.tsv`` written by :func:`fascidetect.simulation.write_simulation`.

Only discharges at rest count, as in detection: a truth discharge on a channel while the
truth holds that channel active (a spasm or voluntary episode involving it, a tonic unit
firing on it) is optional by default (``rest_only``).

Conventions for empty inputs (so that every score is a number):

- precision = TP / (TP + FP), and 1.0 when nothing was detected (no false claim);
- recall = TP / (TP + FN), and 1.0 when the truth is empty (nothing to miss);
- F1 = 2 TP / (2 TP + FP + FN), and 1.0 when both are empty. With an empty truth any
  detection gives F1 = 0, which is what a "negative" recording should score.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParameterError
from .events import read_events_tsv
from .spans import in_spans

__all__ = ["EvaluationReport", "evaluate", "match_times", "format_reports"]

#: Artifact kinds that cover the whole recording and so cannot explain a false alarm.
_CONTINUOUS_ARTIFACTS = ("line",)
#: A tonic unit silent longer than this (s) has stopped: the simulator's fire at 6-20 Hz,
#: its derecruiting ones at 4-10 Hz (intervals under 0.5 s).
_TONIC_GAP_S = 1.0


@dataclasses.dataclass
class EvaluationReport:
    """Scores of one detection table against one truth table.

    Attributes
    ----------
    tolerance_ms : float
        Largest |peak-time difference| of a match.
    duration_s : float
        Observation time used for rates (given, from the truth sidecar, or the last
        event's end).
    n_truth, n_detected, tp, fp, fn : int
        Fasciculation counts; each truth discharge is one row however many channels see it.
    precision, recall, f1 : float
        See the module docstring for the empty-input conventions.
    mean_abs_time_error_ms : float
        Mean |peak-time difference| over matches (NaN without matches).
    n_truth_doublets, n_doublets_found : int
        Truth discharges within 40 ms of another discharge of the same unit, and how many
        of them were matched.
    n_truth_spasms, n_detected_spasms, n_spasms_found, n_spasm_detections_true : int
        Spasm episodes; a truth episode is found when a detected one overlaps it, a
        detection is true when it overlaps some truth episode.
    spasm_recall, spasm_precision : float
        Per episode (1.0 when there is nothing to find / nothing detected).
    spasm_onset_error_s : float
        Mean |onset difference| between found truth spasms and their earliest
        overlapping detection (NaN if none found).
    artifact_false_alarms : int
        Unmatched detected fasciculations whose peak lies in a truth artifact (except
        mains hum, which spans everything) or inside a truth spasm or voluntary episode.
    artifact_false_alarm_rate_per_min : float
        The same per minute of recording.
    n_truth_voluntary_discharges : int
        Truth ``voluntary`` rows that are single discharges (they carry a ``unit``, as the
        simulator's tonic firing does), as opposed to voluntary episodes.
    voluntary_discharge_false_alarms : int
        Unmatched detected fasciculations within the tolerance of such a discharge (one
        to one): voluntary or tonic firing reported as fasciculations. Also counted in
        ``fp``, and in ``artifact_false_alarms`` when the truth holds the episode around it.
    false_alarm_rate_per_min : float
        All false positives per minute.
    per_channel : dict
        ``{channel: {"truth_per_min", "detected_per_min", "error_per_min", "tp"}}`` by the
        event's main channel. Channel names are compared without a leading ``EMG``
        type prefix, since EDF readers may strip it.
    rate_mae_per_min : float
        Mean absolute per-channel rate error.
    n_truth_during_activity : int
        Truth discharges left out as optional because their channel was active (see
        ``rest_only`` of :func:`evaluate`; not in ``n_truth``).
    """

    tolerance_ms: float
    duration_s: float
    n_truth: int
    n_detected: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    mean_abs_time_error_ms: float
    n_truth_doublets: int
    n_doublets_found: int
    n_truth_spasms: int
    n_detected_spasms: int
    n_spasms_found: int
    n_spasm_detections_true: int
    spasm_recall: float
    spasm_precision: float
    spasm_onset_error_s: float
    artifact_false_alarms: int
    artifact_false_alarm_rate_per_min: float
    n_truth_voluntary_discharges: int
    voluntary_discharge_false_alarms: int
    false_alarm_rate_per_min: float
    per_channel: dict
    rate_mae_per_min: float
    label: str = ""
    n_truth_during_activity: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the scores as a JSON-ready dict (NaN becomes None)."""
        def clean(v):
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (float, np.floating)):
                return None if math.isnan(v) else float(v)
            if isinstance(v, np.integer):
                return int(v)
            return v
        return {f.name: clean(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def __str__(self) -> str:
        return format_reports([self])


def _as_events(value, what: str) -> np.ndarray:
    if isinstance(value, (str, os.PathLike)):
        return read_events_tsv(value)
    arr = np.asarray(value)
    if arr.dtype.names is None or not {"onset", "trial_type", "peak_time"} <= set(arr.dtype.names):
        raise ParameterError(f"{what} must be an event table (events.EVENT_DTYPE) or a path to "
                             f"an events.tsv, got {type(value).__name__}")
    return arr


def _times(events: np.ndarray) -> np.ndarray:
    t = np.asarray(events["peak_time"], float).copy()
    missing = np.isnan(t)
    t[missing] = np.asarray(events["onset"], float)[missing]
    return t


def match_times(detected_s, truth_s, tolerance_s: float, *, reference_s=None,
                elsewhere=None):
    """Return one-to-one matches between detected and truth times within a tolerance.

    Candidate pairs (|difference| <= tolerance) are found with ``np.searchsorted``; the
    matching has the most pairs possible and, among those, the smallest summed relative
    error (:func:`scipy.optimize.linear_sum_assignment` on each group of times linked by
    pairs). So a truth discharge detected twice gives one match and one false positive,
    of two close truth discharges (a doublet or two colliding units) each detection takes
    the nearer one, and a doublet detected with a constant offset (the band-passed peak
    at another phase of the potential than the truth's) still matches both discharges,
    which accepting the closest pair first would not.

    Parameters
    ----------
    detected_s, truth_s : array of float
        Times in seconds (any order).
    tolerance_s : float or array of float
        Largest accepted |difference|: one value, or one per truth time.
    reference_s : array of float | None
        Per truth time, the time a detection's error is measured from when choosing
        among pairs (default ``truth_s``): with ``truth_s`` the centres of windows that
        are not centred on the discharge's peak, the matching still prefers the
        detection nearest the peak.
    elsewhere : callable | None
        ``elsewhere(det_idx, truth_idx)`` -> bool per candidate pair: True where the
        detection lies on none of the truth discharge's channels. Such a pair is
        accepted, but any pair on the truth's channels is preferred to it, whatever the
        errors: of two units firing at one instant, each detection takes the one on its
        channel. The number of matches does not change.

    Returns
    -------
    det_idx, truth_idx : ndarray of int
        Indices of matched pairs into the inputs.
    """
    det = np.asarray(detected_s, float)
    tru = np.asarray(truth_s, float)
    if det.size == 0 or tru.size == 0:
        return np.empty(0, int), np.empty(0, int)
    order = np.argsort(tru, kind="stable")
    ts = tru[order]
    tol = np.broadcast_to(np.asarray(tolerance_s, float), tru.shape)[order]
    ref = tru if reference_s is None else np.asarray(reference_s, float)
    ref = ref[order]
    widest = float(tol.max()) + 1e-9
    lo = np.searchsorted(ts, det - widest, side="left")
    hi = np.searchsorted(ts, det + widest, side="right")
    counts = hi - lo
    d_idx = np.repeat(np.arange(det.size), counts)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    t_sorted = starts + np.arange(d_idx.size)
    err = np.abs(det[d_idx] - ts[t_sorted])
    within = err <= tol[t_sorted] + 1e-9  # a difference of exactly the tolerance counts
    d_idx, t_sorted = d_idx[within], t_sorted[within]
    err = np.abs(det[d_idx] - ref[t_sorted])
    # Relative to the window (every pair costs at most 1; from a reference inside the
    # window a detection is at most its whole width away).
    width = tol if reference_s is None else 2.0 * tol
    cost = err / np.maximum(width[t_sorted], 1e-12)
    if elsewhere is not None and d_idx.size:
        # Costs stay within [0, 1]; a pair off the truth's channels weighs more than the
        # errors of a whole matching (at most one per pair, and no more pairs than
        # d_idx.size), so one more pair on the truth's channels wins whatever the errors.
        # (Half each, as before, let two errors near a window's far end outweigh it.)
        m = d_idx.size
        off = np.asarray(elsewhere(d_idx, order[t_sorted]), float)
        cost = (off * (m + 1) + cost) / (m + 2)
    if reference_s is None:
        out_d, out_t = _assign(d_idx, t_sorted, cost, det.size, tru.size)
        return out_d, order[out_t]
    # Truth numbered in the order of the reference times, so that ties (two truth
    # discharges at one instant) go as they go when the windows are centred on them.
    by_ref = np.argsort(np.asarray(reference_s, float), kind="stable")
    rank = np.empty(tru.size, int)
    rank[by_ref] = np.arange(tru.size)
    out_d, out_r = _assign(d_idx, rank[order[t_sorted]], cost, det.size, tru.size)
    return out_d, by_ref[out_r]


def _assign(d_idx, t_idx, cost, n_det, n_truth):
    """Return the maximum matching of least summed cost among the pairs (d_idx, t_idx).

    Pairs that share no time with another pair are accepted as they are; each group of
    times linked by pairs (a doublet, a burst) is solved as an assignment problem.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if d_idx.size == 0:
        return np.empty(0, int), np.empty(0, int)
    lone = (np.bincount(d_idx, minlength=n_det)[d_idx] == 1) \
        & (np.bincount(t_idx, minlength=n_truth)[t_idx] == 1)
    out_d, out_t = [d_idx[lone]], [t_idx[lone]]
    d_idx, t_idx, cost = d_idx[~lone], t_idx[~lone], cost[~lone]
    if d_idx.size:
        graph = coo_matrix((np.ones(d_idx.size), (d_idx, n_det + t_idx)),
                           shape=(n_det + n_truth,) * 2)
        _, comp = connected_components(graph, directed=False)
        group = comp[d_idx]
        order = np.argsort(group, kind="stable")
        bounds = np.flatnonzero(np.diff(group[order])) + 1
        for pairs in np.split(order, bounds):  # one small problem per linked group
            dets, d_local = np.unique(d_idx[pairs], return_inverse=True)
            trus, t_local = np.unique(t_idx[pairs], return_inverse=True)
            # Every pair costs less than -(size) so one more pair always beats any
            # saving in error (errors are at most 1 tolerance each).
            size = min(dets.size, trus.size)
            c = np.zeros((dets.size, trus.size))
            c[d_local, t_local] = cost[pairs] - (size + 1)
            rows, cols = linear_sum_assignment(c)
            real = c[rows, cols] < 0
            out_d.append(dets[rows[real]])
            out_t.append(trus[cols[real]])
    return np.concatenate(out_d).astype(int), np.concatenate(out_t).astype(int)


#: Margin taken off a potential's end so that the sample after it (one sample period
#: later, 100 µs at 10 kHz) is not inside; larger than the TSV's rounding (1 µs a value).
_EXTENT_MARGIN_S = 1e-5


def _match_windows(tfas: np.ndarray, peak_s: np.ndarray, tolerance_ms: float):
    """Return the centre and half-width (s) of each truth discharge's match window.

    A detection matches a truth potential within ``tolerance_ms`` (or half its
    ``duration_ms`` when that is wider) of its peak, or anywhere on the potential itself
    (``onset`` to ``onset + duration``, the end excluded): at 125-250 Hz a potential is
    2-4 samples long, its raw peak may be its first or last sample, and the band-passed
    peak or centre a detector reports may sit on the other end, 16 ms away (one
    discharge, not a false one and a missed one).
    """
    tol = np.maximum(tolerance_ms, np.nan_to_num(np.asarray(tfas["duration_ms"], float)) / 2.0)
    tol = tol / 1000.0
    lo, hi = peak_s - tol, peak_s + tol
    onset = np.asarray(tfas["onset"], float)
    end = onset + np.asarray(tfas["duration"], float) - _EXTENT_MARGIN_S
    extent = np.isfinite(onset) & np.isfinite(end) & (end > onset)
    lo = np.where(extent, np.minimum(lo, onset), lo)
    hi = np.where(extent, np.maximum(hi, end), hi)
    return (lo + hi) / 2.0, (hi - lo) / 2.0


def _off_channels(det_channel, tfas: np.ndarray):
    """Return ``elsewhere(d, t)`` for :func:`match_times`: True where detection ``d``'s
    channel is neither truth ``t``'s main channel nor among its ``channels``."""
    det_ch = [_norm_channel(c) for c in det_channel]
    seen = [{_norm_channel(c) for c in str(chs).split(",") if c.strip()} | {_norm_channel(m)}
            for chs, m in zip(tfas["channels"], tfas["channel"])]
    # Channels as codes, and which each truth discharge is seen on: a pair is then one
    # lookup (the pairs are many more than the discharges).
    code = {name: k for k, name in enumerate(sorted(set(det_ch).union(*seen)))}
    det_code = np.array([code[c] for c in det_ch], dtype=int)
    visible = np.zeros((len(seen), len(code)), dtype=bool)
    for t, names in enumerate(seen):  # loop over truth discharges
        visible[t, [code[c] for c in names]] = True

    def elsewhere(d_idx, t_idx):
        return ~visible[t_idx, det_code[d_idx]]
    return elsewhere


def _ratio(num, den, empty=1.0):
    return float(num) / den if den else empty


def _norm_channel(name: str) -> str:
    name = str(name).strip()
    if name[:4].upper() in ("EMG ", "EMG-", "EMG_"):
        name = name[4:]
    return name


def _during_own_activity(tfas, tt, tru) -> np.ndarray:
    """Return a mask of the truth discharges ``tfas`` (times ``tt``) that lie on a channel
    while the truth holds that channel active (see ``rest_only`` of :func:`evaluate`)."""
    out = np.zeros(tfas.size, bool)
    if tfas.size == 0:
        return out
    own = np.array([_norm_channel(c) for c in tfas["channel"]], dtype=object)
    kind, unit = tru["trial_type"], np.asarray(tru["unit"])
    # Not the simulator's row of a tonic stretch (reason tonic_firing): it spans the
    # stretch as placed, wider than its units fire; the units' discharges below say it.
    episodes = tru[np.isin(kind, ["spasm", "voluntary"]) & (unit < 0)
                   & (tru["reason"] != "tonic_firing")]
    for ep in episodes:  # a loop over episodes: a few per recording
        names = [c for c in str(ep["channels"]).split(",") if c.strip() not in ("", "n/a")]
        if not names and str(ep["channel"]).strip() not in ("", "n/a"):
            names = [str(ep["channel"])]
        on = float(ep["onset"])
        off = on + float(np.nan_to_num(ep["duration"]))
        inside = (tt >= on) & (tt <= off)
        if names:
            inside &= np.isin(own, [_norm_channel(c) for c in names])
        out |= inside
    tonic = tru[(kind == "voluntary") & (unit >= 0)]
    if tonic.size:
        t_ch = np.array([_norm_channel(c) for c in tonic["channel"]], dtype=object)
        t_t = _times(tonic)
        keys = sorted({(int(u), c) for u, c in zip(tonic["unit"], t_ch)})
        for u, c in keys:  # a loop over tonic units and their channels
            at = np.sort(t_t[(tonic["unit"] == u) & (t_ch == c)])
            # One stretch per run of discharges: a unit id may fire again much later (a
            # truth tiled from repeated simulated minutes), and the rest between is rest.
            cut = np.flatnonzero(np.diff(at) > _TONIC_GAP_S) + 1
            for run in np.split(at, cut):  # a loop over the unit's stretches: one or a few
                out |= (own == c) & (tt >= run[0]) & (tt <= run[-1])
    return out


def _spans(events, kinds=None, artifact=False):
    if artifact:
        sel = (events["trial_type"] == "artifact") & ~np.isin(events["artifact_kind"], _CONTINUOUS_ARTIFACTS)
    else:
        sel = np.isin(events["trial_type"], kinds)
    on = np.asarray(events["onset"][sel], float)
    dur = np.nan_to_num(np.asarray(events["duration"][sel], float))
    return on, on + dur


def _sidecar_duration(path) -> float | None:
    if not isinstance(path, (str, os.PathLike)):
        return None
    p = Path(path)
    side = p.with_name(p.name[:-len(".tsv")] + ".json") if p.name.endswith(".tsv") else None
    if side is None or not side.exists():
        return None
    try:
        return float(json.loads(side.read_text(encoding="utf-8"))["duration_s"])
    except (ValueError, KeyError, TypeError):
        return None


def evaluate(detected, truth, tolerance_ms: float = 10.0, duration_s: float | None = None,
             label: str = "", min_truth_snr: float | None = None,
             rest_only: bool = True) -> EvaluationReport:
    """Return an :class:`EvaluationReport` scoring ``detected`` against ``truth``.

    Parameters
    ----------
    detected, truth : ndarray of EVENT_DTYPE | path
        Event tables or paths to ``events.tsv`` files.
    tolerance_ms : float
        Largest |peak-time difference| for a detected fasciculation to match a truth one;
        for a truth potential longer than twice this, half its ``duration_ms``; and a
        detection anywhere on the truth potential itself (``onset`` to ``onset +
        duration``) matches too (a peak anywhere within the potential is that discharge:
        at 125-250 Hz the band-passed peak of a 20-30 ms potential can fall 2-3 samples
        from the raw one's, which may be the potential's first or last sample).
    duration_s : float | None
        Observation time for rates. Default: ``duration_s`` of the truth's JSON sidecar
        (``<stem>_truth.json``) if there is one, else the end of the last event.
    label : str
        Name shown in tables (e.g. the file stem).
    min_truth_snr : float | None
        If given, truth discharges whose ``snr`` (for the simulator's truth: the peak of
        the band-passed potential over the channel's in-band noise RMS) is below this are optional: missing them is no FN and detecting them is no
        FP (nor TP). Use it to score recall of discharges a detector can see at all.
    rest_only : bool
        Only discharges at rest count (a muscle is at rest where its background is at the
        noise floor; fascidetect labels discharges during activity ``voluntary``): truth
        discharges on a channel while the truth shows that channel active are optional
        as above. Active means inside a truth spasm or voluntary episode that involves
        the channel (its ``channels``, else its ``channel``, else every channel), or
        between the first and last discharge of a tonic unit (a ``voluntary`` row with a
        ``unit``) on that channel, a silence over 1 s ending one stretch of it (the
        simulator's summary row of a tonic stretch, reason ``tonic_firing``, is no
        episode: it spans the stretch as placed, wider than its units fire).
        ``False`` scores them like any other discharge.

    Returns
    -------
    EvaluationReport

    Examples
    --------
    >>> from fascidetect.events import empty_events
    >>> truth = empty_events(2); truth["trial_type"] = "fasciculation"
    >>> truth["onset"] = truth["peak_time"] = [1.0, 2.0]
    >>> det = truth[:1].copy(); det["peak_time"] += 0.004
    >>> rep = evaluate(det, truth, duration_s=60)
    >>> rep.tp, rep.fn, rep.precision, rep.recall
    (1, 1, 1.0, 0.5)
    """
    if not tolerance_ms > 0:
        raise ParameterError(f"tolerance_ms must be positive, got {tolerance_ms}")
    dur_hint = _sidecar_duration(truth) if duration_s is None else None
    det = _as_events(detected, "detected")
    tru = _as_events(truth, "truth")
    if duration_s is None:
        duration_s = dur_hint
    if duration_s is None:
        ends = [np.nanmax(e["onset"] + np.nan_to_num(e["duration"])) for e in (det, tru) if e.size]
        duration_s = float(max(ends)) if ends else 0.0
    minutes = duration_s / 60.0

    dmask = det["trial_type"] == "fasciculation"
    tmask = tru["trial_type"] == "fasciculation"
    dfas, tfas = det[dmask], tru[tmask]
    dt, tt = _times(dfas), _times(tfas)
    centre, reach = _match_windows(tfas, tt, tolerance_ms)
    di, ti = match_times(dt, centre, reach, reference_s=tt,
                         elsewhere=_off_channels(dfas["channel"], tfas))
    optional = np.zeros(tfas.size, bool)
    if min_truth_snr is not None:
        optional |= np.asarray(tfas["snr"], float) < min_truth_snr
    n_active = 0
    if rest_only:
        active = _during_own_activity(tfas, tt, tru)
        n_active = int(active.sum())
        optional |= active
    if optional.any():
        # Optional truth: match against it (so its detections are no FP), then drop it.
        drop_det = di[optional[ti]]
        keep = ~optional[ti]
        di, ti = di[keep], ti[keep]
        remap = np.cumsum(~optional) - 1
        ti = remap[ti]
        tfas, tt = tfas[~optional], tt[~optional]
        kept_det = np.ones(dfas.size, bool)
        kept_det[drop_det] = False
        remap_d = np.cumsum(kept_det) - 1
        di = remap_d[di]
        dfas, dt = dfas[kept_det], dt[kept_det]
    tp = int(di.size)
    fp = int(dfas.size - tp)
    fn = int(tfas.size - tp)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    time_err = float(np.mean(np.abs(dt[di] - tt[ti])) * 1000.0) if tp else float("nan")

    # Doublets: truth discharges of one unit within 40 ms of each other.
    doublet = np.zeros(tfas.size, bool)
    if tfas.size:
        units = np.asarray(tfas["unit"])
        order = np.lexsort((tt, units))
        su, st = units[order], tt[order]
        close = (np.diff(st) < 0.040) & (su[1:] == su[:-1]) & (su[1:] >= 0)
        flag = np.zeros(tfas.size, bool)
        flag[1:] |= close
        flag[:-1] |= close
        doublet[order] = flag
    matched_truth = np.zeros(tfas.size, bool)
    matched_truth[ti] = True

    # Spasms: overlap of episodes.
    ds_on, ds_end = _spans(det, ["spasm"])
    ts_on, ts_end = _spans(tru, ["spasm"])
    overlap = (ds_on[:, None] < ts_end[None, :]) & (ds_end[:, None] > ts_on[None, :])
    found = overlap.any(axis=0) if ds_on.size else np.zeros(ts_on.size, bool)
    true_det = overlap.any(axis=1) if ts_on.size else np.zeros(ds_on.size, bool)
    if found.any():
        first = np.where(overlap, ds_on[:, None], np.inf).min(axis=0)
        onset_err = float(np.mean(np.abs(first[found] - ts_on[found])))
    else:
        onset_err = float("nan")

    # False alarms on confounders: unmatched detections inside artifacts or activity.
    unmatched = np.ones(dfas.size, bool)
    unmatched[di] = False
    a_on, a_end = _spans(tru, artifact=True)
    e_on, e_end = _spans(tru, ["spasm", "voluntary"])
    fp_t = dt[unmatched]
    on_conf = in_spans(fp_t, list(zip(np.concatenate([a_on, e_on]), np.concatenate([a_end, e_end]))))
    art_fa = int(on_conf.sum())
    # False alarms on voluntary discharges: truth voluntary rows with a unit are discharges.
    vol = tru[(tru["trial_type"] == "voluntary") & (np.asarray(tru["unit"]) >= 0)]
    vol_fa = int(match_times(fp_t, _times(vol), tolerance_ms / 1000.0)[0].size)

    # Per-channel rates by main channel.
    dch = np.array([_norm_channel(c) for c in dfas["channel"]], dtype=object)
    tch = np.array([_norm_channel(c) for c in tfas["channel"]], dtype=object)
    per_channel = {}
    for ch in sorted(set(dch.tolist()) | set(tch.tolist())):  # a loop over channels
        nt, nd = int(np.sum(tch == ch)), int(np.sum(dch == ch))
        tr = nt / minutes if minutes > 0 else float("nan")
        dr = nd / minutes if minutes > 0 else float("nan")
        per_channel[ch] = {"truth_per_min": tr, "detected_per_min": dr, "error_per_min": dr - tr,
                           "tp": int(np.sum(tch[ti] == ch)) if tp else 0}
    errs = [abs(v["error_per_min"]) for v in per_channel.values()]
    rate_mae = float(np.mean(errs)) if errs else 0.0

    return EvaluationReport(
        tolerance_ms=float(tolerance_ms), duration_s=float(duration_s),
        n_truth=int(tfas.size), n_detected=int(dfas.size), tp=tp, fp=fp, fn=fn,
        precision=precision, recall=recall, f1=f1, mean_abs_time_error_ms=time_err,
        n_truth_doublets=int(doublet.sum()), n_doublets_found=int((doublet & matched_truth).sum()),
        n_truth_spasms=int(ts_on.size), n_detected_spasms=int(ds_on.size),
        n_spasms_found=int(found.sum()), n_spasm_detections_true=int(true_det.sum()),
        spasm_recall=_ratio(found.sum(), ts_on.size), spasm_precision=_ratio(true_det.sum(), ds_on.size),
        spasm_onset_error_s=onset_err, artifact_false_alarms=art_fa,
        artifact_false_alarm_rate_per_min=art_fa / minutes if minutes > 0 else float("nan"),
        n_truth_voluntary_discharges=int(vol.size), voluntary_discharge_false_alarms=vol_fa,
        false_alarm_rate_per_min=fp / minutes if minutes > 0 else float("nan"),
        per_channel=per_channel, rate_mae_per_min=rate_mae, label=label,
        n_truth_during_activity=n_active,
    )


def format_reports(reports) -> str:
    """Return a plain-text table of reports, one row each, plus a pooled row if several."""
    head = ("file", "truth", "det", "TP", "FP", "FN", "prec", "recall", "F1", "dt_ms",
            "spasm_rec", "spasm_prec", "art_FA/min", "rate_MAE")
    rows = []

    def fmt(v, nd=3):
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"

    for r in reports:
        rows.append((r.label or "-", str(r.n_truth), str(r.n_detected), str(r.tp), str(r.fp), str(r.fn),
                     fmt(r.precision), fmt(r.recall), fmt(r.f1), fmt(r.mean_abs_time_error_ms, 2),
                     fmt(r.spasm_recall, 2), fmt(r.spasm_precision, 2),
                     fmt(r.artifact_false_alarm_rate_per_min, 2), fmt(r.rate_mae_per_min, 2)))
    if len(reports) > 1:
        tp = sum(r.tp for r in reports)
        fp = sum(r.fp for r in reports)
        fn = sum(r.fn for r in reports)
        rows.append(("ALL", str(sum(r.n_truth for r in reports)), str(sum(r.n_detected for r in reports)),
                     str(tp), str(fp), str(fn), fmt(_ratio(tp, tp + fp)), fmt(_ratio(tp, tp + fn)),
                     fmt(_ratio(2 * tp, 2 * tp + fp + fn)), "", "", "", "", ""))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)

