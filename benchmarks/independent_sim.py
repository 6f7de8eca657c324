"""An independent surface-EMG test signal generator, and fascidetect scored on it.

This script is deliberately NOT built on ``fascidetect.simulation``: it was written
without reading that package, from the physiology numbers in the domain notes, with
other modelling choices, so that accuracy measured here does not only reflect the
detector's own assumptions (the project's simulator and detector share authors).

Modelling (all choices are this file's own):

* MUAPs: Hermite-Rodriguez functions, a mix of the 1st order (biphasic) and 2nd order
  (triphasic) function, 5-15 ms long, peak-to-peak at the skin lognormal in 20-500 µV;
  each unit spreads from its main channel to 0-3 neighbours with an attenuation of
  0.3-0.8 per electrode step, 0.3-2 ms delay per step and a slightly wider shape.
* Background: per channel white + pink (1/f) noise with a common-mode share, a noise level
  that drifts slowly (x0.7-1.4 over tens of seconds), electrode drift (a low-passed random
  walk) and breathing-like baseline wander; per-channel levels differ (in-band RMS
  1.5-7 µV).
* Mains hum 50 or 60 Hz with 3rd and 5th harmonics, different per channel, slowly
  varying amplitude.
* Fasciculations: channels are grouped into muscles of 4; each muscle has a total rate
  log-uniform in 0.5-20 per minute shared by 1-4 units; a unit fires as a Poisson process
  or bursty (clusters of 2-4 discharges 0.3-3 s apart), with doublets (5-20 ms) at 8 %.
* Conditions: tonic units (regular 6-20 Hz, CV 0.1-0.25, 2-8 noise sigma, 1-3 channels,
  5-40 s stretches), voluntary contractions (annotated or not, 3-10 s, 10-30 recruited
  units on one muscle's channels), spasms (1-15 s, 15-40 units at 14.5 +/- 5 Hz, CV 0.45,
  several channels, RMS hundreds of µV), ECG (P-QRS-T from Gaussians, 60-80 bpm, QRS at
  3-10 band-passed noise sigma on 1-2 channels), motion artifacts (smoothed steps with a
  slow relaxation on >= half the channels).

Ground truth: every discharge (time of its largest raw deflection on its main channel,
main channel, channels it is visible on, unit, SNR, at rest or not). A discharge is at
rest when its main channel carries no tonic, voluntary or spasm activity at that time.

Usage::

    python benchmarks/independent_sim.py --first-seed 1000 --per-condition 2   # explore
    python benchmarks/independent_sim.py --first-seed 5000 --per-condition 4   # report

Exploration used seeds 1000-1025; the figures reported in benchmarks/README.md ("Accuracy
on an independent simulator") use seeds 5000-5031 (``--per-condition 4``). Ablations:
``--noise-drift-sd 0`` (no slow drift of the noise level), ``--pink-share 0,0.0001``
(white noise only). ``--param NAME=VALUE`` overrides a DetectionParams field.
Outputs (EDF files, truth tables, PNGs of misses and false detections, a JSON of scores)
go to ``--out`` (default /work/bench_data/indep28).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import signal

CONDITIONS = ("rest", "tonic", "voluntary_annotated", "voluntary_unannotated", "spasm",
              "ecg", "motion", "mixed")
MUSCLE_SIZE = 4  # channels per muscle
SNR_BANDS = ((0, 3), (3, 5), (5, 8), (8, 15), (15, np.inf))
#: Background knobs (for ablations): sd of the log noise gain's slow drift, and the
#: range of the 1/f share of the in-band noise power.
NOISE_DRIFT_SD = 0.2
PINK_SHARE = (0.2, 0.7)


# ----------------------------------------------------------------------------- shapes
def hermite_rodriguez(t, lam, order):
    """Hermite-Rodriguez function of order 1 or 2 (unit peak), time scale ``lam`` (s)."""
    u = t / lam
    if order == 1:
        y = u * np.exp(-u ** 2)
    else:
        y = (1.0 - 2.0 * u ** 2) * np.exp(-u ** 2)
    return y / np.max(np.abs(y))


def muap_shape(rng, fs, duration_s):
    """One MUAP waveform (unit peak-to-peak), its length about ``duration_s``."""
    lam = duration_s / 5.0  # HR functions are > 1 % of their peak over about +/-2.5 lam
    half = int(np.ceil(3.0 * lam * fs))
    t = np.arange(-half, half + 1) / fs
    mix = rng.uniform(0.0, 1.0)  # 0: biphasic, 1: triphasic
    y = (1 - mix) * hermite_rodriguez(t, lam, 1) + mix * hermite_rodriguez(t, lam, 2) * rng.choice([-1, 1])
    if rng.random() < 0.3:
        # a slight asymmetry: a 2nd-order tail of another width (polyphasic-looking)
        y = y + 0.3 * hermite_rodriguez(t - 0.8 * lam, 0.6 * lam, 1)
    y *= rng.choice([-1, 1])
    return y / np.ptp(y)


@dataclasses.dataclass
class Unit:
    """A motor unit: per visible channel a waveform (V, at its skin amplitude) and delay."""
    uid: int
    main: int
    channels: list
    waves: list
    delays: list  # samples


def make_unit(rng, uid, fs, n_ch, ptp_v, duration_s, n_spread=None, main=None):
    main = int(rng.integers(n_ch)) if main is None else main
    base = muap_shape(rng, fs, duration_s)
    chans, waves, delays = [main], [base * ptp_v], [0]
    n_spread = int(rng.choice([0, 1, 1, 2, 3])) if n_spread is None else n_spread
    side = rng.choice([-1, 1])
    steps = []
    for k in range(1, n_spread + 1):  # neighbours, alternating sides
        for s in (side, -side):
            if len(steps) < n_spread and 0 <= main + s * k < n_ch:
                steps.append((main + s * k, k))
    for ch, k in steps:
        att = rng.uniform(0.3, 0.8) ** k
        widen = rng.uniform(1.0, 1.3) ** k
        w = muap_shape(np.random.default_rng(rng.integers(1 << 31)), fs, duration_s * widen)
        # keep mostly the main shape: the far potential is a blurred copy
        n = max(len(w), len(base))
        b = np.pad(base, ((n - len(base)) // 2, n - len(base) - (n - len(base)) // 2))
        w = np.pad(w, ((n - len(w)) // 2, n - len(w) - (n - len(w)) // 2))
        sm = np.convolve(b, np.hanning(max(3, int(0.002 * fs * k)) | 1), mode="same")
        sm = 0.8 * sm / np.ptp(sm) + 0.2 * w
        chans.append(ch)
        waves.append(sm / np.ptp(sm) * ptp_v * att)
        delays.append(int(round(rng.uniform(0.3, 2.0) * k * 1e-3 * fs)))
    return Unit(uid, main, chans, waves, delays)


def add_discharge(x, unit, idx, scale=1.0):
    """Add one discharge of ``unit`` centred at sample ``idx`` (in place)."""
    n = x.shape[1]
    for ch, w, d in zip(unit.channels, unit.waves, unit.delays):
        start = idx + d - len(w) // 2
        a, b = max(start, 0), min(start + len(w), n)
        if b > a:
            x[ch, a:b] += scale * w[a - start:b - start]


# ----------------------------------------------------------------------------- background
def colored_noise(rng, n, fs, white_rms, pink_rms):
    """White + 1/f noise (V) of length n, each component's RMS given over 20-450 Hz."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / fs)
    f[0] = f[1]
    band = (f >= 20) & (f <= min(450, 0.45 * fs))
    pink = spec / np.sqrt(f)
    white = spec.copy()
    # scale each component so its in-band RMS is as asked
    def inband_rms(s):
        return np.sqrt(2 * np.sum(np.abs(s[band]) ** 2)) / n
    spec = white * (white_rms / inband_rms(white)) + pink * (pink_rms / inband_rms(pink))
    return np.fft.irfft(spec, n)


