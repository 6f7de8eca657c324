"""Every script of examples/ runs as a user would run it and writes what it promises."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

#: What each example writes into its output folder.
WRITES = {
    "plot_openbci_detect.py": ["openbci_traces.png", "openbci_events.tsv"],
    "inspect_with_pandas_and_mne.py": ["raw_with_annotations.png",
                                       "fasciculations_per_channel.tsv"],
    "simulate_and_evaluate.py": ["evaluation.txt"],
    "batch_folder.py": ["results/batch_summary.tsv", "results/batch_report.png"],
    "compare_two_sessions.py": ["session1_summary.json", "session2_summary.json",
                                "trend_tests.tsv"],
}


def run_script(script: Path, cwd: Path, *args, env_extra=None, timeout=180):
    """Run a Python script in a fresh interpreter that imports this checkout's fascidetect."""
    env = dict(os.environ, MPLBACKEND="Agg", **(env_extra or {}))
    # The venv may hold another checkout's editable install: this one comes first.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_every_example_is_checked():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(WRITES)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_example_has_a_gallery_docstring(name):
    doc = ast.get_docstring(ast.parse((EXAMPLES / name).read_text(encoding="utf-8")))
    assert doc, f"{name} has no module docstring"
    title, underline = doc.splitlines()[:2]
    assert title and set(underline) == {"="} and len(underline) == len(title)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_example_runs_and_writes_its_outputs(name, tmp_path):
    pytest.importorskip("pandas")
    out = tmp_path / "out"
    res = run_script(EXAMPLES / name, tmp_path, env_extra={"FASCIDETECT_EXAMPLES_OUT": str(out)})
    assert res.returncode == 0, res.stderr[-3000:]
    for rel in WRITES[name]:
        path = out / rel
        assert path.is_file() and path.stat().st_size > 0, f"{name} did not write {rel}"


def test_example_output_folder_can_be_an_argument(tmp_path):
    res = run_script(EXAMPLES / "simulate_and_evaluate.py", tmp_path, tmp_path / "given")
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "given" / "evaluation.txt").is_file()
