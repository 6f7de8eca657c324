"""Ground truth: a surface-EMG simulator with labelled fasciculations, spasms and artifacts.

No public surface-EMG data set labels fasciculations, so fascidetect makes its own truth.
:func:`simulate` builds a multichannel recording (volts) from independent, switchable
components and returns it with an event table (:data:`fascidetect.events.EVENT_DTYPE`)
listing every fasciculation discharge, spasm episode, voluntary contraction and artifact:

- fasciculating motor units: Hermite-Rodriguez MUAP shapes (random mixing of orders 1-3,
  polarity, slight asymmetry), 5-20 ms, 20-300 µV p2p, a spatial footprint over
  neighbouring channels (1-D for a linear montage, 2-D with propagation for an HD grid),
  irregular (gamma-renewal) firing at a few to 60/min with a refractory period and
  occasional doublets 30-35 ms apart;
- spasm episodes: 10-30 units recruited along a trapezoid envelope, firing at
  14.5 +/- 5.1 Hz with interval CV 0.3-0.45 (Minetto et al. 2009), RMS set per episode;
- voluntary contractions: units recruited by threshold (size principle) firing regularly
  at 8-35 Hz, marked "voluntary" in ``Recording.annotations`` as an experimenter would;
- background: white + 1/f noise, baseline wander (< 1 Hz), DC offsets, power-line hum with
  harmonics and frequency drift, ECG (P-QRS-T with heart-rate variability, two dipole
  sources projected with per-channel gains), motion transients (< 20 Hz), electrode pops
  (step + exponential decay on one channel) and saturation at a rail.

Potentials are generated at an internal rate of at least 4 kHz (an integer multiple of
the output rate), low-pass filtered with the sinc^3 decimation filter of a delta-sigma
ADC (as in the ADS1299 of OpenBCI boards) and decimated. The decimation is folded into the
templates (one polyphase template per sub-sample offset), so no high-rate signal is ever
held in memory and a 250 Hz recording shows the smeared potentials a real amplifier's
anti-aliasing filter would give.

Every component draws from its own child of ``numpy.random.SeedSequence(seed)``, so
switching one component off (e.g. ``noise_uv=0``) leaves every other component, and the
truth, unchanged: tests compare the signal against a noise-free copy this way.

Numbers come from ``docs/domain.md``; those marked (est.) there are estimates and are
parameters here.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import signal as _sig

from .errors import InputError, ParameterError
from .events import empty_events, sort_events, write_events_tsv
from .recording import Annotation, Recording
from .spans import in_spans

__all__ = ["ScenarioParams", "SCENARIOS", "simulate", "inject", "write_simulation",
           "default_channel_names", "get_scenario"]

#: Muscles of one (right) leg, used to name linear montages of up to 8 channels.
LEG_MUSCLES = ("TA_R", "EHL_R", "PL_R", "GAS_R", "SOL_R", "GMED_R", "BF_R", "VL_R")

#: Lowest internal rate at which potentials are generated before decimation (Hz).
_INTERNAL_MIN_HZ = 4000.0
#: Allowed output rates (consumer boards to lab amplifiers).
_SFREQ_LIMITS = (100.0, 10000.0)
#: Fraction of the peak absolute value that delimits a potential's onset and end.
_EDGE_FRACTION = 0.05
#: Label prefix of truth annotations written into EDF files.
TRUTH_PREFIX = "truth:"
#: Fixed measurement date so that written files are byte-reproducible.
_MEAS_DATE = _dt.datetime(2024, 1, 1, 9, 0, 0, tzinfo=_dt.timezone.utc)

Range = Any  # a number or a (low, high) pair; a value is drawn uniformly in the pair


def _pair(value) -> tuple[float, float]:
    if value is None:
        return (0.0, 0.0)
    if np.isscalar(value):
        return (float(value), float(value))
    lo, hi = value
    return (float(lo), float(hi))


def _draw(rng: np.random.Generator, value, size=None):
    lo, hi = _pair(value)
    return rng.uniform(lo, hi, size) if hi > lo else (np.full(size, lo) if size is not None else lo)


def _draw_int(rng: np.random.Generator, value) -> int:
    lo, hi = _pair(value)
    return int(rng.integers(int(round(lo)), int(round(hi)) + 1))


@dataclasses.dataclass(frozen=True)
class ScenarioParams:
    """Everything :func:`simulate` draws from; each component can be switched off.

    Values given as ``(low, high)`` are drawn uniformly per unit, episode or channel;
    a plain number is used as is. Amplitudes are in µV, times in s unless named ``_ms``.
    Defaults describe the clean ``"rest"`` scenario; sources are ``docs/domain.md``
    (numbers marked (est.) there are estimates).

    Parameters
    ----------
    name, description : str
        Scenario name and one-line description.
    duration_s, sfreq, n_channels, layout, ch_names : defaults of :func:`simulate`
        Used when :func:`simulate` is called without them. ``layout=(rows, cols)`` makes
        an HD grid; ``ch_names`` names a linear montage (``"EMG TA_R"``...).
    noise_uv : range
        Broadband RMS of the background noise per channel (1-20 µV).
    pink_fraction : float
        Share of the noise power that is 1/f (electrode) rather than white (thermal).
    baseline_uv : float
        RMS of the baseline wander (sum of sinusoids below 1 Hz) per channel.
    dc_offset_uv : float
        Electrode DC offsets are drawn in ``[-dc_offset_uv, dc_offset_uv]`` (consumer
        boards record them; tens of mV for OpenBCI).
    n_fasc_units : int or range
        Number of fasciculating motor units (0 switches fasciculations off).
    fasc_rate_per_min : range
        Mean discharge rate per unit, per minute (sporadic; median ~40/min in ALS).
    fasc_cv : float
        Coefficient of variation of a unit's inter-discharge intervals (1 = Poisson).
    fasc_amplitude_uv : range
        Peak-to-peak amplitude per unit on its main channel at the internal rate
        (20-300 µV est.); potentials are smaller at low output rates after smearing.
    fasc_duration_ms : range
        Total potential duration (5-20 ms).
    fasc_jitter : float
        Relative discharge-to-discharge amplitude variation of a unit.
    fasc_spread : range
        Footprint decay length: channels on a linear montage, electrodes on a grid.
    fasc_muscles : tuple of str
        Muscle tokens (``"TA"``, ``"GMED"``...) whose channels may host a unit's centre;
        empty means any channel. Lets a scenario draw a root pattern (e.g. L5).
    doublet_prob : float
        Probability that a discharge is followed by a second one (an FP plus F-wave).
        When positive, at least one doublet is made per recording.
    doublet_interval_ms : range
        Interval of doublets (32-35 ms in Kleine et al. 2012; 30-35 here).
    refractory_ms : float
        No two discharges of one unit closer than this, except doublets.
    fasc_during_activity : bool
        If False, no fasciculation is placed within 0.3 s of a spasm, voluntary or motion
        episode, where no detector can see one and truth would be unmeasurable.
    n_spasms : int
        Number of spasm episodes.
    spasm_duration_s, spasm_n_units, spasm_cv, spasm_rms_uv : range
        Episode length (2-10 s), units (10-30), interval CV (0.3-0.45), RMS on the main
        channel over the episode ("hundreds of µV RMS"; 50-100 for mild spasms).
    spasm_rate_hz : tuple (mean, sd, low, high)
        Per-unit mean rate ~ Normal(mean, sd) clipped to [low, high] (14.5 +/- 5.1 Hz,
        Minetto et al. 2009).
    spasm_extent_ch : int
        Channels (or grid rows/cols) a spasm's units spread over.
    spasm_muscles : tuple of str
        Muscle tokens hosting spasms (empty: any).
    n_voluntary, voluntary_duration_s, voluntary_n_units, voluntary_rate_hz, voluntary_cv,
    voluntary_rms_uv, voluntary_extent_ch, voluntary_muscles :
        Voluntary contractions: regular firing from 8 Hz at recruitment up to 35 Hz.
    voluntary_mark_slack_s : float
        The "voluntary" annotation starts and ends this much outside the contraction.
    ecg_uv : range
        R-wave amplitude on the most contaminated channel (50-500 µV); 0 switches off.
    heart_rate_bpm : range
        Mean heart rate (48-120 bpm = 0.8-2 Hz).
    ecg_channel : bool
        Add an "ECG" channel (type ``ecg``) with a 1 mV lead.
    line_uv : range
        Amplitude of the mains fundamental on the most affected channel; 0 switches off.
    line_freq_hz : float | None
        50 or 60; None draws one.
    n_motion, motion_uv, motion_duration_s :
        Motion transients (< 20 Hz, all channels): count, peak amplitude, length.
    n_pops, pop_uv, pop_tau_ms :
        Electrode pops on one channel: count, step amplitude, decay time constant.
    clip_uv : float | None
        Rail of the amplifier: EMG samples are clipped to +/- this value.
    visibility_snr : float
        A discharge is "seen" on a channel when its p2p there is at least this many
        times the channel's noise RMS in the 20-450 Hz detection band (the ``channels``
        column of the truth). The truth's ``snr`` is half the p2p over that RMS.
    edge_s : float
        Nothing is placed this close to the start or end of the recording.
    """

    name: str = "rest"
    description: str = "clean rest: a few fasciculating units over low white + 1/f noise"
    duration_s: float = 120.0
    sfreq: float = 2048.0
    n_channels: int = 8
    layout: tuple | None = None
    ch_names: tuple = ()
    # background
    noise_uv: Range = (2.0, 5.0)
    pink_fraction: float = 0.3
    baseline_uv: float = 20.0
    dc_offset_uv: float = 0.0
    # fasciculations
    n_fasc_units: Range = (2, 4)
    fasc_rate_per_min: Range = (5.0, 60.0)
    fasc_cv: float = 1.0
    fasc_amplitude_uv: Range = (40.0, 300.0)
    fasc_duration_ms: Range = (5.0, 20.0)
    fasc_jitter: float = 0.05
    fasc_spread: Range = (0.3, 0.7)
    fasc_muscles: tuple = ()
    doublet_prob: float = 0.04
    doublet_interval_ms: Range = (30.0, 35.0)
    refractory_ms: float = 20.0
    fasc_during_activity: bool = False
    # spasms
    n_spasms: int = 0
    spasm_duration_s: Range = (2.0, 10.0)
    spasm_n_units: Range = (10, 30)
    spasm_rate_hz: tuple = (14.5, 5.1, 6.0, 25.0)
    spasm_cv: Range = (0.3, 0.45)
    spasm_rms_uv: Range = (150.0, 400.0)
    spasm_extent_ch: int = 3
    spasm_muscles: tuple = ()
    # voluntary contractions
    n_voluntary: int = 0
    voluntary_duration_s: Range = (3.0, 8.0)
    voluntary_n_units: Range = (15, 25)
    voluntary_rate_hz: Range = (8.0, 35.0)
    voluntary_cv: float = 0.15
    voluntary_rms_uv: Range = (50.0, 300.0)
    voluntary_extent_ch: int = 3
    voluntary_muscles: tuple = ()
    voluntary_mark_slack_s: float = 0.5
    # ECG
    ecg_uv: Range = 0.0
    heart_rate_bpm: Range = (55.0, 95.0)
    ecg_channel: bool = False
    # power line
    line_uv: Range = 0.0
    line_freq_hz: float | None = None
    # motion, pops, saturation
    n_motion: int = 0
    motion_uv: Range = (500.0, 3000.0)
    motion_duration_s: Range = (0.2, 1.5)
    n_pops: int = 0
    pop_uv: Range = (200.0, 2000.0)
    pop_tau_ms: Range = (50.0, 400.0)
    clip_uv: float | None = None
    # truth
    visibility_snr: float = 3.0
    edge_s: float = 0.5

    def __post_init__(self):
        for name in ("noise_uv", "fasc_amplitude_uv", "fasc_duration_ms", "fasc_rate_per_min",
                     "spasm_rms_uv", "voluntary_rms_uv", "ecg_uv", "line_uv"):
            lo, hi = _pair(getattr(self, name))
            if lo < 0 or hi < lo:
                raise ParameterError(f"{name} must be >= 0 and given as a number or (low, high), "
                                     f"got {getattr(self, name)!r}")
        lo, hi = _pair(self.fasc_duration_ms)
        if hi > 0 and (lo < 1 or hi > 60):
            raise ParameterError(f"fasc_duration_ms must lie in 1-60 ms, got {self.fasc_duration_ms!r}")
        if not 0 <= self.pink_fraction <= 1:
            raise ParameterError(f"pink_fraction must lie in [0, 1], got {self.pink_fraction}")
        if not 0 <= self.doublet_prob <= 1:
            raise ParameterError(f"doublet_prob must lie in [0, 1], got {self.doublet_prob}")
        if self.line_freq_hz not in (None, 50, 60, 50.0, 60.0):
            raise ParameterError(f"line_freq_hz must be 50, 60 or None, got {self.line_freq_hz}")
        if self.clip_uv is not None and self.clip_uv <= 0:
            raise ParameterError(f"clip_uv must be positive or None, got {self.clip_uv}")

    def replace(self, **changes) -> "ScenarioParams":
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_MIXED_NAMES = ("EMG TA_R", "EMG EHL_R", "EMG PL_R", "EMG GMED_R", "EMG GAS_R", "EMG SOL_R")

#: Named scenarios. ``mixed`` is the demo recording; ``negative`` has no fasciculations.
SCENARIOS: dict[str, ScenarioParams] = {
    "rest": ScenarioParams(),
    "low_snr": ScenarioParams(
        name="low_snr", description="weak potentials (20-80 µV) in 8-15 µV mostly 1/f noise",
        noise_uv=(8.0, 15.0), pink_fraction=0.5, fasc_amplitude_uv=(20.0, 80.0),
        baseline_uv=40.0),
    "spasm": ScenarioParams(
        name="spasm", description="fasciculations plus two spasm episodes (150-400 µV RMS)",
        n_fasc_units=(2, 3), n_spasms=2),
    "ecg": ScenarioParams(
        name="ecg", description="fasciculations under ECG contamination (R 100-500 µV) with an ECG lead",
        ecg_uv=(100.0, 500.0), ecg_channel=True),
    "hum_motion": ScenarioParams(
        name="hum_motion", description="strong mains hum, motion transients that saturate, pops",
        line_uv=(20.0, 80.0), n_motion=3, motion_uv=(1000.0, 6000.0), n_pops=2,
        clip_uv=4000.0, baseline_uv=60.0),
    "consumer_250hz": ScenarioParams(
        name="consumer_250hz", description="OpenBCI-like board: 250 Hz, 8 ch, DC offsets, 60 Hz hum, 1/f noise",
        sfreq=250.0, noise_uv=(4.0, 10.0), pink_fraction=0.6, baseline_uv=150.0,
        dc_offset_uv=20000.0, line_uv=(20.0, 100.0), line_freq_hz=60.0, n_pops=1,
        fasc_amplitude_uv=(60.0, 300.0)),
    "grid64": ScenarioParams(
        name="grid64", description="8x8 HD-sEMG grid at 2048 Hz with propagating footprints",
        layout=(8, 8), n_fasc_units=(3, 6), fasc_spread=(0.8, 1.8), noise_uv=(2.0, 4.0),
        spasm_extent_ch=4, voluntary_extent_ch=4),
    "voluntary": ScenarioParams(
        name="voluntary", description="fasciculations plus two annotated voluntary contractions",
        n_fasc_units=(2, 3), n_voluntary=2),
    "mixed": ScenarioParams(
        name="mixed",
        description="demo: L5-pattern fasciculations (TA, EHL, PL, GMED; none on GAS/SOL), "
                    "a calf spasm, a dorsiflexion and mild hum",
        n_channels=6, ch_names=_MIXED_NAMES, n_fasc_units=4, fasc_rate_per_min=(10.0, 40.0),
        fasc_amplitude_uv=(50.0, 250.0), fasc_spread=(0.15, 0.3),
        fasc_muscles=("TA", "EHL", "PL", "GMED"), noise_uv=(2.5, 4.0),
        n_spasms=1, spasm_duration_s=(5.0, 8.0), spasm_rms_uv=(150.0, 300.0), spasm_extent_ch=2,
        spasm_muscles=("GAS", "SOL"), n_voluntary=1, voluntary_duration_s=(4.0, 6.0),
        voluntary_muscles=("TA", "EHL"), voluntary_extent_ch=2, voluntary_rms_uv=(150.0, 250.0),
        line_uv=(3.0, 8.0), line_freq_hz=50.0),
    "negative": ScenarioParams(
        name="negative", description="no fasciculations: rest noise, ECG, hum and one pop (expect ~0 detections)",
        n_fasc_units=0, ecg_uv=(100.0, 400.0), line_uv=(10.0, 40.0), n_pops=1),
}


def get_scenario(scenario) -> ScenarioParams:
    """Return the :class:`ScenarioParams` for a scenario name or pass one through."""
    if isinstance(scenario, ScenarioParams):
        return scenario
    if isinstance(scenario, str) and scenario in SCENARIOS:
        return SCENARIOS[scenario]
    raise ParameterError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)} "
                         "or pass a ScenarioParams")


def default_channel_names(n_channels: int | None = None, layout=None) -> list[str]:
    """Return channel names: leg muscles (``"EMG TA_R"``...) or ``"EMG R{r}C{c}"`` on a grid.

    Linear montages of more than 8 channels are named ``"EMG CH01"``...
    """
    if layout is not None:
        rows, cols = layout
        return [f"EMG R{r + 1}C{c + 1}" for r in range(rows) for c in range(cols)]
    if n_channels <= len(LEG_MUSCLES):
        return [f"EMG {m}" for m in LEG_MUSCLES[:n_channels]]
    return [f"EMG CH{i + 1:02d}" for i in range(n_channels)]


def _muscle_token(name: str) -> str:
    # "EMG TA_R" -> "TA": the muscle without type prefix and side suffix.
    return name.split()[-1].split("_")[0].upper()


# ====================================================================== montage
@dataclasses.dataclass
class _Montage:
    names: list
    pos: np.ndarray          # (C, 2) row/col position in electrode units
    grid: bool

    @property
    def n(self):
        return len(self.names)

    def channels_for(self, muscles: Sequence[str]) -> np.ndarray:
        if not muscles:
            return np.arange(self.n)
        wanted = {m.upper() for m in muscles}
        idx = np.array([i for i, c in enumerate(self.names) if _muscle_token(c) in wanted], int)
        if idx.size == 0:
            raise ParameterError(f"none of the muscles {tuple(muscles)} is among the channels "
                                 f"{self.names}; name the channels or clear the muscle list")
        return idx


def _make_montage(n_channels, layout, ch_names) -> _Montage:
    if layout is not None:
        rows, cols = (int(v) for v in layout)
        if rows < 1 or cols < 1 or rows * cols > 256:
            raise ParameterError(f"layout must be (rows, cols) with up to 256 electrodes, got {layout!r}")
        names = list(ch_names) if ch_names else default_channel_names(layout=(rows, cols))
        if len(names) != rows * cols:
            raise ParameterError(f"{len(names)} channel names for a {rows}x{cols} grid")
        r, c = np.divmod(np.arange(rows * cols), cols)
        return _Montage(names, np.column_stack([r, c]).astype(float), True)
    if ch_names:
        names = list(ch_names)
    else:
        if n_channels is None or int(n_channels) < 1:
            raise ParameterError(f"n_channels must be a positive integer, got {n_channels!r}")
        names = default_channel_names(int(n_channels))
    if len(set(names)) != len(names):
        raise ParameterError(f"channel names must be unique, got {names}")
    pos = np.column_stack([np.zeros(len(names)), np.arange(len(names))]).astype(float)
    return _Montage(names, pos, False)


# ====================================================================== MUAP templates
@dataclasses.dataclass
class _Unit:
    """A motor unit's polyphase templates at the output rate.

    ``G[p, c, r]`` is the unit's potential on channel ``chans[c]`` for a discharge whose
    high-rate position has sub-sample phase ``p``; ``centre`` is the index of the
    discharge instant in the (filtered) high-rate template.
    """

    G: np.ndarray
    chans: np.ndarray
    centre: int
    main: int                 # index into chans of the largest channel


class _Renderer:
    """Places unit templates at the output rate as if rendered at ``k * sfreq`` and decimated."""

    def __init__(self, sfreq: float, n_channels: int, n_samples: int, pad_s: float = 0.1):
        self.sfreq = sfreq
        self.k = max(1, int(math.ceil(_INTERNAL_MIN_HZ / sfreq)))
        self.fs_hi = self.k * sfreq
        if self.k > 1:
            # The sinc^3 decimation filter of the delta-sigma ADCs in EMG front ends
            # (ADS1299 in OpenBCI Cyton, MCP3912 in Ganglion): three cascaded boxcars of one
            # output period. It smears potentials without the ringing of a brick-wall FIR
            # and lets some energy alias, as the real boards do. Applied zero-phase.
            box = np.ones(self.k) / self.k
            self.fir = np.convolve(np.convolve(box, box), box)
        else:
            self.fir = np.ones(1)
        self.pad = int(math.ceil(pad_s * sfreq))
        self.n = n_samples
        self.n_channels = n_channels

    def new_buffer(self):
        return np.zeros((self.n_channels, self.n + 2 * self.pad))

    def trim(self, buf):
        return buf[:, self.pad:self.pad + self.n]

    def unit(self, hi_templates: np.ndarray, chans: np.ndarray, centre_hi: int) -> _Unit:
        """Return a :class:`_Unit` from templates sampled at ``fs_hi`` (channels x samples)."""
        k = self.k
        if k > 1:
            filt = _sig.oaconvolve(hi_templates, self.fir[np.newaxis, :], mode="full", axes=1)
            centre = centre_hi + (self.fir.size - 1) // 2
        else:
            filt, centre = hi_templates, centre_hi
        n_lp = -(-filt.shape[1] // k)
        padded = np.zeros((filt.shape[0], n_lp * k))
        padded[:, :filt.shape[1]] = filt
        G = padded.reshape(filt.shape[0], n_lp, k).transpose(2, 0, 1).copy()
        main = int(np.argmax(np.ptp(G[0], axis=1)))
        return _Unit(G, np.asarray(chans), int(centre), main)

    def offsets(self, unit: _Unit, times_s: np.ndarray):
        """Return (phase, first output sample) of each discharge."""
        j = np.rint(np.asarray(times_s) * self.fs_hi).astype(np.int64)
        s = j - unit.centre
        p = (-s) % self.k
        return p, (s + p) // self.k

    def place(self, buf, unit: _Unit, times_s, amps, batch: int = 512):
        """Add ``amps[i] * template`` at each discharge time into ``buf`` (vectorized)."""
        times_s = np.asarray(times_s, float)
        amps = np.asarray(amps, float)
        if times_s.size == 0:
            return
        p, m0 = self.offsets(unit, times_s)
        n_lp = unit.G.shape[2]
        ar = np.arange(n_lp)
        ch = unit.chans[np.newaxis, :, np.newaxis]
        for a in range(0, times_s.size, batch):  # batches bound memory on 64-ch grids
            sl = slice(a, a + batch)
            vals = amps[sl, None, None] * unit.G[p[sl]]
            t_idx = (m0[sl] + self.pad)[:, None, None] + ar[None, None, :]
            c_idx = np.broadcast_to(ch, vals.shape)
            t_idx = np.broadcast_to(t_idx, vals.shape)
            ok = (t_idx >= 0) & (t_idx < buf.shape[1])
            np.add.at(buf, (c_idx[ok], t_idx[ok]), vals[ok])

    def features(self, unit: _Unit):
        """Return per-phase (p2p per channel, peak, onset, end index on the main channel)."""
        p2p = np.ptp(unit.G, axis=2)                      # (k, C)
        w = unit.G[:, unit.main, :]                       # (k, L)
        aw = np.abs(w)
        peak = np.argmax(aw, axis=1)
        above = aw > _EDGE_FRACTION * aw.max(axis=1, keepdims=True)
        onset = np.argmax(above, axis=1)
        end = w.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1)
        return p2p, peak, onset, end


def _hermite_rodriguez(u: np.ndarray, order: int) -> np.ndarray:
    # Hermite-Rodriguez functions (Lo Conte et al. 1994): Hermite polynomial x Gaussian,
    # the classical analytic model of surface MUAPs (order 1 biphasic, 2 triphasic).
    g = np.exp(-u ** 2)
    h = {1: 2 * u, 2: 4 * u ** 2 - 2, 3: 8 * u ** 3 - 12 * u}[order]
    f = h * g
    return f / np.max(np.abs(f))


def _make_unit(rng, renderer: _Renderer, montage: _Montage, centre_pos, spread,
               duration_ms: float, p2p_uv: float) -> _Unit:
    """Return a unit whose potential has ``p2p_uv`` on its main channel (internal rate)."""
    d = montage.pos - np.asarray(centre_pos, float)[np.newaxis, :]
    if montage.grid:
        # Anisotropic 2-D decay: longer along the fibres (rows); potentials propagate
        # along the fibres from the innervation zone at the unit's centre row.
        dist = np.hypot(d[:, 0] / (1.4 * spread), d[:, 1] / spread)
        ied_mm, cv_m_s = 8.0, rng.uniform(3.0, 5.0)
        delay_ms = np.abs(d[:, 0]) * ied_mm / cv_m_s
        shape_dist = np.hypot(d[:, 0], d[:, 1])
    else:
        # Separate muscles of a montage: crosstalk by volume conduction, nearly instantaneous.
        dist = np.abs(d[:, 1]) / spread
        delay_ms = np.abs(d[:, 1]) * rng.uniform(0.1, 0.3)
        shape_dist = np.abs(d[:, 1])
    weight = np.exp(-dist)
    chans = np.flatnonzero(weight >= 0.01)   # below 1 % of the main channel: no footprint
    weight, delay_ms, shape_dist = weight[chans], delay_ms[chans], shape_dist[chans]

    width_ms = duration_ms / 4.6  # HR1 spans ~4.4 widths above 5 % of its peak
    mix = np.array([rng.uniform(0.4, 1.0), rng.uniform(0.0, 0.8), rng.uniform(0.0, 0.3)])
    mix *= rng.choice([-1.0, 1.0], 3)
    asym = rng.uniform(-0.2, 0.2)
    half_ms = 3.2 * width_ms * 1.6 + float(delay_ms.max()) + 1.0
    n_half = int(math.ceil(half_ms * renderer.fs_hi / 1000.0))
    t_ms = np.arange(-n_half, n_half + 1) * 1000.0 / renderer.fs_hi
    waves = np.empty((chans.size, t_ms.size))
    for i in range(chans.size):  # a loop over a unit's few channels
        # Farther channels see a broader (volume-conductor low-pass), slightly reshaped,
        # slightly delayed potential.
        w_c = width_ms * (1.0 + 0.15 * shape_dist[i])
        u = (t_ms - delay_ms[i]) / w_c
        u = np.where(u < 0, u * (1 - asym), u * (1 + asym))
        m = mix + rng.normal(0.0, 0.08 * shape_dist[i], 3)
        waves[i] = sum(m[o] * _hermite_rodriguez(u, o + 1) for o in range(3))
    ptp = np.ptp(waves, axis=1)
    main = int(np.argmax(weight))
    waves *= (weight / ptp)[:, None] * p2p_uv / weight[main]
    return renderer.unit(waves, chans, n_half)


# ====================================================================== firing
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


# ====================================================================== helpers
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


def _visible(values_uv, noise_uv, snr):
    # A channel "sees" an event when its p2p (or RMS) is at least snr x the noise RMS;
    # with noise switched off, anything above 0.1 µV counts.
    return values_uv >= snr * np.maximum(noise_uv, 0.1 / max(snr, 1e-9))


def _join(names, mask):
    return ",".join(n for n, m in zip(names, mask) if m)


def _trapezoid(t, dur, up, down):
    return np.clip(np.minimum(t / up, (dur - t) / down), 0.0, 1.0)


# ====================================================================== components
def _fasciculations(rng, sp: ScenarioParams, montage, renderer, duration, exclude, noise):
    """Add fasciculating units into a buffer; return (buffer, truth rows)."""
    buf = renderer.new_buffer()
    n_units = _draw_int(rng, sp.n_fasc_units) if _pair(sp.n_fasc_units)[1] > 0 else 0
    rows = []
    if n_units == 0:
        return renderer.trim(buf), empty_events(0)
    # Spread units over the host muscles (each host once before any repeats) so that a
    # root pattern such as L5 shows on several muscles.
    hosts = rng.permutation(montage.channels_for(sp.fasc_muscles))
    refr = sp.refractory_ms / 1000.0
    forced = False
    for u in range(n_units):  # a loop over a handful of units
        if montage.grid:
            rows_, cols_ = montage.pos.max(axis=0) + 1
            centre = (rng.uniform(0, rows_ - 1), rng.uniform(0, cols_ - 1))
        else:
            centre = montage.pos[hosts[u % hosts.size]]
        unit = _make_unit(rng, renderer, montage, centre, _draw(rng, sp.fasc_spread),
                          _draw(rng, sp.fasc_duration_ms), _draw(rng, sp.fasc_amplitude_uv))
        rate_hz = _draw(rng, sp.fasc_rate_per_min) / 60.0
        t = _gamma_renewal(rng, duration - 2 * sp.edge_s, rate_hz, sp.fasc_cv, refr, sp.edge_s)
        is_doublet = rng.random(t.size) < sp.doublet_prob
        forced = forced or bool(is_doublet.any())
        if sp.doublet_prob > 0 and not forced and u == n_units - 1:
            # Make sure a recording that should have doublets has one (tests rely on it):
            # pick a discharge with room for its partner, away from episodes.
            room = np.diff(np.append(t, np.inf)) > refr + 0.04
            room &= ~in_spans(t, exclude, margin=0.4) & (t < duration - sp.edge_s - 0.05)
            if room.any():
                is_doublet[rng.choice(np.flatnonzero(room))] = True
                forced = True
        partners = t[is_doublet] + _draw(rng, sp.doublet_interval_ms, int(is_doublet.sum())) / 1000.0
        # A partner must keep the refractory period to the unit's next ordinary discharge.
        nxt = np.searchsorted(t, partners)
        nxt_t = np.where(nxt < t.size, t[np.minimum(nxt, t.size - 1)], np.inf)
        keep = (nxt_t - partners > refr) & (partners < duration - sp.edge_s)
        partners = partners[keep]
        times = np.concatenate([t, partners])
        kind = np.concatenate([np.zeros(t.size, int), np.ones(partners.size, int)])
        if not sp.fasc_during_activity:
            ok = ~in_spans(times, exclude, margin=0.3)
            times, kind = times[ok], kind[ok]
        order = np.argsort(times)
        times, kind = times[order], kind[order]
        if times.size == 0:
            continue
        amps = 1.0 + sp.fasc_jitter * rng.standard_normal(times.size)
        renderer.place(buf, unit, times, amps)
        rows.append(_discharge_rows(renderer, unit, times, amps, u, montage, noise, sp))
    truth = np.concatenate(rows) if rows else empty_events(0)
    return renderer.trim(buf), truth


def _discharge_rows(renderer, unit, times, amps, unit_id, montage, noise, sp):
    """Return truth rows of one unit's discharges measured on the rendered templates."""
    fs = renderer.sfreq
    p, m0 = renderer.offsets(unit, times)
    p2p, peak, onset, end = renderer.features(unit)
    rows = empty_events(times.size)
    rows["trial_type"] = "fasciculation"
    rows["onset"] = (m0 + onset[p]) / fs
    rows["duration"] = (end[p] - onset[p] + 1) / fs
    rows["duration_ms"] = rows["duration"] * 1000.0
    rows["peak_time"] = (m0 + peak[p]) / fs
    main_ch = unit.chans[unit.main]
    rows["channel"] = montage.names[main_ch]
    amp_ch = np.abs(amps)[:, None] * p2p[p]                       # (n, C_unit)
    rows["peak_amplitude_uv"] = amp_ch[:, unit.main]
    vis = _visible(amp_ch, noise[unit.chans][None, :], sp.visibility_snr)
    vis[:, unit.main] = True
    names = [montage.names[c] for c in unit.chans]
    rows["channels"] = [_join(names, v) for v in vis]
    rows["snr"] = amp_ch[:, unit.main] / 2 / np.maximum(noise[main_ch], 1e-9)
    rows["unit"] = unit_id
    # Isolation (Sleutjes et al. 2016): both intervals to the unit's neighbours > 250 ms.
    gaps = np.diff(times)
    prev_gap = np.concatenate([[np.inf], gaps])
    next_gap = np.concatenate([gaps, [np.inf]])
    rows["isolated"] = ((prev_gap > 0.25) & (next_gap > 0.25)).astype(np.int8)
    return rows


