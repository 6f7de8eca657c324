"""Footprint: on a declared grid a noise crossing of one electrode is not a discharge; a
potential that reaches the neighbouring electrodes is."""

from __future__ import annotations

import warnings

import numpy as np

import fascidetect
from fascidetect.footprint import noise_autocorrelation, support_p
from fascidetect.simulation import simulate

_KERNEL = np.hanning(9)  # band-limits the test noise (correlated over a few samples)


def _noise(rng, shape):
    x = np.apply_along_axis(np.convolve, -1, rng.normal(size=shape), _KERNEL, "same")
    return x / 1.9  # about unit sigma


def _snippets(rng, n_events, n_ch, n_s, gains):
    """Band-limited noise snippets with a biphasic potential at the centre."""
    x = _noise(rng, (n_events, n_ch, n_s))
    wave = np.diff(np.hanning(12)) * 12
    c = n_s // 2
    x[:, :, c - 5:c + 6] += 5.0 * np.asarray(gains)[None, :, None] * wave[None, None, :]
    return x


def test_noise_neighbours_give_uniform_p_and_a_footprint_gives_small_p():
    rng = np.random.default_rng(3)
    adj = np.ones((9, 9), dtype=bool)
    long = _noise(rng, (4, 40_000))
    sigma = long.std(axis=1).mean()
    acf = noise_autocorrelation(long, np.full(4, sigma), 11)
    assert acf[0] == 1.0 and acf[1] > 0.5  # correlated over a few samples
    noise = _snippets(rng, 400, 9, 61, [1.0] + [0.0] * 8)
    sig = np.full((400, 9), sigma)
    p_noise = support_p(noise, np.zeros(400, int), adj, sig, acf)
    # With the noise's correlation allowed for, p is about uniform under noise (a
    # white-noise null gave p ~ 1e-6 to pure band-passed noise).
    assert 0.3 < np.median(p_noise) < 0.7
    assert np.mean(p_noise < 0.01) < 0.03
    white = support_p(noise, np.zeros(400, int), adj, sig, np.eye(1, 11).ravel())
    assert np.median(white) < 0.1
    unit = _snippets(rng, 200, 9, 61, [1.0] + [0.35] * 4 + [0.15] * 4)
    p_unit = support_p(unit, np.zeros(200, int), adj, np.full((200, 9), sigma), acf)
    assert np.mean(p_unit < 0.01) > 0.95


def test_real_hd_potentials_are_not_judged_noise(shared_data):
    # The 64-channel ramp contraction on its OTB 13x5 grid: potentials during the
    # contraction reach the neighbouring electrodes (a null from the snippet's own lags
    # judged 40 of them unsupported); the one fasciculation stays.
    import scipy.io

    from fascidetect import pipeline

    mat = scipy.io.loadmat(shared_data / "openhdemg-otb-sample" / "otb_testfile.mat")
    emg = np.asarray(mat["Data"][0, 0][:, :64], dtype=float).T
    seen = {}
    original = pipeline.run_stages

    def spy(cands, ctx, stages):
        seen["c"] = original(cands, ctx, stages)
        return seen["c"]

    pipeline.run_stages = spy
    try:
        res = fascidetect.detect(emg, sfreq=2048.0, units="uV", layout="GR08MM1305")
    finally:
        pipeline.run_stages = original
    assert res.params.layout == "GR08MM1305"
    assert (seen["c"].reason == "no_footprint").sum() <= 2
    assert len(res.fasciculations) <= 2


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


