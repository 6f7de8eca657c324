#!/usr/bin/env python
"""Regenerate the bundled simulated sample: signals/sim_mixed_L5.edf and its truth.

Usage: .venv/bin/python scripts/make_signals.py [--out signals]

The sample is scenario "mixed" (2 min, 6 channels at 2048 Hz, seed 5): fasciculations in
an L5 pattern (TA, EHL, PL, GMED; none on GAS/SOL), one calf spasm, one annotated
dorsiflexion and mild 50 Hz hum. Output is reproducible byte for byte.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fascidetect.simulation import simulate, write_simulation

SEED = 5
STEM = "sim_mixed_L5"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "signals"))
    args = parser.parse_args(argv)
    rec, truth = simulate(duration_s=120.0, sfreq=2048.0, scenario="mixed", seed=SEED)
    paths = write_simulation(rec, truth, args.out, STEM)
    kinds, counts = np.unique(truth["trial_type"], return_counts=True)
    fasc = truth[truth["trial_type"] == "fasciculation"]
    mains, per = np.unique(fasc["channel"], return_counts=True)
    for path in paths.values():
        print(f"{path}  ({path.stat().st_size / 1e6:.2f} MB)")
    print("truth rows:", dict(zip(kinds.tolist(), counts.tolist())))
    print("fasciculations per main channel:", dict(zip(mains.tolist(), per.tolist())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
