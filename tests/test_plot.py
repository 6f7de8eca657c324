"""Figures of fascidetect.plot on a short simulated L5 recording: content checked, not looks."""

from __future__ import annotations

import dataclasses
import io
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from fascidetect import plot  # noqa: E402
from fascidetect.errors import FascidetectWarning, ParameterError  # noqa: E402
from fascidetect.pipeline import detect  # noqa: E402
from fascidetect.plot.rates import inter_discharge_intervals, sliding_rate  # noqa: E402
from fascidetect.plot.traces import filtered_window  # noqa: E402
from fascidetect.simulation import simulate  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    """25 s of the demo scenario (L5 fasciculations, a calf spasm, a voluntary contraction)."""
    rec, _ = simulate(duration_s=25, scenario="mixed", seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FascidetectWarning)   # short recording: little rest
        return rec, detect(rec)


def _renders(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def _fasc_markers(ax):
    (coll,) = [c for c in ax.collections if c.get_gid() == "fasciculations"]
    return coll.get_offsets()


def test_traces_mark_every_fasciculation_in_the_window(sim):
    rec, res = sim
    fasc = res.fasciculations
    assert len(fasc) > 5
    for start, stop in ((0.0, 25.0), (10.0, 18.0)):
        fig = plot.plot_traces(rec, res, start, stop)
        ax = fig.axes[0]
        inside = (fasc["peak_time"] >= start) & (fasc["peak_time"] <= stop)
        offsets = _fasc_markers(ax)
        assert len(offsets) == inside.sum()
        assert np.allclose(np.sort(offsets[:, 0]), np.sort(fasc["peak_time"][inside]))
        assert ax.get_xlabel() == "Time (s)"
        assert ax.get_xlim() == pytest.approx((start, stop))
        assert any("µV" in t.get_text() for t in ax.texts)          # scale bar
        assert [t.get_text() for t in ax.get_yticklabels()][0] == "TA_R"
        assert _renders(fig)


def test_traces_shade_episodes_and_default_to_the_busiest_window(sim):
    rec, res = sim
    assert len(res.spasms) == 1
    fig = plot.plot_traces(rec, res, 0.0, 25.0)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "spasm episode" in labels and "voluntary episode" in labels
    fig = plot.plot_traces(rec, res, window_s=5.0)
    lo, hi = fig.axes[0].get_xlim()
    assert hi - lo == pytest.approx(5.0)
    t = res.fasciculations["peak_time"]
    best = max(((t >= a) & (t <= a + 5.0)).sum() for a in t - 0.5)
    assert len(_fasc_markers(fig.axes[0])) >= best - 1


def test_traces_show_what_the_detector_saw(sim):
    rec, res = sim
    fasc = res.fasciculations
    t, x, names = filtered_window(rec, res, 0.0, 25.0)
    assert names == res.recording["emg_channels"]
    half = int(0.005 * rec.sfreq)
    ratios = []
    for ev in fasc:
        i = int(round(ev["peak_time"] * rec.sfreq))
        seg = x[names.index(ev["channel"]), max(0, i - half):i + half]
        ratios.append(np.ptp(seg) / ev["peak_amplitude_uv"])
    assert 0.7 < np.median(ratios) < 1.3


def test_traces_draw_into_given_axes(sim):
    from matplotlib.figure import Figure

    rec, res = sim
    fig = Figure()
    ax = fig.add_subplot()
    assert plot.plot_traces(rec, res, 0, 5, ax=ax) is fig


def test_traces_channels_one_name_or_none_is_a_clear_choice(sim):
    from fascidetect.errors import ParameterError

    rec, res = sim
    names = [c["name"] for c in res.channels]
    # A single name is that channel (not its letters); an empty list is an error, not an
    # empty plot.
    fig = plot.plot_traces(rec, res, 0, 5, channels=names[0])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [names[0].split()[-1]]
    with pytest.raises(ParameterError, match="no channel"):
        plot.plot_traces(rec, res, 0, 5, channels=[])


def test_waveforms_one_panel_per_unit_with_units(sim):
    _, res = sim
    fig = plot.plot_waveforms(res)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    n_groups = len(np.unique(res.fasciculations["unit"]))
    assert len(shown) == min(n_groups, 8)
    for ax in shown:
        assert ax.get_xlabel() == "Time (ms)" and ax.get_ylabel() == "Amplitude (µV)"
        note = ax.texts[0].get_text()
        assert "µV p-p" in note and "ms" in note and note.startswith("n=")
    counts = sorted((int(ax.texts[0].get_text().split()[0][2:]) for ax in shown), reverse=True)
    assert counts[0] == np.bincount(res.fasciculations["unit"][res.fasciculations["unit"] >= 0]).max()
    assert _renders(fig)


def test_waveforms_by_channel_and_on_a_grid_layout(sim):
    _, res = sim
    fig = plot.plot_waveforms(res, by="channel")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert set(t.split(" on ")[0] for t in titles) <= {"TA_R", "EHL_R", "PL_R", "GMED_R",
                                                        "GAS_R", "SOL_R"}
    gridded = dataclasses.replace(res, params=dataclasses.replace(res.params, layout=(2, 3)))
    fig = plot.plot_waveforms(gridded, max_panels=2)
    ax = fig.axes[0]
    assert len(ax.lines) == 6                                     # one trace per electrode
    assert "grid 2x3" in ax.get_xlabel() and "µV p-p" in ax.get_title()
    # The same six channels on a 3x3 grid with three dead electrodes: one trace per
    # channel, placed around the holes (the grid view was dropped for any hole).
    holed = dataclasses.replace(res, params=dataclasses.replace(
        res.params, layout=(3, 3), layout_missing=(2, 5, 9)))
    ax = plot.plot_waveforms(holed, max_panels=2).axes[0]
    assert len(ax.lines) == 6 and "grid 3x3" in ax.get_xlabel()


def test_waveforms_without_fasciculations(sim):
    _, res = sim
    empty = dataclasses.replace(res, events=res.events[res.events["trial_type"] != "fasciculation"],
                                waveforms=res.waveforms[:0])
    fig = plot.plot_waveforms(empty)
    assert "No fasciculations" in fig.axes[0].texts[0].get_text()
    fig = plot.plot_histograms(empty)
    assert all(ax.texts for ax in fig.axes)


def test_raster_rows_and_rate_band(sim):
    _, res = sim
    fig = plot.plot_raster_rate(res)
    ax_r, ax_q = fig.axes
    rows = [c for c in ax_r.collections if type(c).__name__ == "EventCollection"]
    assert len(rows) == len(res.channels)
    assert sum(len(r.get_positions()) for r in rows) == len(res.fasciculations)
    assert ax_q.get_ylabel() == "Rate (/min)" and ax_q.get_xlabel() == "Time (s)"
    assert any("Poisson" in t for t in ax_q.get_legend_handles_labels()[1])
    fig = plot.plot_raster_rate(res, by="unit")
    rows = [c for c in fig.axes[0].collections if type(c).__name__ == "EventCollection"]
    assert len(rows) == len(np.unique(res.fasciculations["unit"]))
    assert _renders(fig)


def test_rate_legend_rounds_the_window_length(sim):
    _, res = sim
    fig = plot.plot_raster_rate(res, window_s=9.24113)
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert "all channels, 9.2-s windows" in labels
    fig = plot.plot_raster_rate(res, window_s=6.0)
    assert "all channels, 6-s windows" in fig.axes[1].get_legend_handles_labels()[1]


def test_rate_over_time_needs_a_few_windows_of_rest(sim):
    # One 60-s window over a 25-s recording: no curve from a single window, a note instead.
    _, res = sim
    fig = plot.plot_raster_rate(res, window_s=60.0)
    ax_q = fig.axes[1]
    assert not ax_q.lines and ax_q.get_legend() is None
    assert any("too little rest for a rate over time" in t.get_text() for t in ax_q.texts)
    assert _renders(fig)


def test_sliding_rate_uses_rest_time_only():
    times = np.arange(0.5, 60, 1.0)                        # 1 per second = 60/min
    mid, rate, low, high = sliding_rate(times, 60.0, [], 20.0, 10.0)
    assert np.allclose(rate, 60.0) and np.all(low < 60) and np.all(high > 60)
    _, rate, _, _ = sliding_rate(times[times >= 10], 60.0, [(0.0, 10.0)], 20.0, 10.0)
    assert rate[0] == pytest.approx(60.0)                  # 10 events over 10 s of rest
    _, rate, _, _ = sliding_rate(times, 60.0, [(0.0, 18.0)], 20.0, 10.0)
    assert np.isnan(rate[0])                               # under a quarter of rest
    # A window longer than the recording: the exposure is the recording's rest only.
    mid, rate, _, _ = sliding_rate(times[(times >= 10) & (times < 30)], 30.0, [(0.0, 10.0)], 60.0, 10.0)
    assert mid.size == 1 and rate[0] == pytest.approx(60.0)   # 20 events over 20 s


def test_overview_bars_and_root_caveat(sim):
    _, res = sim
    fig = plot.plot_overview(res)
    bars = [p for ax in fig.axes for p in ax.patches if p.get_gid() == "rate_bar"]
    assert len(bars) == len(res.channels)
    assert [b.get_width() for b in bars] == pytest.approx([c["rate_per_min"] for c in res.channels])
    spasm = [p for ax in fig.axes for p in ax.patches if p.get_gid() == "spasm_bar"]
    assert len(spasm) == len(res.channels)
    (text,) = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "root_pattern"]
    assert "consistent with L5, not diagnostic of it" in " ".join(text.split())
    fig = plot.plot_overview(res, muscles="1=TA_L,2=EHL_L")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "TA_R (TA_L)"
    assert _renders(fig)


def test_histograms_amplitude_and_log_intervals(sim):
    _, res = sim
    fig = plot.plot_histograms(res)
    ax_a, ax_i = fig.axes
    assert "µV" in ax_a.get_xlabel()
    assert sum(p.get_height() for p in ax_a.patches) == len(res.fasciculations)
    assert ax_i.get_xscale() == "log"
    idi = inter_discharge_intervals(res)
    assert sum(p.get_height() for p in ax_i.patches) == (idi > 0).sum()


def test_channel_labels_of_a_subset_use_the_whole_montage():
    # The overview (24 channels) and the traces (16) label a subset of a grid: a map of
    # every channel, or one numbering channels, is read against the whole montage.
    from fascidetect.plot._common import channel_labels

    every = [f"EMG{k}" for k in range(1, 31)]
    full = {name: "VL" for name in every}
    assert channel_labels(["EMG30"], full, every) == ["EMG30 (VL)"]
    assert channel_labels(["EMG3"], "3=TA_R", every) == ["EMG3 (TA_R)"]
    with pytest.raises(ParameterError):   # the subset alone: the map names others
        channel_labels(["EMG30"], full)
