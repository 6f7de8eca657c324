"""Ground truth: a surface-EMG simulator with labelled fasciculations, spasms and artifacts.

No public surface-EMG data set labels fasciculations, so fascidetect makes its own truth.
:func:`simulate` builds a multichannel recording (volts) from independent, switchable
components and returns it with an event table (:data:`fascidetect.events.EVENT_DTYPE`)
listing every fasciculation discharge, spasm episode, voluntary contraction and artifact:

- fasciculating motor units: Hermite-Rodriguez MUAP shapes (random mixing of orders 1-3,
  polarity, slight asymmetry), 5-20 ms, 20-300 µV p2p, a spatial footprint over
  neighbouring channels (1-D for a linear montage, 2-D with propagation for an HD grid),
  irregular (gamma-renewal) firing at a few to 60/min with a refractory period and
  occasional doublets 30-35 ms apart; optionally clusters (doublets to quintuplets
  20-200 ms apart) and extra discharges right beside (within 0.3 s of) episodes;
- spasm episodes: 10-30 units recruited along a trapezoid envelope, firing at
  14.5 +/- 5.1 Hz with interval CV 0.3-0.45 (Minetto et al. 2009), RMS set per episode;
- voluntary contractions: units recruited by threshold (size principle) firing regularly
  at 8-35 Hz, marked "voluntary" in ``Recording.annotations`` as an experimenter would;
- tonic (postural) stretches: 1-3 units firing regularly (6-20 Hz, CV 0.1-0.3) near the
  noise floor on 1-3 channels, unannotated, truth ``voluntary`` (one row per stretch and
  one per discharge) while fasciculations go on around them;
- background: white + 1/f noise, baseline wander (< 1 Hz), DC offsets, power-line hum with
  harmonics and frequency drift, ECG (P-QRS-T with heart-rate variability, two dipole
  sources projected with per-channel gains, optionally on only a few channels and scaled
  in noise sigmas), motion transients (< 20 Hz), electrode pops (step + exponential decay
  on one channel), single-sample glitches of consumer boards and saturation at a rail.

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

Modules: :mod:`.scenarios` (parameters and named scenarios), ``_montage`` and
``_waveforms`` (electrodes, unit footprints, the renderer), ``_firing`` (discharge
trains, clusters, episode placement), ``_units`` (fasciculating units, spasms, voluntary
contractions), ``_tonic`` (tonic firing), ``_sources`` (ECG, hum, motion, pops,
glitches, saturation, noise, baseline), ``_truth`` (shared truth-row pieces),
``_simulate`` (:func:`simulate`, :func:`inject`) and :mod:`.writing` (files).
"""

from ._simulate import inject, simulate
from .scenarios import SCENARIOS, ScenarioParams, default_channel_names, get_scenario
from .writing import write_simulation

# Module constants of the single-file simulator, still importable from here.
from .scenarios import LEG_MUSCLES as LEG_MUSCLES  # noqa: I001
from .writing import TRUTH_PREFIX as TRUTH_PREFIX  # noqa: I001

__all__ = ["ScenarioParams", "SCENARIOS", "simulate", "inject", "write_simulation",
           "default_channel_names", "get_scenario"]
