"""One-glance overview: rate per channel with its confidence interval, spasm time, and the
root pattern the affected muscles are consistent with."""

from __future__ import annotations

import textwrap

import numpy as np

from . import _common as c


def plot_overview(result, muscles=None, *, axes=None, min_rate_per_min: float = 1.0):
    """Return a figure: fasciculation rate per channel (95 % CI) and spasm time per channel,
    with the root-pattern statement and its "consistent with, not diagnostic of" caveat.

    Parameters
    ----------
    result : DetectionResult
    muscles : str | dict | None
        Channel-to-muscle map (``"1=TA_R,2=GAS_R"`` or a TSV path); by default muscles
        are read from the channel names.
    axes : pair of Axes | None
        (rate axes, spasm axes); a new figure when None (the root text then goes below).
    min_rate_per_min : float
        Rate from which a muscle counts as affected in the root pattern.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..myotomes import rates_by_muscle, root_pattern

    every = result.channels
    chans = _channels_shown(every)
    names = [ch["name"] for ch in chans]
    labels = c.channel_labels(names, muscles, [ch["name"] for ch in every])
    own = axes is None
    if own:
        fig = c.new_figure((11, 4.8))
        grid = fig.add_gridspec(2, 2, width_ratios=(3, 1.4), height_ratios=(5, 0.9))
        ax_r, ax_s = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        ax_t = fig.add_subplot(grid[1, :])
    else:
        fig, (ax_r, ax_s) = c.figure_and_axes(axes)
        ax_t = None
    rate = np.array([ch.get("rate_per_min") or 0.0 for ch in chans], float)
    low = np.array([ch.get("rate_ci_low") if ch.get("rate_ci_low") is not None else np.nan
                    for ch in chans], float)
    high = np.array([ch.get("rate_ci_high") if ch.get("rate_ci_high") is not None else np.nan
                     for ch in chans], float)
    y = np.arange(len(chans))
    err = np.vstack([np.clip(rate - np.nan_to_num(low, nan=rate), 0, None),
                     np.clip(np.nan_to_num(high, nan=rate) - rate, 0, None)])
    bars = ax_r.barh(y, rate, color="C0", alpha=0.8, xerr=err, capsize=3,
                     error_kw={"lw": 1, "ecolor": "0.2"})
    for patch in bars.patches:
        patch.set_gid("rate_bar")
    for yi, (r, ch) in enumerate(zip(rate, chans)):
        ax_r.text(max(np.nan_to_num(high[yi], nan=r), r) + 0.01 * max(high.max(initial=1), 1),
                  yi, f" {r:.1f}/min (n={ch.get('n_fasciculations', 0)})", va="center", fontsize=8)
    ax_r.set_yticks(y, labels)
    ax_r.invert_yaxis()
    xmax = np.nanmax(np.concatenate([high, rate, [1.0]]))
    ax_r.set_xlim(0, xmax * 1.35)
    ax_r.set_xlabel("Fasciculations per minute of rest (bar: 95 % Poisson CI)")
    rest_s = max((ch.get("rest_s") or 0.0 for ch in chans), default=0.0)
    which = "per channel" if len(chans) == len(every) else \
        f"of the {len(chans)} highest of {len(every)} channels"
    ax_r.set_title(f"Fasciculation rate {which} ({rest_s:.0f} s of rest analysed)", fontsize=10)

    spasm_s = np.array([ch.get("spasm_s") or 0.0 for ch in chans], float)
    for patch in ax_s.barh(y, spasm_s, color=c.SPASM_COLOR, alpha=0.85).patches:
        patch.set_gid("spasm_bar")
    ax_s.set_yticks(y, [""] * len(y))
    ax_s.invert_yaxis()
    ax_s.set_xlabel("Spasm time (s)")
    n_sp = len(result.spasms)
    ax_s.set_title(f"Spasms: {n_sp} episode(s)", fontsize=10)
    ax_s.set_xlim(0, max(1.0, spasm_s.max(initial=0.0) * 1.25))

    pattern = root_pattern(rates_by_muscle(every, muscles), min_rate_per_min=min_rate_per_min)
    text = "Root pattern: " + pattern.text
    if ax_t is not None:
        ax_t.axis("off")
        ax_t.text(0.0, 1.0, textwrap.fill(text, 150), va="top", ha="left", fontsize=9,
                  transform=ax_t.transAxes, wrap=True, gid="root_pattern")
    else:
        fig.text(0.01, 0.005, textwrap.fill(text, 150), fontsize=8, va="bottom",
                 gid="root_pattern")
    return fig


#: Channels a readable bar chart holds; an HD grid shows its highest rates.
MAX_BARS = 24


def _channels_shown(channels: list) -> list:
    """Return every channel, or beyond :data:`MAX_BARS` those with the highest rates and
    spasm time (in their order)."""
    if len(channels) <= MAX_BARS:
        return channels
    def key(i):
        ch = channels[i]
        return (-(ch.get("rate_per_min") or 0.0), -(ch.get("spasm_s") or 0.0), i)

    return [channels[i] for i in sorted(sorted(range(len(channels)), key=key)[:MAX_BARS])]
