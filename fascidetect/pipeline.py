"""``detect()``: a short driver over the named steps of the pipeline.

read -> noise and line (on sampled windows) -> per block: filter, envelope, noise per
20-s segment, peaks, merge, features -> whole recording: episodes, classification,
motor-unit templates -> result. Blocking lives in one place (``_block_bounds``): blocks
are whole noise segments with margins covering the filter transient, so chunked output
equals whole-file output.
"""

from __future__ import annotations

import dataclasses
import warnings as _warnings
from typing import Callable

import numpy as np

from . import (classification, detection, ecg, episodes, features, noise, preprocessing,
               templates)
from .errors import (BadSamplesError, FascidetectWarning, InputError, NoEmgChannelError)
from .events import empty_events, sort_events
from .params import DetectionParams
from ._timing import Stopwatch
from .results import DetectionResult, poisson_rate_ci
from .spans import in_spans, union_length
from ._inputs import as_recording

#: Values held in memory per processing block (bounded memory for long recordings).
_BLOCK_VALUES = 2_000_000
#: Sampled noise windows (SpikeInterface computes noise once from random chunks).
_NOISE_WINDOWS = 40
_LINE_WINDOWS = 10
_LOW_RATE_HZ = 1000.0
_MIN_DURATION_S = 1.0
#: Largest float16 value (the envelope is stored in noise units as float16).
_F16_MAX = 65000.0
#: Discharges this close to a firing-train member on their channel belong to the train.
_BURST_EDGE_S = 0.5
#: Most candidate discharges whose multichannel snippets are kept for waveforms and
#: motor-unit templates (a uniform sample beyond that).
_MAX_WAVEFORMS = 20_000
#: Largest rise of a block's noise over the recording's floor that is taken as drift.
_NOISE_DRIFT_MAX = 3.0
#: Noise windows per noise segment (the grid of the local noise estimate: 20 s by default).
_NOISE_SEGMENT_WINDOWS = 10
_MARGIN_S = 1.0
_ARTIFACT_WINDOW_S = 0.2


