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
    pair_muscles : tuple of str
        Two muscle tokens (``("TA", "VL")``): the first two units sit on these channels
        and the second also fires ``pair_interval_ms`` before or after ``pair_share`` of
        the first's discharges (units of different muscles firing close together).
    pair_share : float
        Share of the first unit's discharges the second unit answers (0-1).
    pair_interval_ms : range
        Interval between the paired discharges of the two muscles (4-15 ms).
    fasc_during_activity : bool
        If False, no fasciculation is placed within 0.3 s of a spasm, voluntary or motion
        episode, where no detector can see one and truth would be unmeasurable (tonic
        stretches do not count: fasciculations go on during them).
    fasc_beside_activity_share : float
        Each unit gains about this share (0-1) of its own discharge count in extra
        discharges right beside activity: uniformly within 0.3 s before or after a spasm
        or voluntary episode (not inside it), keeping the refractory period. 0 keeps the
        rule above; patients often twitch as a cramp fades.
    fasc_beside_window_s : range
        Where those extra discharges go: from the first to the second number of seconds
        before or after an episode ((0, 0.3): right beside it; (0.5, 3): in and past the
        derecruitment tails).
    burst_prob : float
        Probability that an ordinary discharge starts a cluster of the same unit
        (pathological fasciculating units fire doublets, triplets and short clusters).
    burst_size : int or range
        Discharges in a cluster, the first included (2 = doublet, 3 = triplet, ... 5).
    burst_interval_ms : range
        Intervals inside a cluster, drawn independently (irregular); at least
        ``refractory_ms``.
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
    derecruit_tail_s : range
        After each spasm or voluntary contraction its ``derecruit_n_units`` lowest-threshold
        units go on firing until this long after its end (0: they stop with it), their
        rate falling steadily from a start to an end rate drawn from the two ranges of
        ``derecruit_rate_hz``, interval CV ``derecruit_cv``. Truth: a ``voluntary`` row per
        tail discharge with its unit.
    derecruit_n_units : int or range
    derecruit_rate_hz : tuple of two ranges
    derecruit_cv : range
    n_voluntary, voluntary_duration_s, voluntary_n_units, voluntary_rate_hz, voluntary_cv,
    voluntary_rms_uv, voluntary_extent_ch, voluntary_muscles :
        Voluntary contractions: regular firing from 8 Hz at recruitment up to 35 Hz.
    voluntary_mark_slack_s : float
        The "voluntary" annotation starts and ends this much outside the contraction.
    n_tonic : int
        Number of tonic (postural) stretches: a few motor units firing steadily near the
        noise floor, never annotated (nobody marks a muscle that did not quite relax).
        Truth: a ``voluntary`` row per stretch (its channels, mean rate, RMS) and a
        ``voluntary`` row per discharge (with its ``unit``), never ``fasciculation``.
    tonic_duration_s : range
        Stretch length (several seconds to tens of seconds).
    tonic_n_units : int or range
        Units firing in one stretch (1-3).
    tonic_extent_ch : int or range
        Adjacent channels (or grid rows/cols) the stretch's units sit on (1-3).
    tonic_rate_hz, tonic_cv : range
        Per-unit mean rate (6-20 Hz) and inter-discharge CV (0.1-0.3): regular firing.
    tonic_rate_wander : float
        Relative amplitude of a slow (0.05-0.3 Hz) wander of each unit's rate.
    tonic_stagger : float
        Each unit starts up to this share of the stretch after its onset and stops up
        to this share before its end (recruitment and derecruitment differ per unit).
    tonic_snr : range
        Peak absolute amplitude of a unit's potential on its main channel over that
        channel's in-band noise sigma (1.5-4: near the floor), the truth's ``snr``. With
        the noise switched off it refers to 1 µV.
    tonic_duration_ms, tonic_spread : range
        Potential duration and footprint decay length of tonic units.
    tonic_muscles : tuple of str
        Muscle tokens hosting tonic stretches (empty: any).
    ecg_uv : range
        R-wave amplitude on the most contaminated channel (50-500 µV); 0 switches off.
    ecg_snr : range
        Instead of ``ecg_uv``: peak absolute ECG amplitude in the detection band
        (20-450 Hz) over the in-band noise sigma, drawn per contaminated channel (5-10:
        small, yet above a detection threshold). 0 uses ``ecg_uv``.
    ecg_n_channels : int or range
        Number of adjacent channels the heart reaches (1-2 at gluteal or paraspinal
        sites); 0 means every channel with its own gain.
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
    glitch_rate_per_min : float
        Single-sample spikes (ADC or radio-link glitches of consumer boards) per minute,
        each on one random channel; 0 switches off.
    glitch_uv : range
        Glitch height (20-30 µV), either polarity.
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
    pair_muscles: tuple = ()
    pair_share: float = 0.0
    pair_interval_ms: Range = (4.0, 15.0)
    fasc_during_activity: bool = False
    fasc_beside_activity_share: float = 0.0
    fasc_beside_window_s: Range = (0.0, 0.3)
    burst_prob: float = 0.0
    burst_size: Range = (2, 5)
    burst_interval_ms: Range = (20.0, 200.0)
    # spasms
    n_spasms: int = 0
    spasm_duration_s: Range = (2.0, 10.0)
    spasm_n_units: Range = (10, 30)
    spasm_rate_hz: tuple = (14.5, 5.1, 6.0, 25.0)
    spasm_cv: Range = (0.3, 0.45)
    spasm_rms_uv: Range = (150.0, 400.0)
    spasm_extent_ch: int = 3
    spasm_muscles: tuple = ()
    # derecruitment tails (spasms and voluntary contractions)
    derecruit_tail_s: Range = 0.0
    derecruit_n_units: Range = (1, 3)
    derecruit_rate_hz: tuple = ((7.0, 10.0), (4.0, 6.0))
    derecruit_cv: Range = (0.1, 0.25)
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
    # tonic (postural) firing
    n_tonic: int = 0
    tonic_duration_s: Range = (5.0, 30.0)
    tonic_n_units: Range = (1, 3)
    tonic_extent_ch: Range = (1, 3)
    tonic_rate_hz: Range = (6.0, 20.0)
    tonic_cv: Range = (0.1, 0.3)
    tonic_rate_wander: float = 0.1
    tonic_stagger: float = 0.2
    tonic_snr: Range = (1.5, 4.0)
    tonic_duration_ms: Range = (8.0, 15.0)
    tonic_spread: Range = (0.2, 0.5)
    tonic_muscles: tuple = ()
    # ECG
    ecg_uv: Range = 0.0
    heart_rate_bpm: Range = (55.0, 95.0)
    ecg_channel: bool = False
    ecg_snr: Range = 0.0
    ecg_n_channels: Range = 0
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
    glitch_rate_per_min: float = 0.0
    glitch_uv: Range = (20.0, 30.0)
    clip_uv: float | None = None
    # truth
    visibility_snr: float = 3.0
    edge_s: float = 0.5

    def __post_init__(self):
        for name in ("noise_uv", "fasc_amplitude_uv", "fasc_duration_ms", "fasc_rate_per_min",
                     "spasm_rms_uv", "voluntary_rms_uv", "ecg_uv", "line_uv", "ecg_snr",
                     "tonic_snr", "tonic_rate_hz", "glitch_uv", "burst_interval_ms",
                     "fasc_beside_window_s", "derecruit_tail_s"):
            lo, hi = _pair(getattr(self, name))
            if lo < 0 or hi < lo:
                raise ParameterError(f"{name} must be >= 0 and given as a number or (low, high), "
                                     f"got {getattr(self, name)!r}")
        lo, hi = _pair(self.fasc_duration_ms)
        if hi > 0 and (lo < 1 or hi > 60):
            raise ParameterError(f"fasc_duration_ms must lie in 1-60 ms, got {self.fasc_duration_ms!r}")
        if not 0 <= self.pink_fraction <= 1:
            raise ParameterError(f"pink_fraction must lie in [0, 1], got {self.pink_fraction}")
        if self.pair_muscles and len(self.pair_muscles) != 2:
            raise ParameterError(f"pair_muscles names two muscles, got {self.pair_muscles!r}")
        for name in ("doublet_prob", "burst_prob", "fasc_beside_activity_share", "pair_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ParameterError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.burst_prob > 0:
            if _pair(self.burst_size)[0] < 2:
                raise ParameterError(f"burst_size counts the first discharge too, so it must be "
                                     f">= 2, got {self.burst_size!r}")
            if _pair(self.burst_interval_ms)[0] < self.refractory_ms:
                raise ParameterError(f"burst_interval_ms {self.burst_interval_ms!r} must not be "
                                     f"shorter than refractory_ms ({self.refractory_ms:g})")
        if self.n_tonic > 0 and (_pair(self.tonic_rate_hz)[0] <= 0 or _pair(self.tonic_cv)[0] <= 0):
            raise ParameterError(f"tonic_rate_hz and tonic_cv must be positive, got "
                                 f"{self.tonic_rate_hz!r} and {self.tonic_cv!r}")
        if not 0 <= self.tonic_stagger < 0.5:
            raise ParameterError(f"tonic_stagger must lie in [0, 0.5), got {self.tonic_stagger}")
        if _pair(self.ecg_uv)[1] > 0 and _pair(self.ecg_snr)[1] > 0:
            raise ParameterError("give the ECG amplitude as ecg_uv or as ecg_snr, not both "
                                 f"(got ecg_uv={self.ecg_uv!r}, ecg_snr={self.ecg_snr!r})")
        if self.glitch_rate_per_min < 0:
            raise ParameterError(f"glitch_rate_per_min must be >= 0, got {self.glitch_rate_per_min}")
        if self.line_freq_hz not in (None, 50, 60, 50.0, 60.0):
            raise ParameterError(f"line_freq_hz must be 50, 60 or None, got {self.line_freq_hz}")
        if self.clip_uv is not None and self.clip_uv <= 0:
            raise ParameterError(f"clip_uv must be positive or None, got {self.clip_uv}")

    def replace(self, **changes) -> "ScenarioParams":
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_MIXED_NAMES = ("EMG TA_R", "EMG EHL_R", "EMG PL_R", "EMG GMED_R", "EMG GAS_R", "EMG SOL_R")
#: Proximal sites of a lumbar root study, where the heart reaches a channel or two.
_PROXIMAL_NAMES = ("EMG GMED_R", "EMG GMAX_R", "EMG BF_R", "EMG VL_R")

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
    # Conditions users meet (issue 11): none of them is annotated, as in real recordings.
    "tonic": ScenarioParams(
        name="tonic",
        description="rest fasciculations plus two unannotated tonic stretches (5-30 s) of 1-3 "
                    "regular units (6-20 Hz, CV 0.1-0.3, peak 1.5-4 noise sigma) on 1-3 channels",
        n_tonic=2),
    "tonic_single": ScenarioParams(
        name="tonic_single",
        description="60 s of rest fasciculations with one steady unit at 8 Hz (CV 0.1, peak 6 "
                    "noise sigma) for 24 s on one channel: it must give 0 fasciculations",
        duration_s=60.0, n_tonic=1, tonic_duration_s=24.0, tonic_n_units=1, tonic_extent_ch=1,
        tonic_rate_hz=8.0, tonic_cv=0.1, tonic_rate_wander=0.0, tonic_stagger=0.0, tonic_snr=6.0),
    "near_activity": ScenarioParams(
        name="near_activity",
        description="fasciculations right beside (within 0.3 s of) two spasms and two voluntary "
                    "contractions (10 % of each unit's discharges) and during a tonic stretch",
        n_spasms=2, n_voluntary=2, fasc_beside_activity_share=0.1, n_tonic=1),
    "derecruitment": ScenarioParams(
        name="derecruitment",
        description="two spasms and two voluntary contractions whose 1-3 lowest-threshold "
                    "units fade out over up to 0.5-2 s after each ends (7-10 Hz slowing to "
                    "4-6 Hz); extra fasciculations 0.5-3 s before or after each episode "
                    "(20 % of each unit's discharges)",
        n_spasms=2, n_voluntary=2, derecruit_tail_s=(0.5, 2.0),
        fasc_beside_activity_share=0.2, fasc_beside_window_s=(0.5, 3.0)),
    "doublets": ScenarioParams(
        name="doublets",
        description="fasciculating units that fire doublets: 40 % of discharges are followed "
                    "by a second discharge of the same unit 5-25 ms later",
        doublet_prob=0.4, doublet_interval_ms=(5.0, 25.0)),
    "bursty": ScenarioParams(
        name="bursty",
        description="fasciculating units firing in irregular clusters: 35 % of discharges start "
                    "a doublet to quintuplet with intervals of 20-200 ms",
        fasc_rate_per_min=(5.0, 30.0), burst_prob=0.35, burst_size=(2, 5),
        burst_interval_ms=(20.0, 200.0)),
    "ecg_partial": ScenarioParams(
        name="ecg_partial",
        description="20 min of rest fasciculations on 4 proximal channels, ECG on only 1-2 of them "
                    "at 5-10 in-band noise sigma (peak) and no ECG lead",
        duration_s=1200.0, n_channels=4, ch_names=_PROXIMAL_NAMES, n_fasc_units=4,
        ecg_snr=(5.0, 10.0), ecg_n_channels=(1, 2)),
    "ecg_threshold": ScenarioParams(
        name="ecg_threshold",
        description="15 min of rest fasciculations on 4 proximal channels, ECG on only 1-2 of "
                    "them at 3.5-5 in-band noise sigma (peak): only some beats cross the "
                    "5-sigma threshold; no ECG lead",
        duration_s=900.0, n_channels=4, ch_names=_PROXIMAL_NAMES, n_fasc_units=4,
        ecg_snr=(3.5, 5.0), ecg_n_channels=(1, 2)),
    "one_channel": ScenarioParams(
        name="one_channel",
        description="one channel (a single bipolar pair or a needle): rest fasciculations of "
                    "2-3 units, two unannotated tonic stretches and one annotated contraction "
                    "on that channel (the rest-vs-activity rules on one channel)",
        n_channels=1, n_fasc_units=(2, 3), n_tonic=2, n_voluntary=1),
    "glitches": ScenarioParams(
        name="glitches",
        description="Ganglion-like board (200 Hz, 4 ch) with single-sample spikes of 20-30 µV "
                    "(either polarity, 30/min) and some genuine fasciculations",
        sfreq=200.0, n_channels=4, noise_uv=(2.0, 4.0), pink_fraction=0.5, baseline_uv=100.0,
        n_fasc_units=(2, 3), fasc_amplitude_uv=(60.0, 300.0), glitch_rate_per_min=30.0,
        glitch_uv=(20.0, 30.0)),
    "board_125hz_16ch": ScenarioParams(
        name="board_125hz_16ch",
        description="Cyton+Daisy-like board: 125 Hz, 16 ch, DC offsets, mains hum, 1/f noise, "
                    "rest fasciculations",
        sfreq=125.0, n_channels=16, noise_uv=(4.0, 10.0), pink_fraction=0.6, baseline_uv=150.0,
        dc_offset_uv=20000.0, line_uv=(20.0, 100.0), n_fasc_units=(3, 6),
        fasc_amplitude_uv=(60.0, 300.0)),
    # Issue 12: discharges close together in time or space.
    "neighbour_muscles": ScenarioParams(
        name="neighbour_muscles",
        description="8 separate muscles; a TA unit (channel 1) and a VL unit (channel 8) "
                    "fire 4-15 ms apart for half of the TA unit's discharges, beside 1-2 "
                    "other units; crosstalk to adjacent muscles",
        n_fasc_units=(3, 4), pair_muscles=("TA", "VL"), pair_share=0.5,
        pair_interval_ms=(4.0, 15.0), fasc_rate_per_min=(20.0, 60.0)),
    "linear_array": ScenarioParams(
        name="linear_array",
        description="linear array of 8 bipolar electrodes along the fibres (layout 1x8): "
                    "footprints over 1.5-4 electrodes, propagation both ways from the "
                    "innervation zone at 3-5 m/s, end-of-fibre lobes, mild hum and drift",
        layout=(1, 8), n_fasc_units=(3, 5), fasc_spread=(1.5, 4.0),
        line_uv=(2.0, 6.0), baseline_uv=40.0),
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
