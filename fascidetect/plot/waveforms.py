"""Motor-unit waveforms: every snippet in light grey with the mean on top."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..neighbours import electrode_positions
from . import _common as c

#: Snippets drawn per panel (the mean uses all of them).
_MAX_SNIPPETS = 60
#: Panels per figure: the largest groups are shown, the rest counted in the title.
_MAX_PANELS = 8


def _groups(result, by: str):
    """Return [(label, unit id or -1, row indices into result.fasciculations)]."""
    fasc = result.fasciculations
    if by == "unit" and (fasc["unit"] >= 0).any():
        units = np.unique(fasc["unit"][fasc["unit"] >= 0])
        groups = [(f"unit {u}", int(u), np.flatnonzero(fasc["unit"] == u)) for u in units]
        rest = np.flatnonzero(fasc["unit"] < 0)
        if rest.size:
            groups.append(("unassigned", -1, rest))
        return groups
    names = list(result.recording.get("emg_channels") or [])
    return [(c.short_name(n), -1, np.flatnonzero(fasc["channel"] == n)) for n in names
            if (fasc["channel"] == n).any()]


def plot_waveforms(result, *, axes=None, by: str = "unit", max_snippets: int = _MAX_SNIPPETS,
                   max_panels: int = _MAX_PANELS):
    """Return a figure of fasciculation waveforms per motor unit (or per channel).

    Each panel shows the snippets on the unit's main channel in light grey and their
    mean in the unit's colour, annotated with the median peak-to-peak amplitude (µV),
    duration (ms) and count. With an HD grid (``result.params.layout``), each panel shows
    the unit's mean waveform on every electrode at its place on the grid.

    Parameters
    ----------
    result : DetectionResult
    axes : sequence of Axes | None
        One axes per group (a new figure when None).
    by : {"unit", "channel"}
        Group snippets by motor-unit template or by the channel where they are largest.
    max_snippets : int
        Snippets drawn per panel.
    max_panels : int
        Largest groups shown; the others are counted in the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if by not in ("unit", "channel"):
        from ..errors import ParameterError

        raise ParameterError(f"by must be 'unit' or 'channel', got {by!r}")
    groups = sorted(_groups(result, by), key=lambda g: -g[2].size)
    hidden = groups[max_panels:]
    groups = groups[:max_panels]
    if not groups:
        fig, (ax,) = c.figure_and_axes(axes, figsize=(10, 3))
        c.empty_message(ax, "No fasciculations detected: no waveforms to show")
        return fig
    ncols = min(4, len(groups))
    nrows = int(np.ceil(len(groups) / ncols))
    fig, ax_list = c.figure_and_axes(axes, nrows, ncols, figsize=(11, 2.6 * nrows + 0.6))
    names = list(result.recording.get("emg_channels") or [])
    pos = _grid_positions(result.params, result.waveforms.shape[1])
    fasc = result.fasciculations
    ms = (np.arange(result.waveforms.shape[-1]) - result.waveforms.shape[-1] // 2) \
        / result.sfreq * 1000.0
    for ax, (label, unit, rows) in zip(ax_list, groups):
        snippets = result.waveforms_of(rows) * 1e6                 # (n, ch, samp) µV
        if snippets.shape[0] == 0:
            c.empty_message(ax, f"{label}: no stored waveforms")
            continue
        amp = float(np.nanmedian(fasc["peak_amplitude_uv"][rows]))
        dur = float(np.nanmedian(fasc["duration_ms"][rows]))
        color = c.unit_color(unit) if unit >= 0 else "k"
        if pos is not None:
            _grid_template(ax, snippets.mean(axis=0), pos, ms, color)
            main = None
        else:
            ch = _main_channel(snippets)
            shown = snippets[:max_snippets, ch].T
            ax.plot(ms, shown, color="0.75", lw=0.6)
            ax.plot(ms, snippets[:, ch].mean(axis=0), color=color, lw=2, gid="mean")
            ax.set_xlabel("Time (ms)")
            ax.set_ylabel("Amplitude (µV)")
            main = f" on {c.short_name(names[ch])}" if ch < len(names) else ""
        note = f"n={rows.size}\n{amp:.0f} µV p-p\n{dur:.1f} ms"
        if main is None:  # grid: the note would cover an electrode, so it goes in the title
            ax.set_title(f"{label}: " + note.replace("\n", ", "), fontsize=9)
            continue
        ax.set_title(f"{label}{main}", fontsize=9)
        ax.text(0.98, 0.04, note, transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.85))
    for ax in ax_list[len(groups):]:
        ax.set_visible(False)
    more = ""
    if hidden:
        more = (f"; {len(hidden)} smaller group(s) with {sum(g[2].size for g in hidden)} "
                "discharge(s) not shown")
    fig.suptitle(f"Fasciculation waveforms (grey: single discharges, colour: mean){more}",
                 fontsize=10)
    return fig


def _main_channel(snippets: np.ndarray) -> int:
    """Return the channel where the mean snippet's peak-to-peak is largest."""
    mean = snippets.mean(axis=0)
    return int(np.argmax(np.ptp(mean, axis=-1)))


def _grid_positions(params, n_channels: int):
    """Return the analysed channels' (row, col) on a declared electrode array, else None."""
    layout = getattr(params, "layout", None)
    if layout is None:
        return None
    try:
        return electrode_positions(layout, n_channels, getattr(params, "layout_missing", ()))
    except ParameterError:  # a result whose waveforms do not cover the layout
        return None


def _grid_template(ax, template: np.ndarray, pos: np.ndarray, ms, color):
    """Draw a (channels, samples) template as mini-waveforms at their grid positions
    (``pos``: (row, col) of each channel; a missing electrode stays blank)."""
    rows, cols = int(pos[:, 0].max()) + 1, int(pos[:, 1].max()) + 1
    width = (ms[-1] - ms[0]) * 1.15
    height = max(float(np.ptp(template)), 1e-9) * 0.9
    for k, (r, col) in enumerate(pos):
        ax.plot(col * width + ms - ms[0], template[k] - r * height, color=color, lw=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"grid {rows}x{cols} (columns)")
    ax.set_ylabel(f"rows ({np.ptp(template):.0f} µV p-p max)")
