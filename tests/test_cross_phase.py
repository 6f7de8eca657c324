"""200-250 Hz: one potential's two lobes, ranked differently on two channels, are one
discharge (``cross_phase_min_period_ms``); doublets stay two."""

import warnings

import numpy as np
import pytest

import fascidetect
from fascidetect import detection

FS = 200.0
NAMES = ["EMG1", "EMG2", "EMG3", "EMG4"]


def _hr(t, lam, order):
    u = t / lam
    y = u * np.exp(-u ** 2) if order == 1 else (1 - 2 * u ** 2) * np.exp(-u ** 2)
    return y / np.abs(y).max()


_T = np.arange(-10, 11) / FS
# One biphasic potential on two channels; a touch of a triphasic component of opposite
# sign makes channel 1's first (negative) lobe and channel 2's second (positive) lobe
# the larger: after the 20-90 Hz band they peak 2 samples (10 ms) apart.
_WA = _hr(_T, 0.003, 1) + 0.15 * _hr(_T, 0.003, 2)
_WB = _hr(_T, 0.003, 1) - 0.15 * _hr(_T, 0.003, 2)


def _recording(seed, doublet_ms=None, duration_s=60.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3e-6, (4, int(duration_s * FS)))
    starts = 2 + np.cumsum(rng.uniform(1.5, 3.5, 30))
    truth = []
    for k, s in enumerate(starts[starts < duration_s - 2]):
        for d in ((0.0, doublet_ms / 1000.0) if doublet_ms and k % 2 else (0.0,)):
            i = int(round((s + d) * FS))
            x[0, i - 10:i + 11] += 60e-6 * _WA
            x[1, i - 10:i + 11] += 50e-6 * _WB
            truth.append(s + d)
    return x, np.array(truth)


def _fasciculation_times(x, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fascidetect.detect(x, sfreq=FS, ch_names=NAMES, **kw)
    ev = res.events
    return np.sort(ev["peak_time"][ev["trial_type"] == "fasciculation"].astype(float))


def test_two_channels_opposite_lobes_merge_only_when_both_carry_both():
    # Channel 0 peaks negative at 100, channel 1 positive at 102; each holds the other's
    # polarity at the other's peak (0.9 and 0.8 of its own): one potential.
    sig = np.zeros((2, 200))
    sig[0, 100], sig[0, 102] = -10.0, 9.0
    sig[1, 100], sig[1, 102] = -8.0, 10.0
    ch, idx, amp = np.array([0, 1]), np.array([100, 102]), np.array([-10.0, 10.0])
    kw = dict(signal=sig, cross_phase_fraction=0.6)
    assert detection.merge_across_channels(ch, idx, amp, 1, 3, **kw)[2].size == 2  # off
    assert detection.merge_across_channels(ch, idx, amp, 1, 3, cross_phase_samples=2,
                                           **kw)[2].size == 1
    # Beyond the window: two discharges.
    assert detection.merge_across_channels(ch, np.array([100, 103]), amp, 1, 3,
                                           cross_phase_samples=2, **kw)[2].size == 2
    # Channel 1 without the first lobe (another unit on its own channel): two.
    sig2 = sig.copy()
    sig2[1, 100] = -2.0
    assert detection.merge_across_channels(ch, idx, amp, 1, 3, cross_phase_samples=2,
                                           signal=sig2)[2].size == 2
    # Same polarity (a doublet's two discharges seen on two channels): two.
    sig3 = np.abs(sig) * -1
    assert detection.merge_across_channels(ch, idx, -np.abs(amp), 1, 3, cross_phase_samples=2,
                                           signal=sig3)[2].size == 2


def test_a_run_of_lobes_never_chains_into_one():
    # Two potentials 20 ms apart, each seen as two lobes on two channels (A-, B+, A-, B+,
    # 2 samples apart): a group joins one neighbour only, so two discharges or more stay.
    sig = np.zeros((2, 200))
    sig[0, [100, 102, 104, 106]] = [-10.0, 9.0, -10.0, 8.0]
    sig[1, [100, 102, 104, 106]] = [-8.5, 10.0, -8.0, 10.0]
    ch, idx = np.array([0, 1, 0, 1]), np.array([100, 102, 104, 106])
    amp = sig[ch, idx]
    _, _, main = detection.merge_across_channels(ch, idx, amp, 1, 3, signal=sig,
                                                 cross_phase_samples=2)
    assert main.size == 2


@pytest.mark.parametrize("seed", [0, 1])
def test_one_potential_on_two_channels_is_one_fasciculation_at_200_hz(seed):
    x, truth = _recording(seed)
    now = _fasciculation_times(x)
    assert now.size == truth.size
    assert np.all(np.abs(now[:, None] - truth[None, :]).min(axis=1) <= 0.010)
    # Without the join, most potentials count twice.
    assert _fasciculation_times(x, cross_phase_min_period_ms=0.0).size > 1.5 * truth.size


@pytest.mark.parametrize("gap_ms", [15, 25])
def test_doublets_stay_two_discharges_at_200_hz(gap_ms):
    x, truth = _recording(0, doublet_ms=gap_ms)
    now = _fasciculation_times(x)
    found = np.abs(truth[:, None] - now[None, :]).min(axis=1) <= 0.010
    assert found.all()
    assert now.size == truth.size
