"""The simulator's drivers: :func:`simulate` builds a recording from its components,
:func:`inject` adds motor-unit activity to a real one."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import Sequence

import numpy as np
from scipy import signal as _sig

from ..errors import InputError, ParameterError
from ..events import empty_events, sort_events
from ..recording import Annotation, Recording
from ._firing import _place_intervals
from ._montage import _Montage, _make_montage
from ._ranges import _draw, _pair
from ._sources import (_background_noise, _baseline, _detection_band_sos, _ecg, _glitches,
                       _in_band_rms, _line, _motion, _pops, _saturation_rows)
from ._tonic import _tonic
from ._units import TAIL_UNIT_BASE, _episode, _fasciculations
from ._waveforms import _Renderer
from .scenarios import ScenarioParams, get_scenario

#: Allowed output rates (consumer boards to lab amplifiers).
_SFREQ_LIMITS = (100.0, 10000.0)
#: Fixed measurement date so that written files are byte-reproducible.
_MEAS_DATE = _dt.datetime(2024, 1, 1, 9, 0, 0, tzinfo=_dt.timezone.utc)
#: Independent random streams, one per component. Components added later take new
#: streams at the end, so the earlier ones (and every existing scenario) are unchanged.
_N_STREAMS = 12
#: Episodes during which no fasciculation is placed (tonic stretches are not among them).
_MASKING_KINDS = ("spasm", "voluntary", "motion")
#: Episodes beside which extra fasciculations may go (``fasc_beside_activity_share``).
_BESIDE_KINDS = ("spasm", "voluntary")


def simulate(duration_s: float | None = None, sfreq: float | None = None,
             n_channels: int | None = None, layout=None, scenario="rest", seed: int = 0,
             ch_names: Sequence[str] | None = None, **overrides):
    """Return a simulated surface-EMG recording and its ground-truth event table.

    Parameters
    ----------
    duration_s : float | None
        Length in seconds (default: the scenario's, 120 s).
    sfreq : float | None
        Output sampling rate in Hz, 100-10000 (default: the scenario's, 2048 Hz except
        ``consumer_250hz``).
    n_channels : int | None
        Number of EMG channels of a linear montage (default: the scenario's, 8).
    layout : tuple of int | None
        ``(rows, cols)`` for an HD grid (channels ``"EMG R{r}C{c}"``); overrides
        ``n_channels``.
    scenario : str | ScenarioParams
        A name in :data:`SCENARIOS` or a parameter set.
    seed : int
        Seed of the ``numpy.random.Generator`` streams; same seed, same output.
    ch_names : sequence of str | None
        Channel names for a linear montage (default ``"EMG TA_R"``, ``"EMG EHL_R"``...).
    **overrides
        Any :class:`ScenarioParams` field, e.g. ``noise_uv=0`` or ``n_spasms=1``.

    Returns
    -------
    recording : Recording
        Samples in volts; ``annotations`` hold the experimenter's "voluntary" marks only
        (never the truth); ``metadata`` records scenario, seed, layout and mains frequency.
    truth : ndarray of EVENT_DTYPE
        One row per fasciculation discharge, spasm episode, voluntary contraction, tonic
        stretch and tonic discharge (both ``voluntary``; discharges carry their ``unit``)
        and artifact (ecg, motion, pop, line, glitch, saturation), sorted by onset. Discharge
        amplitudes, peak times and extents are measured on the rendered potentials, so
        at low rates they describe the smeared potential actually in the signal.

    Examples
    --------
    >>> from fascidetect.simulation import simulate
    >>> rec, truth = simulate(duration_s=10, scenario="rest", seed=1)
    >>> rec.data.shape
    (8, 20480)
    >>> bool((truth["trial_type"] == "fasciculation").any())
    True
    """
    sp = get_scenario(scenario)
    if overrides:
        unknown = set(overrides) - {f.name for f in dataclasses.fields(ScenarioParams)}
        if unknown:
            raise ParameterError(f"unknown scenario parameter(s) {sorted(unknown)}")
        sp = sp.replace(**overrides)
    duration = float(sp.duration_s if duration_s is None else duration_s)
    fs = float(sp.sfreq if sfreq is None else sfreq)
    if not _SFREQ_LIMITS[0] <= fs <= _SFREQ_LIMITS[1]:
        raise ParameterError(f"sfreq must lie in {_SFREQ_LIMITS[0]:g}-{_SFREQ_LIMITS[1]:g} Hz, got {fs:g}")
    if duration < 2 * sp.edge_s + 1.0:
        raise ParameterError(f"duration_s must be at least {2 * sp.edge_s + 1:g} s, got {duration:g}")
    if layout is None and n_channels is None and ch_names is None:
        layout = sp.layout
        names = sp.ch_names if sp.ch_names and sp.layout is None else None
        n_ch = sp.n_channels
    else:
        names = ch_names
        n_ch = n_channels if n_channels is not None else (len(ch_names) if ch_names else sp.n_channels)
    if layout is not None:  # "8x8" as the detector takes it; a grid name is refused there
        from ..params import normalise_layout

        layout = normalise_layout(layout)
    if names and not layout and len(names) != n_ch:
        raise ParameterError(f"{len(names)} channel names for {n_ch} channels")
    montage = _make_montage(n_ch, layout, names)
    n = int(round(duration * fs))

    (r_place, r_fasc, r_episode, r_ecg, r_line, r_motion, r_pop, r_noise, r_base, r_level,
     r_tonic, r_glitch) = _streams(seed)

    noise_level = _draw(r_level, sp.noise_uv, montage.n)
    renderer = _Renderer(fs, montage.n, n)
    background = (_background_noise(r_noise, sp, montage.n, n, noise_level)
                  if np.any(noise_level > 0) else None)
    # Visibility and snr refer to the noise a detector sees: RMS in its 20-450 Hz band,
    # below the broadband level when much of the noise is 1/f.
    noise = _in_band_rms(background, fs) if background is not None else np.zeros(montage.n)

    kinds, starts, lengths = _place_episodes(r_place, sp, duration)
    spans = [(s, s + L) for s, L in zip(starts, lengths)]

    emg = np.zeros((montage.n, n))
    truth_parts, annotations = _add_motor_units((r_fasc, r_episode, r_tonic), sp, montage, renderer,
                                                duration, kinds, spans, noise, emg)
    mot_idx = [i for i, k in enumerate(kinds) if k == "motion"]
    if mot_idx:
        sig, rows = _motion(r_motion, sp, montage, fs, n, starts[mot_idx], lengths[mot_idx], noise)
        emg += sig
        truth_parts.append(rows)
    ecg_lead = None
    if _pair(sp.ecg_uv)[1] > 0 or _pair(sp.ecg_snr)[1] > 0:
        sig, ecg_lead, rows = _ecg(r_ecg, sp, montage, fs, n, noise)
        emg += sig
        truth_parts.append(rows)
    line_freq = None
    if _pair(sp.line_uv)[1] > 0:
        sig, row, line_freq = _line(r_line, sp, montage, fs, n, noise)
        emg += sig
        truth_parts.append(row)
    if sp.n_pops > 0:
        sig, rows = _pops(r_pop, sp, montage, fs, n, duration, noise)
        emg += sig
        truth_parts.append(rows)
    if sp.glitch_rate_per_min > 0:
        sig, rows = _glitches(r_glitch, sp, montage, fs, n, duration, noise)
        emg += sig
        truth_parts.append(rows)
    if background is not None:
        emg += background
    emg += _baseline(r_base, sp, montage.n, n, fs)
    if sp.clip_uv is not None:
        np.clip(emg, -sp.clip_uv, sp.clip_uv, out=emg)
        truth_parts.append(_saturation_rows(emg, sp.clip_uv, montage.names, fs))

    names_out, types = list(montage.names), ["emg"] * montage.n
    data = emg
    if sp.ecg_channel:
        if ecg_lead is None:
            raise ParameterError("ecg_channel=True needs ECG contamination (ecg_uv > 0)")
        lead = ecg_lead + 5.0 * r_ecg.standard_normal(n)
        data = np.vstack([emg, lead[np.newaxis, :]])
        names_out.append("ECG")
        types.append("ecg")
    truth = sort_events(np.concatenate(truth_parts)) if truth_parts else empty_events(0)
    rec = Recording(
        data=data * 1e-6, sfreq=fs, ch_names=names_out, ch_types=types, meas_date=_MEAS_DATE,
        annotations=annotations, format="simulated",
        metadata={"simulated": True, "scenario": sp.name, "seed": int(seed),
                  "layout": tuple(layout) if layout is not None else None,
                  "line_freq_hz": line_freq, "noise_uv": noise_level.round(3).tolist(),
                  "noise_in_band_uv": noise.round(3).tolist(),
                  "duration_s": duration},
    )
    return rec, truth


def inject(recording: Recording, scenario="rest", seed: int = 0, *, picks=None, **overrides):
    """Return a copy of a real recording with simulated fasciculations added, and the truth.

    The most realistic test: real noise, hum, drift and artifacts of a real amplifier,
    with known discharges on top. Only motor-unit activity (fasciculations and, if the
    scenario asks, spasms, voluntary contractions and tonic stretches) is injected; the
    background's own events are unknown, so use rest recordings.

    Parameters
    ----------
    recording : Recording
        The background (e.g. an OpenBCI rest file); loaded into memory.
    scenario : str | ScenarioParams
        Source of the motor-unit parameters; its noise and artifact settings are ignored.
    seed : int
        Seed of the random streams.
    picks : sequence of int or str | None
        Channels that receive potentials (default: the EMG channels).
    **overrides
        :class:`ScenarioParams` fields, e.g. ``fasc_amplitude_uv=(50, 150)``.

    Returns
    -------
    recording : Recording
        Same channels, rate and annotations, samples = background + potentials (volts).
    truth : ndarray of EVENT_DTYPE
        Fasciculation discharges (and episodes); ``channels`` uses the background's
        robust band-passed noise level for the visibility rule.
    """
    sp = get_scenario(scenario)
    if overrides:
        sp = sp.replace(**overrides)
    rec = recording.load()
    if picks is None:
        idx = rec.emg_picks
    else:
        idx = np.array([rec.ch_names.index(p) if isinstance(p, str) else int(p) for p in picks], int)
    if idx.size == 0:
        raise InputError(f"{rec.source or 'the recording'} has no EMG channel to inject into; pass picks=")
    fs = rec.sfreq
    if not _SFREQ_LIMITS[0] <= fs <= _SFREQ_LIMITS[1]:
        raise ParameterError(f"cannot inject at {fs:g} Hz (supported {_SFREQ_LIMITS[0]:g}-{_SFREQ_LIMITS[1]:g} Hz)")
    n = rec.n_samples
    duration = n / fs
    names = [rec.ch_names[i] for i in idx]
    montage = _Montage(names, np.column_stack([np.zeros(idx.size), np.arange(idx.size)]).astype(float), False)
    bg = rec.get_data(idx) * 1e6
    # Visibility against the background's robust noise in the detection band.
    filt = _sig.sosfiltfilt(_detection_band_sos(fs),
                            np.nan_to_num(bg - np.nanmedian(bg, axis=1, keepdims=True)), axis=1)
    noise = np.median(np.abs(filt - np.median(filt, axis=1, keepdims=True)), axis=1) / 0.6745

    streams = _streams(seed)
    r_place, r_fasc, r_episode, r_tonic = streams[0], streams[1], streams[2], streams[10]
    kinds, starts, lengths = _place_episodes(r_place, sp, duration, motion=False)
    spans = [(s, s + L) for s, L in zip(starts, lengths)]
    # Existing voluntary/BAD marks of the background are activity too.
    marked = [(a.onset, a.onset + a.duration) for a in rec.annotations
              if a.duration > 0 and ("voluntary" in a.description.lower()
                                     or a.description.lower().startswith("bad"))]
    renderer = _Renderer(fs, montage.n, n)
    added = np.zeros((montage.n, n))
    parts, marks = _add_motor_units((r_fasc, r_episode, r_tonic), sp, montage, renderer, duration,
                                    kinds, spans, noise, added, masked=marked)
    annotations = list(rec.annotations) + marks
    data = rec.get_data().copy()
    data[idx] += added * 1e-6
    meta = dict(rec.metadata)
    meta.update({"injected": True, "scenario": sp.name, "seed": int(seed)})
    out = dataclasses.replace(rec, data=data, annotations=annotations, metadata=meta, raw=None,
                              raw_picks=None)
    return out, sort_events(np.concatenate(parts))


def _add_motor_units(rngs, sp, montage, renderer, duration, kinds, spans, noise, out, masked=()):
    """Add fasciculations, episodes and tonic stretches into ``out``; return (truth parts,
    annotations).

    ``rngs`` are the fasciculation, episode and tonic streams; ``masked`` are further
    spans no fasciculation goes near (a real background's own activity marks).
    """
    r_fasc, r_episode, r_tonic = rngs
    # A voluntary contraction counts as wide as the experimenter's mark of it (a little
    # wider than the contraction): a marked task period is voluntary time, so discharges
    # go outside or beside the mark.
    slack = sp.voluntary_mark_slack_s
    as_marked = [(a - slack, b + slack) if k == "voluntary" else (a, b)
                 for (a, b), k in zip(spans, kinds)]
    sig, fasc_rows = _fasciculations(r_fasc, sp, montage, renderer, duration,
                                     _spans_of(as_marked, kinds, _MASKING_KINDS) + list(masked),
                                     noise, _spans_of(as_marked, kinds, _BESIDE_KINDS))
    out += sig
    parts = [fasc_rows]
    rows, marks = _add_episodes(r_episode, sp, kinds, spans, montage, renderer, noise, out)
    parts += rows
    if sp.n_tonic > 0:
        sig, rows = _tonic(r_tonic, sp, montage, renderer, _spans_of(spans, kinds, ("tonic",)),
                           noise, _next_unit_id(fasc_rows))
        out += sig
        parts.append(rows)
    return parts, marks


def _add_episodes(rng, sp, kinds, spans, montage, renderer, noise, out):
    """Add the spasm and voluntary episodes into ``out``; return (truth rows, annotations).

    ``kinds`` and ``spans`` pair up; motion episodes and tonic stretches are skipped
    (see ``_motion`` and ``_tonic``). Each episode is added to
    ``out`` in turn, so the sum is the same float for float whatever ``out`` held.
    The annotations are the experimenter's "voluntary" marks, a little wider than the
    contraction.
    """
    rows, marks = [], []
    for j, ((s, e), k) in enumerate(zip(spans, kinds)):  # a loop over a handful of episodes
        if k not in ("spasm", "voluntary"):
            continue
        sig, row = _episode(rng, sp, k, montage, renderer, s, e - s, noise,
                            TAIL_UNIT_BASE + 10 * j)
        out += sig
        rows.append(row)
        if k == "voluntary":
            slack = sp.voluntary_mark_slack_s
            marks.append(Annotation(max(0.0, s - slack), e - s + 2 * slack, "voluntary"))
    return rows, marks


def _streams(seed):
    """Return the independent random generators of one simulation."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(_N_STREAMS)]


def _place_episodes(rng, sp, duration, motion: bool = True):
    """Return (kinds, starts, lengths) of the scenario's non-overlapping episodes.

    Spasms, voluntary contractions, motion (unless ``motion`` is False) and tonic
    stretches share one placement so that they never overlap; each length is drawn from
    the scenario's ``<kind>_duration_s``.
    """
    kinds = ["spasm"] * sp.n_spasms + ["voluntary"] * sp.n_voluntary
    kinds += ["motion"] * (sp.n_motion if motion else 0) + ["tonic"] * sp.n_tonic
    lengths = np.array([_draw(rng, getattr(sp, f"{k}_duration_s")) for k in kinds])
    starts, lengths = _place_intervals(rng, lengths, duration, sp.edge_s)
    return kinds, starts, lengths


def _spans_of(spans, kinds, wanted):
    """Return the spans whose kind is among ``wanted``."""
    return [span for span, k in zip(spans, kinds) if k in wanted]


def _next_unit_id(rows) -> int:
    """Return the first unit id not used in ``rows``."""
    return int(rows["unit"].max()) + 1 if rows.size else 0