def _episode(rng, sp, kind, montage, renderer, onset, dur, noise):
    """Return (buffer, truth row) of one spasm or voluntary contraction."""
    spasm = kind == "spasm"
    n_units = _draw_int(rng, sp.spasm_n_units if spasm else sp.voluntary_n_units)
    hosts = montage.channels_for(sp.spasm_muscles if spasm else sp.voluntary_muscles)
    extent = max(1, sp.spasm_extent_ch if spasm else sp.voluntary_extent_ch)
    if montage.grid:
        rows_, cols_ = montage.pos.max(axis=0) + 1
        c_r, c_c = rng.uniform(0, rows_ - 1), rng.uniform(0, cols_ - 1)
        centres = np.column_stack([np.clip(c_r + rng.uniform(-extent / 2, extent / 2, n_units), 0, rows_ - 1),
                                   np.clip(c_c + rng.uniform(-extent / 2, extent / 2, n_units), 0, cols_ - 1)])
    else:
        first = rng.integers(0, max(1, hosts.size - extent + 1))
        group = hosts[first:first + extent]
        centres = montage.pos[rng.choice(group, n_units)]
    # Envelope on a 1 kHz grid: ramps, plateau and slow waxing and waning.
    t = np.arange(0.0, dur, 1e-3)
    up, down = dur * rng.uniform(0.15, 0.35), dur * rng.uniform(0.2, 0.4)
    env = _trapezoid(t, dur, up, down)
    if spasm:
        env = env * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.2, 0.8) * t + rng.uniform(0, 6.3)))
    thr = np.sort(rng.uniform(0.0, 0.7 if spasm else 0.8, n_units))
    buf = renderer.new_buffer()
    rates = []
    for i in range(n_units):  # a loop over the episode's motor units
        # Size principle: later-recruited units are larger.
        unit = _make_unit(rng, renderer, montage, centres[i], rng.uniform(0.4, 1.0),
                          rng.uniform(8.0, 15.0), 1.0 + 3.0 * thr[i])
        excite = np.clip((env - thr[i]) / (1.0 - thr[i]), 0.0, None)
        on = env > thr[i]
        if spasm:
            mean, sd, lo, hi = sp.spasm_rate_hz
            base = float(np.clip(rng.normal(mean, sd), lo, hi))
            rate = np.where(on, base * (0.8 + 0.2 * np.minimum(excite, 1.0)), 0.0)
            cv = _draw(rng, sp.spasm_cv)
        else:
            lo, hi = _pair(sp.voluntary_rate_hz)
            top = rng.uniform(lo + 0.6 * (hi - lo), hi)
            rate = np.where(on, lo + (top - lo) * np.minimum(excite, 1.0), 0.0)
            cv = sp.voluntary_cv
        times = _operational_time_train(rng, t, rate, cv)
        if times.size >= 2:
            rates.append((times.size - 1) / (times[-1] - times[0]))
        renderer.place(buf, unit, onset + times, 1.0 + 0.05 * rng.standard_normal(times.size))
    sig = renderer.trim(buf)
    a, b = int(round(onset * renderer.sfreq)), int(round((onset + dur) * renderer.sfreq))
    rms = np.sqrt(np.mean(sig[:, a:b] ** 2, axis=1))
    target = _draw(rng, sp.spasm_rms_uv if spasm else sp.voluntary_rms_uv)
    scale = target / max(rms.max(), 1e-12)
    sig *= scale
    rms *= scale
    main = int(np.argmax(rms))
    row = empty_events(1)
    row["trial_type"] = kind
    row["onset"], row["duration"], row["duration_ms"] = onset, dur, dur * 1000.0
    row["peak_time"] = onset + t[np.argmax(env)]
    row["channel"] = montage.names[main]
    row["channels"] = _join(montage.names, _visible(rms, noise, sp.visibility_snr) | (np.arange(montage.n) == main))
    row["rms_uv"] = rms[main]
    row["firing_rate_hz"] = float(np.mean(rates)) if rates else np.nan
    return sig, row


