"""Myotome mapping, root pattern, the written report (PDF/PNG/HTML) and the report command."""

from __future__ import annotations

import re
import warnings

import pytest

pytest.importorskip("matplotlib")

from fascidetect import myotomes  # noqa: E402
from fascidetect.errors import FascidetectWarning, ParameterError  # noqa: E402
from fascidetect.pipeline import detect  # noqa: E402
from fascidetect.report import build_pages, report_summary, result_from_events, write_report  # noqa: E402
from fascidetect.results import SURFACE_LIMITS  # noqa: E402
from fascidetect.simulation import simulate  # noqa: E402

CAVEAT = "consistent with L5, not diagnostic of it"


@pytest.fixture(scope="module")
def sim():
    """20 s of the demo scenario: L5 fasciculations, one calf spasm, one voluntary burst."""
    rec, _ = simulate(duration_s=20, scenario="mixed", seed=5)
    rec.source = "/data/sim_mixed.edf"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FascidetectWarning)   # short recording: little rest
        return rec, detect(rec)


def _pdf_pages(path) -> int:
    # Page objects are "/Type /Page"; the page tree is "/Type /Pages" (excluded by \b).
    return len(re.findall(rb"/Type\s*/Page\b", path.read_bytes()))


# ---------------------------------------------------------------------- myotomes
@pytest.mark.parametrize("name, muscle, side", [
    ("EMG TA_R", "TA", "R"), ("GAS_L", "GAS", "L"), ("GM", "GAS", None), ("GL R", "GAS", "R"),
    ("left soleus", "SOL", "L"), ("PER", "PL", None), ("EMG EHL-R", "EHL", "R"),
    ("Tibialis Anterior (right)", "TA", "R"), ("FDI", "FDI", None), ("APB_L", "APB", "L"),
    ("TAR", "TA", "R"), ("EMG3", None, None), ("CH01", None, None), ("", None, None),
])
def test_muscle_for_channel(name, muscle, side):
    assert myotomes.muscle_for_channel(name) == muscle
    assert myotomes.side_for_channel(name) == side


def test_every_muscle_alias_is_unique_and_roots_are_known():
    known = {r for order in myotomes.ROOT_ORDER for r in order}
    for m in myotomes.MUSCLES.values():
        assert m.main_root in m.roots and set(m.roots) <= known
        assert myotomes.muscle_for_channel(m.key) == m.key
        for alias in m.aliases:
            assert myotomes.muscle_for_channel(alias) == m.key


def test_muscle_maps_from_pairs_positions_and_tsv(tmp_path):
    assert myotomes.parse_muscle_map("1=TA_R, 2=GAS_R") == {"#1": "TA_R", "#2": "GAS_R"}
    assert myotomes.parse_muscle_map("TA_R;GAS_R") == {"#1": "TA_R", "#2": "GAS_R"}
    assert myotomes.parse_muscle_map("EMG1=TA_R") == {"EMG1": "TA_R"}
    table = tmp_path / "muscles.tsv"
    table.write_text("channel\tmuscle\nEMG1\tTA_R\n2\tSOL_L\n")
    assert myotomes.parse_muscle_map(table) == {"EMG1": "TA_R", "#2": "SOL_L"}
    labels = myotomes.label_channels(["EMG1", "EMG2", "EMG GAS_R", "X"], str(table))
    assert labels == {"EMG1": "TA_R", "EMG2": "SOL_L", "EMG GAS_R": "GAS_R", "X": None}
    with pytest.raises(ParameterError, match="mixes"):
        myotomes.parse_muscle_map("1=TA_R,GAS_R")
    with pytest.raises(ParameterError, match="does not have"):
        myotomes.label_channels(["EMG1"], "EMG9=TA_R")
    bad = tmp_path / "bad.tsv"
    bad.write_text("name\tmuscle\nEMG1\tTA\n")
    with pytest.raises(Exception, match="'channel' and 'muscle'"):
        myotomes.parse_muscle_map(bad)


def test_root_pattern_l5():
    pattern = myotomes.root_pattern({"TA_R": 12.0, "EHL_R": 20.0, "GAS_R": 0.0})
    assert pattern.roots == ("L5",)
    assert CAVEAT in pattern.text and "diagnostic of L5" not in pattern.text.replace(CAVEAT, "")
    assert pattern.affected == ("TA_R", "EHL_R") and pattern.unaffected == ("GAS_R",)
    full = myotomes.root_pattern({"EMG TA_R": 10, "EMG EHL_R": 30, "EMG PL_R": 25,
                                  "EMG GMED_R": 9, "EMG GAS_R": 0, "EMG SOL_R": 0.2})
    assert full.roots == ("L5",) and full.scores["L5"] > full.scores["L4"]


