"""Non-neural signal sources: ECG, power-line hum, motion, electrode pops, saturation,
background noise and baseline wander."""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as _sig

from ..events import empty_events
from ..spans import prefix_counts, run_bounds
from ._ranges import _draw, _draw_int, _pair
from ._truth import _join, _reference_noise, _visible

#: The detector's band (docs/domain.md): visibility and noise sigmas refer to it.
_BAND_HP_HZ, _BAND_LP_HZ, _BAND_LP_NYQUIST_SHARE = 20.0, 450.0, 0.45
#: Half length of the single beat whose band-passed peak sets ECG gains in noise sigmas (s).
_BEAT_HALF_S = 1.0


def _detection_band_sos(sfreq):
    """Return the 4th-order Butterworth band-pass (SOS) of the detection band at ``sfreq``."""
    return _sig.butter(4, [_BAND_HP_HZ, min(_BAND_LP_HZ, _BAND_LP_NYQUIST_SHARE * sfreq)],
                       btype="bandpass", fs=sfreq, output="sos")


def _ecg_wave(t, lead):
    # P-QRS-T as Gaussians (McSharry et al. 2003 style); two leads = two dipole projections.
    comps = ((0.12, -0.18, 0.025), (-0.12, -0.025, 0.008), (1.0, 0.0, 0.009),
             (-0.25, 0.03, 0.01), (0.3, 0.25, 0.045)) if lead == 0 else \
        ((0.05, -0.18, 0.025), (0.3, -0.02, 0.008), (-0.6, 0.005, 0.01),
         (0.5, 0.03, 0.01), (-0.15, 0.26, 0.05))
    return sum(a * np.exp(-0.5 * ((t - mu) / s) ** 2) for a, mu, s in comps)


def _ecg(rng, sp, montage, sfreq, n, noise):
    """Return (EMG contamination, clean ECG lead, truth rows)."""
    amp = _draw(rng, sp.ecg_uv)
    duration = n / sfreq
    hr = _draw(rng, sp.heart_rate_bpm)
    rr_mean = 60.0 / hr
    n_beats = int(duration / rr_mean * 1.3) + 5
    # RR: 4 % beat-to-beat jitter plus respiratory sinus arrhythmia (~0.25 Hz).
    rr = rr_mean * (1 + 0.04 * rng.standard_normal(n_beats))
    r_times = rng.uniform(0.1, rr_mean) + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    r_times = r_times + 0.05 * rr_mean * np.sin(2 * np.pi * 0.25 * r_times + rng.uniform(0, 6.3))
    r_times = r_times[(r_times > 0.35) & (r_times < duration - 0.5)]
    beat_amp = 1 + 0.08 * np.sin(2 * np.pi * 0.25 * r_times) + 0.03 * rng.standard_normal(r_times.size)
    half = int(math.ceil(0.45 * sfreq))
    idx0 = np.rint(r_times * sfreq).astype(np.int64)
    offs = np.arange(-half, half + 1)
    t_rel = (idx0[:, None] + offs[None, :]) / sfreq - r_times[:, None]
    sources = np.zeros((2, n))
    pos = np.clip(idx0[:, None] + offs[None, :], 0, n - 1)
    for lead in (0, 1):
        vals = beat_amp[:, None] * _ecg_wave(t_rel, lead)
        np.add.at(sources[lead], pos, vals)
    # Per-channel projection of the two sources (the heart's dipole seen from each site).
    g = np.column_stack([rng.uniform(0.2, 1.0, montage.n) * rng.choice([-1, 1], montage.n),
                         rng.uniform(-0.5, 0.5, montage.n)])
    qrs = np.linspace(-0.05, 0.05, 41)
    shapes = g @ np.vstack([_ecg_wave(qrs, 0), _ecg_wave(qrs, 1)])   # (C, 41)
    p2p = np.ptp(shapes, axis=1)
    scale = np.full(montage.n, amp / max(np.max(np.abs(shapes)), 1e-12))
    if _pair(sp.ecg_n_channels)[1] > 0 or _pair(sp.ecg_snr)[1] > 0:
        scale = _ecg_gains(rng, sp, g, sfreq, noise, scale)
    contamination = scale[:, None] * (g @ sources)
    main = int(np.argmax(scale * p2p))
    rows = empty_events(r_times.size)
    rows["trial_type"] = "artifact"
    rows["artifact_kind"] = "ecg"
    rows["onset"] = r_times - 0.05
    rows["duration"] = 0.1
    rows["duration_ms"] = 100.0
    rows["peak_time"] = r_times
    rows["channel"] = montage.names[main]
    amp_ch = beat_amp[:, None] * scale[None, :] * p2p[None, :]
    rows["peak_amplitude_uv"] = amp_ch[:, main]
    vis = _visible(amp_ch, noise[None, :], sp.visibility_snr)
    vis[:, main] = True
    rows["channels"] = [_join(montage.names, v) for v in vis]
    lead = 1000.0 * sources[0]   # a clean 1 mV chest lead
    return contamination, lead, rows