def _ecg_wave(t, lead):
    # P-QRS-T as Gaussians (McSharry et al. 2003 style); two leads = two dipole projections.
    comps = ((0.12, -0.18, 0.025), (-0.12, -0.025, 0.008), (1.0, 0.0, 0.009),
             (-0.25, 0.03, 0.01), (0.3, 0.25, 0.045)) if lead == 0 else \
        ((0.05, -0.18, 0.025), (0.3, -0.02, 0.008), (-0.6, 0.005, 0.01),
         (0.5, 0.03, 0.01), (-0.15, 0.26, 0.05))
    return sum(a * np.exp(-0.5 * ((t - mu) / s) ** 2) for a, mu, s in comps)


def _ecg(rng, sp, montage, sfreq, n, noise):
    """Return (EMG contamination, clean ECG lead, truth rows)."""
    amp = _draw(rng, sp.ecg_uv)
    duration = n / sfreq
    hr = _draw(rng, sp.heart_rate_bpm)
    rr_mean = 60.0 / hr
    n_beats = int(duration / rr_mean * 1.3) + 5
    # RR: 4 % beat-to-beat jitter plus respiratory sinus arrhythmia (~0.25 Hz).
    rr = rr_mean * (1 + 0.04 * rng.standard_normal(n_beats))
    r_times = rng.uniform(0.1, rr_mean) + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    r_times = r_times + 0.05 * rr_mean * np.sin(2 * np.pi * 0.25 * r_times + rng.uniform(0, 6.3))
    r_times = r_times[(r_times > 0.35) & (r_times < duration - 0.5)]
    beat_amp = 1 + 0.08 * np.sin(2 * np.pi * 0.25 * r_times) + 0.03 * rng.standard_normal(r_times.size)
    half = int(math.ceil(0.45 * sfreq))
    idx0 = np.rint(r_times * sfreq).astype(np.int64)
    offs = np.arange(-half, half + 1)
    t_rel = (idx0[:, None] + offs[None, :]) / sfreq - r_times[:, None]
    sources = np.zeros((2, n))
    pos = np.clip(idx0[:, None] + offs[None, :], 0, n - 1)
    for lead in (0, 1):
        vals = beat_amp[:, None] * _ecg_wave(t_rel, lead)
        np.add.at(sources[lead], pos, vals)
    # Per-channel projection of the two sources (the heart's dipole seen from each site).
    g = np.column_stack([rng.uniform(0.2, 1.0, montage.n) * rng.choice([-1, 1], montage.n),
                         rng.uniform(-0.5, 0.5, montage.n)])
    qrs = np.linspace(-0.05, 0.05, 41)
    shapes = g @ np.vstack([_ecg_wave(qrs, 0), _ecg_wave(qrs, 1)])   # (C, 41)
    p2p = np.ptp(shapes, axis=1)
    scale = amp / max(np.max(np.abs(shapes)), 1e-12)
    contamination = scale * (g @ sources)
    main = int(np.argmax(p2p))
    rows = empty_events(r_times.size)
    rows["trial_type"] = "artifact"
    rows["artifact_kind"] = "ecg"
    rows["onset"] = r_times - 0.05
    rows["duration"] = 0.1
    rows["duration_ms"] = 100.0
    rows["peak_time"] = r_times
    rows["channel"] = montage.names[main]
    amp_ch = beat_amp[:, None] * scale * p2p[None, :]
    rows["peak_amplitude_uv"] = amp_ch[:, main]
    vis = _visible(amp_ch, noise[None, :], sp.visibility_snr)
    vis[:, main] = True
    rows["channels"] = [_join(montage.names, v) for v in vis]
    lead = 1000.0 * sources[0]   # a clean 1 mV chest lead
    return contamination, lead, rows


