"""The ECG subtraction model (:mod:`fascidetect.ecg`) on heart beats as real ones come:
a QRS whose band-passed lobes are about the same size, an amplitude and an electrical
axis that follow breathing, a rate that drifts, on a few channels of many."""

import numpy as np

import fascidetect

FS = 2000.0


def _gauss(t, mu, sd):
    return np.exp(-0.5 * ((t - mu) / sd) ** 2)


def _beat(t, axis):
    # P-QRS-T from Gaussians; ``axis`` mixes in a second projection of the heart's dipole.
    first = (0.1 * _gauss(t, -0.18, 0.025) - 0.15 * _gauss(t, -0.02, 0.007)
             + _gauss(t, 0.0, 0.011) - 0.3 * _gauss(t, 0.024, 0.009) + 0.25 * _gauss(t, 0.25, 0.05))
    second = 0.4 * _gauss(t, -0.015, 0.008) - 0.7 * _gauss(t, 0.006, 0.01) + 0.4 * _gauss(t, 0.03, 0.01)
    return first + axis * second


def _recording(n_channels, heart, qrs_uv, seed, duration_s=240.0, n_fasc=50):
    """Noise (3 uV) on ``n_channels``, heart beats on the channels ``heart`` (raw QRS
    amplitude ``qrs_uv`` each), fasciculations (120 uV triphasic) on a heart channel and
    on another."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    x = 3e-6 * rng.standard_normal((n_channels, n))
    resp_hz, phase = 0.25, rng.uniform(0, 2 * np.pi)
    beats, t = [], rng.uniform(0.3, 1.0)
    while t < duration_s - 0.6:
        beats.append(t)
        rate = 62 + 20 * t / duration_s          # drifts from 62 to 82 per minute
        t += 60 / rate * (1 + 0.03 * rng.standard_normal()
                          + 0.05 * np.sin(2 * np.pi * resp_hz * t + phase))
    w = np.arange(-0.4, 0.5, 1 / FS)
    for b in beats:
        resp = np.sin(2 * np.pi * resp_hz * b + phase)
        i = int(round((b - 0.4) * FS))
        for c, amp in zip(heart, qrs_uv):
            wave = amp * 1e-6 * (1 + 0.2 * resp) * _beat(w, 0.3 * resp)
            x[c, i:i + w.size] += wave[:n - i]
    tv = np.arange(-0.006, 0.006, 1 / FS) / 0.002
    muap = (4 * tv ** 2 - 2) * np.exp(-tv ** 2)
    muap *= 120e-6 / np.ptp(muap)
    times = np.sort(rng.uniform(1, duration_s - 1, n_fasc))
    times = times[np.concatenate([[True], np.diff(times) > 0.05])]
    for k, t0 in enumerate(times):
        i = int(round(t0 * FS)) - muap.size // 2
        x[heart[0] if k % 2 else (heart[0] + 1) % n_channels, i:i + muap.size] += muap
    return x, np.array(beats), times


def _score(res, times):
    found = np.array([np.any(np.abs(res.fasciculations["peak_time"] - t) <= 0.01)
                      for t in times])
    false = sum(not np.any(np.abs(times - p) <= 0.01) for p in res.fasciculations["peak_time"])
    return found.mean(), false


def test_a_small_heartbeat_on_one_channel_of_twelve_is_subtracted_at_every_beat():
    # A QRS of 6 noise sigmas band-passed on one channel of twelve: a beat's correlation
    # with the average beat must be judged on the channel the heart reaches (counting the
    # eleven channels of noise, a beat in three was missed and crossed the threshold).
    x, beats, times = _recording(12, [7], [45.0], seed=1)
    res = fascidetect.detect(x, sfreq=FS)
    assert any("ECG found" in w for w in res.warnings)
    found, false = _score(res, times)
    assert found >= 0.95
    assert false <= 3, false


def test_breathing_modulated_heartbeats_on_two_of_four_channels_leave_no_fasciculations():
    # Amplitude +/-20 % and axis with breathing, a drifting rate: the per-beat fit takes
    # the amplitude, and an average beat anchored on one lobe takes the rest; the
    # fasciculations on the beats are kept (subtracted, not blanked).
    x, beats, times = _recording(4, [1, 2], [60.0, -40.0], seed=2)
    res = fascidetect.detect(x, sfreq=FS)
    found, false = _score(res, times)
    assert found >= 0.95
    assert false <= 2, false


def _independent_simulator():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "independent_sim.py"
    spec = importlib.util.spec_from_file_location("independent_sim", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_qrs_with_lobes_of_one_size_leaves_no_remnants():
    # Independent simulator, exploration seed 1027 (ECG at 8.7 sigma on EMG02 of 4,
    # 1 kHz): the band-passed QRS has three lobes of about the same size, so the beats'
    # first anchors fell on different lobes and their median was a smeared beat; the
    # subtraction left a lobe of most beats (110 false fasciculations in 390 s, 2-6 sigma,
    # found by the matching pass). Re-anchored until no beat moves, the average beat
    # takes the whole QRS.
    sim = _independent_simulator()
    data, fs, truth, info = sim.simulate(1027, "ecg")
    assert info["ecg_sigma"] == {"EMG02": 8.7}
    res = fascidetect.detect(sim.to_raw(data, fs, truth))
    beats = np.array([t0 + 0.05 for kind, t0, _, _ in truth.artifacts if kind == "ecg"])
    fasc = res.fasciculations
    on_heart = fasc["channel"] == "EMG02"
    near = np.array([np.min(np.abs(beats - t)) <= 0.04 for t in fasc["peak_time"]], bool)
    assert int((on_heart & near).sum()) <= 3
