"""The fasciculation F1 an amplitude-threshold detector can expect on a scenario.

Usage::

    python benchmarks/ceiling.py                         # every simulated row, seeds 200-202
    python benchmarks/ceiling.py --only 125,glitch --first-seed 0 --seeds 6

A simulated discharge of peak ``s`` in-band noise sigmas, seen through Gaussian noise,
crosses a threshold ``u`` with probability ``Phi(s - u)``. The threshold is the lowest
that keeps the noise's own crossings to ``--false-per-min`` (1, issue 11's bar) over all
channels, by Rice's formula for band-limited Gaussian noise: ``|x|`` crosses ``u``
upwards ``2 f_rms exp(-u^2 / 2)`` times a second, ``f_rms`` the RMS frequency of the
detector's band at the recording's rate (``DetectionParams.band_for``). With no false
detection beyond that rate (precision about 1), the recall ``mean(Phi(s - u))`` bounds F1
at ``2 r / (1 + r)``. At 2 kHz over 8 channels ``u`` is 5.0 sigmas, fascidetect's
threshold.

This is a model, not a strict bound: it judges a discharge by one peak on one channel.
A detector that also sees the potential's other phase, its other channels or a learnt
template does better; ``--gain`` scales the truth's SNR by such a factor. On the low-SNR
row at 2 kHz the model gives 0.38 at gain 1 and 0.63 at gain 1.5, where fascidetect
scores 0.66; at 125-250 Hz a potential spans 1-3 samples and a template gains less. Every truth fasciculation counts (like the accuracy table's
``F1 incl. active``); rows whose truth holds discharges during activity have a higher
ceiling at rest.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def rms_frequency(low_hz: float, high_hz: float) -> float:
    """Return the RMS frequency (Hz) of white noise band-limited to [low_hz, high_hz]."""
    return float(np.sqrt((high_hz ** 3 - low_hz ** 3) / (3.0 * (high_hz - low_hz))))


def threshold_for(false_per_min: float, n_channels: int, low_hz: float, high_hz: float) -> float:
    """Return the level (noise sigmas) whose noise crossings are ``false_per_min``."""
    crossings_per_min = 60.0 * n_channels * 2.0 * rms_frequency(low_hz, high_hz)
    return float(np.sqrt(2.0 * np.log(crossings_per_min / false_per_min)))


def ceiling(snr: np.ndarray, threshold: float, gain: float = 1.0) -> float:
    """Return the F1 bound for truth of peak ``snr`` against a ``threshold`` detector."""
    from scipy.stats import norm

    if snr.size == 0:
        return float("nan")
    recall = float(norm.cdf(gain * snr - threshold).mean())
    return 2.0 * recall / (1.0 + recall)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first-seed", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated substrings of the row names")
    ap.add_argument("--false-per-min", type=float, default=1.0)
    ap.add_argument("--gain", type=float, default=1.0)
    args = ap.parse_args(argv)

    from accuracy import SCENARIOS

    from fascidetect.params import DetectionParams
    from fascidetect.simulation import simulate

    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    params = DetectionParams()
    print("| scenario | threshold (sigma) | F1 ceiling | F1 ceiling (SNR>=5) | "
          "truth under 4 sigma |\n|---|---:|---:|---:|---:|")
    done = set()
    for name, scenario, _ in SCENARIOS:
        if scenario in done or (wanted and not any(w in name for w in wanted)):
            continue
        done.add(scenario)
        f1s, f1s5, faint = [], [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rec, truth = simulate(scenario=scenario, seed=seed)
            snr = np.asarray(truth[truth["trial_type"] == "fasciculation"]["snr"], float)
            low, high = params.band_for(rec.sfreq)
            u = threshold_for(args.false_per_min, len(rec.ch_names), low, high)
            f1s.append(ceiling(snr, u, args.gain))
            f1s5.append(ceiling(snr[snr >= 5], u, args.gain))
            faint.append(float(np.mean(snr < 4)) if snr.size else float("nan"))
        print(f"| {name} | {u:.2f} | {np.nanmean(f1s):.3f} | {np.nanmean(f1s5):.3f} | "
              f"{np.nanmean(faint):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