@pytest.mark.parametrize("rates, why", [
    ({"TA_R": 12.0, "GAS_R": 0.0}, "fewer than 2 affected muscles"),          # one muscle
    ({"TA_R": 12.0}, "fewer than 2 affected muscles"),
    ({"TA_R": 12.0, "EHL_R": 20.0}, "no unaffected muscle of a neighbouring root"),
    ({"TA_R": 12.0, "TA_L": 9.0, "GAS_R": 0.0}, "both sides"),
    ({"TA_R": 0.0, "GAS_R": 0.5}, "cannot point to a root"),                   # none affected
])
def test_root_pattern_makes_no_claim_without_the_evidence(rates, why):
    pattern = myotomes.root_pattern(rates)
    assert pattern.roots == ()
    assert why in pattern.text and "consistent with" not in pattern.text


def test_root_pattern_uses_confidence_bound_and_ignores_unknown_channels():
    rates = {"TA_R": {"rate_per_min": 3.0, "rate_ci_low": 0.0},
             "EHL_R": {"rate_per_min": 30.0, "rate_ci_low": 20.0}, "GAS_R": 0.0, "EMG7": 50.0}
    pattern = myotomes.root_pattern(rates)
    assert pattern.roots == () and pattern.unmapped == ("EMG7",)
    assert "TA_R" in pattern.unaffected


# ---------------------------------------------------------------------- report
def test_summary_states_rates_root_and_limits(sim):
    _, res = sim
    summary = report_summary(res)
    facts = dict(summary["facts"])
    assert facts["Fasciculations"].startswith(f"{len(res.fasciculations)},")
    assert "95 % CI" in facts["Fasciculations"]
    assert facts["Spasm episodes"].startswith("1 ")
    assert len(summary["table_rows"]) == len(res.channels)
    assert summary["table_rows"][0][:3] == ["TA_R", "tibialis anterior (R)", "L5"]
    assert CAVEAT in summary["root_pattern"]
    assert summary["limits"] == SURFACE_LIMITS and "fibrillation" in SURFACE_LIMITS


def test_an_hd_grid_keeps_its_busiest_channels_on_the_page(tmp_path):
    # 36 channels (a 6x6 grid): 36 table rows and bars did not fit a page (the rows
    # overlapped). The page shows the busiest 19 and one row summing the others; the
    # overview the 24 highest rates; the HTML keeps every channel.
    from fascidetect.plot import plot_overview
    from fascidetect.report import MAX_PAGE_ROWS, _rows_on_page

    rec, _ = simulate(duration_s=30, n_channels=36, layout=(6, 6), seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FascidetectWarning)
        res = detect(rec, layout=(6, 6))
    summary = report_summary(res)
    rows, note = _rows_on_page(summary["table_rows"])
    assert len(rows) == MAX_PAGE_ROWS and rows[-1][0] == f"{36 - MAX_PAGE_ROWS + 1} others"
    assert "Of 36 channels" in note
    counts = [int(r[3]) for r in summary["table_rows"]]
    assert sum(int(r[3]) for r in rows) == sum(counts) > 0      # nothing lost from the sum
    shown = [int(r[3]) for r in rows[:-1]]
    assert min(shown) >= max(sorted(counts)[:36 - len(shown)])  # the busiest are shown
    fig = plot_overview(res)
    assert len([p for p in fig.axes[0].patches if p.get_gid() == "rate_bar"]) == 24
    assert "24 highest of 36" in fig.axes[0].get_title()
    from fascidetect.plot import plot_traces

    ax = plot_traces(rec, res).axes[0]
    drawn = [t.get_text() for t in ax.get_yticklabels()]
    assert len(drawn) == 16 and "(16 of 36 channels)" in ax.get_title(loc="left")
    busiest = max(summary["table_rows"], key=lambda r: int(r[3]))[0]
    assert busiest in drawn
    from fascidetect.plot import plot_raster_rate

    raster = plot_raster_rate(res).axes[0]
    assert len(raster.get_yticklabels()) == 36  # every row labelled, in a smaller font
    html = write_report(rec, tmp_path, result=res, formats=("html",))
    text = html["html"].read_text()
    assert all(f"<td>{r[0]}</td>" in text for r in summary["table_rows"])


def test_pdf_png_and_html(sim, tmp_path):
    rec, res = sim
    names = [p.name for p in build_pages(res, rec)]
    assert names == ["summary", "overview", "traces", "spasm1", "raster", "waveforms",
                     "histograms"]
    out = write_report(rec, tmp_path, result=res, formats=("pdf", "png", "html"))
    assert out["pdf"].name == "sim_mixed_report.pdf"
    assert _pdf_pages(out["pdf"]) == len(names)
    assert [p.name for p in out["png"]] == [f"sim_mixed_report_p{i}_{n}.png"
                                            for i, n in enumerate(names, 1)]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in out["png"])
    text = out["html"].read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == len(names) - 1
    assert 'src="http' not in text and "<link" not in text          # self-contained
    assert CAVEAT in text and "cannot assess" in text
    assert not list(tmp_path.glob(".*tmp*"))                        # atomic writes cleaned


