"""Rate per muscle over sessions with 95 % intervals, the fitted trend, and spasm time."""

from __future__ import annotations

import datetime as _dt

import numpy as np

from ._common import SPASM_COLOR, new_figure

#: Muscles drawn per figure (more go on further pages).
MUSCLES_PER_PAGE = 6


def _dates(rows) -> list:
    return [_dt.date.fromisoformat(r["date"]) for r in rows]


def plot_trend(result, muscles=None):
    """Return a figure: one panel per muscle (rate per minute of rest against the date,
    95 % exact intervals, the fitted log-linear trend) and a panel of spasm seconds.

    Sessions with too little rest are drawn hollow: they are listed, not tested.

    Parameters
    ----------
    result : fascidetect.trend.TrendResult
    muscles : list of str | None
        The muscles to draw (default: the first :data:`MUSCLES_PER_PAGE`).
    """
    import matplotlib.dates as mdates

    chosen = [m for m in result.muscles if muscles is None or m.muscle in muscles]
    chosen = chosen[:MUSCLES_PER_PAGE] if muscles is None else chosen
    n = max(len(chosen), 1)
    fig = new_figure((11, 2.0 * n + 2.4))
    axes = fig.subplots(n + 1, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [2] * n + [1.4]})[:, 0]
    for ax, mt in zip(axes, chosen):
        rows = mt.rows
        dates = _dates(rows)
        rate = np.array([r["rate_per_min"] for r in rows], float)
        low = np.array([r["rate_ci_low"] for r in rows], float)
        high = np.array([r["rate_ci_high"] for r in rows], float)
        ok = np.array([r["enough_rest"] for r in rows], bool)
        err = np.vstack([np.clip(rate - low, 0, None), np.clip(high - rate, 0, None)])
        for mask, face in ((ok, "C0"), (~ok, "white")):
            idx = np.flatnonzero(mask)
            if idx.size:
                ax.errorbar([dates[i] for i in idx], rate[idx], yerr=err[:, idx], fmt="o",
                            color="C0", mfc=face, capsize=3, lw=1)
        if mt.trend is not None and np.isfinite(mt.trend.ratio):
            used = [r for r in rows if r["enough_rest"]]
            d0 = used[0]["days"]
            days = np.linspace(d0, used[-1]["days"], 50)
            fitted = mt.trend.rate_first * np.exp(mt.trend.slope_per_day * (days - d0))
            origin = _dt.date.fromisoformat(used[0]["date"]) - _dt.timedelta(days=d0)
            ax.plot([origin + _dt.timedelta(days=float(d)) for d in days], fitted, "--",
                    color="0.35", lw=1, label="fitted trend")
        ax.set_ylabel("per min")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{mt.muscle}: {mt.change}", loc="left", fontsize=9)
        ax.grid(alpha=0.3)
    if not chosen:
        axes[0].text(0.5, 0.5, "no muscle", ha="center", va="center", transform=axes[0].transAxes)
    spasm_ax = axes[-1]
    by_date: dict = {}
    for r in result.rows:
        # A spasm spans several channels: take the longest per session, not the sum.
        by_date[r["date"]] = max(by_date.get(r["date"], 0.0), r["spasm_s"])
    if by_date:
        days = [_dt.date.fromisoformat(d) for d in by_date]
        spasm_ax.bar(days, list(by_date.values()), width=3, color=SPASM_COLOR)
    if not any(by_date.values()):
        spasm_ax.text(0.5, 0.5, "no spasm in any session", ha="center", va="center",
                      color="0.4", transform=spasm_ax.transAxes)
        spasm_ax.set_yticks([])
    spasm_ax.set_ylabel("spasm s")
    spasm_ax.set_title("spasm time per session (longest over the channels)", loc="left",
                       fontsize=9)
    spasm_ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.suptitle("Fasciculation rate per minute of rest (95 % exact CI; hollow: too little rest)",
                 fontsize=10)
    return fig
