"""Batch throughput: files per minute for the local engine (1 and N workers) and Dask.

Writes (or reuses) simulated EDF recordings, runs :func:`fascidetect.batch.run` on them
with each engine into a fresh folder, and prints a markdown table. With ``--append``
the table is appended, with the date and machine, to ``benchmarks/README.md``.

Usage::

    python benchmarks/bench_batch.py                    # 8 files, 5 min, 8 ch, 2048 Hz
    python benchmarks/bench_batch.py --files 16 --workers 4 --append
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _recordings(folder: Path, n_files: int, minutes: float, n_channels: int,
                sfreq: float) -> list[Path]:
    from _fixtures import make_recording

    folder.mkdir(parents=True, exist_ok=True)
    tag = f"{minutes:g}min_{n_channels}ch_{sfreq:g}hz"
    return [make_recording(folder / f"bench_{tag}_{i:02d}.edf", sfreq, n_channels, minutes,
                           seed=100 + 7 * i) for i in range(n_files)]


def _measure(files, engine: str, jobs: int) -> dict:
    from fascidetect import batch

    out = Path(tempfile.mkdtemp(prefix=f"bench_batch_{engine}{jobs}_"))
    try:
        started = time.perf_counter()
        rows = batch.run(files, out, engine=engine, jobs=jobs, progress=False)
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(out, ignore_errors=True)
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        raise RuntimeError(f"{len(failed)} files failed, e.g. {failed[0]['error']}")
    busy = sum(r["elapsed_s"] for r in rows)
    return {"wall_s": wall, "files_per_min": 60.0 * len(rows) / wall,
            "mb_per_s": sum(os.path.getsize(f) for f in files) / 1e6 / wall,
            "per_file_s": busy / len(rows)}


def main(argv=None) -> str:
    """Run the benchmark and return the markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--sfreq", type=float, default=2048.0)
    ap.add_argument("--workers", type=int, default=2, help="workers of the parallel runs")
    ap.add_argument("--cache", type=Path,
                    default=Path(tempfile.gettempdir()) / "fascidetect-bench-batch",
                    help="where the simulated recordings are written (reused)")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--append", action="store_true", help="append to benchmarks/README.md")
    args = ap.parse_args(argv)

    files = _recordings(args.cache, args.files, args.minutes, args.channels, args.sfreq)
    runs = [("local", 1), ("local", args.workers)]
    if not args.no_dask:
        try:
            import distributed  # noqa: F401

            runs.append(("dask", args.workers))
        except ImportError:
            print("dask.distributed not installed: skipping the dask engine", file=sys.stderr)
    results = []
    for engine, jobs in runs:
        print(f"running {engine} with {jobs} worker(s)...", file=sys.stderr, flush=True)
        results.append((engine, jobs, _measure(files, engine, jobs)))

    base = results[0][2]["wall_s"]
    size_mb = sum(os.path.getsize(f) for f in files) / 1e6
    lines = [
        f"### Batch throughput ({dt.date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()})",
        "",
        f"{len(files)} EDF files of {args.minutes:g} min, {args.channels} channels, "
        f"{args.sfreq:g} Hz ({size_mb:.0f} MB in all); wall time includes starting the "
        "pool or cluster. `python benchmarks/bench_batch.py`",
        "",
        "| engine | workers | wall (s) | files/min | MB/s | s per file (worker) | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for engine, jobs, r in results:
        lines.append(f"| {engine} | {jobs} | {r['wall_s']:.1f} | {r['files_per_min']:.1f} | "
                     f"{r['mb_per_s']:.1f} | {r['per_file_s']:.2f} | "
                     f"{base / r['wall_s']:.2f}x |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.append:
        readme = HERE / "README.md"
        with open(readme, "a", encoding="utf-8") as fh:  # others append here too
            if readme.stat().st_size == 0:
                fh.write("# fascidetect benchmarks\n")
            fh.write("\n" + table)
        print(f"appended to {readme}", file=sys.stderr)
    return table


if __name__ == "__main__":  # the guard matters: pool workers re-import this module
    main()