def slow_process(rng, n, fs, tau_s, sd):
    """A smooth Gaussian process (mean 0, standard deviation sd, time scale tau_s)."""
    m = int(n / fs / tau_s * 4) + 4
    knots = rng.standard_normal(m) * sd
    return np.interp(np.arange(n) / fs, np.linspace(0, n / fs, m), knots)


def background(rng, n_ch, n, fs):
    """Return noise (in-band part, V), the low-frequency part (V) and per-channel levels."""
    levels = np.exp(rng.uniform(np.log(1.5e-6), np.log(7e-6), n_ch))
    common = colored_noise(rng, n, fs, 1.0, 1.0)
    common /= common.std()
    noise = np.empty((n_ch, n))
    for c in range(n_ch):  # a loop over channels
        pink_share = rng.uniform(*PINK_SHARE)
        x = colored_noise(rng, n, fs, levels[c] * np.sqrt(1 - pink_share), levels[c] * np.sqrt(pink_share))
        cm = rng.uniform(0.0, 0.3)
        x = np.sqrt(1 - cm ** 2) * x + cm * levels[c] * common * rng.choice([-1, 1])
        gain = np.exp(slow_process(rng, n, fs, rng.uniform(15, 60), NOISE_DRIFT_SD))
        noise[c] = x * gain
    t = np.arange(n) / fs
    low = np.empty((n_ch, n))
    for c in range(n_ch):  # electrode drift + breathing-like wander
        walk = np.cumsum(rng.standard_normal(n)) * rng.uniform(1e-7, 6e-7)
        sos = signal.butter(2, 0.5, "low", fs=fs, output="sos")
        walk = signal.sosfilt(sos, walk - walk.mean())
        f_b = rng.uniform(0.15, 0.4)
        low[c] = walk + rng.uniform(20e-6, 200e-6) * np.sin(2 * np.pi * f_b * t + rng.uniform(0, 6.3))
    return noise, low, levels


def hum(rng, n_ch, n, fs):
    f0 = rng.choice([50.0, 60.0])
    t = np.arange(n) / fs
    out = np.zeros((n_ch, n))
    base = np.exp(rng.uniform(np.log(2e-6), np.log(80e-6)))
    for c in range(n_ch):
        amp = base * rng.uniform(0.3, 1.5) * (1 + 0.2 * slow_process(rng, n, fs, 20, 1.0))
        for h, rel in ((1, 1.0), (3, rng.uniform(0.05, 0.4)), (5, rng.uniform(0.0, 0.15))):
            if h * f0 < fs / 2:
                out[c] += amp * rel * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 6.3))
    return out, f0


