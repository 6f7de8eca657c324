"""Stacked band-passed EMG traces with the detected events marked."""

from __future__ import annotations

import numpy as np

from . import _common as c

#: Beyond this many samples per channel, traces are drawn as a min/max envelope per pixel
#: column: every discharge peak stays visible and the PDF stays small.
_MAX_POINTS = 8000
#: Seconds read on each side of the window so the zero-phase filter's edges settle.
_FILTER_MARGIN_S = 1.0


def filtered_window(recording, result, start: float, stop: float):
    """Return (times s, band-passed µV array (n_emg, n), EMG channel names) of a window.

    Uses the pipeline's own preprocessing (band-pass plus the hum removal the detection
    applied, from ``result.line_noise``), so the traces are what the detector saw.
    """
    from ..preprocessing import LineNoise, Preprocessor, repair_nonfinite

    names = list(result.recording.get("emg_channels") or [])
    picks = [recording.ch_names.index(n) for n in names if n in recording.ch_names]
    if not picks:
        picks = list(recording.emg_picks)
        names = [recording.ch_names[i] for i in picks]
    fs = recording.sfreq
    lo, hi = int(round(start * fs)), int(round(stop * fs))
    lo, hi = max(0, lo), min(recording.n_samples, max(hi, lo + 1))
    margin = int(_FILTER_MARGIN_S * fs)
    a, b = max(0, lo - margin), min(recording.n_samples, hi + margin)
    line = result.line_noise or {}
    notch = tuple(line.get("notch_hz") or ())
    prep = Preprocessor.build(fs, result.params,
                              LineNoise(line.get("freq_hz"), notch, (), line.get("ratio_db", 0.0)))
    raw, _ = repair_nonfinite(recording.get_data(picks, a, b))
    filt = prep.apply(raw, a)[:, lo - a:hi - a] * 1e6
    return (lo + np.arange(filt.shape[1])) / fs, filt, names


