"""The local noise test: noise peaks under a floor that rose within its noise segment
(issue 11 B, :mod:`fascidetect.stages.local_noise`)."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import fascidetect
from fascidetect.blocks import Geometry
from fascidetect.params import DetectionParams
from fascidetect.stages.local_noise import below_local_noise, local_rise

FS = 2000.0
SEG_S = 20.0


def _drifting(seed: int, n_seg: int = 10, rise: float = 1.18, risen_s: float = 8.0):
    """Two channels of white noise whose floor steps to ``rise`` for the last
    ``risen_s`` of every 20-s noise segment (the threshold follows the quiet part)."""
    rng = np.random.default_rng(seed)
    n = int(n_seg * SEG_S * FS)
    gain = np.ones(n)
    t = np.arange(n) / FS
    gain[(t % SEG_S) >= SEG_S - risen_s] = rise
    return rng.standard_normal((2, n)) * gain * 5e-6, t


def _spike(x, t0: float, channel: int, peak_v: float):
    """Add a biphasic 6-ms potential at ``t0``."""
    i = int(t0 * FS)
    tt = (np.arange(-24, 25)) / FS
    wave = -tt / 1.5e-3 * np.exp(0.5 - 0.5 * (tt / 1.5e-3) ** 2)
    x[channel, i - 24:i + 25] += peak_v * wave


def _key(d):
    return set(zip(d.channel, d.peak_time.round(3)))


def _detect(x, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fascidetect.detect(x, sfreq=FS, ch_names=["a", "b"], **kw).to_dataframe()


def test_noise_peaks_under_a_risen_floor_are_dropped_and_discharges_kept():
    x, _ = _drifting(0)
    # A busy second on the flat part of segment 3: three large discharges and one at
    # 5-6 sigma; the background leaves the discharges out, so none is lost.
    for t0, size in [(50.1, 4e-5), (50.35, 4e-5), (50.6, 4e-5),
                                    (50.85, 1.85e-5)]:
        _spike(x, t0, 0, size)
    # Large discharges in the risen parts stay.
    for t0 in (75.5, 135.5, 195.5):
        _spike(x, t0, 1, 4e-5)
    off = _detect(x, local_noise_z=0.0)
    on = _detect(x)
    fasc_off = off[off.trial_type == "fasciculation"]
    fasc_on = on[on.trial_type == "fasciculation"]
    assert _key(fasc_on) <= _key(fasc_off)
    gone = fasc_off[~fasc_off.set_index(["channel", fasc_off.peak_time.round(3)]).index
                    .isin(list(_key(fasc_on)))]
    # Some noise peaks went, all of them in the risen parts and under 5 local sigmas.
    assert len(gone) >= 2
    assert ((gone.peak_time % SEG_S) >= SEG_S - 8.0 - 0.5).all()
    assert (gone.snr < 5.0 * 1.18 * 1.05).all()
    for t0, ch in [(50.1, "a"), (50.35, "a"), (50.6, "a"), (50.85, "a"), (75.5, "b"),
                   (135.5, "b"), (195.5, "b")]:
        near = fasc_on[(fasc_on.channel == ch) & ((fasc_on.peak_time - t0).abs() < 0.01)]
        assert len(near) == 1, (t0, ch)
    small = fasc_on[(fasc_on.channel == "a") & ((fasc_on.peak_time - 50.85).abs() < 0.01)]
    assert 5.0 <= float(small.snr.iloc[0]) < 6.5


def _ctx(ratio, block_sigma, params=None):
    params = params or DetectionParams()
    g = Geometry.build(FS, params, 1)
    return SimpleNamespace(params=params, geometry=g, sigma=np.array([1.0]),
                           scan=SimpleNamespace(rest_ratio=ratio, block_sigma=block_sigma))


def test_rise_is_measured_against_the_segments_own_background():
    ctx = _ctx(np.array([[1.3] * 14 + [1.6] * 6]), np.array([[1.0]]))
    # A background that reads 1.3x the floor all along (heavy tails: RMS over median) is
    # no rise; the last windows' 1.6 are.
    np.testing.assert_allclose(local_rise(ctx)[0], [1.0] * 14 + [1.6 / 1.3] * 6)
    # The segment's threshold sigma bounds the reference from below.
    ctx = _ctx(np.array([[1.0] * 20]), np.array([[1.2]]))
    np.testing.assert_allclose(local_rise(ctx)[0], 1.0 / 1.2)


# Candidates: below the spread; under 5 local sigmas; over them; a template match; seen
# on a second channel as well (a discharge whose main channel is the noisier one).
@pytest.mark.parametrize("z,dropped", [(1.0, [False, True, False, False, False]),
                                       (0.0, [False, False, False, False, False])])
def test_stage_judges_threshold_candidates_where_the_rise_is_beyond_its_spread(z, dropped):
    params = DetectionParams(local_noise_z=z)
    g = Geometry.build(FS, params, 1)
    ctx = SimpleNamespace(params=params, geometry=g, sfreq=FS,
                          local_noise_rise=np.array([[1.01, 1.2]], dtype=np.float32))
    w = g.rest_win
    cands = SimpleNamespace(sample=np.array([10, w + 10, w + 20, w + 30, w + 40]),
                            channel=np.zeros(5, int), snr=np.array([5.02, 5.5, 6.5, 5.5, 5.5]),
                            match_score=np.array([np.nan, np.nan, np.nan, 0.9, np.nan]),
                            channels=np.array([[1, 0], [1, 0], [1, 0], [1, 0], [1, 1]],
                                              dtype=bool))
    labels, reasons = below_local_noise(_Len(cands), ctx)
    assert (labels == "excluded").tolist() == dropped
    assert set(reasons[labels == "excluded"]) <= {"below_local_noise"}


class _Len:
    def __init__(self, ns):
        self.__dict__.update(vars(ns))

    def __len__(self):
        return self.sample.size