# ----------------------------------------------------------------------------- firing
def fasciculation_times(rng, rate_per_min, dur_s):
    """Discharge times (s) of one fasciculating unit: Poisson or bursty, with doublets."""
    bursty = rng.random() < 0.35
    rate = rate_per_min / 60.0
    if bursty:
        n_clusters = rng.poisson(rate * dur_s / 2.5)
        starts = rng.uniform(0, dur_s, n_clusters)
        times = []
        for s in starts:
            k = int(rng.integers(1, 5))
            times.extend(s + np.concatenate([[0], np.cumsum(rng.uniform(0.3, 3.0, k - 1))]))
        times = np.array(times)
    else:
        times = rng.uniform(0, dur_s, rng.poisson(rate * dur_s))
    dbl = rng.random(times.size) < 0.08
    times = np.concatenate([times, times[dbl] + rng.uniform(0.005, 0.020, dbl.sum())])
    return np.sort(times[(times > 0.2) & (times < dur_s - 0.2)])


def regular_train(rng, t0, t1, rate_hz, cv):
    isi = 1.0 / rate_hz
    out, t = [], t0 + rng.uniform(0, isi)
    while t < t1:
        out.append(t)
        t += max(0.02, rng.normal(isi, cv * isi))
    return np.array(out)


def bandpass(x, fs):
    sos = signal.butter(4, [20, min(450, 0.45 * fs)], "bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


# ----------------------------------------------------------------------------- a recording
@dataclasses.dataclass
class Truth:
    rows: list = dataclasses.field(default_factory=list)      # discharges
    episodes: list = dataclasses.field(default_factory=list)  # (kind, t0, t1, channels, annotated)
    artifacts: list = dataclasses.field(default_factory=list)  # (kind, t0, t1, channels)


def simulate(seed, condition, fs=None, n_ch=None, dur_s=None):
    """Return (data V, fs, truth, info) of one recording."""
    rng = np.random.default_rng(seed)
    fs = float(fs or rng.choice([1000.0, 2000.0, 2000.0, 1000.0, 500.0]))
    n_ch = int(n_ch or rng.choice([4, 6, 8, 8, 12, 16]))
    dur_s = float(dur_s or rng.uniform(120, 600))
    n = int(dur_s * fs)
    noise, low, levels = background(rng, n_ch, n, fs)
    x_hum, f0 = hum(rng, n_ch, n, fs)
    emg = np.zeros((n_ch, n))   # MUAP activity (V)
    art = np.zeros((n_ch, n))   # artifacts (V)
    truth = Truth()
    active = np.zeros((n_ch, n), bool)
    uid = 0
    sigma_bp = levels  # in-band RMS of the noise (before its slow gain)

    # fasciculating units, per muscle
    n_muscles = int(np.ceil(n_ch / MUSCLE_SIZE))
    fasc_units = []
    for m in range(n_muscles):
        chans = list(range(m * MUSCLE_SIZE, min(n_ch, (m + 1) * MUSCLE_SIZE)))
        total = np.exp(rng.uniform(np.log(0.5), np.log(20.0)))
        k = int(rng.integers(1, 5))
        shares = rng.dirichlet(np.ones(k))
        for share in shares:
            ptp = float(np.clip(np.exp(rng.normal(np.log(80e-6), 0.8)), 20e-6, 500e-6))
            u = make_unit(rng, uid, fs, n_ch, ptp, rng.uniform(0.005, 0.015), main=int(rng.choice(chans)))
            uid += 1
            fasc_units.append((u, fasciculation_times(rng, total * share, dur_s)))

    conds = set(CONDITIONS[1:-1]) if condition == "mixed" else {condition}

    def add_episode(kind, t0, t1, chans, annotated=False):
        a, b = int(t0 * fs), int(t1 * fs)
        active[np.ix_(chans, np.arange(a, min(b, n)))] = True
        truth.episodes.append((kind, t0, t1, list(chans), annotated))

    busy = []  # (t0, t1) of placed contractions/spasms, kept apart

    def free_slot(length):
        for _ in range(50):
            t0 = rng.uniform(5, dur_s - length - 5)
            if all(t0 > b + 10 or t0 + length < a - 10 for a, b in busy):
                busy.append((t0, t0 + length))
                return t0
        return None

    if "tonic" in conds:
        for _ in range(int(rng.integers(2, 6))):
            length = rng.uniform(5, 40)
            t0 = rng.uniform(2, max(3, dur_s - length - 2))
            rate, cv = rng.uniform(6, 20), rng.uniform(0.1, 0.25)
            main = int(rng.integers(n_ch))
            u = make_unit(rng, uid, fs, n_ch, 1.0, rng.uniform(0.005, 0.012), n_spread=int(rng.integers(0, 3)), main=main)
            uid += 1
            # amplitude: band-passed peak at 2-8 noise sigma on the main channel
            bp_peak = np.max(np.abs(bandpass(np.pad(u.waves[0], 200), fs)))
            scale = rng.uniform(2, 8) * sigma_bp[main] / bp_peak
            times = regular_train(rng, t0, t0 + length, rate, cv)
            for t in times:
                add_discharge(emg, u, int(t * fs), scale * rng.uniform(0.93, 1.07))
                truth.rows.append(dict(time=t, unit=u.uid, channel=main, channels=u.channels,
                                       kind="tonic", snr=np.nan))
            vis = [c for c, w in zip(u.channels, u.waves) if np.ptp(w) * scale > 1.5 * sigma_bp[c]] or [main]
            add_episode("tonic", times[0], times[-1], vis)

    for kind in ("voluntary_annotated", "voluntary_unannotated", "spasm"):
        if kind not in conds:
            continue
        n_ep = int(rng.integers(1, 4))
        for _ in range(n_ep):
            if kind == "spasm":
                length = rng.uniform(1.0, 15.0)
                m = int(rng.integers(n_muscles))
                chans = list(range(m * MUSCLE_SIZE, min(n_ch, (m + 1) * MUSCLE_SIZE)))
                if len(chans) < 2:
                    chans = list(range(max(0, n_ch - 3), n_ch))
                n_units, target_rms = int(rng.integers(15, 41)), rng.uniform(80e-6, 500e-6)
            else:
                length = rng.uniform(3.0, 10.0)
                m = int(rng.integers(n_muscles))
                chans = list(range(m * MUSCLE_SIZE, min(n_ch, (m + 1) * MUSCLE_SIZE)))
                n_units, target_rms = int(rng.integers(10, 31)), rng.uniform(20e-6, 200e-6)
            t0 = free_slot(length)
            if t0 is None:
                continue
            t1 = t0 + length
            o0 = int(t0 * fs) - int(0.1 * fs)  # the episode's own window (memory)
            seg = np.zeros((n_ch, int(length * fs) + int(0.2 * fs)))
            ramp = rng.uniform(0.3, 1.0) if kind != "spasm" else rng.uniform(0.1, 0.4)
            for j in range(n_units):
                u = make_unit(rng, uid, fs, n_ch, float(np.exp(rng.normal(0, 0.6))), rng.uniform(0.006, 0.014),
                              main=int(rng.choice(chans)), n_spread=int(rng.integers(1, 4)))
                uid += 1
                # recruitment order: later units start later and stop earlier
                frac = j / n_units
                a = t0 + frac * ramp
                b = t1 - frac * ramp * rng.uniform(0.5, 1.0)
                if kind == "spasm":
                    rate, cv = max(6.0, rng.normal(14.5, 5.1)), 0.45
                else:
                    rate, cv = rng.uniform(8, 25), rng.uniform(0.1, 0.25)
                for t in regular_train(rng, a, b, rate, cv):
                    add_discharge(seg, u, int(t * fs) - o0, rng.uniform(0.9, 1.1))
                    truth.rows.append(dict(time=t, unit=u.uid, channel=u.main, channels=u.channels,
                                           kind=kind, snr=np.nan))
            i0, i1 = int(t0 * fs) - o0, int(t1 * fs) - o0
            rms = np.sqrt(np.mean(bandpass(seg[chans, i0:i1], fs) ** 2))
            seg *= target_rms / max(rms, 1e-12)
            emg[:, o0:o0 + seg.shape[1]] += seg[:, :n - o0]
            # the channels it is active on: all those the units reach where its band-passed
            # RMS is at least half the channel's noise RMS (a visibly raised background)
            ch_rms = np.sqrt(np.mean(bandpass(seg[:, i0:i1], fs) ** 2, axis=1))
            on = [c for c in range(n_ch) if ch_rms[c] >= 0.5 * sigma_bp[c]]
            add_episode("spasm" if kind == "spasm" else "voluntary", t0, t1, on,
                        annotated=(kind == "voluntary_annotated"))

    ecg_info = {}  # channel: QRS band-passed peak in noise RMS
    if "ecg" in conds:
        hr = rng.uniform(60, 80) / 60.0
        beats = [rng.uniform(0, 1 / hr)]
        while beats[-1] < dur_s:
            beats.append(beats[-1] + (1 / hr) * (1 + 0.04 * rng.standard_normal()))
        beats = np.array(beats[:-1])
        t = np.arange(-0.3, 0.5, 1 / fs)
        def g(mu, sd, a):
            return a * np.exp(-0.5 * ((t - mu) / sd) ** 2)
        wq = rng.uniform(0.008, 0.014)
        pqrst = (g(-0.18, 0.025, 0.1) + g(-0.02, wq * 0.7, -0.15) + g(0.0, wq, 1.0)
                 + g(0.025, wq * 0.8, -0.3) + g(0.25, 0.05, 0.25))
        bp_peak = np.max(np.abs(bandpass(np.pad(pqrst, 500), fs)))
        ecg_ch = list(rng.choice(n_ch, size=int(rng.integers(1, 3)), replace=False))
        for c in ecg_ch:
            k_sigma = rng.uniform(3, 10)
            ecg_info[ch_name(int(c))] = round(float(k_sigma), 1)
            scale = k_sigma * sigma_bp[c] / bp_peak * rng.choice([-1, 1])
            for b in beats:
                i = int(b * fs) - int(0.3 * fs)
                a, e = max(i, 0), min(i + len(t), n)
                if e > a:
                    art[c, a:e] += scale * pqrst[a - i:e - i] * rng.uniform(0.9, 1.1)
        for b in beats:
            truth.artifacts.append(("ecg", b - 0.05, b + 0.05, [int(c) for c in ecg_ch]))

    if "motion" in conds:
        n_mot = int(rng.poisson(dur_s / 60 * rng.uniform(1, 4))) + 1
        for _ in range(n_mot):
            tm = rng.uniform(2, dur_s - 3)
            chans = sorted(rng.choice(n_ch, size=int(rng.integers(max(1, n_ch // 2), n_ch + 1)), replace=False))
            rise = rng.uniform(0.005, 0.05)
            tau = rng.uniform(0.2, 2.0)
            tt = np.arange(0, min(8 * tau, dur_s - tm), 1 / fs)
            step = (1 / (1 + np.exp(-(tt - 3 * rise) / rise))) * np.exp(-np.maximum(tt - 6 * rise, 0) / tau)
            i = int(tm * fs)
            amp0 = np.exp(rng.uniform(np.log(100e-6), np.log(2e-3)))
            for c in chans:
                art[c, i:i + len(tt)] += amp0 * rng.uniform(0.3, 1.0) * rng.choice([-1, 1]) * step[:n - i]
            truth.artifacts.append(("motion", tm, tm + 6 * rise + 0.3, [int(c) for c in chans]))

    # fasciculations last, so their rows know whether their channel is active
    for u, times in fasc_units:
        bp = bandpass(np.pad(u.waves[0], 400), fs)
        bp_peak = np.max(np.abs(bp))
        vis = [c for c, w in zip(u.channels, u.waves) if np.ptp(w) > 2 * sigma_bp[c]] or [u.main]
        for t in times:
            s = rng.uniform(0.92, 1.08)
            idx = int(round(t * fs))
            add_discharge(emg, u, idx, s)
            # SNR: band-passed peak over the local in-band noise RMS (with its slow gain)
            a, b = max(0, idx - int(fs)), min(n, idx + int(fs))
            loc = np.std(noise[u.main, a:b]) if b > a else sigma_bp[u.main]
            # the noise array is broadband: its in-band share is about levels/total
            snr = s * bp_peak / (loc * sigma_bp[u.main] / np.std(noise[u.main]))
            truth.rows.append(dict(time=t, unit=u.uid, channel=u.main, channels=vis,
                                   kind="fasciculation", snr=float(snr)))

    data = noise + low + x_hum + emg + art
    for r in truth.rows:
        i = min(n - 1, int(round(r["time"] * fs)))
        r["at_rest"] = (r["kind"] == "fasciculation") and not active[r["channel"], i]
    info = dict(seed=seed, condition=condition, fs=fs, n_ch=n_ch, duration_s=dur_s, mains_hz=f0,
                noise_uv=[round(v * 1e6, 2) for v in levels], n_units=uid, ecg_sigma=ecg_info)
    return data, fs, truth, info


# ----------------------------------------------------------------------------- scoring
def ch_name(c):
    return f"EMG{c + 1:02d}"


def truth_table(truth):
    """The truth in fascidetect's event table (fasciculations, episodes, artifacts)."""
    from fascidetect.events import empty_events
    rows = []
    for r in truth.rows:
        if r["kind"] == "fasciculation":
            rows.append(dict(onset=r["time"] - 0.005, duration=0.010, trial_type="fasciculation",
                             channel=ch_name(r["channel"]), channels=",".join(ch_name(c) for c in r["channels"]),
                             peak_time=r["time"], snr=r["snr"], unit=r["unit"]))
        elif r["kind"] == "tonic":
            rows.append(dict(onset=r["time"] - 0.005, duration=0.010, trial_type="voluntary",
                             channel=ch_name(r["channel"]), channels=",".join(ch_name(c) for c in r["channels"]),
                             peak_time=r["time"], unit=r["unit"], reason="tonic_unit"))
    for kind, t0, t1, chans, _ in truth.episodes:
        if kind == "tonic":
            continue  # the tonic units' discharges above say where their channels are active
        rows.append(dict(onset=t0, duration=t1 - t0, trial_type=kind, channel=ch_name(chans[0]),
                         channels=",".join(ch_name(c) for c in chans), peak_time=np.nan, unit=-1))
    for kind, t0, t1, chans in truth.artifacts:
        rows.append(dict(onset=t0, duration=t1 - t0, trial_type="artifact", artifact_kind=kind,
                         channel=ch_name(chans[0]), channels=",".join(ch_name(c) for c in chans),
                         peak_time=np.nan, unit=-1))
    tab = empty_events(len(rows))
    for i, r in enumerate(rows):
        for k, v in r.items():
            tab[k][i] = v
    return tab[np.argsort(tab["onset"], kind="stable")]


def to_raw(data, fs, truth):
    import mne
    info = mne.create_info([ch_name(c) for c in range(data.shape[0])], fs, "emg")
    raw = mne.io.RawArray(data, info, verbose="error")
    ann = [(t0, t1 - t0, "voluntary") for kind, t0, t1, _, annotated in truth.episodes if annotated]
    if ann:
        on, du, de = zip(*ann)
        raw.set_annotations(mne.Annotations(on, du, de))
    return raw


def own_match(det_t, tru_t, tol=0.010):
    """Greedy one-to-one nearest matching (sorted by distance); returns matched masks."""
    det_t, tru_t = np.asarray(det_t), np.asarray(tru_t)
    pairs = []
    if det_t.size and tru_t.size:
        order = np.argsort(det_t)
        sd = det_t[order]
        for j, t in enumerate(tru_t):  # a loop over truth discharges
            lo, hi = np.searchsorted(sd, [t - tol, t + tol + 1e-12])
            for k in range(lo, hi):
                pairs.append((abs(sd[k] - t), order[k], j))
    pairs.sort()
    dm, tm = np.zeros(det_t.size, bool), np.zeros(tru_t.size, bool)
    for _, i, j in pairs:
        if not dm[i] and not tm[j]:
            dm[i] = tm[j] = True
    return dm, tm


def describe_fp(t, ch, truth, fs):
    """What a false fasciculation lies on, from the truth."""
    for kind, t0, t1, chans in truth.artifacts:
        # A beat's +/-150 ms cover a third of the time: only a channel the heart reaches
        # can carry its remnant (a peak elsewhere near a beat is told by the tests below).
        if t0 - 0.1 <= t <= t1 + 0.1 and (kind != "ecg" or ch in chans):
            return kind
    for kind, t0, t1, chans, _ in truth.episodes:
        if t0 - 0.05 <= t <= t1 + 0.05:
            return f"{kind} (own channel)" if ch in chans else f"{kind} (other channel)"
    near = [r for r in truth.rows if abs(r["time"] - t) < 0.02]
    if near:
        r = min(near, key=lambda r: abs(r["time"] - t))
        if r["kind"] == "fasciculation":
            return "fasciculation during activity (optional)" if not r["at_rest"] else "duplicate of a matched fasciculation"
        return r["kind"] + " discharge"
    for kind, t0, t1, chans, _ in truth.episodes:
        if t0 - 1.0 <= t <= t1 + 1.0:
            return f"within 1 s of {kind}"
    return "noise"


def describe_miss(r, det, truth):
    """Why a truth fasciculation at rest may have been missed."""
    t = r["time"]
    fasc = det["trial_type"] == "fasciculation"
    pt = np.where(np.isnan(det["peak_time"]), det["onset"], det["peak_time"])
    close = np.abs(pt - t) <= 0.010
    other = close & ~fasc
    if other.any():
        k = det[np.flatnonzero(other)[0]]
        return f"labelled {k['trial_type']}/{k['reason'] or k['artifact_kind']}"
    span = (det["onset"] <= t) & (det["onset"] + np.nan_to_num(det["duration"]) >= t) & ~fasc
    if span.any():
        k = det[np.flatnonzero(span)[0]]
        return f"inside {k['trial_type']}/{k['reason'] or k['artifact_kind']}"
    if (fasc & (np.abs(pt - t) <= 0.030)).any():
        return "detected 10-30 ms off"
    if r["snr"] < 5:
        return "not found, SNR < 5"
    for kind, t0, t1, chans in truth.artifacts:
        if t0 - 0.2 <= t <= t1 + 0.2:
            return f"not found, near {kind}"
    for kind, t0, t1, chans, _ in truth.episodes:
        if t0 - 1.0 <= t <= t1 + 1.0:
            return f"not found, within 1 s of {kind}"
    return "not found"


def plot_case(path, data, fs, t, chans, title, det, truth_rows, filtered=None):
    """Save a PNG of the traces around ``t`` (``filtered(t0, t1)`` -> (times, µV): the
    detector's own band-pass and hum removal; default a plain band-pass)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    w = 0.6
    if filtered is not None:
        tt, bp = filtered(max(0.0, t - w), t + w)
        bp = bp * 1e-6
    else:
        a, b = max(0, int((t - w) * fs)), min(data.shape[1], int((t + w) * fs))
        bp = bandpass(data[:, max(0, a - int(fs)):min(data.shape[1], b + int(fs))], fs)
        off = a - max(0, a - int(fs))
        bp = bp[:, off:off + (b - a)]
        tt = np.arange(a, b) / fs
    show = sorted(set(chans) | {min(data.shape[0] - 1, max(chans) + 1), max(0, min(chans) - 1)})
    fig, axes = plt.subplots(len(show), 1, figsize=(9, 1.3 * len(show) + 0.6), sharex=True, squeeze=False)
    pt = np.where(np.isnan(det["peak_time"]), det["onset"], det["peak_time"])
    for ax, c in zip(axes[:, 0], show):
        ax.plot(tt, bp[c] * 1e6, lw=0.6, color="k")
        ax.set_ylabel(ch_name(c), fontsize=7)
        for r in truth_rows:
            if abs(r["time"] - t) < w and c in r["channels"]:
                ax.axvline(r["time"], color="g" if r["kind"] == "fasciculation" else "orange", lw=0.8, alpha=0.7)
        sel = (np.abs(pt - t) < w) & (det["channel"] == ch_name(c))
        for k in np.flatnonzero(sel):
            ax.axvline(pt[k], color="r" if det["trial_type"][k] == "fasciculation" else "b", ls="--", lw=0.8)
            ax.text(pt[k], ax.get_ylim()[1] * 0.8, f"{det['trial_type'][k][:4]}/{det['reason'][k][:12]}", fontsize=6, color="b")
        ax.axvline(t, color="m", lw=2, alpha=0.2)
    axes[0, 0].set_title(title + "\n(green: truth fasc., orange: truth other discharge; red dashed: detected fasc., blue: other label); µV as the detector filtered", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run_one(seed, condition, out, plot_budget, params_kw, fs=None):
    import fascidetect
    from fascidetect.evaluation import evaluate
    from fascidetect._inputs import as_recording
    from fascidetect.plot.traces import filtered_window
    data, fs, truth, info = simulate(seed, condition, fs=fs)
    raw = to_raw(data, fs, truth)
    rec = as_recording(raw, None, None, None)
    t_start = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fascidetect.detect(rec, **params_kw)
    info["detect_s"] = round(time.time() - t_start, 1)
    det = res.events
    tab = truth_table(truth)
    rep = evaluate(det, tab, tolerance_ms=10.0, duration_s=info["duration_s"])
    # own scoring of discharges at rest (any channel, 10 ms)
    rest = [r for r in truth.rows if r["kind"] == "fasciculation" and r["at_rest"]]
    optional = [r for r in truth.rows if r["kind"] == "fasciculation" and not r["at_rest"]]
    fasc = det[det["trial_type"] == "fasciculation"]
    pt = np.where(np.isnan(fasc["peak_time"]), fasc["onset"], fasc["peak_time"])
    dm, tm = own_match(pt, [r["time"] for r in rest])
    dm_opt, _ = own_match(pt[~dm], [r["time"] for r in optional])
    fp_idx = np.flatnonzero(~dm)[~dm_opt]
    snr = np.array([r["snr"] for r in rest])
    bands = {}
    for lo, hi in SNR_BANDS:
        sel = (snr >= lo) & (snr < hi)
        bands[f"{lo}-{hi}"] = (int(tm[sel].sum()), int(sel.sum()))
    fps = [(float(pt[i]), str(fasc["channel"][i]), float(fasc["snr"][i]), str(fasc["reason"][i]),
            describe_fp(pt[i], int(str(fasc["channel"][i])[3:]) - 1, truth, fs)) for i in fp_idx]
    misses = [(float(r["time"]), ch_name(r["channel"]), float(r["snr"]), describe_miss(r, det, truth))
              for r, m in zip(rest, tm) if not m]
    spasm_truth = [(t0, t1) for k, t0, t1, _, _ in truth.episodes if k == "spasm"]
    det_sp = det[det["trial_type"] == "spasm"]
    sp_found = sum(any((d["onset"] < t1) and (d["onset"] + d["duration"] > t0) for d in det_sp) for t0, t1 in spasm_truth)
    vol_eps = [(t0, t1, ann) for k, t0, t1, _, ann in truth.episodes if k == "voluntary"]
    vol_as_spasm = sum(any((d["onset"] < t1) and (d["onset"] + d["duration"] > t0) for d in det_sp)
                       for t0, t1, ann in vol_eps)
    tonic_as_spasm = sum(any((d["onset"] < t1) and (d["onset"] + d["duration"] > t0) for d in det_sp)
                         for k, t0, t1, _, _ in truth.episodes if k == "tonic")
    false_spasms = sum(not any((d["onset"] < t1) and (d["onset"] + d["duration"] > t0) for t0, t1 in spasm_truth)
                       for d in det_sp)
    name = f"s{seed}_{condition}"
    # plots of a sample of false and missed ones
    if plot_budget > 0:
        rng = np.random.default_rng(seed)
        for kind, items in (("fp", fps), ("miss", misses)):
            pick = rng.permutation(len(items))[:plot_budget]
            for j in pick:
                it = items[j]
                c = int(it[1][3:]) - 1
                title = f"{name} {kind} t={it[0]:.3f}s {it[1]} snr={it[2]:.1f}: {it[-1]}" + (f" [{it[3]}]" if kind == "fp" else "")
                plot_case(out / "png" / f"{name}_{kind}_{it[0]:.3f}.png", data, fs, it[0], [c],
                          title, det, [r for r in truth.rows if abs(r["time"] - it[0]) < 1],
                          filtered=lambda a, b: filtered_window(rec, res, a, b)[:2])
    return dict(name=name, info=info, eval=rep.as_dict(), own=dict(
        n_rest=len(rest), tp=int(tm.sum()), fn=int((~tm).sum()), fp=len(fps), n_optional=len(optional),
        bands=bands, fps=fps, misses=misses, n_spasms=len(spasm_truth), spasms_found=sp_found,
        false_spasms=false_spasms, n_voluntary=len(vol_eps), voluntary_as_spasm=vol_as_spasm,
        tonic_as_spasm=tonic_as_spasm,
        n_det_spasms=len(det_sp)))


def summarize(results):
    from collections import Counter
    lines = []
    lines.append("| condition | recs | min | truth at rest | TP | FN | FP | precision | recall | F1 | false/min | spasms found | false spasms | vol./tonic as spasm |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    groups = {}
    for r in results:
        groups.setdefault(r["info"]["condition"], []).append(r)
    for cond in list(CONDITIONS) + ["all"]:
        rs = results if cond == "all" else groups.get(cond, [])
        if not rs:
            continue
        tp = sum(r["own"]["tp"] for r in rs)
        fn = sum(r["own"]["fn"] for r in rs)
        fp = sum(r["own"]["fp"] for r in rs)
        mins = sum(r["info"]["duration_s"] for r in rs) / 60
        nsp = sum(r["own"]["n_spasms"] for r in rs)
        fsp = sum(r["own"]["spasms_found"] for r in rs)
        fls = sum(r["own"]["false_spasms"] for r in rs)
        vas = sum(r["own"]["voluntary_as_spasm"] + r["own"]["tonic_as_spasm"] for r in rs)
        prec = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
        lines.append(f"| {cond} | {len(rs)} | {mins:.0f} | {tp + fn} | {tp} | {fn} | {fp} | {prec:.3f} | {rec:.3f} | "
                     f"{f1:.3f} | {fp / mins:.2f} | {fsp}/{nsp} | {fls} | {vas} |")
    lines.append("")
    lines.append("Recall by SNR band (band-passed peak / in-band noise RMS), discharges at rest:")
    lines.append("")
    lines.append("| condition | " + " | ".join(f"SNR {lo}-{hi}" for lo, hi in SNR_BANDS) + " |")
    lines.append("|---|" + "---|" * len(SNR_BANDS))
    for cond in list(CONDITIONS) + ["all"]:
        rs = results if cond == "all" else groups.get(cond, [])
        if not rs:
            continue
        cells = []
        for lo, hi in SNR_BANDS:
            k = f"{lo}-{hi}"
            a = sum(r["own"]["bands"][k][0] for r in rs)
            b = sum(r["own"]["bands"][k][1] for r in rs)
            cells.append(f"{a / b:.2f} ({b})" if b else "-")
        lines.append(f"| {cond} | " + " | ".join(cells) + " |")
    fpk = Counter(f[-1] for r in results for f in r["own"]["fps"])
    msk = Counter(m[-1] for r in results for m in r["own"]["misses"])
    lines.append("")
    lines.append("False fasciculations by what lies under them: " + ", ".join(f"{k} {v}" for k, v in fpk.most_common()))
    lines.append("")
    lines.append("Misses (at rest) by cause: " + ", ".join(f"{k} {v}" for k, v in msk.most_common()))
    ev_f1 = [r["eval"]["f1"] for r in results]
    lines.append("")
    lines.append(f"fascidetect.evaluation (rest_only, 10 ms) pooled: TP {sum(r['eval']['tp'] for r in results)}, "
                 f"FP {sum(r['eval']['fp'] for r in results)}, FN {sum(r['eval']['fn'] for r in results)}; "
                 f"median per-recording F1 {np.median(ev_f1):.3f}")
    return "\n".join(lines)


def main(argv=None):
    global NOISE_DRIFT_SD, PINK_SHARE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--per-condition", type=int, default=2)
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--out", default="/work/bench_data/indep28")
    ap.add_argument("--plots", type=int, default=3, help="PNGs of false and of missed ones per recording")
    ap.add_argument("--tag", default="run")
    ap.add_argument("--param", action="append", default=[], help="DetectionParams override NAME=VALUE")
    ap.add_argument("--cases", default="", help="only these SEED:CONDITION pairs, comma-separated "
                    "(e.g. to plot the traces of one recording again)")
    ap.add_argument("--fs", type=float, default=None, help="every recording at this sampling "
                    "rate (Hz; e.g. 250 or 200 for consumer boards) instead of the seed's choice "
                    "(the seed's recording then differs)")
    ap.add_argument("--noise-drift-sd", type=float, default=NOISE_DRIFT_SD)
    ap.add_argument("--pink-share", default=",".join(map(str, PINK_SHARE)))
    args = ap.parse_args(argv)
    NOISE_DRIFT_SD = args.noise_drift_sd
    PINK_SHARE = tuple(float(v) for v in args.pink_share.split(","))
    out = Path(args.out)
    (out / "png").mkdir(parents=True, exist_ok=True)
    params_kw = {}
    for p in args.param:
        k, v = p.split("=", 1)
        params_kw[k] = json.loads(v)
    results = []
    conds = args.conditions.split(",")
    if args.cases:
        cases = [(int(c.split(":")[0]), c.split(":")[1]) for c in args.cases.split(",")]
    else:
        cases = [(args.first_seed + k, cond) for k, cond in
                 enumerate(c for _ in range(args.per_condition) for c in conds)]
    for seed, cond in cases:  # a loop over recordings
        r = run_one(seed, cond, out, args.plots, params_kw, fs=args.fs)
        o = r["own"]
        print(f"{r['name']}: fs={r['info']['fs']:.0f} ch={r['info']['n_ch']} {r['info']['duration_s']:.0f}s "
              f"rest={o['n_rest']} tp={o['tp']} fn={o['fn']} fp={o['fp']} spasm {o['spasms_found']}/{o['n_spasms']} "
              f"false_sp={o['false_spasms']} eval_f1={r['eval']['f1']:.3f} ({r['info']['detect_s']}s)", flush=True)
        results.append(r)
    (out / f"results_{args.tag}.json").write_text(json.dumps(results, indent=1, default=float))
    text = summarize(results)
    print(text)
    (out / f"summary_{args.tag}.md").write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