def _line(rng, sp, montage, sfreq, n, noise):
    """Return (hum, truth row) of power-line interference with harmonics and drift."""
    f0 = sp.line_freq_hz or float(rng.choice([50.0, 60.0]))
    amp = _draw(rng, sp.line_uv)
    t = np.arange(n) / sfreq
    # Mains frequency wanders by a few hundredths of a Hz.
    drift = rng.uniform(-0.03, 0.03) + 0.02 * np.sin(2 * np.pi * t / rng.uniform(10, 60) + rng.uniform(0, 6.3))
    phase = 2 * np.pi * np.cumsum(f0 + drift) / sfreq
    gains = amp * rng.uniform(0.2, 1.0, montage.n)
    gains[rng.integers(montage.n)] = amp
    rel = np.array([1.0, rng.uniform(0, 0.2), rng.uniform(0.1, 0.5), rng.uniform(0, 0.1), rng.uniform(0.02, 0.25)])
    hum = np.zeros((montage.n, n))
    for h in range(1, 6):  # a loop over five harmonics
        if h * f0 >= sfreq / 2:
            break
        ph = rng.uniform(-0.3, 0.3, montage.n)[:, None] + rng.uniform(0, 2 * np.pi)
        hum += (rel[h - 1] * gains)[:, None] * np.sin(h * phase[None, :] + ph)
    row = empty_events(1)
    row["trial_type"], row["artifact_kind"] = "artifact", "line"
    row["onset"], row["duration"], row["duration_ms"] = 0.0, n / sfreq, n / sfreq * 1000.0
    main = int(np.argmax(gains))
    row["channel"] = montage.names[main]
    row["peak_amplitude_uv"] = 2 * gains[main]
    row["channels"] = _join(montage.names, _visible(2 * gains, noise, sp.visibility_snr))
    row["peak_time"] = 0.0
    return hum, row, f0


