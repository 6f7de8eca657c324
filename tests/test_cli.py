"""The command line as a user meets it: the detect summary line and the report's paths."""

from __future__ import annotations

import json
import warnings

import pytest
from click.testing import CliRunner

from fascidetect.cli import cli
from fascidetect.errors import FascidetectWarning
from fascidetect.simulation import simulate, write_simulation


@pytest.fixture(scope="module")
def hum_motion_edf(tmp_path_factory):
    """A 30-s simulated EDF+ with voluntary firing, motion and pops."""
    rec, truth = simulate(duration_s=30, scenario="hum_motion", seed=1)
    folder = tmp_path_factory.mktemp("sim")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FascidetectWarning)
        paths = write_simulation(rec, truth, folder, "hum")
    return next(p for p in paths.values() if str(p).endswith(".edf"))


def test_detect_summary_line_counts_voluntary_events(hum_motion_edf, tmp_path):
    res = CliRunner().invoke(cli, ["detect", str(hum_motion_edf), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (line,) = res.stdout.strip().splitlines()
    fields = line.split("\t")
    counts = json.loads((tmp_path / "hum_summary.json").read_text())["counts"]
    assert counts["voluntary"] > 0
    assert fields[1:] == [
        "ok", f"{counts['fasciculation']} fasciculations", fields[3],
        f"{counts['spasm']} spasms", f"{counts['voluntary']} voluntary",
        f"{counts['artifact']} artifacts"]


def test_report_png_prints_every_page(hum_motion_edf, tmp_path):
    out = tmp_path / "reports"
    res = CliRunner().invoke(cli, ["report", str(hum_motion_edf), "--out", str(out),
                                   "--format", "png", "--format", "html", "--quiet"])
    assert res.exit_code == 0, res.output
    printed = res.stdout.strip().splitlines()
    pages = sorted(out.glob("hum_report_p*.png"))
    assert len(pages) >= 4
    # One line per file written: the PNG pages (in page order), then the HTML.
    assert sorted(printed[:-1]) == [str(p) for p in pages]
    assert printed[-1] == str(out / "hum_report.html")
