"""Single-sample glitches (fascidetect.glitches): a lone sample is an artifact, a
sampled motor-unit potential is not."""

from __future__ import annotations

import numpy as np

from fascidetect import detect
from fascidetect.evaluation import evaluate, match_times
from fascidetect.glitches import lone_samples, spike_features
from fascidetect.params import DetectionParams
from fascidetect.simulation import simulate

FS = 200.0


def _snippets():
    rng = np.random.default_rng(3)
    n = 41
    base = rng.normal(0.0, 2e-6, (2, n)) + 50e-6  # noise and a DC offset
    base[0, 20] += 25e-6                          # a lone sample
    # A biphasic potential after the board's decimation filter: spread over its neighbours.
    base[1, 18:23] += np.array([-8.0, -30.0, 60.0, -20.0, -4.0]) * 1e-6
    return base


def test_lone_sample_and_potential_features_differ():
    f = spike_features(_snippets(), FS)
    assert f["spike_neighbour_ratio"][0] < 0.25
    assert f["spike_neighbour_ratio"][1] > 0.4
    assert f["spike_area"][0] > 0.7 and abs(f["spike_area"][1]) < 0.3
    assert np.sign(f["spike_amplitude"]).tolist() == [1.0, 1.0]


def test_lone_samples_flags_the_glitch_only():
    f = spike_features(_snippets(), FS)
    assert lone_samples(f, np.array([0, 0]), DetectionParams()).tolist() == [True, False]


def test_lone_sample_matching_a_unit_on_its_channel_is_kept():
    # Two potentials of a unit (same channel, polarity and size) with real waveforms
    # vouch for a third that happened to be sampled narrow.
    f = {"spike_neighbour_ratio": np.array([0.1, 0.6, 0.55, 0.1]),
         "spike_noise_ratio": np.full(4, 0.05), "spike_area": np.array([0.9, 0.1, 0.0, 0.9]),
         "spike_amplitude": np.array([30e-6, 31e-6, 29e-6, -30e-6])}
    mask = lone_samples(f, np.zeros(4, int), DetectionParams())
    assert mask.tolist() == [False, False, False, True]  # opposite polarity: no unit


def test_simulated_board_glitches_are_artifacts_not_fasciculations():
    # Ganglion-like board at 200 Hz with 30 single-sample glitches a minute: before the
    # glitch test nearly every one was a fasciculation (seed 11: 24.6 false a minute,
    # now 11.3; seeds 200-202: 34 -> 9).
    rec, truth = simulate(scenario="glitches", seed=11)
    ev = detect(rec).events
    glitch_t = truth["peak_time"][truth["artifact_kind"] == "glitch"]
    fas = ev[ev["trial_type"] == "fasciculation"]
    as_fasc, _ = match_times(fas["peak_time"], glitch_t, 0.01)
    art = ev[ev["artifact_kind"] == "glitch"]
    as_glitch, _ = match_times(art["peak_time"], glitch_t, 0.01)
    assert as_fasc.size <= 0.6 * glitch_t.size, (as_fasc.size, glitch_t.size)
    assert as_glitch.size >= 0.4 * glitch_t.size, (as_glitch.size, glitch_t.size)
    report = evaluate(ev, truth)
    assert report.precision >= 0.88, report
