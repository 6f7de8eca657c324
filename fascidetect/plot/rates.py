"""Discharge timing: raster with sliding-window rate, amplitude and interval histograms."""

from __future__ import annotations

import numpy as np

from . import _common as c

# Fewest windows with enough rest for the rate-over-time curve to be drawn (and the
# recording's rest must fill at least one window).
_FEWEST_WINDOWS = 3


def sliding_rate(times: np.ndarray, duration_s: float, excluded, window_s: float,
                 step_s: float):
    """Return window centres (s; within the recording), rate per minute and its 95 % Poisson
    bounds.

    Each window's exposure is its length (within the recording) minus the excluded
    (non-rest) time inside it; windows with under a quarter of rest get NaN.
    """
    from ..results import poisson_rate_ci

    starts = np.arange(0.0, max(duration_s - window_s, 0.0) + 1e-9, step_s)
    counts = np.searchsorted(times, starts + window_s) - np.searchsorted(times, starts)
    # A window longer than the recording ends with it (its exposure too).
    ends = np.minimum(starts + window_s, max(duration_s, 0.0))
    rest = np.array([b - a - c.overlap_s(excluded, a, b) for a, b in zip(starts, ends)])
    rest = np.where(rest >= 0.25 * window_s, rest, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(rest > 0, counts / (rest / 60.0), np.nan)
    low, high = poisson_rate_ci(counts, rest / 60.0)
    return (starts + ends) / 2, rate, low, high


def plot_raster_rate(result, *, axes=None, by: str = "channel", window_s: float | None = None,
                     step_s: float | None = None, muscles=None):
    """Return a figure: discharge raster per channel (or unit) above the rate per minute.

    The rate counts all fasciculations in sliding windows over rest time only (spasm,
    voluntary and motion spans are left out of the exposure) with its 95 % Poisson band.

    Parameters
    ----------
    result : DetectionResult
    axes : pair of Axes | None
        (raster axes, rate axes); a new figure when None.
    by : {"channel", "unit"}
        Raster rows.
    window_s, step_s : float | None
        Sliding window and step (default: 60 s and 5 s, shortened for short recordings).
    muscles : str | dict | None
        Channel-to-muscle map for the labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    duration = float(result.recording.get("duration_s") or 0.0)
    if window_s is None:
        window_s = float(min(60.0, max(5.0, duration / 4)))
    if step_s is None:
        step_s = max(window_s / 12, 0.5)
    fig, (ax_r, ax_q) = c.figure_and_axes(axes, 2, 1, figsize=(11, 5.5), sharex=True,
                                          gridspec_kw={"height_ratios": (3, 2)})
    fasc = result.fasciculations
    if by == "unit":
        keys = sorted({int(u) for u in fasc["unit"]})
        rows = [fasc["peak_time"][fasc["unit"] == u] for u in keys]
        labels = [f"unit {u}" if u >= 0 else "unassigned" for u in keys]
        colors = [c.unit_color(u) for u in keys]
    else:
        names = list(result.recording.get("emg_channels") or [])
        rows = [fasc["peak_time"][fasc["channel"] == n] for n in names]
        labels = c.channel_labels(names, muscles)
        colors = ["k"] * len(names)
    for ep in c.episode_rows(result.events):
        color = c.SPASM_COLOR if ep["trial_type"] == "spasm" else c.VOLUNTARY_COLOR
        for ax in (ax_r, ax_q):
            ax.axvspan(ep["onset"], ep["onset"] + ep["duration"], color=color, alpha=0.2, lw=0)
    if rows:
        ax_r.eventplot(rows, colors=colors, lineoffsets=np.arange(len(rows)), linelengths=0.7,
                       linewidths=1.0)
    # One row per channel; up to 40 rows all labelled (smaller beyond 24), on a larger
    # HD grid every k-th row (at most 40 labels).
    every = max(1, -(-len(rows) // 40))
    ax_r.set_yticks(np.arange(0, len(rows), every), labels[::every])
    if len(rows) > 24:
        ax_r.tick_params(axis="y", labelsize=6)
    ax_r.set_ylim(len(rows) - 0.5, -0.5)
    ax_r.set_ylabel("Fasciculations")
    ax_r.set_title("Fasciculation raster (shaded: spasm orange, voluntary blue)", fontsize=10)

    times = np.sort(fasc["peak_time"])
    mid, rate, low, high = sliding_rate(times, duration, c.excluded_spans(result.events),
                                        window_s, step_s)
    ok = np.isfinite(rate)
    rest_s = max((float(ch.get("rest_s") or 0.0) for ch in result.channels), default=0.0)
    if ok.sum() >= _FEWEST_WINDOWS and rest_s >= window_s:
        ax_q.fill_between(mid, np.where(ok, low, np.nan), np.where(ok, high, np.nan),
                          color="C0", alpha=0.25, lw=0, label="95 % Poisson CI")
        ax_q.plot(mid, rate, color="C0", lw=1.5, marker="." if mid.size < 30 else None,
                  label=f"all channels, {round(window_s, 1):g}-s windows")
        ax_q.legend(loc="upper right", fontsize=8)
    else:
        # A band over one or two windows of a few seconds' rest reads as a rate over time
        # it is not (e.g. 2 s of rest around a 30-s contraction): say why there is none.
        ax_q.text(0.5, 0.5, f"too little rest for a rate over time ({rest_s:.1f} s of rest, "
                  f"windows of {round(window_s, 1):g} s)\nthe rate over all rest, with its "
                  "95 % CI, is on page 1",
                  transform=ax_q.transAxes,
                  ha="center", va="center", fontsize=9, color="0.3")
    ax_q.set_ylabel("Rate (/min)")
    ax_q.set_xlabel("Time (s)")
    ax_q.set_ylim(bottom=0)
    ax_q.set_xlim(0, duration if duration > 0 else None)
    return fig


def inter_discharge_intervals(result) -> np.ndarray:
    """Return intervals (s) between consecutive fasciculations of the same unit (or channel
    when no template is assigned)."""
    fasc = result.fasciculations
    key = np.where(fasc["unit"] >= 0, np.char.add("u", fasc["unit"].astype(str)),
                   np.char.add("c", fasc["channel"]))
    out = []
    for k in np.unique(key):
        t = np.sort(fasc["peak_time"][key == k])
        out.append(np.diff(t))
    return np.concatenate(out) if out else np.zeros(0)


def plot_histograms(result, *, axes=None):
    """Return a figure: fasciculation amplitude histogram and inter-discharge intervals.

    Intervals are per motor unit (per channel for unassigned discharges), on a log axis
    with the isolation interval (250 ms by default) marked.

    Parameters
    ----------
    result : DetectionResult
    axes : pair of Axes | None

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_a, ax_i) = c.figure_and_axes(axes, 1, 2, figsize=(11, 3.6))
    fasc = result.fasciculations
    amps = fasc["peak_amplitude_uv"][np.isfinite(fasc["peak_amplitude_uv"])]
    if amps.size:
        ax_a.hist(amps, bins=min(30, max(5, amps.size // 3)), color="0.4", edgecolor="white")
        ax_a.yaxis.get_major_locator().set_params(integer=True)
        ax_a.set_xlabel("Peak-to-peak amplitude (µV)")
        ax_a.set_ylabel("Fasciculations")
    else:
        c.empty_message(ax_a, "No fasciculations")
    ax_a.set_title("Amplitude", fontsize=10)
    idi = inter_discharge_intervals(result)
    idi = idi[idi > 0]
    if idi.size:
        lo, hi = max(idi.min() * 0.8, 1e-3), idi.max() * 1.25
        ax_i.hist(idi, bins=np.geomspace(lo, max(hi, lo * 10), 30), color="0.4", edgecolor="white")
        ax_i.set_xscale("log")
        ax_i.yaxis.get_major_locator().set_params(integer=True)
        iso = float(getattr(result.params, "isolation_interval_s", 0.25))
        ax_i.axvline(iso, color=c.ARTIFACT_COLOR, ls="--", lw=1,
                     label=f"isolation interval {iso * 1000:g} ms")
        ax_i.legend(fontsize=8, loc="upper left")
        ax_i.set_xlabel("Inter-discharge interval (s, log)")
        ax_i.set_ylabel("Intervals")
    else:
        c.empty_message(ax_i, "Fewer than 2 discharges per unit: no intervals")
    ax_i.set_title("Intervals between discharges of the same unit", fontsize=10)
    return fig
