"""Scenario parameters: what :func:`~fascidetect.simulation.simulate` draws from, and
the named scenarios."""

from __future__ import annotations

import dataclasses

from ..errors import ParameterError
from ._ranges import Range, _pair

__all__ = ["ScenarioParams", "SCENARIOS", "get_scenario", "default_channel_names", "LEG_MUSCLES"]

#: Muscles of one (right) leg, used to name linear montages of up to 8 channels.
LEG_MUSCLES = ("TA_R", "EHL_R", "PL_R", "GAS_R", "SOL_R", "GMED_R", "BF_R", "VL_R")


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