def _ecg_gains(rng, sp, g, sfreq, noise, scale):
    """Return per-channel ECG gains: zero off the reached channels, noise sigmas if asked.

    The heart reaches ``sp.ecg_n_channels`` adjacent channels (all when 0). With
    ``sp.ecg_snr`` each reached channel's gain makes the band-passed peak of a beat that
    many in-band noise sigmas; otherwise they keep ``scale`` (from ``sp.ecg_uv``).
    """
    n_ch = g.shape[0]
    reached = np.ones(n_ch, bool)
    if _pair(sp.ecg_n_channels)[1] > 0:
        k = min(_draw_int(rng, sp.ecg_n_channels), n_ch)
        first = int(rng.integers(0, n_ch - k + 1))
        reached[:] = False
        reached[first:first + k] = True
    if _pair(sp.ecg_snr)[1] <= 0:
        return np.where(reached, scale, 0.0)
    t = np.arange(-_BEAT_HALF_S, _BEAT_HALF_S, 1.0 / sfreq)
    beat = g @ np.vstack([_ecg_wave(t, 0), _ecg_wave(t, 1)])
    peak = np.max(np.abs(_sig.sosfiltfilt(_detection_band_sos(sfreq), beat, axis=1)), axis=1)
    target = _draw(rng, sp.ecg_snr, n_ch) * _reference_noise(noise)
    return np.where(reached, target / np.maximum(peak, 1e-12), 0.0)


def _line(rng, sp, montage, sfreq, n, noise):
    """Return (hum, truth row) of power-line interference with harmonics and drift."""
    f0 = sp.line_freq_hz or float(rng.choice([50.0, 60.0]))
    amp = _draw(rng, sp.line_uv)
    t = np.arange(n) / sfreq
    # Mains frequency wanders by a few hundredths of a Hz.
    drift = rng.uniform(-0.03, 0.03) + 0.02 * np.sin(2 * np.pi * t / rng.uniform(10, 60) + rng.uniform(0, 6.3))
    phase = 2 * np.pi * np.cumsum(f0 + drift) / sfreq
    gains = amp * rng.uniform(0.2, 1.0, montage.n)
    gains[rng.integers(montage.n)] = amp
    rel = np.array([1.0, rng.uniform(0, 0.2), rng.uniform(0.1, 0.5), rng.uniform(0, 0.1), rng.uniform(0.02, 0.25)])
    hum = np.zeros((montage.n, n))
    for h in range(1, 6):  # a loop over five harmonics
        if h * f0 >= sfreq / 2:
            break
        ph = rng.uniform(-0.3, 0.3, montage.n)[:, None] + rng.uniform(0, 2 * np.pi)
        hum += (rel[h - 1] * gains)[:, None] * np.sin(h * phase[None, :] + ph)
    row = empty_events(1)
    row["trial_type"], row["artifact_kind"] = "artifact", "line"
    row["onset"], row["duration"], row["duration_ms"] = 0.0, n / sfreq, n / sfreq * 1000.0
    main = int(np.argmax(gains))
    row["channel"] = montage.names[main]
    row["peak_amplitude_uv"] = 2 * gains[main]
    row["channels"] = _join(montage.names, _visible(2 * gains, noise, sp.visibility_snr))
    row["peak_time"] = 0.0
    return hum, row, f0