def test_report_detects_when_no_result_and_reports_progress(sim, tmp_path):
    rec, _ = sim
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FascidetectWarning)
        out = write_report(rec, tmp_path, progress=seen.append)
    assert out["pdf"].exists() and seen[-1] == 1.0 and seen == sorted(seen)


def test_report_from_saved_events(sim, tmp_path):
    rec, res = sim
    tsv = res.to_tsv(tmp_path / "sim_mixed_events.tsv")
    rebuilt = result_from_events(tsv, rec)
    assert [c["n_fasciculations"] for c in rebuilt.channels] == \
        [c["n_fasciculations"] for c in res.channels]
    # The table holds the episodes, not the 1-s rest windows: within one window.
    assert rebuilt.channels[0]["rest_s"] == pytest.approx(res.channels[0]["rest_s"], abs=1.0)
    out = write_report(rec, tmp_path / "a", events=tmp_path)        # folder of <stem>_events
    assert _pdf_pages(out["pdf"]) == 6                              # no waveform page
    out = write_report(None, tmp_path / "b", events=tsv)            # no recording
    assert _pdf_pages(out["pdf"]) == 4                              # no traces either


def test_report_rejects_unknown_format(sim, tmp_path):
    rec, res = sim
    with pytest.raises(ParameterError, match="format"):
        write_report(rec, tmp_path, result=res, formats=("docx",))


# ---------------------------------------------------------------------- CLI
def _run(args):
    from click.testing import CliRunner

    from fascidetect.cli import cli

    return CliRunner().invoke(cli, args)


def test_cli_help_has_an_example():
    res = _run(["report", "--help"])
    assert res.exit_code == 0 and "Example:" in res.output and "--format" in res.output
    assert "--input-format" in res.output and "--muscles" in res.output


def test_cli_missing_file_is_one_line_and_exit_1(tmp_path):
    res = _run(["report", str(tmp_path / "nope.edf"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "nope.edf" in lines[0]


def test_cli_processes_the_good_files_when_one_fails(sim, tmp_path, monkeypatch):
    import fascidetect.report as report_module

    rec, _ = sim
    real_load = report_module._load
    monkeypatch.setattr(report_module, "_load",
                        lambda path, opts: (rec, "good") if str(path).endswith("good.edf")
                        else real_load(path, opts))
    out = tmp_path / "o"
    res = _run(["report", "good.edf", str(tmp_path / "missing.edf"), "--out", str(out),
                "--format", "pdf", "--format", "html", "--quiet", "--muscles", "1=TA_R"])
    assert res.exit_code == 1
    assert res.stdout.strip().splitlines() == [str(out / "good_report.pdf"),
                                                str(out / "good_report.html")]
    assert (out / "good_report.html").exists()
    assert res.stderr.count("Error:") == 1
    res = _run(["report", "good.edf", "--out", str(out), "--muscles", "1=TA_R,TA_L"])
    assert res.exit_code == 1 and res.stderr.startswith("Error:")


def test_cli_reads_a_real_file(tmp_path):
    pytest.importorskip("fascidetect.io")
    from fascidetect.simulation import write_simulation

    rec, truth = simulate(duration_s=20, scenario="mixed", seed=2)
    paths = write_simulation(rec, truth, tmp_path, "sim")
    edf = [p for p in paths.values() if str(p).endswith(".edf")][0]
    res = _run(["report", str(edf), "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().endswith("sim_report.pdf")


def test_root_sentence_agrees_with_the_channel_table_when_no_muscle_is_named():
    # Channels named EMG1..EMG4 with fasciculations: the report must not claim that no
    # muscle has fasciculations; it says that no channel names a muscle.
    from conftest import synthetic_emg

    data, _, _ = synthetic_emg(duration_s=60, n_discharges=40, seed=3)
    result = detect(data, sfreq=2048.0)
    assert max(c["rate_per_min"] for c in result.channels) > 1.0
    text = report_summary(result)["root_pattern"]
    assert "names a muscle" in text and "No named muscle has" not in text


def test_an_in_memory_recording_is_titled_as_such():
    # The title was "fascidetect report", so the page read "fascidetect report:
    # fascidetect report".
    import numpy as np

    x = 5e-6 * np.random.default_rng(0).standard_normal((2, 20 * 2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FascidetectWarning)
        res = detect(x, sfreq=2000.0)
    assert report_summary(res)["title"] == "in-memory recording"
