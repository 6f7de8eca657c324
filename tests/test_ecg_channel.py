"""The one-channel heart-beat search under the threshold (:mod:`fascidetect.ecg_channel`)."""

import numpy as np

from fascidetect.ecg_channel import beat_width_s, channel_beats
from fascidetect.params import DetectionParams

FS = 2000.0


def _qrs(fs, sd_s=0.015):
    # A biphasic complex about 70 ms wide at 30 % of its peak (band-passed QRS: 65-90 ms).
    t = np.arange(-0.1, 0.1, 1 / fs)
    return np.gradient(np.exp(-0.5 * (t / sd_s) ** 2))


def _muap(fs):
    # A triphasic motor unit potential about 8 ms long.
    t = np.arange(-0.01, 0.01, 1 / fs)
    return -np.gradient(np.gradient(np.exp(-0.5 * (t / 0.0012) ** 2)))


def _channel(times, seed, amp, wave):
    rng = np.random.default_rng(seed)
    n = int(300 * FS)
    x = rng.normal(0.0, 1.0, (2, n))
    w = wave * amp / np.max(np.abs(wave))
    for t in times:
        i = int(t * FS)
        x[1, i:i + w.size] += w[:n - i]
    return x, n


def _seeds(x, times, share, width):
    # The crossings: a share of the events, at their largest deflection.
    pick = times[:: int(round(1 / share))]
    return np.array([int(t * FS) + int(np.argmax(np.abs(x[1, int(t * FS):int(t * FS) + width])))
                     for t in pick])


def _beats(x, n, channel, seeds):
    return channel_beats(lambda lo, hi: x[:, lo:hi], channel, seeds, n, FS, DetectionParams())


def test_a_heart_rhythm_under_the_threshold_is_found():
    rng = np.random.default_rng(1)
    times = 1.0 + np.cumsum(0.9 + 0.02 * rng.standard_normal(320))
    times = times[times < 298]
    x, n = _channel(times, 2, 4.0, _qrs(FS))
    seeds = _seeds(x, times, 0.2, 400)
    assert _beats(x, n, 1, seeds).size >= 0.9 * times.size
    assert _beats(x, n, 0, seeds).size == 0  # the same times on a channel of noise


def test_beat_like_discharges_without_a_rhythm_are_no_heart():
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(1, 298, 300))  # Poisson discharges, 1 per second
    times = times[np.concatenate([[True], np.diff(times) > 0.12])]
    x, n = _channel(times, 4, 6.0, _qrs(FS))
    assert _beats(x, n, 1, _seeds(x, times, 0.2, 400)).size == 0


def test_a_steady_motor_unit_at_a_heart_rate_is_no_heart():
    # A unit firing steadily (CV 0.07) at 0.7-2.5 Hz for 5 min, at and over the
    # threshold: a rhythm, but of potentials a few ms wide, not QRS complexes.
    for rate, amp, seed in ((0.7, 4.5, 5), (1.2, 6.0, 6), (2.5, 10.0, 7)):
        rng = np.random.default_rng(seed)
        times = 1.0 + np.cumsum(rng.normal(1 / rate, 0.07 / rate, int(300 * rate)))
        times = times[times < 298]
        x, n = _channel(times, seed, amp, _muap(FS))
        beats = _beats(x, n, 1, _seeds(x, times, 0.3, 40))
        assert beats.size == 0, (rate, amp, beats.size)


def test_beat_width_tells_a_qrs_from_a_motor_unit_potential():
    assert beat_width_s(_qrs(FS), FS) > 0.06
    assert beat_width_s(_muap(FS), FS) < 0.01


def test_detect_subtracts_a_heartbeat_at_the_threshold_on_one_channel():
    # Simulated QRS at 3.7 noise sigma on one of 4 channels (scenario ecg_threshold): the
    # crossings are too sparse for the ordinary model; the search finds the rhythm.
    import fascidetect
    from fascidetect.evaluation import evaluate
    from fascidetect.simulation import simulate

    rec, truth = simulate(scenario="ecg_threshold", seed=3, duration_s=180)
    off = fascidetect.detect(rec, ecg_channel_search=False)
    on = fascidetect.detect(rec)
    assert not any("ECG found" in w for w in off.warnings)
    assert any("ECG found" in w for w in on.warnings)
    before, after = evaluate(off.events, truth), evaluate(on.events, truth)
    assert before.fp >= 50 and after.fp <= before.fp / 4
    assert after.tp >= before.tp
