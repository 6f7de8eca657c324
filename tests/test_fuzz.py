"""Fuzz every reader with seeded mutations (tests/_fuzz.py): no traceback, no internal
error, no hang, memory traced while reading under a stated bound, every refusal one line
naming the file. A longer run: ``python scripts/fuzz_readers.py --cases 1000`` (see
benchmarks/README.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mutated_inputs_of_every_reader_fail_cleanly_or_read():
    # In a child process whose address space is capped (3 GB): a reader that tried to
    # allocate what a damaged header announces fails its case instead of the machine.
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "fuzz_readers.py"),
                           "--cases", "50", "--max-gb", "3"],
                          capture_output=True, text=True, timeout=600, env=env)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "500 cases, 0 failed" in done.stdout, report
    for fmt in ("edf", "bdf", "openbci_v6", "openbci_legacy", "brainflow", "csv", "npy", "wfdb",
                "otbmat"):
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith(fmt + " "))
        assert "'ok'" in line and "'refused'" in line, line  # both outcomes exercised
    # Any damage inside a zlib stream is detected: compressed MAT files only get refused.
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("otbmat_z "))
    assert "'refused'" in line, line
