"""Whole ``fascidetect detect`` processes against the floor process, paired (issue 14).

The floor is what any tool must do with the file: MNE ``read_raw_edf(preload=True)``
and ``scipy.signal.sosfiltfilt`` of the pipeline's band-pass cascade (the same SOS
``detect`` designs for the file) over the whole array. Each round runs the floor and
then ``detect FILE --out DIR`` with every checkout given, one after the other, so the
machine's load falls on all alike; the table gives medians of the rounds: CPU (user +
system of the child, from ``/usr/bin/time``), wall time and peak RSS, and the ratios of
CPU and wall to the floor's.

Usage::

    python benchmarks/floor_ratio.py FILE.edf [FILE.edf ...] --code main=/work/main \\
        --code branch=/path/to/worktree --rounds 3

Each ``--code NAME=DIR`` runs with ``PYTHONPATH=DIR`` (the directory holding the
``fascidetect`` package); ``--env NAME:VAR=VALUE`` sets an environment variable for that
one (e.g. ``--code one=DIR --env one:FASCIDETECT_THREADS=1``). Each round's line gives
CPU and wall seconds and the load average as it began (the machine may be shared). The
events of the last round are left in ``--out`` for comparing checkouts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_FLOOR = """
import sys, warnings
import numpy as np, mne, scipy.signal as ss
warnings.simplefilter("ignore")
raw = mne.io.read_raw_edf(sys.argv[1], preload=True, verbose="error")
sos = np.load(sys.argv[2])
ss.sosfiltfilt(sos, raw.get_data(), axis=-1)
"""

_DETECT = "import sys; from fascidetect.cli import main; sys.argv[0] = 'fascidetect'; main()"


def design_sos(path: str, code: str) -> Path:
    """Save the SOS cascade ``detect`` uses on ``path`` (band-pass and notches) to a file."""
    script = f"""
import sys, warnings, numpy as np
warnings.simplefilter("ignore")
sys.path.insert(0, {str(Path(__file__).parent)!r})
from _measure import _cascade, _load
data, sfreq = _load({path!r})
np.save(sys.argv[1], _cascade({path!r}, data, sfreq))
"""
    out = Path(tempfile.mkdtemp(prefix="floor_sos_")) / "sos.npy"
    subprocess.run([sys.executable, "-c", script, str(out)], check=True,
                   env={**os.environ, "PYTHONPATH": code}, cwd=tempfile.gettempdir())
    return out


def timed(cmd: list[str], env: dict) -> dict:
    """Run ``cmd`` under ``/usr/bin/time`` and return its CPU, wall (s) and peak RSS (MB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as fh:
        # A neutral working directory: ``python -c`` puts it first on sys.path, where a
        # checkout's ``fascidetect`` would shadow PYTHONPATH's.
        subprocess.run(["/usr/bin/time", "-o", fh.name, "-f", "%U %S %e %M", *cmd],
                       check=True, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        user, system, wall, rss = fh.read().split()[-4:]
    return {"cpu": float(user) + float(system), "wall": float(wall),
            "rss": float(rss) / 1024.0}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--code", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--env", action="append", default=[], metavar="NAME:VAR=VALUE")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=tempfile.gettempdir() + "/floor_ratio")
    args = ap.parse_args(argv)
    # Absolute paths: the processes run in a neutral working directory (``timed``).
    args.files = [str(Path(f).resolve()) for f in args.files]
    codes = dict(c.split("=", 1) for c in args.code)
    extra = {name: {} for name in codes}
    for item in args.env:
        name, setting = item.split(":", 1)
        var, value = setting.split("=", 1)
        extra[name][var] = value
    rows = []
    for path in args.files:
        sos = design_sos(path, next(iter(codes.values())))
        runs = {name: [] for name in ["floor", *codes]}
        for r in range(args.rounds):
            load = os.getloadavg()[0]
            runs["floor"].append(timed([sys.executable, "-c", _FLOOR, path, str(sos)],
                                       dict(os.environ)))
            for name, code in codes.items():
                out = Path(args.out) / name / Path(path).stem
                env = {**os.environ, "PYTHONPATH": code, **extra[name]}
                runs[name].append(timed([sys.executable, "-c", _DETECT, "detect", path,
                                         "--out", str(out)], env))
            print(f"{Path(path).name} round {r + 1} (load {load:.1f}): " + ", ".join(
                f"{k} {v[-1]['cpu']:.2f} s CPU {v[-1]['wall']:.2f} s wall"
                for k, v in runs.items()), flush=True)
        med = {k: {m: statistics.median(x[m] for x in v) for m in ("cpu", "wall", "rss")}
               for k, v in runs.items()}
        for name, m in med.items():
            rows.append((Path(path).name, name, m["cpu"], m["wall"], m["rss"],
                         m["cpu"] / med["floor"]["cpu"], m["wall"] / med["floor"]["wall"]))
    print("\n| file | process | CPU s | wall s | peak RSS MB | CPU / floor | wall / floor |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| {} | {} | {:.2f} | {:.2f} | {:.0f} | {:.2f} | {:.2f} |".format(*row))


if __name__ == "__main__":
    main()
