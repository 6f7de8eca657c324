"""Fuzz every reader with seeded mutations of small valid files (see tests/_fuzz.py).

Usage: python scripts/fuzz_readers.py [--cases N] [--first K] [--detect-every M]

Prints a tally per format and outcome and every failing case (format, case number,
kind, message); exit code 1 if any case failed. A case is reproduced by running the
same format and case number again (``--first K --cases 1``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import _fuzz  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="cases per format")
    parser.add_argument("--first", type=int, default=0, help="first case number")
    parser.add_argument("--detect-every", type=int, default=8,
                        help="also run detect on every M-th case that reads")
    parser.add_argument("--formats", default=",".join(_fuzz.FORMATS))
    parser.add_argument("--max-gb", type=float, default=3.0,
                        help="address-space limit of this process: an allocation beyond it "
                             "is a MemoryError, counted as a failed case")
    args = parser.parse_args()
    import resource

    limit = int(args.max_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = _fuzz.run(args.cases, Path(tmp), REPO, formats=args.formats.split(","),
                             first_case=args.first, detect_every=args.detect_every)
    tally = Counter((o.fmt, o.kind) for o in outcomes)
    for fmt in args.formats.split(","):
        kinds = {k: n for (f, k), n in sorted(tally.items()) if f == fmt}
        detected = sum(o.detected for o in outcomes if o.fmt == fmt)
        peak = max((o.peak_bytes for o in outcomes if o.fmt == fmt), default=0)
        print(f"{fmt:15s} {kinds}  detect runs {detected}  peak read {peak / 2**20:.1f} MB")
    failed = [o for o in outcomes if o.failed]
    for o in failed:
        print(f"FAIL {o.fmt} case {o.case}: {o.kind}: {o.message}")
    print(f"{len(outcomes)} cases, {len(failed)} failed, {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