def _motion(rng, sp, montage, sfreq, n, starts, lengths, noise):
    """Return (transients, truth rows) of motion artifacts (< 20 Hz, all channels)."""
    out = np.zeros((montage.n, n))
    rows = empty_events(len(starts))
    for i, (t0, dur) in enumerate(zip(starts, lengths)):  # a loop over a few episodes
        a, m = int(round(t0 * sfreq)), max(8, int(round(dur * sfreq)))
        m = min(m, n - a)
        fc = rng.uniform(3.0, 15.0)
        sos = _sig.butter(2, fc, fs=sfreq, output="sos")
        src = _sig.sosfiltfilt(sos, rng.standard_normal((2, m)), axis=1) * np.hanning(m)
        # Electrode displacement: a smooth shift that relaxes within the episode.
        x = np.linspace(0, 1, m)
        src[0] += 2 * np.std(src[0]) * np.sin(np.pi * x) ** 2 * np.exp(-3 * x) * rng.choice([-1, 1])
        g = np.column_stack([rng.uniform(0.3, 1.0, montage.n), rng.uniform(-0.5, 0.5, montage.n)])
        seg = g @ src
        seg *= _draw(rng, sp.motion_uv) / np.max(np.abs(seg))
        out[:, a:a + m] += seg
        peak = np.max(np.abs(seg), axis=1)
        main = int(np.argmax(peak))
        r = rows[i:i + 1]
        r["trial_type"], r["artifact_kind"] = "artifact", "motion"
        r["onset"], r["duration"], r["duration_ms"] = a / sfreq, m / sfreq, m / sfreq * 1000
        r["peak_time"] = (a + np.argmax(np.abs(seg[main]))) / sfreq
        r["channel"] = montage.names[main]
        r["peak_amplitude_uv"] = np.ptp(seg[main])
        r["channels"] = _join(montage.names, _visible(np.ptp(seg, axis=1), noise, sp.visibility_snr))
    return out, rows


