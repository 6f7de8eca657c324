"""The one-channel sub-threshold heart-beat search (prototype, branch ecg28)."""

import numpy as np

from fascidetect.ecg_channel import channel_beats
from fascidetect.params import DetectionParams

FS = 2000.0


def _qrs(fs):
    t = np.arange(-0.05, 0.05, 1 / fs)
    return np.gradient(np.exp(-0.5 * (t / 0.008) ** 2)) * 40


def _channel(times, seed, amp):
    rng = np.random.default_rng(seed)
    n = int(300 * FS)
    x = rng.normal(0.0, 1.0, (2, n))
    w = _qrs(FS) * amp / np.max(np.abs(_qrs(FS)))
    for t in times:
        i = int(t * FS)
        x[1, i:i + w.size] += w
    return x, n


def _seeds(x, times, share):
    # The crossings: a share of the events, at their largest deflection.
    pick = times[:: int(round(1 / share))]
    return np.array([int(t * FS) + int(np.argmax(np.abs(x[1, int(t * FS):int(t * FS) + 200])))
                     for t in pick])


def test_a_heart_rhythm_under_the_threshold_is_found():
    rng = np.random.default_rng(1)
    times = 1.0 + np.cumsum(0.9 + 0.02 * rng.standard_normal(320))
    times = times[times < 298]
    x, n = _channel(times, 2, 4.0)
    beats = channel_beats(lambda lo, hi: x[:, lo:hi], 1, _seeds(x, times, 0.2), n, FS,
                          DetectionParams())
    assert beats.size >= 0.8 * times.size
    assert channel_beats(lambda lo, hi: x[:, lo:hi], 0, _seeds(x, times, 0.2), n, FS,
                         DetectionParams()).size == 0


def test_a_motor_unit_firing_at_random_is_no_heart():
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(1, 298, 300))  # Poisson discharges, 1 per second
    times = times[np.concatenate([[True], np.diff(times) > 0.12])]
    x, n = _channel(times, 4, 6.0)
    beats = channel_beats(lambda lo, hi: x[:, lo:hi], 1, _seeds(x, times, 0.2), n, FS,
                          DetectionParams())
    assert beats.size == 0