def _motion(rng, sp, montage, sfreq, n, starts, lengths, noise):
    """Return (transients, truth rows) of motion artifacts (< 20 Hz, all channels)."""
    out = np.zeros((montage.n, n))
    rows = empty_events(len(starts))
    for i, (t0, dur) in enumerate(zip(starts, lengths)):  # a loop over a few episodes
        a, m = int(round(t0 * sfreq)), max(8, int(round(dur * sfreq)))
        m = min(m, n - a)
        fc = rng.uniform(3.0, 15.0)
        sos = _sig.butter(2, fc, fs=sfreq, output="sos")
        src = _sig.sosfiltfilt(sos, rng.standard_normal((2, m)), axis=1) * np.hanning(m)
        # Electrode displacement: a smooth shift that relaxes within the episode.
        x = np.linspace(0, 1, m)
        src[0] += 2 * np.std(src[0]) * np.sin(np.pi * x) ** 2 * np.exp(-3 * x) * rng.choice([-1, 1])
        g = np.column_stack([rng.uniform(0.3, 1.0, montage.n), rng.uniform(-0.5, 0.5, montage.n)])
        seg = g @ src
        seg *= _draw(rng, sp.motion_uv) / np.max(np.abs(seg))
        out[:, a:a + m] += seg
        peak = np.max(np.abs(seg), axis=1)
        main = int(np.argmax(peak))
        r = rows[i:i + 1]
        r["trial_type"], r["artifact_kind"] = "artifact", "motion"
        r["onset"], r["duration"], r["duration_ms"] = a / sfreq, m / sfreq, m / sfreq * 1000
        r["peak_time"] = (a + np.argmax(np.abs(seg[main]))) / sfreq
        r["channel"] = montage.names[main]
        r["peak_amplitude_uv"] = np.ptp(seg[main])
        r["channels"] = _join(montage.names, _visible(np.ptp(seg, axis=1), noise, sp.visibility_snr))
    return out, rows


def _pops(rng, sp, montage, sfreq, n, duration, noise):
    """Return (steps, truth rows) of electrode pops: a step on one channel decaying away."""
    out = np.zeros((montage.n, n))
    k = int(sp.n_pops)
    rows = empty_events(k)
    t0 = np.sort(rng.uniform(sp.edge_s, duration - sp.edge_s - 0.5, k))
    for i in range(k):  # a loop over a few pops
        ch = int(rng.integers(montage.n))
        amp = _draw(rng, sp.pop_uv) * rng.choice([-1, 1])
        tau = _draw(rng, sp.pop_tau_ms) / 1000.0
        a = int(math.ceil(t0[i] * sfreq))
        m = min(n - a, int(6 * tau * sfreq) + 1)
        out[ch, a:a + m] += amp * np.exp(-np.arange(m) / (tau * sfreq))
        r = rows[i:i + 1]
        r["trial_type"], r["artifact_kind"] = "artifact", "pop"
        r["onset"] = r["peak_time"] = a / sfreq
        r["duration"] = min(3 * tau, (n - a) / sfreq)
        r["duration_ms"] = r["duration"] * 1000
        r["channel"] = r["channels"] = montage.names[ch]
        r["peak_amplitude_uv"] = abs(amp)
    return out, rows


def _glitches(rng, sp, montage, sfreq, n, duration, noise):
    """Return (spikes, truth rows) of single-sample glitches, each on one random channel.

    Consumer boards (the Ganglion's radio link, ADC hiccups) show lone samples off the
    trace: one sample is no motor-unit potential at any rate.
    """
    out = np.zeros((montage.n, n))
    count = int(rng.poisson(sp.glitch_rate_per_min * (duration - 2 * sp.edge_s) / 60.0))
    idx = np.rint(rng.uniform(sp.edge_s, duration - sp.edge_s, count) * sfreq).astype(np.int64)
    ch = rng.integers(0, montage.n, count)
    amp = _draw(rng, sp.glitch_uv, count) * rng.choice([-1.0, 1.0], count)
    # Two glitches on one sample would make one of double height: keep the first.
    _, first = np.unique(ch * n + idx, return_index=True)
    first = np.sort(first)
    idx, ch, amp = idx[first], ch[first], amp[first]
    out[ch, idx] = amp
    rows = empty_events(idx.size)
    rows["trial_type"], rows["artifact_kind"] = "artifact", "glitch"
    rows["onset"] = rows["peak_time"] = idx / sfreq
    rows["duration"] = 1.0 / sfreq
    rows["duration_ms"] = 1000.0 / sfreq
    names = np.asarray(montage.names, dtype=object)
    rows["channel"] = rows["channels"] = names[ch]
    rows["peak_amplitude_uv"] = np.abs(amp)
    rows["snr"] = np.abs(amp) / _reference_noise(noise)[ch]
    return out, rows