def detect(source, params: DetectionParams | None = None, *, sfreq: float | None = None,
           ch_names=None, emg_channels=None, progress: Callable[[float], None] | None = None,
           **overrides) -> DetectionResult:
    """Return the fasciculations, spasms and artifacts found in an EMG recording.

    Parameters
    ----------
    source : Recording | mne.io.Raw | str | path-like | ndarray
        The recording. A 2-D array (channels x samples, volts) needs ``sfreq``.
    params : DetectionParams | None
        Detection parameters; keyword ``overrides`` change single fields.
    sfreq : float | None
        Sampling rate for array input.
    ch_names : list of str | None
        Channel names for array input.
    emg_channels : list of str | None
        Channels to analyse (default: those typed EMG).
    progress : callable | None
        Called with the fraction done (0-1) after each block.
    **overrides
        Any :class:`DetectionParams` field, e.g. ``threshold_sigma=4.5``.

    Returns
    -------
    DetectionResult

    Examples
    --------
    >>> import numpy as np, fascidetect
    >>> rng = np.random.default_rng(0)
    >>> x = 5e-6 * rng.standard_normal((2, 20000))
    >>> res = fascidetect.detect(x, sfreq=2000.0)
    >>> int((res.events["trial_type"] == "fasciculation").sum())
    0
    """
    params = DetectionParams.from_kwargs(params, **overrides)
    rec = as_recording(source, sfreq, ch_names, emg_channels)
    if rec.duration_s < _MIN_DURATION_S:
        raise InputError(f"{rec.source or 'the recording'} is {rec.duration_s:.3g} s long; "
                         f"at least {_MIN_DURATION_S:g} s are needed to filter and estimate noise")
    picks = rec.emg_picks
    if picks.size == 0:
        raise NoEmgChannelError(
            f"{rec.source or 'the recording'} has no EMG channel (channels: {rec.ch_names}); "
            "name the channels to analyse with emg_channels=[...] or --emg-channels")
    fs = rec.sfreq
    band = params.band_for(fs)
    names = [rec.ch_names[i] for i in picks]
    warns = list(rec.warnings)
    if fs < _LOW_RATE_HZ:
        warns.append(f"sampling rate {fs:g} Hz is under {_LOW_RATE_HZ:g} Hz: discharges are "
                     "detected but waveform shape features (duration, phases, turns) are unreliable")

    geometry = _Geometry.build(fs, params, picks.size)
    watch = Stopwatch()
    with watch.stage("noise_and_line"):
        line, prep, sigma = _noise_and_line(rec, picks, params, band, geometry)
    status = np.array(["ok"] * picks.size, dtype="U16")
    status[sigma <= 0] = "flat"
    for name in np.asarray(names)[sigma <= 0]:
        warns.append(f"channel {name} is flat (no signal): it is not analysed")
    if (sigma <= 0).all():
        raise BadSamplesError(f"{rec.source or 'the recording'}: every EMG channel is flat")
    found = _scan_blocks(rec, picks, prep, sigma, params, geometry, band, progress,
                         watch)
    model = None
    if params.ecg_subtraction:
        with watch.stage("ecg_model"):
            model = _ecg_model(found, rec, picks, prep, sigma, params, geometry, fs)
        if model is not None:
            rr = np.median(np.diff(model.beats)) / fs
            warns.append(f"ECG found ({model.beats.size} beats, about {60 / rr:.0f} per minute): "
                         "an average beat per channel was subtracted before detection")
            found = _scan_blocks(rec, picks, prep, sigma, params, geometry, band,
                                 progress, watch, ecg_model=model)
    if found["nonfinite_s"] > 0:
        warns.append(f"{found['nonfinite_s']:.2f} s of NaN/inf samples were excluded from analysis")
    clipped = (found["clipped_share"] > 1e-2) & (status == "ok")
    for name, share in zip(np.asarray(names)[clipped], found["clipped_share"][clipped]):
        status[names.index(name)] = "saturated"
        warns.append(f"channel {name} is clipped/saturated (at its rail) in {100 * share:.1f} % "
                     "of 200-ms windows")

    duration = rec.n_samples / fs
    excluded, voluntary_spans = _excluded_spans(rec, params, found["bad_spans"])
    motion_spans = episodes.motion_spans(found["raw_max"], found["raw_min"],
                                         found["motion_envelope"], geometry.motion_win / fs, params,
                                         None if model is None else model.beats / fs)
    if motion_spans:
        warns.append(f"{len(motion_spans)} motion artifact span(s) "
                     f"({sum(b - a for a, b in motion_spans):.1f} s) were excluded from analysis")
    excluded = excluded + motion_spans
    with watch.stage("episodes"):
        episode_rows, episode_spans = _episodes(found, sigma, names, params, geometry, fs,
                                                voluntary_spans)
        # Sustained "activity" that is mostly a motion artifact is the artifact, not a spasm.
        if motion_spans and len(episode_rows):
            mid = episode_rows["onset"] + 0.5 * episode_rows["duration"]
            moved = in_spans(mid, motion_spans)
            episode_rows = episode_rows[~moved]
            episode_spans = [sp for sp, m in zip(episode_spans, moved) if not m]
    with watch.stage("classify"):
        events, waveforms, templates, waveform_rows = _classify(
            found, sigma, names, params, fs, geometry, excluded + episode_spans, motion_spans)
    all_events = sort_events(np.concatenate([events, episode_rows]))
    # Follow the fasciculations into their sorted order (as sort_events orders them).
    fasc = events[events["trial_type"] == "fasciculation"]
    new_pos = np.empty(fasc.size, dtype=int)
    new_pos[np.lexsort((fasc["peak_time"], fasc["onset"]))] = np.arange(fasc.size)
    moved = new_pos[waveform_rows]
    order = np.argsort(moved)
    waveforms, waveform_rows = waveforms[order], moved[order]

    rest_s = duration - union_length(excluded + episode_spans, duration)
    channels = _channel_table(names, status, sigma, line, all_events, rest_s, episode_rows)
    if rest_s < params.min_rest_s:
        warns.append(f"only {rest_s:.0f} s of rest were analysed: about "
                     f"{params.min_rest_s:.0f} s are needed before 'no fasciculations' means much")
    for w in warns:
        _warnings.warn(w, FascidetectWarning, stacklevel=2)
    recording = {
        "source": rec.source, "format": rec.format, "sfreq": fs,
        "duration_s": duration, "n_channels": rec.n_channels, "emg_channels": names,
        "meas_date": rec.meas_date.isoformat() if rec.meas_date is not None else None,
    }
    return DetectionResult(
        events=all_events, channels=channels, waveforms=waveforms.astype(np.float32),
        waveform_rows=waveform_rows,
        templates=templates, params=params, recording=recording, warnings=warns, sfreq=fs,
        timings=watch.as_dict(),
        line_noise={"freq_hz": line.freq_hz, "notch_hz": list(line.notch_hz),
                    "ratio_db": round(line.ratio_db, 1)},
    )


