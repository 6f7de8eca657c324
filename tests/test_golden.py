"""Golden outputs: refactors of the pipeline must reproduce the stored event tables.

The tables in ``tests/golden`` were written by ``scripts/make_golden.py``. Every column
stored there must come out identical (as written to TSV); columns added since are not
compared. When detection is meant to change, rerun the script and say why in the commit.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

import fascidetect

GOLDEN = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location(
    "make_golden", Path(__file__).resolve().parents[1] / "scripts" / "make_golden.py")
make_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_golden)


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _check(name, rec, tmp_path):
    stored = _rows(GOLDEN / f"{name}_events.tsv")
    out = fascidetect.detect(rec).to_tsv(tmp_path / f"{name}_events.tsv")
    now = _rows(out)
    assert len(now) == len(stored), f"{name}: {len(now)} events, golden {len(stored)}"
    columns = list(stored[0]) if stored else []
    for i, (a, b) in enumerate(zip(now, stored)):
        diff = {c: (a.get(c), b[c]) for c in columns if a.get(c) != b[c]}
        assert not diff, f"{name} row {i}: (now, golden) {diff}"


@pytest.mark.parametrize("name,scenario,seed,duration", make_golden.SIMULATED,
                         ids=[c[0] for c in make_golden.SIMULATED])
def test_simulated_golden(name, scenario, seed, duration, tmp_path):
    rec, _ = fascidetect.simulation.simulate(scenario=scenario, seed=seed, duration_s=duration)
    _check(name, rec, tmp_path)


@pytest.mark.parametrize("name,rel", make_golden.REAL, ids=[c[0] for c in make_golden.REAL])
def test_real_golden(name, rel, shared_data, tmp_path):
    path = shared_data / rel
    if not path.exists():
        pytest.skip(f"{path} is absent")
    _check(name, fascidetect.read(path), tmp_path)
