"""The block scan: read, filter, envelope, local noise and candidate discharges, block
by block in bounded memory.

:func:`noise_and_line` estimates the noise floor and the power line from sampled
windows first (SpikeInterface computes noise once from random chunks); :func:`scan`
then walks the blocks of :class:`~fascidetect.blocks.Geometry` and returns a
:class:`Scan`: the candidate table plus the whole-recording aggregates the stages need
(envelopes, raw ranges, local noise, bad spans).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from . import (_memory, detection, ecg, episodes, footprint, neighbours, noise, preprocessing,
               rest, support)
from ._spill import (BitColumns, ColumnSpill, RowSpill, SpilledColumns, SpilledMatrix,
                     SpilledRows)
from .blocks import Geometry
from .candidates import Candidates, describe_discharges
from .support import SupportPeaks

#: Sampled noise windows and how many of them the line-noise search uses.
_NOISE_WINDOWS = 40
_LINE_WINDOWS = 10
#: Largest float16 value (the envelope and snippets are stored in noise units as float16).
_F16_MAX = 65000.0


@dataclasses.dataclass
class Scan:
    """What the block scan found in a whole recording.

    Attributes
    ----------
    candidates : Candidates
    snippets : RowSpill (or ndarray) of float16, shape (n_held, n_channels, n_snippet)
        Multichannel snippets of a uniform sample of candidates (``candidates.snip_row``),
        in units of each channel's noise floor (:func:`noise_unit`); in a temporary file
        (:class:`fascidetect._spill.RowSpill`), indexed by rows as the array.
    envelope_unit : ndarray of float32
        Volts per envelope unit, per channel.
    block_sigma : ndarray, shape (n_channels, n_segments)
        Local noise sigma per noise segment, V.
    motion_envelope : None
        Kept for the signature of :func:`fascidetect.episodes.motion_spans`: the
        band-passed range (``band_range``) tells in-band swings instead, so the RMS per
        motion window is no longer held (issue 14).
    raw_max, raw_min : fascidetect._spill.SpilledRows, shape (n_channels, n_motion_windows)
        Raw extremes per motion window (float32, in a temporary file, read back one
        channel at a time).
    band_range : fascidetect._spill.SpilledRows, shape (n_channels, n_motion_windows)
        Band-passed peak-to-peak per motion window (how much of a raw swing is in band;
        float32, as the raw extremes).
    bad_spans : list of (float, float)
        Spans of NaN/inf samples on every channel at once, s.
    channel_bad_spans : dict of int -> list of (float, float)
        Spans of NaN/inf samples of single channels (the others stay analysed), s.
    nonfinite_s : ndarray
        Seconds of NaN/inf samples per channel.
    clipped_share : ndarray
        Share of motion windows at the channel's rail.
    rest_ratio : fascidetect._spill.SpilledRows, shape (n_channels, n_rest_windows)
        Background (trimmed RMS) over the channel's noise floor per rest window
        (:func:`fascidetect.rest.active_windows`; the last window may be shorter);
        float32 in a temporary file, read back a channel at a time.
    rest_threshold : fascidetect._spill.SpilledRows, shape (n_channels, n_rest_windows)
        The ratio above which each rest window is active (as ``rest_ratio``).
    rest_shape : fascidetect._spill.SpilledRows | None, shape (n_channels, n_rest_windows)
        Each rest window's shape score (:func:`fascidetect.rest.active_windows` with
        ``shape_scores``; NaN where not judged): ``rest_ratio`` is as measured, and a rise
        that is electrode noise by :func:`fascidetect.rest.pooled_noise_like` is rest.
    active_bits : SpilledMatrix of uint8
        The sub-windows above ``activity_sigma`` times their segment's noise
        (:func:`_active_columns`) as bits (``np.packbits`` along each channel), in a
        temporary file (:class:`fascidetect._spill.SpilledMatrix`: read by rows and
        slices of rows as the array).
    n_subwindows : int
        Number of activity sub-windows.
    support : fascidetect.support.SupportPeaks | None
        Sub-threshold peaks near small candidates, for the tonic train test.
    rest_subpeaks : fascidetect._spill.SpilledRows | None, shape (n_channels, n_rest_windows)
        Sub-threshold peaks from ``low_level_sigma`` per rest window, those a threshold
        discharge covers left out (:mod:`fascidetect.low_level`; as ``rest_ratio``).
    envelope_spill : fascidetect._spill.ColumnSpill | None
        The envelope on disk, read back by column ranges for the episodes (``None`` once
        they are measured, :func:`fascidetect.episodes.without_envelopes`).

    The motion-window arrays are None once motion has been judged
    (:func:`fascidetect.episodes.without_motion_ranges`).
    """

    candidates: Candidates
    snippets: np.ndarray
    envelope_unit: np.ndarray
    block_sigma: np.ndarray
    motion_envelope: np.ndarray
    raw_max: np.ndarray
    raw_min: np.ndarray
    band_range: np.ndarray
    bad_spans: list
    channel_bad_spans: dict
    nonfinite_s: np.ndarray
    clipped_share: np.ndarray
    rest_ratio: np.ndarray
    rest_threshold: np.ndarray
    active_bits: SpilledMatrix | np.ndarray | None = None
    n_subwindows: int = -1
    envelope_spill: ColumnSpill | None = None
    support: SupportPeaks | None = None
    rest_subpeaks: np.ndarray | None = None
    rest_shape: np.ndarray | None = None

    @property
    def subwindows(self) -> int:
        """Number of activity sub-windows of the recording (envelope columns)."""
        return self.n_subwindows


def noise_unit(sigma: np.ndarray) -> np.ndarray:
    """Return the per-channel scale of stored snippets and envelopes (sigma; 1 V when flat)."""
    return np.where(sigma > 0, sigma, 1.0).astype(np.float32)


def noise_and_line(rec, picks, params, band, geometry: Geometry):
    """Return the line noise, the preprocessor, per-channel noise sigma (estimated from
    windows sampled evenly over the recording) and the noise shape.

    The shape (a :class:`fascidetect.rest.FloorShape`) holds the difference share
    (:func:`fascidetect.rest.difference_share`) of white noise through the band-pass: the
    reference with which :func:`fascidetect.rest.active_windows` tells rising broadband
    electrode noise from muscle activity, whose energy lies lower in the band. The
    reference is computed from the filter, not measured: a floor that is itself low-level
    activity would be a false reference. The floor's own share, measured on the quiet
    windows (those the sigma comes from), only says how much of a window's difference
    energy the floor accounts for.
    """
    n = rec.n_samples
    win = geometry.noise_win
    n_win = max(1, n // win)
    chosen = np.unique(np.linspace(0, n_win - 1, min(n_win, _NOISE_WINDOWS)).astype(int))
    pad = geometry.margin // 2

    def read(w):
        """Return window ``w`` with its pad (repaired) and where its core lies in it."""
        lo, hi = max(0, w * win - pad), min(n, (w + 1) * win + pad)
        raw, _ = preprocessing.repair_nonfinite(rec.get_data(picks, lo, hi))
        return raw, w * win - lo, min(win, n - w * win)

    # Hum is stationary: a dozen windows spread over the recording show it. The
    # windows are read one at a time (twice for those dozen) rather than held: on a
    # 256-channel recording forty of them, raw and filtered, took about 1 GB.
    step = max(1, chosen.size // _LINE_WINDOWS)
    cores = []
    for w in chosen[::step]:
        r, a, b = read(w)
        cores.append(r[:, a:a + b] - np.median(r[:, a:a + b], axis=1, keepdims=True))
    core = np.concatenate(cores, axis=1)
    del cores
    line = preprocessing.detect_line_noise(core, rec.sfreq, params, band[1])
    del core
    prep = preprocessing.Preprocessor.build(rec.sfreq, params, line)
    sig, share = [], []
    for w in chosen:
        r, a, b = read(w)
        f = prep.apply(r, w * win - a)[:, a:a + b]
        sig.append(noise.window_sigmas(f, f.shape[1]))
        share.append(rest.robust_difference_share(f))
    sig = np.concatenate(sig, axis=1)
    sigma = noise.channel_sigma(sig, params.noise_percentile)
    white = np.full(len(sigma), rest.white_difference_share(prep.sos, rec.sfreq))
    return line, prep, sigma, rest.FloorShape(white, _floor_share(sig, np.stack(share, 1),
                                                                  params.noise_percentile))


def _floor_share(sigmas: np.ndarray, shares: np.ndarray, percentile: float) -> np.ndarray:
    """Return each channel's median difference share over its quiet noise windows: those
    within 30 % of the ``percentile`` floor of its window sigmas (as
    :func:`fascidetect.noise.channel_sigma` takes them); NaN on flat channels."""
    import warnings

    masked = np.where(sigmas > 0, sigmas, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        floor = np.nanpercentile(masked, percentile, axis=-1)
        quiet = masked <= 1.3 * floor[:, None]
        return np.nanmedian(np.where(quiet & np.isfinite(shares), shares, np.nan), axis=-1)


def read_filtered(rec, picks, prep, lo: int, hi: int, geometry: Geometry) -> np.ndarray:
    """Return band-passed samples ``[lo, hi)``, filtered with margins as the blocks are."""
    n = rec.n_samples
    a, b = max(0, lo - geometry.margin), min(n, hi + geometry.margin)
    raw, _ = preprocessing.repair_nonfinite(rec.get_data(picks, a, b))
    return prep.apply(raw, a)[:, lo - a:hi - a]


def scan(rec, picks, prep, sigma, params, geometry: Geometry, band, watch,
         progress: Callable[[float], None] | None = None, ecg_model=None,
         floor_shape=None, neighbourhood=None, keep_filtered=None) -> Scan:
    """Return the candidate discharges and aggregates found block by block.

    With ``ecg_model`` the model's beats are subtracted from the band-passed signal
    before anything else is computed. ``floor_shape`` (from :func:`noise_and_line`) lets
    the rest windows tell rising electrode noise from muscle activity. ``neighbourhood``
    (:func:`fascidetect.neighbours.build`) says which channels may share a discharge
    (default: all).
    ``keep_filtered`` (a :class:`fascidetect.matching.FilteredCache`) is handed each
    block's band-passed samples, so a later pass need not filter them again.
    """
    fs = rec.sfreq
    n = rec.n_samples
    n_ch = picks.size
    parts, snippet_parts, bad_spans, block_sigmas = [], [], [], []
    # Rest windows written as they come (the last may be shorter: one more column), to a
    # temporary file: the stages read them as two masks, made a channel at a time.
    rest_ratio = _Columns(n_ch, -(-n // geometry.rest_win))
    rest_threshold = _Columns(n_ch, -(-n // geometry.rest_win))
    rest_shape = _Columns(n_ch, -(-n // geometry.rest_win))  # rises' shape scores
    low_counts = _Columns(n_ch, -(-n // geometry.rest_win))  # sub-threshold peaks
    # Whole-recording aggregates are filled in place (no per-block lists to concatenate):
    # the 25-ms RMS in noise units as float16 (a quarter of float64), and the 200-ms
    # RMS and raw range that motion is judged on.
    unit = noise_unit(sigma)
    # The 25-ms envelope goes to a temporary file (the episodes read back a few seconds
    # of it) and only which of its sub-windows are active stays, as bits: 1 bit of 16
    # (a day of 8 channels: 3.5 instead of 55 MB, issue 14).
    n_sub = n // geometry.act_win
    envelope = ColumnSpill(n_ch, n_sub, np.float16)
    activity = BitColumns(n_ch, n_sub)
    n_mot_all = n // geometry.motion_win
    # Raw maximum, raw minimum and band-passed range per motion window, as rows of one
    # temporary file (float32, as the arrays held before): motion is judged channel by
    # channel on them (41 MB for a day of 8 channels held in memory, issue 14).
    motion = ColumnSpill(3 * n_ch, n_mot_all, np.float32)
    sample = _WaveformSample(params.max_waveforms)
    support_peaks = support.SupportKeeper(params, fs)
    clipped = np.zeros(n_ch)
    nonfinite = np.zeros(n_ch)
    channel_bad: dict = {}
    merged = 0  # parts before this one are merged tables of _MERGE_BLOCKS blocks
    parked, parked_store = [], SpilledColumns()  # the merged tables' columns
    for start, stop, lo, hi in geometry.blocks(n):
        raw = filt = None  # the last block's samples go before the next is read
        with watch.stage("read"):
            raw = rec.get_data(picks, lo, hi)
        with watch.stage("filter"):
            raw, bad = preprocessing.repair_nonfinite(raw)
            if bad is not None:
                own = bad[:, start - lo:stop - lo]
                nonfinite += own.sum(axis=1)
                # A stretch lost on every channel is a gap in the recording; one lost on
                # some channels costs only those channels their time.
                everywhere = own.all(axis=0)
                bad_spans.extend(_bad_spans(everywhere, start, fs))
                for c in np.flatnonzero((own & ~everywhere).any(axis=1)):  # faulty channels
                    channel_bad.setdefault(int(c), []).extend(
                        _bad_spans(own[c] & ~everywhere, start, fs))
            filt = prep.apply(raw, lo)
        if ecg_model is not None:
            with watch.stage("ecg_subtract"):
                ecg.subtract(filt, lo, ecg_model)
        if keep_filtered is not None:
            keep_filtered.keep(start, filt[:, start - lo:stop - lo])
        with watch.stage("envelope"):
            env = episodes.subwindow_rms(filt[:, start - lo:stop - lo], geometry.act_win)
            j = start // geometry.act_win
            env16 = np.minimum(env / unit[:, None], _F16_MAX).astype(np.float16)
            envelope.write(j, env16)
        with watch.stage("noise"):
            local = segment_sigmas(filt[:, start - lo:stop - lo], sigma, params, geometry)
            block_sigmas.append(local)
            activity.add(_active_columns(env16, local, unit, params, geometry))
            # Motion is judged on coarser windows: keep only those (8x less to hold).
            m = start // geometry.motion_win
            mx, mn = episodes.subwindow_range(raw[:, start - lo:stop - lo], geometry.motion_win)
            clipped += rail_windows(mx, mn)
            fmx, fmn = episodes.subwindow_range(filt[:, start - lo:stop - lo], geometry.motion_win)
            motion.write(m, np.concatenate([mx, mn, fmx - fmn]).astype(np.float32))
            del mx, mn, fmx, fmn
        cands, snips, peaks = _block_candidates(filt, raw, start, stop, lo, local, sigma,
                                                params, geometry, band, fs, watch,
                                                neighbourhood, missing=bad)
        cands.narrow_integers(n)  # int32 indices (issue 14)
        with watch.stage("rest"):
            # The samples the discharges found cover (with their ringing): left out of
            # the background and of the sub-threshold peak counts.
            covered = _without_edges(_near_peaks(peaks, start - lo, stop - start, n_ch,
                                                 geometry, params.threshold_sigma),
                                     start, n, round(params.edge_guard_s * fs))
        with watch.stage("detect"):
            found_support, counts = support.block_support(filt, start, stop, lo, local, sigma,
                                                          params, geometry, covered=covered)
            support_peaks.add(found_support, cands, stop)
            low_counts.add(counts)
            del found_support, counts
        with watch.stage("rest"):
            # The background is judged without the discharges found (their samples left
            # out), so busy windows of large fasciculations stay at rest.
            # A band too narrow for the spectral test judges a rise by its tails instead.
            wide = params.rest_spectral(band)
            _, ratio, thr, shape = rest.active_windows(
                filt[:, start - lo:stop - lo], fs, sigma, window_s=geometry.rest_win / fs,
                band_hz=band, trim_fraction=params.rest_trim_fraction, z=params.rest_z,
                min_excess=params.rest_min_excess, floor_shape=floor_shape, merge_tail=False,
                max_shape_share=params.rest_max_shape_share if wide else None,
                tail_max_ratio=None if wide or params.rest_tail_max_ratio < 1
                else params.rest_tail_max_ratio,
                shape_z=params.rest_pooled_z(band), shape_scores=True,
                exclude=covered if params.rest_trim_fraction == 0 else None)
            del covered
            rest_ratio.add(ratio)
            rest_shape.add(shape)
            rest_threshold.add(np.broadcast_to(thr, ratio.shape))
        parts.append(cands)
        snippet_parts.append(np.clip(snips / unit[None, :, None], -_F16_MAX, _F16_MAX)
                             .astype(np.float16))
        sample.add(parts, snippet_parts)
        if len(parts) - merged >= _MERGE_BLOCKS:
            sample.merge(parts, snippet_parts, merged)
            merged = len(parts)
            # Of the merged table only the samples are read before the end (the waveform
            # sample's pruning): the rest waits in a temporary file (issue 14: 14 MB for
            # a day, under each block's temporaries).
            parked.append((parts[-1], parts[-1].park(keep=("sample",), store=parked_store,
                                                     key=f"{len(parked)}/")))
        if progress is not None:
            progress(stop / n)
    _memory.release()  # the blocks' temporaries, before the merged tables come back
    for part, held in parked:  # loop over the merged tables
        part.unpark(held)
    del parked, parked_store
    snippets = sample.finish(parts, snippet_parts)
    del snippet_parts
    # Not held twice; the features in a temporary file (18 MB for a day, issue 14).
    candidates = Candidates.concatenate(parts, consume=True, spill=True)
    del parts
    return Scan(candidates=candidates, snippets=snippets,
                envelope_unit=unit, envelope_spill=envelope,
                active_bits=activity.finish(), n_subwindows=n_sub,
                block_sigma=np.concatenate(block_sigmas, axis=1),
                motion_envelope=None, raw_max=motion.rows(0, n_ch),
                raw_min=motion.rows(n_ch, n_ch), band_range=motion.rows(2 * n_ch, n_ch),
                bad_spans=bad_spans, channel_bad_spans=channel_bad, nonfinite_s=nonfinite / fs,
                clipped_share=clipped / max(1, n_mot_all),
                rest_ratio=rest_ratio.finish(), rest_threshold=rest_threshold.finish(),
                rest_shape=rest_shape.finish(),
                support=support_peaks.finish(), rest_subpeaks=low_counts.finish())


#: Blocks whose candidate tables are merged into one as the scan goes: a day has 1,440
#: blocks of about 140 candidates, each table some 26 small arrays (issue 14).
_MERGE_BLOCKS = 64


class _Columns:
    """A float32 array of shape (n_rows, n_columns) filled block of columns by block of
    columns (in order) into a temporary file, and read back a row at a time
    (:class:`fascidetect._spill.SpilledRows`; the rest windows' ratio and threshold of a
    day are 5.6 MB, held through the scan and the episodes before, issue 14)."""

    def __init__(self, n_rows: int, n_columns: int):
        self.spill = ColumnSpill(n_rows, n_columns, np.float32)
        self.filled = 0

    def add(self, block: np.ndarray) -> None:
        self.spill.write(self.filled, block)  # as astype(np.float32)
        self.filled += block.shape[1]

    def finish(self) -> SpilledRows:
        """Return the rows, as many columns as were added."""
        self.spill.shape = (self.spill.shape[0], self.filled)
        return self.spill.rows(0, self.spill.shape[0])


def _active_columns(env16, local, unit, params, geometry: Geometry) -> np.ndarray:
    """Return a block's envelope sub-windows above ``activity_sigma`` times their
    segment's noise (a sub-window past the last segment uses the last one's)."""
    per = geometry.segment // geometry.act_win
    thr = (params.activity_sigma * local / unit[:, None]).astype(np.float32)
    seg = np.minimum(np.arange(env16.shape[1]) // per, thr.shape[1] - 1)
    return env16 > thr[:, seg]


def _footprint_p(core, snips, cands, start, local, scale, adjacent, g, fs, missing=None,
                 lo=0) -> np.ndarray:
    """Return the footprint test's p-value of each of a block's candidates
    (:func:`fascidetect.footprint.support_p`), with the noise autocorrelation of the
    candidate's own noise segment.

    Per segment, not per block: segments lie on a fixed grid, so the answer does not
    depend on the block length (from the block's first samples, a candidate 20-40 s
    into a file had p 0.317 in 20-s blocks and 0.348 in 60-s ones).

    ``missing`` (the block's repaired NaN/inf samples from ``lo``, or None): a neighbour
    with repaired samples in the central window holds the fill there, not its noise, so
    it is left out as a flat one is (sigma 0).
    """
    n_lags = footprint.window_lags(fs)
    seg = np.clip((cands.sample - start) // g.segment, 0, local.shape[1] - 1)
    sig = local[:, seg].T.copy()
    if missing is not None and len(cands):
        h = n_lags // 2
        win = np.clip(cands.sample[:, None] - lo + np.arange(-h, h + 1)[None, :], 0,
                      missing.shape[1] - 1)
        sig[missing[:, win].any(axis=-1).T] = 0.0
    p = np.ones(len(cands))
    for k in np.unique(seg).tolist():  # loop over the block's segments with candidates
        rows = np.flatnonzero(seg == k)
        acf = footprint.noise_autocorrelation(core[:, k * g.segment:(k + 1) * g.segment],
                                              scale, n_lags)
        p[rows] = footprint.support_p(snips[rows], cands.channel[rows], adjacent, sig[rows],
                                      acf)
    return p


def _block_candidates(filt, raw, start, stop, lo, local, scale, params, g, band, fs, watch,
                      neighbourhood=None, missing=None):
    """Return the block's multichannel candidates (main peak in ``[start, stop)``) and
    their snippets.

    On a declared montage the candidates also carry ``common_spread`` and
    ``common_muscles``: the channels (and muscles) with a peak within ``merge_ms`` of the
    main peak whatever the neighbourhood, which the common-mode artifact tests judge.
    """
    n_loc = filt.shape[1]
    s_lo = max(0, start - lo - g.search_margin)
    s_hi = min(n_loc, stop - lo + g.search_margin)
    with watch.stage("detect"):
        thresholds = np.where(scale[:, None] > 0, params.threshold_sigma * local, np.inf)
        ch, idx, amp, echoes, spanned = detection.find_channel_peaks(
            filt, thresholds, g.dead, g.shadow, params.shadow_fraction, s_lo, s_hi,
            segment=g.segment, origin=start - lo, phase_samples=g.phase,
            phase_fraction=params.phase_fraction, with_echoes=True, span_samples=g.span,
            with_spanned=True)
        group, order, main = detection.merge_across_channels(
            ch, idx, amp, g.merge, g.merge_loose, neighbourhood=neighbourhood,
            crosstalk_samples=int(round(params.crosstalk_ms * fs / 1000.0)),
            join_radius=params.join_radius, shadow_samples=int(round(params.echo_ms * fs / 1000.0)),
            shadow_fraction=params.shadow_fraction, signal=filt,
            crosstalk_half=int(round(params.crosstalk_window_ms * fs / 2000.0)),
            crosstalk_corr=params.crosstalk_corr,
            propagation_samples=params.propagation_ms * fs / 1000.0,
            cross_phase_samples=(g.phase if 0 < params.cross_phase_min_period_ms
                                 <= 1000.0 / fs else 0),
            cross_phase_fraction=params.phase_fraction)
    with watch.stage("features"):
        cands, snips = describe_discharges(filt, raw, start, stop, lo, ch, idx, group, order,
                                           main, local, g, band, fs, params)
        if g.span > g.dead:
            cands.features["span_peaks"] = peaks_within(spanned, cands.channel,
                                                        cands.sample - lo, g.span,
                                                        filt.shape[1])
        if neighbourhood is not None and neighbourhood.declared:
            main_idx = idx[order][main]
            owned = main[(main_idx + lo >= start) & (main_idx + lo < stop)]
            common = neighbours.coincident_channels(ch[order], idx[order], owned,
                                                    filt.shape[0], g.merge) | cands.channels
            muscles = np.zeros((common.shape[0], neighbourhood.muscle.max() + 1), dtype=bool)
            rows, chans = np.nonzero(common)
            muscles[rows, neighbourhood.muscle[chans]] = True
            cands.features["common_spread"] = common.sum(axis=1)
            cands.features["common_muscles"] = muscles[:, 1:].sum(axis=1)  # 0: undeclared
        if neighbourhood is not None and neighbourhood.grid:
            cands.features["footprint_p"] = _footprint_p(
                filt[:, start - lo:stop - lo], snips, cands, start, local, scale,
                neighbourhood.adjacent, g, fs, missing=missing, lo=lo)
    # The background leaves out the kept peaks and their echoes and other phases (at the
    # threshold's size: they are part of a kept discharge's waveform).
    seg = np.clip((idx - (start - lo)) // g.segment, 0, local.shape[1] - 1)
    snr = np.abs(amp) / np.maximum(local[ch, seg], np.finfo(float).tiny)
    return cands, snips, (np.concatenate([ch, echoes[0]]), np.concatenate([idx, echoes[1]]),
                          np.concatenate([snr, np.full(echoes[1].size, params.threshold_sigma)]))


def peaks_within(peaks, channel, sample, distance: int, n_samples: int) -> np.ndarray:
    """Return how many of ``peaks`` lie within ``distance`` samples of each discharge on
    its channel.

    Parameters
    ----------
    peaks : tuple of (channel, sample) arrays
    channel, sample : ndarray of int
        The discharges' main channel and sample (same sample origin as ``peaks``).
    distance : int
    n_samples : int
        Bound of the samples (channels are laid end to end on one axis).

    Returns
    -------
    ndarray of int

    Examples
    --------
    >>> peaks = (np.array([0, 0, 1]), np.array([10, 40, 12]))
    >>> peaks_within(peaks, np.array([0, 1]), np.array([12, 12]), 3, 100).tolist()
    [1, 1]
    """
    stride = n_samples + 2 * distance + 1
    key = np.sort(np.asarray(peaks[0], np.int64) * stride + peaks[1])
    at = np.asarray(channel, np.int64) * stride + sample
    return np.searchsorted(key, at + distance, side="right") \
        - np.searchsorted(key, at - distance, side="left")


def _near_peaks(peaks, offset: int, n: int, n_ch: int, g: Geometry,
                threshold_sigma: float) -> np.ndarray:
    """Return a (n_ch, n) mask of the samples a channel peak and its ringing cover (peak
    indices counted from ``offset`` samples before the mask's first sample).

    A peak at the threshold covers half a snippet on each side; a larger one rings
    longer, out to the echo shadow at 20 times the threshold (the band-pass's ringing
    decays about exponentially, so its length grows with the log of the amplitude).
    """
    ch, idx, snr = peaks
    pos = np.asarray(idx) - offset
    grow = np.clip(np.log(np.maximum(snr, 1e-9) / threshold_sigma) / np.log(20.0), 0.0, 1.0)
    half = (g.half + grow * max(0, g.shadow - g.half)).astype(int)
    marks = np.zeros((n_ch, n + 1), dtype=np.int32)
    np.add.at(marks, (ch, np.clip(pos - half, 0, n)), 1)
    np.add.at(marks, (ch, np.clip(pos + half + 1, 0, n)), -1)
    return np.cumsum(marks[:, :n], axis=1) > 0


def _without_edges(exclude: np.ndarray, start: int, n_samples: int, guard: int) -> np.ndarray:
    """Return the background mask ``exclude`` of a block starting at sample ``start``
    with the recording's first and last ``guard`` samples left out too (in place).

    There the band-pass settles (a board's DC offset and drift make its edge transient
    tens of noise sigmas at 125-250 Hz), and no candidate is judged (``edge_guard_s``):
    counted, the transient made the first or last rest window of a channel active on
    12 % of a 125-Hz board's channels, and its discharges within ``rest_guard_s``
    voluntary.
    """
    n = exclude.shape[1]
    if guard > 0:
        exclude[:, :max(0, min(n, guard - start))] = True
        exclude[:, max(0, n_samples - guard - start):] = True
    return exclude


def segment_sigmas(filt_core, sigma, params, geometry: Geometry) -> np.ndarray:
    """Return each channel's noise sigma per noise segment of a block's core, shape
    (n_channels, n_segments), kept between the recording's floor and
    ``params.noise_drift_max`` times it.

    Electrode noise drifts over a long recording; one floor for the whole file would
    flood the noisier stretches with false events. The cap keeps a spasm filling a
    segment from raising its own threshold (and hiding itself). Segments lie on a fixed
    grid, so the answer does not depend on the block length.

    Each window's sigma is the median absolute sample (as for the recording's floor),
    not the median RMS of the envelope sub-windows: under continuous firing most
    sub-windows hold a potential and their RMS rises with it, while the median sample
    stays at the noise (tried: needle EMG of a gentle contraction then produced 20
    false fasciculations instead of 0).
    """
    local = noise.segment_floors(
        lambda i0, i1: noise.window_sigmas(filt_core[:, i0:i1], geometry.noise_win),
        filt_core.shape[1], geometry.noise_win, geometry.segment, params.noise_percentile)
    return np.clip(local, sigma[:, None], params.noise_drift_max * sigma[:, None])


def rail_windows(mx: np.ndarray, mn: np.ndarray) -> np.ndarray:
    """Return, per channel, how many motion windows sit at the block's rail.

    A clipped channel touches the same extreme value again and again; a free signal
    reaches its block maximum (and minimum) in one window. Counted from the window
    extremes already computed for motion, so it costs no pass over the samples. A window
    at both rails counts once, and the one window that holds each free extreme does not
    count, so the count never exceeds the windows.
    """
    if mx.shape[1] == 0:  # a last block shorter than one window
        return np.zeros(len(mx), dtype=int)
    top = mx == mx.max(axis=1, keepdims=True)
    bottom = mn == mn.min(axis=1, keepdims=True)
    rails = np.maximum(top.sum(axis=1) - 1, 0) + np.maximum(bottom.sum(axis=1) - 1, 0)
    at_rail = np.maximum((top | bottom).sum(axis=1) - 2, 0)
    flat = mx.max(axis=1) <= mn.min(axis=1)  # a flat channel is not clipped
    return np.where((rails >= 4) & ~flat, at_rail, 0)


def _bad_spans(mask, lo, fs):
    starts, stops = episodes.run_bounds(mask)
    return [((lo + a) / fs, (lo + b) / fs) for a, b in zip(starts, stops)]


def _waveform_key(samples: np.ndarray) -> np.ndarray:
    """Return a pseudo-random but fixed key per sample index (Fibonacci hashing)."""
    return (samples.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(11)


#: Snippets copied from the staging file to the sample's at a time.
_COPY_ROWS = 2000


class _WaveformSample:
    """A uniform sample of at most ``cap`` candidates whose snippets are held.

    Busy day-long recordings would otherwise hold a snippet per candidate (about 1 kB
    each for 8 channels). The keys depend on the sample index alone, so the sample is
    the ``cap`` smallest keys overall, whatever the blocks were.
    """

    def __init__(self, cap: int):
        self.cap = cap
        self.held = 0
        self.rows: list[np.ndarray] = []  # per block: candidate rows whose snippet is held
        # Largest key kept by the last pruning: a later candidate with a larger key can
        # never be among the cap smallest, so its snippet is not held at all.
        self.limit = None
        # The held snippets go to a temporary file as they come; the ``snippet_parts``
        # hold their rows there (issue 14: in memory they were up to 24 MB for a day).
        self.staging = None

    def add(self, parts, snippet_parts) -> None:
        """Hold the newest block's snippets that can still be sampled; past a quarter over
        the cap, prune to the cap (issue 14: at twice the cap the held snippets peaked
        at 39 MB for 8 channels). ``snippet_parts[-1]``, the block's snippets, becomes
        their rows in the staging file."""
        rows = np.arange(len(parts[-1]))
        snippets = snippet_parts[-1]
        if self.limit is not None:
            rows = rows[_waveform_key(parts[-1].sample) <= self.limit]
            snippets = snippets[rows]
        if self.staging is None:
            self.staging = RowSpill(snippets.shape[1:], snippets.dtype)
        snippet_parts[-1] = self.staging.n_rows + np.arange(rows.size)
        self.staging.append(snippets)
        del snippets
        self.rows.append(rows)
        self.held += rows.size
        if self.held > self.cap + self.cap // 4:
            self._prune(parts, snippet_parts)

    def merge(self, parts, snippet_parts, first: int) -> None:
        """Merge the blocks ``parts[first:]`` (and their held snippets) into one part, in
        place; the sample and the table they make are unchanged."""
        if len(parts) - first < 2:
            return
        offsets = np.cumsum([0] + [len(p) for p in parts[first:-1]])
        rows = np.concatenate([r + o for r, o in zip(self.rows[first:], offsets)])
        snippets = np.concatenate(snippet_parts[first:], axis=0)  # their rows in the staging
        table = Candidates.concatenate(parts[first:], consume=True, spill=True)
        del parts[first:], snippet_parts[first:], self.rows[first:]
        parts.append(table)
        snippet_parts.append(snippets)
        self.rows.append(rows)

    def finish(self, parts, snippet_parts) -> RowSpill:
        """Prune to the cap, set every part's ``snip_row`` and return the snippets."""
        if self.held > self.cap:
            self._prune(parts, snippet_parts)
        offset = 0
        for part, rows in zip(parts, self.rows):
            part.snip_row[rows] = offset + np.arange(rows.size)
            offset += rows.size
        # The kept rows, in order, to a temporary file of their own (issue 14: the sample
        # of a day is 20 MB, held through the matching and the stages before).
        staged = np.concatenate(snippet_parts)
        spill = RowSpill(self.staging.row_shape, self.staging.dtype)
        for start in range(0, staged.size, _COPY_ROWS):  # loop over slices
            spill.append(self.staging.take(staged[start:start + _COPY_ROWS]))
        self.staging.close()
        self.staging = None
        snippet_parts.clear()
        return spill

    def _prune(self, parts, snippet_parts) -> None:
        keys = np.concatenate([_waveform_key(p.sample[r]) for p, r in zip(parts, self.rows)])
        limit = self.limit = np.partition(keys, self.cap - 1)[self.cap - 1]
        self.held = 0
        for i, (p, r) in enumerate(zip(parts, self.rows)):  # loop over blocks
            keep = _waveform_key(p.sample[r]) <= limit
            self.rows[i], snippet_parts[i] = r[keep], snippet_parts[i][keep]
            self.held += int(keep.sum())
