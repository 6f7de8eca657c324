"""Live monitoring: CPU share of one core and detection latency (issue 16).

A simulated rest recording with fasciculations is pushed through
:class:`fascidetect.live.LiveProcessor` in 50-ms chunks, as a board delivers them, as
fast as the processor takes them (``catch_up=True``: every analysis of a real-time
session is done). CPU share = process CPU time / stream time, with BLAS and OpenMP held
to one thread, so it is the share of ONE core a real-time session needs (< 1 keeps up).

Latency of each fasciculation = the stream time from its onset to the newest sample the
window that reported it had seen (the look-ahead plus the wait for the next hop) + the
wall time of that analysis: what a real-time session shows when the core is not shared.
Fasciculation F1 of the live result against offline ``detect`` on the same recording is
printed beside it.

Usage: ``python benchmarks/live.py [--seconds 60] [--no-append]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import datetime as _dt
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fascidetect
from fascidetect.evaluation import match_times
from fascidetect.live import LiveProcessor, LiveSettings
from fascidetect.simulation import simulate

CASES = (
    ("8 ch, 250 Hz", dict(n_channels=8, sfreq=250.0)),
    ("16 ch, 250 Hz", dict(n_channels=16, sfreq=250.0)),
    ("64 ch (8x8 grid), 2048 Hz", dict(layout=(8, 8), sfreq=2048.0, scenario="grid64")),
    ("64 ch, 2048 Hz, 4-s window", dict(layout=(8, 8), sfreq=2048.0, scenario="grid64",
                                        window_s=4.0)),
)


def run_case(seconds: float, hop_s: float, case: dict, seed: int = 0) -> dict:
    """Push one simulated recording through the live processor; return the figures."""
    kw = dict(case)
    scenario = kw.pop("scenario", "rest")
    window_s = kw.pop("window_s", LiveSettings.window_s)
    rec, _ = simulate(duration_s=seconds, scenario=scenario, seed=seed, **kw)
    x, fs, names = rec.get_data(), rec.sfreq, rec.ch_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        offline = fascidetect.detect(x, sfreq=fs, ch_names=names).events
    proc = LiveProcessor(fs, names, settings=LiveSettings(hop_s=hop_s, window_s=window_s))
    chunk = int(round(0.05 * fs))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(0, x.shape[1], chunk):
        proc.push(x[:, i:i + chunk])
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    proc.finish()
    live = proc.events
    is_fasc = live["trial_type"] == "fasciculation"
    lf = live["onset"][is_fasc]
    of = offline["onset"][offline["trial_type"] == "fasciculation"]
    d, _ = match_times(lf, of, 0.005)
    p, r = len(d) / max(lf.size, 1), len(d) / max(of.size, 1)
    lat = proc.latency_s[is_fasc] * 1000
    free = (proc.wait_s + proc.row_cpu_s)[is_fasc] * 1000   # on a core of its own
    return {"cpu_share": cpu / seconds, "wall_share": wall / seconds,
            "analysis_ms": float(np.median(proc.analysis_s) * 1000),
            "analysis_cpu_ms": float(np.median(proc.analysis_cpu_s) * 1000),
            "lat": np.percentile(lat, [50, 90, 99, 100]) if lat.size else [np.nan] * 4,
            "free": np.percentile(free, [50, 90, 99, 100]) if free.size else [np.nan] * 4,
            "f1": 2 * p * r / (p + r) if p + r else float("nan"), "n": int(of.size)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hops", default="0.1,0.25", help="hop_s values, comma separated")
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for hop in [float(h) for h in args.hops.split(",")]:
        for label, case in CASES:
            res = run_case(args.seconds, hop, case)
            lat = " / ".join(f"{v:.0f}" for v in res["lat"])
            free = " / ".join(f"{v:.0f}" for v in res["free"])
            row = (f"| {label} | {hop:g} | **{res['cpu_share']:.2f}** | {res['wall_share']:.2f} | "
                   f"{res['analysis_cpu_ms']:.0f} ({res['analysis_ms']:.0f}) | **{free}** | {lat} | "
                   f"{res['f1']:.3f} ({res['n']}) |")
            print(row, flush=True)
            rows.append(row)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    head = (f"## Live monitoring, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC "
            f"({platform.machine()}, {os.cpu_count()} cores, load {load:.1f}, Python "
            f"{platform.python_version()})\n\n"
            f"`python benchmarks/live.py --seconds {args.seconds:g}`: {args.seconds:g} s of "
            "simulated rest per row, pushed in 50-ms chunks; window 8 s unless stated, look-ahead 0.35 s. "
            "CPU share = CPU time / stream time on one thread (< 1: one core keeps up); "
            "wall share the same in wall time (higher when the machine is shared). Latency "
            "= onset to report (look-ahead + wait for the hop + the analysis), ms: with the "
            "analysis's CPU time (a core of its own) and with its wall time on this shared "
            "machine. F1 = "
            "live fasciculations against offline `detect` on the same recording (offline "
            "count).\n\n"
            "| channels, rate | hop (s) | CPU share of one core | wall share | analysis CPU (wall) ms, median | "
            "latency p50 / p90 / p99 / max, own core (ms) | same, shared machine (ms) | "
            "F1 vs offline (n) |\n"
            "|---|---:|---:|---:|---:|---|---|---:|\n")
    table = head + "\n".join(rows) + "\n"
    print(table)
    if not args.no_append:
        with open(Path(__file__).with_name("README.md"), "a", encoding="utf-8") as fh:
            fh.write("\n" + table)


if __name__ == "__main__":
    main()
