"""``detect()``: the pipeline as a short driver over named steps.

read -> preprocess (noise floor, power line, band-pass; ECG subtraction when a heart
rhythm is found) -> candidate discharges (:mod:`fascidetect.scan`, block by block) ->
what is not rest (edges, bad spans, tasks, motion, episodes) -> the classification
:data:`STAGES` in order -> motor units -> :class:`~fascidetect.results.DetectionResult`.
"""

from __future__ import annotations

import warnings as _warnings
from typing import Callable

import numpy as np

from . import _memory, assemble, ecg, ecg_channel, episodes, faults, matching, neighbours, scan
from ._inputs import as_recording
from ._timing import Stopwatch
from .blocks import Geometry
from .candidates import EVENT_FEATURES, to_sorted_events
from .errors import FascidetectWarning, InputError, NoEmgChannelError, ParameterError
from .low_rate import rate_warnings
from .params import DetectionParams
from .rates import channel_table
from .results import DetectionResult
from .rest import channel_rest_s
from .stages import (Context, activity, artifacts, derecruitment, exclusion, fasciculation,
                     firing, footprint, local_noise, run_stages, tonic)

#: The classification stages, in order of precedence (the first to label a candidate
#: wins). Adding a stage: write it in ``fascidetect/stages/``, list it here, give its
#: numbers to DetectionParams (docs/architecture.md).
STAGES = (
    artifacts.motion,             # inside motion spans -> artifact (kept, though not rest)
    exclusion.outside_rest,       # edges, bad spans, tasks, episodes -> excluded
    artifacts.artifacts,          # ECG, pops, saturation, large, widespread -> artifact
    footprint.no_footprint,       # on a grid, noise crossings of one electrode -> excluded
    activity.background_activity,  # channel's background above its floor -> voluntary
    tonic.tonic_firing,           # regular 5-25 Hz trains -> voluntary
    activity.low_level_firing,    # small, among too many sub-threshold peaks -> voluntary
    firing.firing_trains,         # dense clusters, burst edges, ongoing activity -> voluntary
    derecruitment.derecruitment,  # an episode's fading tail on its channels -> voluntary
    local_noise.below_local_noise,  # under the threshold of its window's noise -> excluded
    fasciculation.fasciculations,  # the rest -> fasciculation
)


