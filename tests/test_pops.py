"""Electrode pops (a step at the event) against potentials on a drifting baseline."""

from __future__ import annotations

import numpy as np

from fascidetect import detect
from fascidetect.evaluation import match_times
from fascidetect.features import artifact_features, jump_at_event
from fascidetect.simulation import simulate

FS = 200.0


def _window(rng, slope_uv_per_ms=0.0, step_uv=0.0, tau_ms=100.0):
    """41 raw samples (200 ms at 200 Hz) of noise on a line, plus a small potential or a
    decaying step at the centre sample."""
    t_ms = (np.arange(41) - 20) * 1000.0 / FS
    x = rng.normal(0.0, 3.0, t_ms.size) + slope_uv_per_ms * t_ms
    if step_uv:
        x += np.where(t_ms >= 0, step_uv * np.exp(-np.maximum(t_ms, 0) / tau_ms), 0.0)
    else:
        x[19:22] += [12.0, -22.0, 6.0]  # a small biphasic potential, sampled at 200 Hz
    return x * 1e-6


def test_potential_on_a_steep_baseline_is_no_jump_but_a_pop_is():
    rng = np.random.default_rng(0)
    ramp = np.array([_window(rng, slope_uv_per_ms=1.2) for _ in range(20)])
    pops = np.array([_window(rng, step_uv=s, tau_ms=tau)
                     for s in (200.0, -500.0, 1500.0) for tau in (50.0, 150.0, 400.0)])
    # The end quarters' level difference takes the ramp for a step ...
    assert np.all(artifact_features(ramp, FS, 20.0)["step_ratio"] > 0.5)
    # ... the jump at the event, net of the slope, does not.
    assert np.all(jump_at_event(ramp, FS) < 0.35), jump_at_event(ramp, FS)
    assert np.all(jump_at_event(pops, FS) > 0.6), jump_at_event(pops, FS)


def test_jump_of_no_events_is_empty():
    assert jump_at_event(np.zeros((0, 41)), FS).shape == (0,)
    assert artifact_features(np.zeros((0, 41)), FS, 20.0)["jump_ratio"].shape == (0,)


def test_unit_on_a_drifting_200hz_channel_is_not_a_pop():
    # Tuning seed 9 of the 200-Hz glitch row: a 20-25 uV unit on a channel whose 1/f
    # baseline travels up to 200 uV in 200 ms. On main 25 of its discharges were
    # electrode pops (the row has none) and 18 of its >= 5-sigma discharges were lost.
    rec, truth = simulate(scenario="glitches", seed=9)
    ev = detect(rec).events
    assert np.count_nonzero(ev["artifact_kind"] == "pop") == 0
    tf = truth[(truth["trial_type"] == "fasciculation") & (truth["snr"] >= 5.0)]
    unit = tf[tf["unit"] == 2]
    fas = ev[ev["trial_type"] == "fasciculation"]
    _, found = match_times(fas["peak_time"], unit["peak_time"], 0.01)
    assert found.size >= 0.8 * unit.size, (found.size, unit.size)