def test_flat_neighbours_are_left_out_not_divided_by():
    # A flat or dead neighbour has sigma 0: its 0 / 0 term made the p-value NaN, and a
    # NaN p never exceeds the limit, so every candidate beside it was kept untested.
    rng = np.random.default_rng(4)
    snips = _snippets(rng, 50, 4, 61, [1.0, 0.0, 0.0, 0.0])
    snips[:, 3] = 0.0  # the dead neighbour
    acf = np.eye(1, 11).ravel()
    sig = np.ones((50, 4))
    sig[:, 3] = 0.0
    adj = np.ones((4, 4), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = support_p(snips, np.zeros(50, int), adj, sig, acf)
    assert np.isfinite(p).all()
    # The same as if the dead channel were not a neighbour at all.
    adj3 = adj.copy()
    adj3[:, 3] = False
    np.testing.assert_array_equal(p, support_p(snips, np.zeros(50, int), adj3, sig, acf))
    # No usable neighbour: no test (NaN), and the stage does not judge it.
    sig[:, 1:] = 0.0
    assert np.isnan(support_p(snips, np.zeros(50, int), adj, sig, acf)).all()


def test_stage_does_not_exclude_untested_candidates():
    from types import SimpleNamespace

    from fascidetect.params import DetectionParams
    from fascidetect.stages.footprint import no_footprint

    cands = _Rows({"footprint_p": np.array([np.nan, 0.5, 0.001])}, snr=np.full(3, 5.5),
                  match_score=np.full(3, np.nan))
    _, reasons = no_footprint(cands, SimpleNamespace(params=DetectionParams()))
    assert reasons.tolist() == ["", "no_footprint", ""]


class _Rows:
    """The columns the footprint stage reads, with a length."""

    def __init__(self, features, snr, match_score):
        self.features, self.snr, self.match_score = features, snr, match_score

    def __len__(self):
        return self.snr.size


def test_grid_with_a_dead_and_a_railed_channel():
    # An 8x8 grid with one electrode dead (zero) and one railed (constant): no
    # RuntimeWarning, and the candidates beside them are still judged on their other
    # neighbours (95 of 152 candidates had a NaN p-value and were kept untested).
    from fascidetect import pipeline

    rec, _ = simulate(scenario="grid64", seed=6)
    data = np.array(rec.get_data(), dtype=float)
    data[10] = 0.0
    data[20] = 5e-3
    seen = {}
    original = pipeline.run_stages

    def spy(cands, ctx, stages):
        out = original(cands, ctx, stages)
        seen["p"] = out.features["footprint_p"].copy()
        seen["reason"] = out.reason.copy()
        return out

    pipeline.run_stages = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            res = fascidetect.detect(data, sfreq=rec.sfreq, layout=(8, 8))
    finally:
        pipeline.run_stages = original
    assert np.isfinite(seen["p"]).all()
    assert (seen["reason"] == "no_footprint").sum() >= 3
    assert {c["name"] for c in res.channels if c["status"] == "flat"} == {"EMG11", "EMG21"}


def test_footprint_p_does_not_depend_on_the_block_length(monkeypatch):
    # The noise autocorrelation came from each block's first samples: a candidate 20-40 s
    # in had p 0.317 in 20-s blocks and 0.348 in 60-s blocks. Now from its own segment.
    from fascidetect import blocks, pipeline

    monkeypatch.setattr(blocks, "BLOCK_VALUES", 64 * 130_000)  # 60-s blocks of 64 channels
    rec, _ = simulate(scenario="grid64", seed=6)
    seen = []
    original = pipeline.run_stages

    def spy(cands, ctx, stages):
        seen.append((ctx.geometry.block, cands.sample.copy(),
                     cands.features["footprint_p"].copy()))
        return original(cands, ctx, stages)

    monkeypatch.setattr(pipeline, "run_stages", spy)
    for chunk_s in (20.0, 60.0):
        fascidetect.detect(rec, chunk_s=chunk_s, layout=(8, 8))
    (block_a, s_a, p_a), (block_b, s_b, p_b) = seen
    assert block_a < block_b
    np.testing.assert_array_equal(s_a, s_b)
    later = s_a >= block_a  # candidates past the first short block
    assert (later & (p_a > 1e-3)).sum() >= 1
    # To float32 precision: the FFT band-pass rounds differently with the block length.
    np.testing.assert_allclose(p_a, p_b, rtol=1e-4, atol=1e-12)


def test_neighbours_with_repaired_samples_are_left_out():
    # A neighbour whose samples were NaN (repaired with its median, so about 0 once
    # band-passed) still counted with its noise sigma: each added a degree of freedom and
    # nothing to the sum, so a potential seen on its one live neighbour was judged noise.
    from fascidetect.blocks import Geometry
    from fascidetect.params import DetectionParams
    from fascidetect.scan import _footprint_p

    rng = np.random.default_rng(5)
    fs, n_ch, n = 2048.0, 10, 8192
    g = Geometry.build(fs, DetectionParams(), n_ch)
    core = _noise(rng, (n_ch, n))
    sample = np.array([4096])
    snips = _snippets(rng, 1, n_ch, 61, [1.0, 0.15] + [0.0] * 8)
    snips[:, 2:] = 0.0  # the repaired neighbours: flat where the samples were lost
    core[2:, 3000:5000] = 0.0
    missing = np.zeros((n_ch, n), dtype=bool)
    missing[2:, 3000:5000] = True
    cands = _Table(sample=sample, channel=np.zeros(1, int))
    local = np.full((n_ch, 1), core[0].std())
    adj = np.ones((n_ch, n_ch), dtype=bool)
    args = (core, snips, cands, 0, local, np.ones(n_ch), adj, g, fs)
    p = _footprint_p(*args, missing=missing, lo=0)
    # The same as with the one live neighbour alone.
    alone = adj.copy()
    alone[:, 2:] = False
    p_alone = _footprint_p(core, snips, cands, 0, local, np.ones(n_ch), alone, g, fs)
    np.testing.assert_allclose(p, p_alone)
    assert p[0] < 0.01 < _footprint_p(*args)[0]


class _Table:
    """The candidate columns ``_footprint_p`` reads, with a length."""

    def __init__(self, sample, channel):
        self.sample, self.channel = sample, channel

    def __len__(self):
        return self.sample.size