def detect(source, params: DetectionParams | None = None, *, sfreq: float | None = None,
           ch_names=None, emg_channels=None, units=None,
           progress: Callable[[float], None] | None = None, **overrides) -> DetectionResult:
    """Return the fasciculations, spasms and artifacts found in an EMG recording.

    Parameters
    ----------
    source : Recording | mne.io.Raw | str | path-like | ndarray
        The recording. A 2-D array, shape ``(n_channels, n_samples)``, needs ``sfreq``.
    params : DetectionParams | None
        Detection parameters; keyword ``overrides`` change single fields.
    sfreq : float | None
        Sampling rate for array input.
    ch_names : list of str | None
        Channel names for array input.
    emg_channels : list of str | None
        Channels to analyse (default: those typed EMG).
    units : {"V", "mV", "uV"} | None
        Unit of array input (default volts) and of CSV/NPY files (default guessed);
        implausible amplitudes for the unit get a warning naming the likely one.
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
    misplaced = sorted(set(overrides) & {"format", "board", "preload"})
    if misplaced:
        raise ParameterError(
            f"{', '.join(misplaced)}= is an option of fascidetect.read, not of detect: "
            f"rec = fascidetect.read(path, {misplaced[0]}=...); fascidetect.detect(rec)")
    params = DetectionParams.from_kwargs(params, **overrides)
    rec = as_recording(source, sfreq, ch_names, emg_channels, units=units)
    picks, names, warns = _check_recording(rec, params)
    if params.electrode == "auto":
        params = params.replace(electrode=rec.electrode_kind())
        if params.electrode == "needle":
            warns.append("needle EMG (from the file's description): needle amplitude limits "
                         "apply; fibrillation potentials and positive sharp waves are not "
                         "detected by this tool")
    fs = rec.sfreq
    band = params.band_for(fs)
    geometry = Geometry.build(fs, params, picks.size)
    watch = Stopwatch()

    with watch.stage("noise_and_line"):
        line, prep, sigma, floor_shape = scan.noise_and_line(rec, picks, params, band, geometry)
    sigma, status = faults.channel_status(rec, names, sigma, params, warns)
    warns.extend(w for w in [faults.unit_warning(rec, sigma)] if w)
    matching_on = params.template_matching and fs >= params.shape_min_sfreq_hz
    cache = matching.FilteredCache(len(names), rec.n_samples, sigma) if matching_on else None
    montage = neighbours.build(names, params)
    warns.extend(neighbours.numbering_warnings(names, params))
    found = scan.scan(rec, picks, prep, sigma, params, geometry, band, watch, progress,
                      floor_shape=floor_shape, neighbourhood=montage, keep_filtered=cache)
    found.candidates.artifact_kind = artifacts.artifact_evidence(found.candidates, len(names),
                                                                 fs, params, neighbourhood=montage)
    beats = model = None
    if params.ecg_subtraction:
        with watch.stage("ecg_model"):
            model = ecg.model_from_candidates(
                found.candidates,
                lambda lo, hi: scan.read_filtered(rec, picks, prep, lo, hi, geometry),
                len(names), rec.n_samples, fs, params)
            if model is None and params.ecg_channel_search:
                # A heart rhythm under the threshold on one or two channels; the scan's
                # band-passed samples are read from the matching pass's cache if kept.
                model = ecg_channel.model_from_channels(
                    found.candidates,
                    cache.get if cache is not None and cache.complete else
                    lambda lo, hi: scan.read_filtered(rec, picks, prep, lo, hi, geometry),
                    len(names), rec.n_samples, fs, params)
        if model is not None:
            beats = model.beats / fs
            rr = np.median(np.diff(model.beats)) / fs
            warns.append(f"ECG found ({model.beats.size} beats, about {60 / rr:.0f} per minute): "
                         "an average beat per channel was subtracted before detection")
            found = scan.scan(rec, picks, prep, sigma, params, geometry, band, watch, progress,
                              ecg_model=model, floor_shape=floor_shape, neighbourhood=montage,
                              keep_filtered=cache)
            found.candidates.artifact_kind = artifacts.artifact_evidence(
                found.candidates, len(names), fs, params, neighbourhood=montage)
    faults.scan_warnings(found, names, status, rec.n_samples, fs, warns)
    _memory.release()  # the scan's block temporaries

    duration = rec.n_samples / fs
    bad, task = exclusion.excluded_spans(rec.annotations, duration, params, found.bad_spans)
    motion = episodes.motion_spans(found.raw_max, found.raw_min, found.motion_envelope,
                                   geometry.motion_win / fs, params, beats,
                                   band_range=found.band_range)
    found = episodes.without_motion_ranges(found)  # judged: 16 bytes per 200 ms and channel
    if motion:
        warns.append(f"{len(motion)} motion artifact span(s) "
                     f"({sum(b - a for a, b in motion):.1f} s) were excluded from analysis")
    with watch.stage("episodes"):
        episode_rows, episode_spans = episodes.find_episodes(found, sigma, names, params,
                                                             geometry, fs, task, motion)
        # Measured: the stages need only which sub-windows are active (1 bit of 16,
        # ``active_bits``, in a temporary file read a channel's chunk at a time).
        found = episodes.without_envelopes(found, params, geometry)
    _memory.release()  # the episodes' temporaries, before the matching pass's
    if matching_on:
        # Further discharges of the units learnt from the confident ones (under the
        # threshold, or overlapping): they join the table the stages judge.
        with watch.stage("template_matching"):
            found = matching.add_matched_discharges(
                rec, picks, prep, sigma, params, geometry, band, found,
                bad + task + motion + episode_spans, ecg_model=model, cache=cache,
                montage=montage)
            _memory.release()  # the pass's temporaries, before the evidence's (24 h: 204 MB)
            found.candidates.artifact_kind = artifacts.artifact_evidence(
                found.candidates, len(names), fs, params, neighbourhood=montage)
    _memory.release()  # the matching pass's block temporaries
    context = Context(params=params, sfreq=fs, names=names, sigma=sigma, geometry=geometry,
                      scan=found, duration_s=duration, bad_spans=bad, task_spans=task,
                      motion_spans=motion, episode_spans=episode_spans,
                      episode_types=list(episode_rows["trial_type"]),
                      episode_channels=episodes.channel_sets(episode_rows, names))
    context.channel_spans = faults.channel_spans(found, context.flat_windows,
                                                 geometry.rest_win / fs, params.edge_guard_s,
                                                 names, warns)
    # The stages read the rest windows as two masks (flat_windows above, and this): the
    # float32 ratios and thresholds go before them (issue 14: 5.6 MB for a day).
    _ = context.background_active, context.low_level_windows, context.local_noise_rise  # (cached)
    found.rest_ratio = found.rest_threshold = found.rest_subpeaks = found.rest_shape = None
    with watch.stage("classify"):
        cands = run_stages(found.candidates, context, STAGES)
        _memory.release()  # the stages' temporaries
        channel_rest = channel_rest_s(activity.busy_windows(cands, context),
                                      geometry.rest_win / fs, duration,
                                      bad + task + motion + episode_spans, context.channel_spans)
        isolated, doublet = context.isolated, fasciculation.doublets(cands, fs, params)
        held = assemble.held_fasciculations(cands, found.snippets, sigma)
        # Only the result is kept from here: the scan's arrays go, and of the candidate
        # table what the event table is written from (issue 14: at a day's length the
        # event table is 67 MB; the candidate table, the scan's waveform sample and the
        # waveforms beside it had made the peak).
        del found, context
        cands.keep_features(EVENT_FEATURES)
        _memory.release()
        all_events, discharge_rows = to_sorted_events(cands, names, fs, geometry.half, isolated,
                                                      *doublet, episodes=episode_rows,
                                                      time_at_centre=geometry.span > geometry.dead)
        del cands, isolated, doublet
        _memory.release()
        waveforms, waveform_rows, unit_templates = assemble.motor_units(
            all_events, discharge_rows, held, sigma, params, fs)
        del held, discharge_rows
        _memory.release()  # the clustering's temporaries, before the output is written

    channels = channel_table(names, status, sigma, line, all_events, channel_rest, episode_rows)
    # The longest rest of a channel, as the summary states it: the recording's time
    # outside bad, task, motion and episode spans also counted a channel's own activity
    # (a needle record of a steady contraction: 0 s of rest, but "12 s analysed").
    rest_s = max((c["rest_s"] for c in channels), default=0.0)
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
        events=all_events, channels=channels, waveforms=waveforms,
        waveform_rows=waveform_rows, templates=unit_templates, params=params,
        recording=recording, warnings=warns, sfreq=fs, timings=watch.as_dict(),
        line_noise={"freq_hz": line.freq_hz, "notch_hz": list(line.notch_hz),
                    "ratio_db": round(line.ratio_db, 1)},
    )


def _check_recording(rec, params):
    """Return the EMG picks, their names and the recording's warnings, or raise when the
    recording cannot be analysed."""
    if rec.duration_s < params.min_recording_s:
        raise InputError(f"{rec.source or 'the recording'} is {rec.duration_s:.3g} s long; "
                         f"at least {params.min_recording_s:g} s are needed to filter and "
                         "estimate noise")
    picks = rec.emg_picks
    if picks.size == 0:
        raise NoEmgChannelError(
            f"{rec.source or 'the recording'} has no EMG channel (channels: {rec.ch_names}); "
            "name the channels to analyse with emg_channels=[...] or --emg-channels"
            # The reader's notes say why (inputs all zero, signals not in volts...).
            + "".join(f"; {w}" for w in rec.warnings))
    try:
        params.band_for(rec.sfreq)
    except ParameterError as exc:  # a rate too low for the band: name the recording
        raise ParameterError(f"{repr(rec.source) if rec.source else 'the recording'}: "
                             f"{exc}") from None
    warns = list(rec.warnings)
    warns += rate_warnings(rec.sfreq, params)
    return picks, [rec.ch_names[i] for i in picks], warns
