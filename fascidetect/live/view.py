"""What a person lying still looks at: a matplotlib window, or one terminal line.

Both show the rest collected against the README's 2 minutes ("enough rest" once reached),
fasciculations per channel with the rate per minute of rest and its 95 % interval, any
ongoing episode and the newest fault note.
"""

from __future__ import annotations

import sys

import numpy as np


def status_line(proc, min_rest_s: float, width: int = 160) -> str:
    """Return the one-line status of a :class:`~fascidetect.live.LiveProcessor`."""
    rates = proc.channel_rates()
    rest = max((r["rest_s"] for r in rates), default=0.0)
    total = sum(r["n_fasciculations"] for r in rates)
    enough = "ENOUGH REST" if rest >= min_rest_s else f"need {min_rest_s - rest:.0f} s more"
    busiest = sorted(rates, key=lambda r: -r["n_fasciculations"])[:3]
    per = " ".join(f"{_short(r['name'])} {r['n_fasciculations']} "
                   f"({_fmt(r['rate_per_min'])}/min [{_fmt(r['rate_ci_low'])}-{_fmt(r['rate_ci_high'])}])"
                   for r in busiest if r["n_fasciculations"])
    parts = [f"t {proc.n_samples / proc.sfreq:6.1f} s", f"rest {rest / 60:4.1f} min ({enough})",
             f"{total} fasc", per]
    if proc.ongoing_episode:
        parts.append(f"{proc.ongoing_episode.upper()} ongoing")
    faulty = [f"{_short(r['name'])} {r['fault']}" for r in rates if r["fault"]]
    if faulty:
        parts.append("FAULT " + ", ".join(faulty))
    return " | ".join(p for p in parts if p)[:width]


def _short(name: str) -> str:
    return name[4:] if name.upper().startswith("EMG ") else name


def _fmt(value) -> str:
    return "-" if not np.isfinite(value) else f"{value:.1f}"


class TerminalStatus:
    """A status line rewritten in place (``\\r``) and fault notes printed above it."""

    def __init__(self, min_rest_s: float, stream=None):
        self.min_rest_s = min_rest_s
        self.stream = stream or sys.stderr
        self._last_len = 0

    def note(self, note) -> None:
        """Print a fault note on its own line."""
        self.stream.write("\r" + " " * self._last_len + "\r" + f"Warning: {note}\n")
        self.stream.flush()

    def update(self, proc) -> None:
        """Redraw the status line."""
        line = status_line(proc, self.min_rest_s)
        pad = max(self._last_len - len(line), 0)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._last_len = len(line)

    def close(self) -> None:
        """End the status line."""
        self.stream.write("\n")
        self.stream.flush()


class LiveView:
    """A matplotlib window: band-passed traces of the last 10 s with fasciculation marks,
    and a bar per channel of the rate per minute of rest with its 95 % interval."""

    def __init__(self, proc, min_rest_s: float):
        import matplotlib.pyplot as plt

        self.plt = plt
        self.min_rest_s = min_rest_s
        self.proc = proc
        n = len(proc.names)
        self.fig, (self.ax, self.ax_rate) = plt.subplots(
            1, 2, figsize=(13, 1 + 0.6 * n), gridspec_kw={"width_ratios": [4, 1]})
        self.fig.canvas.manager.set_window_title("fascidetect live")
        self._lines = [self.ax.plot([], [], lw=0.6, color="0.2")[0] for _ in range(n)]
        self._marks = self.ax.scatter([], [], marker="v", color="tab:red", s=30, zorder=3)
        self.ax.set_yticks(np.arange(n))
        self.ax.set_yticklabels([_short(c) for c in proc.names])
        self.ax.set_ylim(n - 0.5, -0.5)
        self.ax.set_xlabel("time (s)")
        self._bars = self.ax_rate.barh(np.arange(n), np.zeros(n), color="tab:blue")
        self._ci = self.ax_rate.errorbar(np.zeros(n), np.arange(n), xerr=np.zeros((2, n)),
                                         fmt="none", ecolor="k")
        self.ax_rate.set_ylim(n - 0.5, -0.5)
        self.ax_rate.set_yticks([])
        self.ax_rate.set_xlabel("fasciculations / min of rest")
        self._title = self.fig.suptitle("")
        self.fig.tight_layout()
        plt.show(block=False)

    @property
    def closed(self) -> bool:
        """True once the person closed the window."""
        return not self.plt.fignum_exists(self.fig.number)

    def note(self, note) -> None:
        """Fault notes go to the title via the status line."""

    def update(self, proc) -> None:
        """Redraw traces, marks, rates and the rest status."""
        traces, t0 = proc.display()
        n, m = traces.shape
        t = t0 + np.arange(m) / proc.sfreq
        sigma = np.where(np.isfinite(proc.noise.sigma) & (proc.noise.sigma > 0),
                         proc.noise.sigma, 1e-6)
        scale = 1.0 / (12.0 * sigma)    # 12 sigma per channel row
        step = max(m // 4000, 1)         # never draw more points than pixels
        for i, line in enumerate(self._lines):
            line.set_data(t[::step], i - np.clip(traces[i, ::step] * scale[i], -0.6, 0.6))
        self.ax.set_xlim(t[0], t[-1])
        ev = proc.events
        fasc = ev[(ev["trial_type"] == "fasciculation") & (ev["onset"] >= t[0])]
        rows = np.array([proc.names.index(c) for c in fasc["channel"]], dtype=float)
        self._marks.set_offsets(np.column_stack([fasc["peak_time"], rows - 0.45])
                                if fasc.size else np.empty((0, 2)))
        rates = proc.channel_rates()
        rate = np.array([r["rate_per_min"] for r in rates])
        low = np.array([r["rate_ci_low"] for r in rates])
        high = np.array([r["rate_ci_high"] for r in rates])
        for bar, v in zip(self._bars, np.nan_to_num(rate)):
            bar.set_width(v)
        self._ci.remove()
        self._ci = self.ax_rate.errorbar(np.nan_to_num(rate), np.arange(n),
                                         xerr=np.nan_to_num([rate - low, high - rate]),
                                         fmt="none", ecolor="k")
        top = np.nanmax(np.concatenate([high, [1.0]]))
        self.ax_rate.set_xlim(0, 1.1 * (top if np.isfinite(top) else 1.0))
        rest = max((r["rest_s"] for r in rates), default=0.0)
        enough = rest >= self.min_rest_s
        self._title.set_text(status_line(proc, self.min_rest_s, width=200))
        self._title.set_color("tab:green" if enough else "k")
        self.fig.canvas.draw_idle()
        self.fig.canvas.flush_events()

    def close(self) -> None:
        """Close the window."""
        self.plt.close(self.fig)