def _pops(rng, sp, montage, sfreq, n, duration, noise):
    """Return (steps, truth rows) of electrode pops: a step on one channel decaying away."""
    out = np.zeros((montage.n, n))
    k = int(sp.n_pops)
    rows = empty_events(k)
    t0 = np.sort(rng.uniform(sp.edge_s, duration - sp.edge_s - 0.5, k))
    for i in range(k):  # a loop over a few pops
        ch = int(rng.integers(montage.n))
        amp = _draw(rng, sp.pop_uv) * rng.choice([-1, 1])
        tau = _draw(rng, sp.pop_tau_ms) / 1000.0
        a = int(math.ceil(t0[i] * sfreq))
        m = min(n - a, int(6 * tau * sfreq) + 1)
        out[ch, a:a + m] += amp * np.exp(-np.arange(m) / (tau * sfreq))
        r = rows[i:i + 1]
        r["trial_type"], r["artifact_kind"] = "artifact", "pop"
        r["onset"] = r["peak_time"] = a / sfreq
        r["duration"] = min(3 * tau, (n - a) / sfreq)
        r["duration_ms"] = r["duration"] * 1000
        r["channel"] = r["channels"] = montage.names[ch]
        r["peak_amplitude_uv"] = abs(amp)
    return out, rows


def _saturation_rows(data_uv, clip_uv, names, sfreq):
    """Return truth rows for spans where any channel sits at the rail."""
    at_rail = np.abs(data_uv) >= clip_uv * (1 - 1e-9)
    any_rail = at_rail.any(axis=0)
    if not any_rail.any():
        return empty_events(0)
    edges = np.diff(np.concatenate([[0], any_rail.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    rows = empty_events(starts.size)
    rows["trial_type"], rows["artifact_kind"] = "artifact", "saturation"
    rows["onset"] = rows["peak_time"] = starts / sfreq
    rows["duration"] = (stops - starts) / sfreq
    rows["duration_ms"] = rows["duration"] * 1000
    cum = np.concatenate([np.zeros((at_rail.shape[0], 1), np.int64), np.cumsum(at_rail, axis=1)], axis=1)
    counts = cum[:, stops] - cum[:, starts]                 # (C, n_runs)
    rows["channel"] = [names[i] for i in np.argmax(counts, axis=0)]
    rows["channels"] = [_join(names, counts[:, j] > 0) for j in range(starts.size)]
    rows["peak_amplitude_uv"] = 2 * clip_uv
    return rows


def _background_noise(rng, sp, n_channels, n, noise):
    """Return white + 1/f noise with the given per-channel RMS (µV)."""
    white = rng.standard_normal((n_channels, n))
    if sp.pink_fraction <= 0:
        return white * noise[:, None]
    # Paul Kellet's 1/f filter: pink within ~-0.3 dB over three decades of frequency.
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1.0, -2.494956002, 2.017265875, -0.522189400]
    pink = _sig.lfilter(b, a, rng.standard_normal((n_channels, n)), axis=1)
    pink -= pink.mean(axis=1, keepdims=True)
    pink /= np.maximum(pink.std(axis=1, keepdims=True), 1e-12)
    mix = np.sqrt(1 - sp.pink_fraction) * white + np.sqrt(sp.pink_fraction) * pink
    return mix * noise[:, None]


def _in_band_rms(x, sfreq, max_s=20.0):
    """Return the RMS of ``x`` in the detection band (20 Hz to min(450, 0.45 fs))."""
    m = min(x.shape[1], int(max_s * sfreq))   # an excerpt suffices for stationary noise
    sos = _sig.butter(4, [20.0, min(450.0, 0.45 * sfreq)], btype="bandpass", fs=sfreq, output="sos")
    y = _sig.sosfiltfilt(sos, x[:, :m], axis=1)
    return np.sqrt(np.mean(y[:, m // 10:m - m // 10] ** 2, axis=1))


def _baseline(rng, sp, n_channels, n, sfreq):
    """Return baseline wander (< 1 Hz) plus DC offsets (µV)."""
    t = np.arange(n) / sfreq
    out = np.zeros((n_channels, n))
    if sp.baseline_uv > 0:
        for _ in range(3):  # three slow sinusoids per channel
            f = rng.uniform(0.05, 0.8, n_channels)[:, None]
            out += rng.uniform(0.3, 1.0, n_channels)[:, None] * np.sin(
                2 * np.pi * f * t[None, :] + rng.uniform(0, 2 * np.pi, n_channels)[:, None])
        out *= (sp.baseline_uv * np.clip(rng.lognormal(0, 0.3, n_channels), 0.5, 2.0) /
                np.maximum(out.std(axis=1), 1e-12))[:, None]
    if sp.dc_offset_uv > 0:
        out += rng.uniform(-sp.dc_offset_uv, sp.dc_offset_uv, n_channels)[:, None]
    return out


# ====================================================================== public API
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
        One row per fasciculation discharge, spasm episode, voluntary contraction and
        artifact (ecg, motion, pop, line, saturation), sorted by onset. Discharge
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
    if names and not layout and len(names) != n_ch:
        raise ParameterError(f"{len(names)} channel names for {n_ch} channels")
    montage = _make_montage(n_ch, layout, names)
    n = int(round(duration * fs))

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    (r_place, r_fasc, r_episode, r_ecg, r_line, r_motion, r_pop, r_noise, r_base, r_level) = streams

    noise_level = _draw(r_level, sp.noise_uv, montage.n)
    renderer = _Renderer(fs, montage.n, n)
    background = (_background_noise(r_noise, sp, montage.n, n, noise_level)
                  if np.any(noise_level > 0) else None)
    # Visibility and snr refer to the noise a detector sees: RMS in its 20-450 Hz band,
    # below the broadband level when much of the noise is 1/f.
    noise = _in_band_rms(background, fs) if background is not None else np.zeros(montage.n)

    # Episodes (spasm, voluntary, motion) share one placement so that they never overlap.
    kinds = ["spasm"] * sp.n_spasms + ["voluntary"] * sp.n_voluntary + ["motion"] * sp.n_motion
    lengths = np.array([_draw(r_place, sp.spasm_duration_s) if k == "spasm" else
                        _draw(r_place, sp.voluntary_duration_s) if k == "voluntary" else
                        _draw(r_place, sp.motion_duration_s) for k in kinds])
    starts, lengths = _place_intervals(r_place, lengths, duration, sp.edge_s)
    spans = [(s, s + L) for s, L, k in zip(starts, lengths, kinds)]

    emg = np.zeros((montage.n, n))
    truth_parts = []
    annotations = []
    sig, fasc_rows = _fasciculations(r_fasc, sp, montage, renderer, duration, spans, noise)
    emg += sig
    truth_parts.append(fasc_rows)
    for (s, e), k in zip(spans, kinds):  # a loop over a handful of episodes
        if k == "motion":
            continue
        sig, row = _episode(r_episode, sp, k, montage, renderer, s, e - s, noise)
        emg += sig
        truth_parts.append(row)
        if k == "voluntary":
            slack = sp.voluntary_mark_slack_s
            annotations.append(Annotation(max(0.0, s - slack), e - s + 2 * slack, "voluntary"))
    mot_idx = [i for i, k in enumerate(kinds) if k == "motion"]
    if mot_idx:
        sig, rows = _motion(r_motion, sp, montage, fs, n, starts[mot_idx], lengths[mot_idx], noise)
        emg += sig
        truth_parts.append(rows)
    ecg_lead = None
    if _pair(sp.ecg_uv)[1] > 0:
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
    scenario asks, spasms and voluntary contractions) is injected; the background's own
    events are unknown, so use rest recordings.

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
    hp, lp = 20.0, min(450.0, 0.45 * fs)
    sos = _sig.butter(4, [hp, lp], btype="bandpass", fs=fs, output="sos")
    filt = _sig.sosfiltfilt(sos, np.nan_to_num(bg - np.nanmedian(bg, axis=1, keepdims=True)), axis=1)
    noise = np.median(np.abs(filt - np.median(filt, axis=1, keepdims=True)), axis=1) / 0.6745

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    r_place, r_fasc, r_episode = streams[:3]
    kinds = ["spasm"] * sp.n_spasms + ["voluntary"] * sp.n_voluntary
    lengths = np.array([_draw(r_place, sp.spasm_duration_s if k == "spasm" else sp.voluntary_duration_s)
                        for k in kinds])
    starts, lengths = _place_intervals(r_place, lengths, duration, sp.edge_s)
    spans = [(s, s + L) for s, L in zip(starts, lengths)]
    # Existing voluntary/BAD marks of the background are activity too.
    spans += [(a.onset, a.onset + a.duration) for a in rec.annotations
              if a.duration > 0 and ("voluntary" in a.description.lower()
                                     or a.description.lower().startswith("bad"))]
    renderer = _Renderer(fs, montage.n, n)
    added, rows = _fasciculations(r_fasc, sp, montage, renderer, duration, spans, noise)
    parts = [rows]
    annotations = list(rec.annotations)
    for (s, e), k in zip(spans[:len(kinds)], kinds):
        sig, row = _episode(r_episode, sp, k, montage, renderer, s, e - s, noise)
        added += sig
        parts.append(row)
        if k == "voluntary":
            slack = sp.voluntary_mark_slack_s
            annotations.append(Annotation(max(0.0, s - slack), e - s + 2 * slack, "voluntary"))
    data = rec.get_data().copy()
    data[idx] += added * 1e-6
    meta = dict(rec.metadata)
    meta.update({"injected": True, "scenario": sp.name, "seed": int(seed)})
    out = dataclasses.replace(rec, data=data, annotations=annotations, metadata=meta, raw=None,
                              raw_picks=None)
    return out, sort_events(np.concatenate(parts))


def _truth_annotations(truth) -> tuple[list, list, list]:
    onsets, durations, labels = [], [], []
    for row in truth:  # annotation labels, written once per file
        kind = str(row["trial_type"])
        if kind == "voluntary":
            label = f"{TRUTH_PREFIX}voluntary"
        elif kind == "fasciculation":
            label = f"{TRUTH_PREFIX}fasciculation/U{int(row['unit'])}"
        elif kind == "artifact":
            label = f"{TRUTH_PREFIX}artifact/{row['artifact_kind']}"
        else:
            label = f"{TRUTH_PREFIX}{kind}"
        onsets.append(float(row["onset"]))
        durations.append(float(row["duration"]) if np.isfinite(row["duration"]) else 0.0)
        labels.append(label)
    return onsets, durations, labels


def write_simulation(recording: Recording, truth, out_dir, stem: str = "sim",
                     include_truth_annotations: bool = True) -> dict:
    """Write ``<stem>.edf``, ``<stem>_truth.tsv`` and ``<stem>_truth.json``; return their paths.

    The EDF+ file (via ``mne.export.export_raw``, 16 bits) uses a per-channel physical
    range taken from the data, so µV potentials survive quantisation (LSB = range/65535).
    Its annotations carry the experimenter's ``voluntary`` marks and, unless
    ``include_truth_annotations`` is False, the truth with labels starting ``truth:``
    (``truth:fasciculation/U3``, ``truth:spasm``, ``truth:artifact/ecg``...). These are
    evaluation files: a detector must not use ``truth:`` annotations. The JSON sidecar
    records duration, rate, scenario and seed for :func:`fascidetect.evaluation.evaluate`.

    Parameters
    ----------
    recording : Recording
        Output of :func:`simulate` or :func:`inject`.
    truth : ndarray of EVENT_DTYPE
        Its truth table.
    out_dir : path
        Created if missing.
    stem : str
        File name stem.
    include_truth_annotations : bool
        Also write the truth as EDF annotations.

    Returns
    -------
    dict
        ``{"edf": Path, "truth": Path, "sidecar": Path}``.
    """
    import mne

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = recording.to_raw()
    raw.set_meas_date(recording.meas_date or _MEAS_DATE)
    onsets = [a.onset for a in recording.annotations]
    durations = [a.duration for a in recording.annotations]
    labels = [a.description for a in recording.annotations]
    if include_truth_annotations:
        o, d, l = _truth_annotations(truth)
        onsets, durations, labels = onsets + o, durations + d, labels + l
    raw.set_annotations(mne.Annotations(onsets, durations, labels, orig_time=raw.info["meas_date"]))
    edf = out_dir / f"{stem}.edf"
    mne.export.export_raw(str(edf), raw, fmt="edf", physical_range="channelwise",
                          overwrite=True, verbose="error")
    tsv = write_events_tsv(truth, out_dir / f"{stem}_truth.tsv")
    sidecar = out_dir / f"{stem}_truth.json"
    meta = {k: v for k, v in recording.metadata.items() if isinstance(v, (str, int, float, bool, list, type(None)))}
    meta.update({"duration_s": recording.duration_s, "sfreq": recording.sfreq,
                 "ch_names": list(recording.ch_names),
                 "n_fasciculations": int(np.sum(truth["trial_type"] == "fasciculation"))})
    tmp = sidecar.with_name(f".{sidecar.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, sidecar)
    return {"edf": edf, "truth": tsv, "sidecar": sidecar}