# ---------------------------------------------------------------------- geometry
@dataclasses.dataclass(frozen=True)
class _Geometry:
    """Sample counts derived once from the rate and parameters (grids aligned so that
    chunked and whole-file processing see the same windows)."""

    act_win: int
    motion_win: int
    noise_win: int
    segment: int
    block: int
    margin: int
    search_margin: int
    dead: int
    shadow: int
    merge: int
    merge_loose: int
    half: int
    art_half: int

    @classmethod
    def build(cls, fs, params, n_channels):
        act = max(1, int(round(params.activity_window_ms * fs / 1000)))
        noise_win = act * max(1, int(round(params.noise_window_s * 1000 / params.activity_window_ms)))
        segment = noise_win * _NOISE_SEGMENT_WINDOWS
        per_block = max(1, int(min(params.chunk_s * fs, _BLOCK_VALUES / max(1, n_channels))
                               // segment))
        margin = int(round(_MARGIN_S * fs))
        ms = fs / 1000.0
        shadow = int(round(params.shadow_ms * ms))
        # Motion windows must tile the noise segments (and so every block) exactly.
        k = max(1, int(round(episodes.MOTION_WINDOW_S * fs / act)))
        while (segment // act) % k:
            k -= 1
        motion = act * k
        return cls(act_win=act, motion_win=motion, noise_win=noise_win, segment=segment, block=per_block * segment,
                   margin=margin,
                   search_margin=margin // 2, dead=max(1, int(round(params.dead_time_ms * ms))),
                   shadow=shadow, merge=max(1, int(round(params.merge_ms * ms))),
                   merge_loose=max(1, int(round(params.merge_loose_ms * ms))),
                   half=max(2, int(round(params.snippet_ms * ms / 2))),
                   art_half=max(4, int(round(_ARTIFACT_WINDOW_S * fs / 2))))


def _block_bounds(n: int, geometry: _Geometry):
    """Yield ``(start, stop, lo, hi)``: each block's owned samples and its span with margins.

    This is the one place where the recording is cut into blocks.
    """
    for start in range(0, n, geometry.block):
        stop = min(n, start + geometry.block)
        yield start, stop, max(0, start - geometry.margin), min(n, stop + geometry.margin)


# ---------------------------------------------------------------------- noise and line
def _noise_and_line(rec, picks, params, band, geometry):
    """Return line noise, the SOS cascade and per-channel sigma from sampled windows."""
    n = rec.n_samples
    win = geometry.noise_win
    n_win = max(1, n // win)
    chosen = np.unique(np.linspace(0, n_win - 1, min(n_win, _NOISE_WINDOWS)).astype(int))
    pad = geometry.margin // 2
    raw_windows, spans = [], []
    for w in chosen:
        lo, hi = max(0, w * win - pad), min(n, (w + 1) * win + pad)
        raw, _ = preprocessing.repair_nonfinite(rec.get_data(picks, lo, hi))
        raw_windows.append(raw)
        spans.append((w * win - lo, min(win, n - w * win)))
    # Hum is stationary: a dozen windows spread over the recording show it.
    step = max(1, len(raw_windows) // _LINE_WINDOWS)
    core = np.concatenate([r[:, a:a + b] - np.median(r[:, a:a + b], axis=1, keepdims=True)
                           for r, (a, b) in list(zip(raw_windows, spans))[::step]], axis=1)
    line = preprocessing.detect_line_noise(core, rec.sfreq, params, band[1])
    prep = preprocessing.Preprocessor.build(rec.sfreq, params, line)
    sig = [noise.window_sigmas(prep.apply(r, w * win - a)[:, a:a + b], b)
           for w, r, (a, b) in zip(chosen, raw_windows, spans)]
    sigma = noise.channel_sigma(np.concatenate(sig, axis=1), params.noise_percentile)
    return line, prep, sigma


# ---------------------------------------------------------------------- block scan
def _read_filtered(rec, picks, prep, lo, hi, geometry):
    """Return band-passed samples ``[lo, hi)`` (filtered with margins, as the blocks are)."""
    n = rec.n_samples
    a, b = max(0, lo - geometry.margin), min(n, hi + geometry.margin)
    raw, _ = preprocessing.repair_nonfinite(rec.get_data(picks, a, b))
    return prep.apply(raw, a)[:, lo - a:hi - a]


def _ecg_model(found, rec, picks, prep, sigma, params, geometry, fs):
    """Return an ECG template model when the first pass found a heart rhythm, else None."""
    times = found["sample"] / fs
    kind = classification.classify_artifacts(found, found["mask"].sum(axis=1), len(picks),
                                             found["snr"], times, found["channel"], params)
    beats = ecg.beat_samples(found["sample"], found["snr"], kind == "ecg",
                             int(classification.ECG_BEAT_S * fs))
    return ecg.build_model(lambda lo, hi: _read_filtered(rec, picks, prep, lo, hi, geometry),
                           beats, rec.n_samples, fs)


def _scan_blocks(rec, picks, prep, sigma, params, geometry, band, progress, watch,
                 ecg_model=None):
    """Return the discharges, features and envelope found block by block."""
    fs = rec.sfreq
    n = rec.n_samples
    parts, bad_spans, block_sigmas = [], [], []
    # Whole-recording envelopes are filled in place (no per-block lists to concatenate):
    # the 25-ms RMS in noise units as float16 (a quarter of float64), and the 200-ms
    # RMS and raw range that motion is judged on.
    unit = _noise_unit(sigma)
    envelope = np.zeros((picks.size, n // geometry.act_win), dtype=np.float16)
    n_mot_all = n // geometry.motion_win
    motion_env = np.zeros((picks.size, n_mot_all), dtype=np.float32)
    raw_max = np.zeros((picks.size, n_mot_all), dtype=np.float32)
    raw_min = np.zeros((picks.size, n_mot_all), dtype=np.float32)
    held = 0  # candidates whose multichannel snippet is still held
    clipped = np.zeros(picks.size)
    nonfinite = 0
    for start, stop, lo, hi in _block_bounds(n, geometry):
        with watch.stage("read"):
            raw = rec.get_data(picks, lo, hi)
        with watch.stage("filter"):
            raw, bad = preprocessing.repair_nonfinite(raw)
            if bad is not None:
                nonfinite += int(bad[:, start - lo:stop - lo].any(axis=0).sum())
                bad_spans.extend(_bad_spans(bad.any(axis=0), lo, fs))
            filt = prep.apply(raw, lo)
        if ecg_model is not None:
            with watch.stage("ecg_subtract"):
                ecg.subtract(filt, lo, ecg_model)
        with watch.stage("envelope"):
            env = episodes.subwindow_rms(filt[:, start - lo:stop - lo], geometry.act_win)
            j = start // geometry.act_win
            envelope[:, j:j + env.shape[1]] = np.minimum(env / unit[:, None], _F16_MAX)
        with watch.stage("noise"):
            local = _segment_sigmas(filt[:, start - lo:stop - lo], sigma, params, geometry)
            block_sigmas.append(local)
            # Motion is judged on coarser windows: keep only those (8x less to hold).
            k = geometry.motion_win // geometry.act_win
            n_mot = env.shape[1] // k
            m = start // geometry.motion_win
            motion_env[:, m:m + n_mot] = np.sqrt((env[:, :n_mot * k] ** 2)
                                                 .reshape(len(env), n_mot, k).mean(axis=-1))
            mx, mn = episodes.subwindow_range(raw[:, start - lo:stop - lo], geometry.motion_win)
            clipped += _rail_windows(mx, mn)
            raw_max[:, m:m + mx.shape[1]] = mx
            raw_min[:, m:m + mn.shape[1]] = mn
        parts.append(_block_events(filt, raw, start, stop, lo, local, sigma, params,
                                   geometry, band, fs, watch))
        held += _keep_waveform_sample(parts, held)
        if progress is not None:
            progress(stop / n)
    _keep_waveform_sample(parts, held, final=True)
    found = {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]
             if k not in ("snippets", "snip_rows")}
    found["snippets"] = np.concatenate([p["snippets"] for p in parts], axis=0)
    offsets = np.cumsum([0] + [p["sample"].size for p in parts[:-1]])
    found["snip_row"] = np.full(found["sample"].size, -1, dtype=np.int64)
    found["snip_row"][np.concatenate([p["snip_rows"] + o for p, o in zip(parts, offsets)])] = \
        np.arange(found["snippets"].shape[0])
    found["envelope"] = envelope
    found["envelope_unit"] = unit
    found["block_sigma"] = np.concatenate(block_sigmas, axis=1)
    found["motion_envelope"] = motion_env
    found["raw_max"] = raw_max
    found["raw_min"] = raw_min
    found["bad_spans"] = bad_spans
    found["nonfinite_s"] = nonfinite / fs
    found["clipped_share"] = clipped / max(1, n // geometry.motion_win)
    return found


def _segment_sigmas(filt_core, sigma, params, geometry):
    """Return each channel's noise sigma per noise segment of a block's core, shape
    (n_channels, n_segments), kept between the recording's floor and
    :data:`_NOISE_DRIFT_MAX` times it.

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
    per_window = noise.window_sigmas(filt_core, geometry.noise_win)
    k = geometry.segment // geometry.noise_win
    n_ch, n_w = per_window.shape
    full = n_w // k
    local = noise.channel_sigma(per_window[:, :full * k].reshape(n_ch, full, k),
                                params.noise_percentile)
    if full * k < n_w or full == 0:  # a last, partial segment
        tail = noise.channel_sigma(per_window[:, full * k:], params.noise_percentile)
        local = np.concatenate([local, tail[:, None]], axis=1)
    return np.clip(local, sigma[:, None], _NOISE_DRIFT_MAX * sigma[:, None])


def active_subwindows(found, params, geometry) -> np.ndarray:
    """Return the envelope sub-windows above ``activity_sigma`` times their segment's noise.

    Compared segment by segment through a reshape, so no threshold array the size of the
    envelope is built (a day-long recording has millions of sub-windows per channel).
    """
    env = found["envelope"]  # in noise units (see _scan_blocks)
    thr = (params.activity_sigma * found["block_sigma"]
           / found["envelope_unit"][:, None]).astype(np.float32)
    n_ch, n_sub = env.shape
    per = geometry.segment // geometry.act_win
    n_full = min(n_sub // per, thr.shape[1])
    active = np.empty((n_ch, n_sub), dtype=bool)
    head = n_full * per
    active[:, :head] = (env[:, :head].reshape(n_ch, n_full, per) > thr[:, :n_full, None]) \
        .reshape(n_ch, head)
    if head < n_sub:  # the tail after the last whole segment
        last = thr[:, min(n_full, thr.shape[1] - 1)]
        active[:, head:] = env[:, head:] > last[:, None]
    return active


def _waveform_key(samples: np.ndarray) -> np.ndarray:
    """Return a pseudo-random but fixed key per sample index (Fibonacci hashing)."""
    return (samples.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(11)


def _keep_waveform_sample(parts, held, final: bool = False) -> int:
    """Mark the newest block's snippets as held; past twice the cap, keep only the
    :data:`_MAX_WAVEFORMS` candidates with the smallest keys, and return the change in
    the number held.

    The keys depend on the sample index alone, so the sample is a uniform random subset
    that does not depend on the block length. Busy day-long recordings would otherwise
    hold a snippet per candidate (about 1 kB each for 8 channels).
    """
    added = 0
    if not final:
        new = parts[-1]
        new["snip_rows"] = np.arange(new["sample"].size)
        added = new["sample"].size
    # Pruning down to the cap at the end makes the sample the cap smallest keys overall,
    # whatever the blocks were.
    if held + added <= (_MAX_WAVEFORMS if final else 2 * _MAX_WAVEFORMS):
        return added
    keys = np.concatenate([_waveform_key(p["sample"][p["snip_rows"]]) for p in parts])
    limit = np.partition(keys, _MAX_WAVEFORMS - 1)[_MAX_WAVEFORMS - 1]
    total = 0
    for p in parts:  # loop over blocks, a few dozen times per day of recording
        keep = _waveform_key(p["sample"][p["snip_rows"]]) <= limit
        p["snippets"], p["snip_rows"] = p["snippets"][keep], p["snip_rows"][keep]
        total += int(keep.sum())
    return total - held


def _rail_windows(mx: np.ndarray, mn: np.ndarray) -> np.ndarray:
    """Return, per channel, how many 200-ms windows sit at the block's rail.

    A clipped channel touches the same extreme value again and again; a free signal
    reaches its block maximum (and minimum) in one window. Counted from the window
    extremes already computed for motion, so it costs no pass over the samples.
    """
    if mx.shape[1] == 0:  # a last block shorter than one window
        return np.zeros(len(mx), dtype=int)
    top = (mx == mx.max(axis=1, keepdims=True)).sum(axis=1)
    bottom = (mn == mn.min(axis=1, keepdims=True)).sum(axis=1)
    rails = np.maximum(top - 1, 0) + np.maximum(bottom - 1, 0)
    flat = mx.max(axis=1) <= mn.min(axis=1)  # a flat channel is not clipped
    return np.where((rails >= 4) & ~flat, rails, 0)


def _bad_spans(mask, lo, fs):
    starts, stops = episodes.run_bounds(mask)
    return [((lo + a) / fs, (lo + b) / fs) for a, b in zip(starts, stops)]


def _block_events(filt, raw, start, stop, lo, local, scale, params, g, band, fs, watch):
    """Return the multichannel discharges whose main peak lies in ``[start, stop)``."""
    n_loc = filt.shape[1]
    s_lo = max(0, start - lo - g.search_margin)
    s_hi = min(n_loc, stop - lo + g.search_margin)
    with watch.stage("detect"):
        thresholds = np.where(scale[:, None] > 0, params.threshold_sigma * local, np.inf)
        ch, idx, amp = detection.find_channel_peaks(filt, thresholds, g.dead, g.shadow,
                                                    params.shadow_fraction, s_lo, s_hi,
                                                    segment=g.segment, origin=start - lo)
        group, order, main = detection.merge_across_channels(ch, idx, amp, g.merge, g.merge_loose)
    with watch.stage("features"):
        return _describe_events(filt, raw, start, stop, lo, ch, idx, group, order, main, local,
                                scale, g, band, fs)


def _describe_events(filt, raw, start, stop, lo, ch, idx, group, order, main, local, scale, g,
                     band, fs):
    """Return the owned multichannel events with their snippets and features.

    ``local`` is the block's noise per segment (for SNR and shape features), ``scale``
    the recording's (the unit the snippets are stored in).
    """
    n_ch = filt.shape[0]
    main_idx = idx[order][main]
    own = (main_idx + lo >= start) & (main_idx + lo < stop)
    main, main_idx = main[own], main_idx[own]
    main_ch = ch[order][main]
    n_ev = main.size
    seg = np.clip((main_idx + lo - start) // g.segment, 0, local.shape[1] - 1)
    ev_sigma = local[main_ch, seg]
    # Channel membership: which channels had a peak in each owned group.
    mask = np.zeros((n_ev, n_ch), dtype=bool)
    gid_to_row = np.full(int(group.max()) + 1 if group.size else 0, -1)
    gid_to_row[group[main]] = np.arange(n_ev)
    rows = gid_to_row[group] if group.size else group
    sel = rows >= 0
    mask[rows[sel], ch[order][sel]] = True

    # Centre snippets on the main channel's energy centroid: the larger lobe of a
    # biphasic potential flips with noise, its centre of energy does not.
    first_cut = features.cut_channel_snippets(filt, main_ch, main_idx, g.half)
    centre = main_idx + features.energy_centroid_offset(first_cut)
    snips = features.cut_snippets(filt, centre, g.half)
    main_snip = snips[np.arange(n_ev), main_ch] if n_ev else np.zeros((0, 2 * g.half + 1))
    wf = features.waveform_features(main_snip, ev_sigma, fs)
    raw_main = features.cut_channel_snippets(raw, main_ch, main_idx, g.art_half)
    af = features.artifact_features(raw_main, fs, band[0])
    peak_abs = np.abs(filt[main_ch, main_idx])
    # How evenly the event spreads: a unit's footprint decays away from its main channel,
    # a common-mode artifact (ECG, motion) is similar everywhere.
    ch_p2p = np.ptp(snips, axis=-1)
    evenness = np.median(ch_p2p, axis=1) / np.maximum(ch_p2p.max(axis=1), np.finfo(float).tiny) \
        if n_ev else np.zeros(0)
    return {
        "sample": main_idx + lo, "centre": centre + lo, "channel": main_ch, "mask": mask,
        "snr": peak_abs / np.where(ev_sigma > 0, ev_sigma, np.inf), "amplitude": filt[main_ch, main_idx],
        "evenness": evenness,
        # Kept for every candidate until classification: in noise units as float16
        # (3 significant digits, a quarter of float64) so long recordings stay small.
        "snippets": np.clip(snips / _noise_unit(scale)[None, :, None], -_F16_MAX, _F16_MAX)
        .astype(np.float16),
        **{k: np.asarray(v) for k, v in wf.items()}, **af,
    }


def _noise_unit(sigma: np.ndarray) -> np.ndarray:
    """Per-channel scale of the stored snippets (sigma, 1 V on flat channels)."""
    return np.where(sigma > 0, sigma, 1.0).astype(np.float32)


# ---------------------------------------------------------------------- spans
def _excluded_spans(rec, params, bad_spans):
    """Return spans excluded from rest (recording edges, BAD annotations, NaN) and
    voluntary-task spans."""
    labels = tuple(lbl.lower() for lbl in params.voluntary_labels)
    guard = params.edge_guard_s
    duration = rec.n_samples / rec.sfreq
    bad = [(a - guard, b + guard) for a, b in bad_spans]
    bad += [(0.0, guard), (duration - guard, duration)]
    vol = []
    for a in rec.annotations:
        desc = a.description.lower()
        span = (a.onset, a.onset + max(a.duration, 0.0))
        if desc.startswith("bad") or desc.startswith("edge"):
            bad.append((span[0] - guard, span[1] + guard))
        elif a.duration > 0 and any(lbl in desc for lbl in labels):
            vol.append(span)
    return bad + vol, vol


# ---------------------------------------------------------------------- episodes
def _episodes(found, sigma, names, params, g, fs, voluntary_spans):
    """Return episode rows (spasm / voluntary) and their spans."""
    win_s = g.act_win / fs
    env = found["envelope"]  # noise units; times ``unit`` for volts
    unit = found["envelope_unit"]
    active = active_subwindows(found, params, g)
    span = max(1, int(round(params.spasm_min_duration_s / win_s)))
    sustained = episodes.sustained_mask(active, span, params.activity_fraction)
    min_ch = min(params.spasm_min_channels, len(names))
    if min_ch >= 2:
        # Activity that hops between channels (several muscles taking turns) is sustained
        # for the group even when no single channel stays active.
        need = max(min_ch, int(np.ceil(0.5 * len(names))))
        pooled = episodes.sustained_mask((active.sum(axis=0) >= need)[None, :], span,
                                         params.activity_fraction)[0]
        sustained |= pooled[None, :] & active
    any_sustained = sustained.any(axis=0)
    # A brief dip inside a spasm does not split it into two episodes.
    gap = int(round(2 * params.episode_margin_s / win_s))
    starts, stops = episodes.run_bounds(any_sustained)
    if starts.size > 1:
        short = (starts[1:] - stops[:-1]) <= gap
        for k in np.flatnonzero(short):  # loop over a handful of episode gaps
            sustained[:, stops[k]:starts[k + 1]] = (sustained[:, starts[k]:stops[k]].any(axis=1)
                                                    [:, None])
        any_sustained = sustained.any(axis=0)
    starts, stops = episodes.run_bounds(any_sustained)
    rows = empty_events(starts.size)
    keep = np.zeros(starts.size, dtype=bool)
    spans = []
    for i, (a, b) in enumerate(zip(starts, stops)):  # loop over episodes
        if (b - a) < span:
            continue
        chans = sustained[:, a:b].any(axis=1)
        onset, end = a * win_s, b * win_s
        seg_rms = np.sqrt(np.mean(env[:, a:b].astype(np.float32) ** 2, axis=1)) * unit
        main = int(np.argmax(np.where(chans, seg_rms, -1)))
        t = found["sample"] / fs
        in_ep = (t >= onset) & (t < end) & (found["channel"] == main)
        vol = in_spans(np.array([0.5 * (onset + end)]), voluntary_spans)[0]
        several = chans.sum() >= min_ch
        rows[i]["trial_type"] = "voluntary" if (vol or not several) else "spasm"
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
        spans.append((onset, end))
    return rows[keep], [(a - params.episode_margin_s, b + params.episode_margin_s)
                        for a, b in spans]


# ---------------------------------------------------------------------- classification
def _classify(found, sigma, names, params, fs, g, excluded_spans, motion_spans=()):
    """Return event rows for discharges, fasciculation waveforms and unit templates."""
    times = found["sample"] / fs
    main_ch = found["channel"]
    spread = found["mask"].sum(axis=1)
    keep = ~in_spans(times, excluded_spans)
    kind = classification.classify_artifacts(found, spread, len(names), found["snr"], times,
                                             main_ch, params)
    in_motion = in_spans(times, motion_spans)
    kind[in_motion & (kind == "")] = "motion"
    keep |= in_motion  # shown as motion artifacts rather than dropped
    # Discharges explain their own envelope sub-windows (and the neighbours); what stays
    # active around a discharge is ongoing firing too small to cross the threshold.
    active = active_subwindows(found, params, g)
    n_sub = active.shape[1]
    sub = np.clip(found["sample"] // g.act_win, 0, max(0, n_sub - 1))
    for shift in (-1, 0, 1):  # a handful of shifts
        active[main_ch, np.clip(sub + shift, 0, max(0, n_sub - 1))] = False
        art = kind != ""  # artifacts explain their sub-windows on every channel
        active[:, np.clip(sub[art] + shift, 0, max(0, n_sub - 1))] = False
    ongoing = classification.in_ongoing_activity(found["sample"], main_ch, active, g.act_win,
                                                 params, fs)
    analysed_s = max(1.0, found["envelope"].shape[1] * g.act_win / fs)
    trains = classification.firing_clusters(times, main_ch, params, analysed_s,
                                            ignore=kind != "")
    trains |= ongoing
    # The sparse edges of a burst (recruitment, derecruitment) belong to it too.
    trains |= classification.near_members(times, main_ch, trains & (kind == ""),
                                          _BURST_EDGE_S)
    isolated = classification.isolation(times, main_ch, params.isolation_interval_s)
    ttype = np.where(kind != "", "artifact", np.where(trains, "voluntary", "fasciculation"))
    sel = np.flatnonzero(keep)
    n = sel.size
    ev = empty_events(n)
    half = found["snippets"].shape[-1] // 2
    onset = (found["centre"][sel] + found["onset_offset"][sel] - half) / fs
    ev["peak_time"] = times[sel]
    ev["onset"] = np.maximum(0.0, onset)
    ev["duration"] = found["length"][sel] / fs
    ev["trial_type"] = ttype[sel]
    name_arr = np.asarray(names, dtype=object)  # rows share the name objects
    ev["channel"] = name_arr[main_ch[sel]] if n else []
    ev["channels"] = [",".join(name_arr[m]) for m in found["mask"][sel]]  # output formatting
    ev["peak_amplitude_uv"] = found["p2p"][sel] * 1e6
    ev["duration_ms"] = found["duration_ms"][sel]
    ev["n_phases"] = found["n_phases"][sel]
    ev["n_turns"] = found["n_turns"][sel]
    ev["snr"] = found["snr"][sel]
    ev["isolated"] = isolated[sel]
    ev["artifact_kind"] = kind[sel]

    fasc = np.flatnonzero(ev["trial_type"] == "fasciculation")
    rows = found["snip_row"][sel[fasc]]
    held = rows >= 0
    waveforms = found["snippets"][rows[held]].astype(np.float32) * _noise_unit(sigma)[None, :, None]
    units, unit_templates = templates.assign_units(waveforms, main_ch[sel[fasc]][held], sigma)
    ev["unit"][fasc[held]] = units
    return ev, waveforms, unit_templates, np.flatnonzero(held)


# ---------------------------------------------------------------------- per channel
def _channel_table(names, status, sigma, line, events, rest_s, episode_rows):
    """Return the per-channel statistics table."""
    fasc = events[events["trial_type"] == "fasciculation"]
    counts = np.array([(fasc["channel"] == n).sum() for n in names])
    rest = np.where(status == "flat", 0.0, rest_s)
    low, high = poisson_rate_ci(counts, rest / 60.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rest > 0, counts / (rest / 60.0), np.nan)
    out = []
    for i, name in enumerate(names):
        involved = np.array([name in c.split(",") for c in episode_rows["channels"]], dtype=bool)
        spasm = involved & (episode_rows["trial_type"] == "spasm")
        out.append({
            "name": name, "status": str(status[i]),
            "noise_sigma_uv": float(sigma[i] * 1e6),
            "line_freq_hz": line.per_channel_hz[i] if i < len(line.per_channel_hz) else None,
            "n_fasciculations": int(counts[i]), "rest_s": float(rest[i]),
            "rate_per_min": float(rate[i]), "rate_ci_low": float(low[i]),
            "rate_ci_high": float(high[i]),
            "n_spasms": int(spasm.sum()), "spasm_s": float(episode_rows["duration"][spasm].sum()),
        })
    return out
