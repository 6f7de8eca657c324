"""Footprint: on a declared grid a noise crossing of one electrode is not a discharge; a
potential that reaches the neighbouring electrodes is."""

from __future__ import annotations

import numpy as np

import fascidetect
from fascidetect.footprint import support_p
from fascidetect.simulation import simulate


def _snippets(rng, n_events, n_ch, n_s, gains):
    """Band-limited noise snippets with a 10-sample biphasic potential at the centre."""
    kernel = np.hanning(9)
    x = np.stack([np.apply_along_axis(np.convolve, 1, rng.normal(size=(n_ch, n_s)),
                                      kernel, "same") for _ in range(n_events)])
    x /= x.std()
    wave = np.diff(np.hanning(12)) * 12
    c = n_s // 2
    x[:, :, c - 5:c + 6] += 5.0 * np.asarray(gains)[None, :, None] * wave[None, None, :]
    return x


def test_noise_neighbours_give_uniform_p_and_a_footprint_gives_small_p():
    rng = np.random.default_rng(3)
    adj = np.ones((9, 9), dtype=bool)
    noise = _snippets(rng, 400, 9, 61, [1.0] + [0.0] * 8)
    p_noise = support_p(noise, np.zeros(400, int), adj, 1000.0)
    # Correlated (band-limited) noise: the null is taken from the snippet's own lags, so
    # p stays about uniform instead of collapsing (a white-noise null gave p ~ 1e-6).
    assert 0.2 < np.median(p_noise) < 0.8
    assert np.mean(p_noise < 0.01) < 0.05
    unit = _snippets(rng, 200, 9, 61, [1.0] + [0.35] * 4 + [0.15] * 4)
    p_unit = support_p(unit, np.zeros(200, int), adj, 1000.0)
    assert np.mean(p_unit < 0.01) > 0.95


def test_grid_noise_crossings_are_dropped_and_potentials_kept():
    # Tuning seed 6 of the declared 8x8 grid: 5 of its 8 false fasciculations are
    # 5.0-5.3-sigma crossings on one electrode.
    rec, truth = simulate(scenario="grid64", seed=6)
    on = fascidetect.detect(rec, layout=(8, 8)).events
    off = fascidetect.detect(rec, layout=(8, 8), footprint_p_value=0).events
    f_on = on[on["trial_type"] == "fasciculation"]
    f_off = off[off["trial_type"] == "fasciculation"]
    dropped = np.setdiff1d(np.round(f_off["peak_time"], 4), np.round(f_on["peak_time"], 4))
    true = np.sort(truth[truth["trial_type"] == "fasciculation"]["peak_time"])
    near_true = np.array([np.min(np.abs(true - t)) < 0.010 for t in dropped], dtype=bool)
    assert dropped.size >= 1
    assert not near_true.any()  # no true discharge among the dropped
    assert np.all(f_off["snr"][np.isin(np.round(f_off["peak_time"], 4), dropped)] < 8.0)