def _envelope(t: np.ndarray, x: np.ndarray, n_bins: int):
    """Return (t, x) reduced to the min and max of each of *n_bins* bins (per row)."""
    n = x.shape[-1]
    if n <= 2 * n_bins:
        return t, x
    per = -(-n // n_bins)
    bins = -(-n // per)
    pad = bins * per - n
    # Pad with the last sample so the final partial bin keeps the recording's end.
    xp = np.concatenate([x, np.repeat(x[:, -1:], pad, axis=1)], axis=1)
    tp = np.concatenate([t, np.full(pad, t[-1])])
    blocks = xp.reshape(x.shape[0], bins, per)
    lo, hi = blocks.min(axis=-1), blocks.max(axis=-1)
    tb = tp.reshape(bins, per)
    tt = np.stack([tb[:, 0], tb[:, -1]], axis=-1).ravel()
    yy = np.stack([lo, hi], axis=-1).reshape(x.shape[0], -1)
    return tt, yy


def window_envelope(recording, result, start: float, stop: float, n_bins: int,
                    clip: float, block_s: float = 60.0):
    """Return (times, band-passed µV clipped at ``clip`` as a min/max envelope of at most
    ``n_bins`` bins per row, channel names, whether anything was clipped).

    The window is read and filtered block by block (``block_s`` at a time, whole bins per
    block), so a report of a day-long recording holds one block and the envelope, never
    the whole recording.
    """
    fs = recording.sfreq
    lo = max(0, int(round(start * fs)))
    hi = min(recording.n_samples, max(int(round(stop * fs)), lo + 1))
    n = hi - lo
    per = max(1, -(-n // n_bins)) if n > 2 * n_bins else 1
    block = per * max(1, int(block_s * fs) // per)
    times, parts, names, clipped = [], [], [], False
    for a in range(lo, hi, block):  # loop over blocks
        b = min(hi, a + block)
        t, x, names = filtered_window(recording, result, a / fs, b / fs)
        clipped |= bool((np.abs(x) > clip).any())
        x = np.clip(x, -clip, clip)
        if per > 1:
            t, x = _envelope(t, x, max(1, -(-x.shape[1] // per)))
        times.append(t)
        parts.append(x)
    return np.concatenate(times), np.concatenate(parts, axis=1), names, clipped


def _busiest_window(result, length_s: float) -> tuple[float, float]:
    """Return the window of *length_s* holding the most fasciculations."""
    duration = float(result.recording.get("duration_s") or 0.0)
    if duration <= length_s:
        return 0.0, duration
    times = np.sort(result.fasciculations["peak_time"])
    if times.size == 0:
        return 0.0, length_s
    ends = np.searchsorted(times, times + length_s)
    i = int(np.argmax(ends - np.arange(times.size)))
    start = min(max(0.0, times[i] - 0.1 * length_s), duration - length_s)
    return start, start + length_s


#: Traces one panel shows; beyond this (an HD grid) the busiest channels and an even
#: spread of the others.
MAX_TRACES = 16


def plot_traces(recording, result, start: float | None = None, stop: float | None = None,
                *, ax=None, muscles=None, window_s: float = 10.0, channels=None):
    """Return a figure of stacked band-passed EMG with the detected events marked.

    Fasciculations are triangles above their channel, coloured by motor-unit template;
    spasm (orange) and voluntary (blue) episodes are shaded; artifacts are red crosses
    (red hatching for long ones such as motion). A vertical bar gives the µV scale.

    Parameters
    ----------
    recording : Recording
        The recording the result was detected in (samples are needed).
    result : DetectionResult
    start, stop : float | None
        Window in seconds; by default the ``window_s`` seconds with most fasciculations.
    ax : matplotlib Axes | None
        Axes to draw in (a new figure when None).
    muscles : str | dict | None
        Channel-to-muscle map for the labels (see :func:`fascidetect.myotomes.parse_muscle_map`).
    window_s : float
        Length of the default window.
    channels : list of str | str | None
        EMG channels to draw (a name: that one); default all of them up to
        :data:`MAX_TRACES`, beyond that the channels with the most fasciculations and an
        even spread of the others.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if start is None and stop is None:
        start, stop = _busiest_window(result, window_s)
    start = 0.0 if start is None else float(start)
    stop = float(result.recording.get("duration_s") or recording.duration_s) if stop is None \
        else float(stop)
    fig, (ax,) = c.figure_and_axes(ax, figsize=(11, 6))
    sigma = np.array([ch.get("noise_sigma_uv") or np.nan for ch in result.channels], float)
    sigma = sigma[np.isfinite(sigma) & (sigma > 0)]
    amps = result.fasciculations["peak_amplitude_uv"]
    typical = np.nanpercentile(amps, 90) if np.isfinite(amps).any() else np.nan
    # Space channels by the typical large fasciculation (or 20 noise sigmas): spasm bursts
    # may overlap a neighbour, fasciculations do not.
    spacing = max(float(np.nan_to_num(typical, nan=0.0)) * 1.1,
                  20 * float(np.median(sigma)) if sigma.size else 50.0, 20.0)
    n_bins = int(_MAX_POINTS // 2)
    # Spasm bursts would cover the neighbouring channels: clip the drawing (not the data).
    clip = 0.6 * spacing
    tt, yy, names, any_clipped = window_envelope(recording, result, start, stop, n_bins, clip)
    rows = _rows_drawn(result, names, channels)
    of = f" ({len(rows)} of {len(names)} channels)" if len(rows) < len(names) else ""
    every_name = names
    yy, names = yy[rows], [names[k] for k in rows]
    offsets = -spacing * np.arange(len(names))
    for k in range(len(names)):
        ax.plot(tt, yy[k] + offsets[k], color="0.15", lw=0.5, rasterized=True)
    _shade_episodes(ax, result.events, start, stop)
    n_marked = _mark_events(ax, result.events, names, offsets, spacing, start, stop)
    ax.set_yticks(offsets, c.channel_labels(names, muscles, every_name))
    ax.set_xlim(start, stop)
    ax.set_ylim(offsets[-1] - 0.8 * spacing if len(offsets) else -1, 0.9 * spacing)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Channel (band-passed EMG)")
    _scale_bar(ax, spacing, start, stop)
    clipped = f"; clipped at ±{clip:.0f} µV" if any_clipped else ""
    ax.set_title(f"EMG {start:.1f}-{stop:.1f} s{of}: {n_marked} fasciculation(s){clipped}",
                 fontsize=10, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _rows_drawn(result, names, channels=None) -> np.ndarray:
    """Return the indices (in channel order) of the traces to draw."""
    from ..errors import ParameterError

    if channels is not None:
        if isinstance(channels, str):  # one channel, not its letters
            channels = [channels]
        if len(channels) == 0:
            raise ParameterError("channels names no channel to draw; give EMG channel names "
                                 "or None (the default choice)")
        missing = [ch for ch in channels if ch not in names]
        if missing:
            raise ParameterError(f"channels {missing} are not EMG channels of the result "
                                 f"({names})")
        return np.array([k for k, n in enumerate(names) if n in set(channels)], dtype=int)
    if len(names) <= MAX_TRACES:
        return np.arange(len(names))
    found, counts = np.unique(result.fasciculations["channel"], return_counts=True)
    per = dict(zip(found.tolist(), counts.tolist()))
    busy = sorted((k for k, n in enumerate(names) if per.get(n)), key=lambda k: -per[names[k]])
    spread = np.linspace(0, len(names) - 1, MAX_TRACES).round().astype(int).tolist()
    chosen = list(dict.fromkeys(busy[:MAX_TRACES] + spread))[:MAX_TRACES]
    return np.sort(np.array(chosen, dtype=int))


def _shade_episodes(ax, events, start, stop):
    labelled = set()
    for row in c.episode_rows(events):
        a, b = row["onset"], row["onset"] + row["duration"]
        if b < start or a > stop:
            continue
        kind = str(row["trial_type"])
        color = c.SPASM_COLOR if kind == "spasm" else c.VOLUNTARY_COLOR
        ax.axvspan(a, b, color=color, alpha=0.2, lw=0,
                   label=None if kind in labelled else f"{kind} episode")
        labelled.add(kind)
    art = events[(events["trial_type"] == "artifact") & (events["duration"] > 0.1)]
    for i, row in enumerate(art):
        a, b = row["onset"], row["onset"] + row["duration"]
        if b >= start and a <= stop:
            ax.axvspan(a, b, facecolor="none", edgecolor=c.ARTIFACT_COLOR, hatch="//", lw=0,
                       alpha=0.5, label=None if "art" in labelled else "artifact span")
            labelled.add("art")


def _mark_events(ax, events, names, offsets, spacing, start, stop) -> int:
    """Mark fasciculations (one scatter, gid 'fasciculations') and artifacts; return count."""
    index = {n: i for i, n in enumerate(names)}
    t = events["peak_time"]
    inside = (t >= start) & (t <= stop) & np.isin(events["channel"], names)
    fasc = events[inside & (events["trial_type"] == "fasciculation")]
    ys = np.array([offsets[index[ch]] for ch in fasc["channel"]], float) + 0.45 * spacing
    colors = [c.unit_color(int(u)) for u in fasc["unit"]]
    sc = ax.scatter(fasc["peak_time"], ys, marker="v", s=28, c=colors if len(fasc) else None,
                    edgecolors="k", linewidths=0.3, zorder=5)
    sc.set_gid("fasciculations")
    art = events[inside & (events["trial_type"] == "artifact") & ~(events["duration"] > 0.1)]
    if len(art):
        ya = np.array([offsets[index[ch]] for ch in art["channel"]], float) + 0.45 * spacing
        ax.scatter(art["peak_time"], ya, marker="x", s=30, color=c.ARTIFACT_COLOR, zorder=5,
                   label="artifact").set_gid("artifacts")
    handles, labels = ax.get_legend_handles_labels()
    if len(fasc):
        from matplotlib.lines import Line2D

        # A neutral proxy: the markers' own colours stand for motor units.
        handles.append(Line2D([], [], ls="", marker="v", color="0.5", mec="k", mew=0.3))
        labels.append("fasciculation (colour = unit)")
    if handles:
        # Above the axes, right of the (left-aligned) title: inside it would cover traces.
        ax.legend(handles, labels, loc="lower right", fontsize=8, ncols=len(handles),
                  frameon=False, bbox_to_anchor=(1.0, 1.0), borderaxespad=0.1,
                  handletextpad=0.3, columnspacing=1.0)
    return int(len(fasc))


def _scale_bar(ax, spacing, start, stop):
    """Draw a vertical µV scale bar at the right edge, inside the plot."""
    length = c.nice_scale_uv(0.8 * spacing)
    x = stop - 0.01 * (stop - start)
    y0 = ax.get_ylim()[0] + 0.1 * spacing
    ax.plot([x, x], [y0, y0 + length], color="k", lw=2, solid_capstyle="butt", gid="scalebar")
    ax.text(x - 0.005 * (stop - start), y0 + length / 2, f"{length:g} µV", ha="right",
            va="center", fontsize=9, backgroundcolor=(1, 1, 1, 0.7))