def _saturation_rows(data_uv, clip_uv, names, sfreq):
    """Return truth rows for spans where any channel sits at the rail."""
    at_rail = np.abs(data_uv) >= clip_uv * (1 - 1e-9)
    any_rail = at_rail.any(axis=0)
    if not any_rail.any():
        return empty_events(0)
    starts, stops = run_bounds(any_rail)
    rows = empty_events(starts.size)
    rows["trial_type"], rows["artifact_kind"] = "artifact", "saturation"
    rows["onset"] = rows["peak_time"] = starts / sfreq
    rows["duration"] = (stops - starts) / sfreq
    rows["duration_ms"] = rows["duration"] * 1000
    cum = prefix_counts(at_rail)
    counts = cum[:, stops] - cum[:, starts]                 # (C, n_runs)
    rows["channel"] = [names[i] for i in np.argmax(counts, axis=0)]
    rows["channels"] = [_join(names, counts[:, j] > 0) for j in range(starts.size)]
    rows["peak_amplitude_uv"] = 2 * clip_uv
    return rows


def _background_noise(rng, sp, n_channels, n, noise):
    """Return white + 1/f noise with the given per-channel RMS (µV)."""
    white = rng.standard_normal((n_channels, n))
    if sp.pink_fraction <= 0:
        return white * noise[:, None]
    # Paul Kellet's 1/f filter: pink within ~-0.3 dB over three decades of frequency.
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1.0, -2.494956002, 2.017265875, -0.522189400]
    pink = _sig.lfilter(b, a, rng.standard_normal((n_channels, n)), axis=1)
    pink -= pink.mean(axis=1, keepdims=True)
    pink /= np.maximum(pink.std(axis=1, keepdims=True), 1e-12)
    mix = np.sqrt(1 - sp.pink_fraction) * white + np.sqrt(sp.pink_fraction) * pink
    return mix * noise[:, None]


def _in_band_rms(x, sfreq, max_s=20.0):
    """Return the RMS of ``x`` in the detection band (20 Hz to min(450, 0.45 fs))."""
    m = min(x.shape[1], int(max_s * sfreq))   # an excerpt suffices for stationary noise
    y = _sig.sosfiltfilt(_detection_band_sos(sfreq), x[:, :m], axis=1)
    return np.sqrt(np.mean(y[:, m // 10:m - m // 10] ** 2, axis=1))


def _baseline(rng, sp, n_channels, n, sfreq):
    """Return baseline wander (< 1 Hz) plus DC offsets (µV)."""
    t = np.arange(n) / sfreq
    out = np.zeros((n_channels, n))
    if sp.baseline_uv > 0:
        for _ in range(3):  # three slow sinusoids per channel
            f = rng.uniform(0.05, 0.8, n_channels)[:, None]
            out += rng.uniform(0.3, 1.0, n_channels)[:, None] * np.sin(
                2 * np.pi * f * t[None, :] + rng.uniform(0, 2 * np.pi, n_channels)[:, None])
        out *= (sp.baseline_uv * np.clip(rng.lognormal(0, 0.3, n_channels), 0.5, 2.0) /
                np.maximum(out.std(axis=1), 1e-12))[:, None]
    if sp.dc_offset_uv > 0:
        out += rng.uniform(-sp.dc_offset_uv, sp.dc_offset_uv, n_channels)[:, None]
    return out
