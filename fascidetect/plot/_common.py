"""Helpers shared by the figures: figure creation without pyplot, colours, labels, spans."""

from __future__ import annotations

import numpy as np

#: Colours of the event kinds (colour-blind safe Okabe-Ito hues).
SPASM_COLOR = "#E69F00"
VOLUNTARY_COLOR = "#56B4E9"
ARTIFACT_COLOR = "#D55E00"
UNASSIGNED_COLOR = "0.45"
#: Nice scale-bar lengths in µV.
_NICE_UV = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def new_figure(figsize=(10, 6)):
    """Return a bare matplotlib Figure (Agg canvas, pyplot's global state untouched)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def figure_and_axes(ax, nrows=1, ncols=1, figsize=(10, 6), **kwargs):
    """Return (figure, axes array) using the given axes, or a new figure with a grid."""
    if ax is not None:
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        return axes[0].figure, axes
    fig = new_figure(figsize)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes.ravel()


def unit_color(unit: int) -> tuple:
    """Return the RGBA colour of a motor-unit template (grey when unassigned)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    if unit is None or unit < 0:
        return to_rgba(UNASSIGNED_COLOR)
    cmap = colormaps["tab10"]
    # Skip tab10's orange/red hues, which mark spasms and artifacts.
    palette = [cmap(i) for i in (0, 2, 4, 5, 6, 8, 9)]
    return palette[int(unit) % len(palette)]


def short_name(name: str) -> str:
    """Return a channel label without the EDF type prefix ("EMG TA_R" -> "TA_R")."""
    return name[4:] if name.upper().startswith("EMG ") else name


def channel_labels(names, muscles=None, every_name=None) -> list[str]:
    """Return display labels: the muscle label from *muscles* when it differs from the name.

    *every_name*: all the recording's EMG channels when *names* is a subset of them (a map
    is checked against, and numbered by, the whole list: ``"1=TA_R"`` is the first).
    """
    if not muscles:
        return [short_name(n) for n in names]
    from ..myotomes import label_channels

    labels = label_channels(list(every_name) if every_name is not None else names, muscles)
    out = []
    for n in names:
        lab = labels.get(n)
        out.append(short_name(n) if not lab or lab == short_name(n) else f"{short_name(n)} ({lab})")
    return out


def episode_rows(events: np.ndarray, kinds=("spasm", "voluntary")) -> np.ndarray:
    """Return the episode rows (spasm/voluntary) of an event table."""
    return events[np.isin(events["trial_type"], kinds)]


def excluded_spans(events: np.ndarray) -> list[tuple[float, float]]:
    """Return (start, stop) of episodes and long artifacts: time that is not rest."""
    long_art = (events["trial_type"] == "artifact") & (events["duration"] > 0.1)
    rows = events[np.isin(events["trial_type"], ("spasm", "voluntary")) | long_art]
    return [(float(a), float(a + d)) for a, d in zip(rows["onset"], rows["duration"])
            if np.isfinite(a) and np.isfinite(d)]


def overlap_s(spans, lo: float, hi: float) -> float:
    """Return the length of the union of *spans* inside [lo, hi)."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in spans if b > lo and a < hi)
    total, end = 0.0, lo
    for a, b in clipped:
        a = max(a, end)
        if b > a:
            total += b - a
            end = b
    return total


def nice_scale_uv(span_uv: float) -> float:
    """Return a round scale-bar length (µV) no longer than *span_uv*."""
    fits = [v for v in _NICE_UV if v <= span_uv]
    return float(fits[-1] if fits else _NICE_UV[0])


def empty_message(ax, text: str) -> None:
    """Write *text* in the middle of an axes that has nothing to show."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.3")
    ax.set_xticks([])
    ax.set_yticks([])
