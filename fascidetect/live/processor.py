"""The live processor: chunks in, each discharge reported once, soon after it happened.

Detection and classification are not re-implemented here. Every ``hop_s`` of stream the
offline pipeline (:func:`fascidetect.detect`, with its ordered classification
``STAGES``) runs on the last ``window_s`` of raw samples, and the discharges it finds in
``[committed, window end - lookahead_s)`` are reported and never again: each stretch of
time is judged by the first window that sees it with ``lookahead_s`` of signal after it.

Why a look-ahead and not a causal detector: the offline band-pass is zero-phase and the
rest, firing-train and edge rules look at both sides of a discharge. With 0.35 s after a
discharge the window's verdict equals the whole recording's (F1 >= 0.95 in
``tests/test_live.py``; 0.2 s is too short: the edge guard and the zero-phase filter's
end effects reach the discharge). So the latency of a discharge is the look-ahead, plus
up to one hop of waiting, plus the time one analysis takes.

Windows end on a fixed grid (multiples of ``hop_s`` from the session start), so the
result does not depend on how the stream is cut into chunks. When analysis falls behind
real time (``catch_up=False``), grid points are skipped: the next window then commits a
longer stretch, nothing is lost, only later.

Spasm and voluntary episodes last seconds and need more context: an episode's onset comes
from the newest window with ``episode_context_s`` of signal before it, its end from the
newest window with ``episode_tail_s`` after it, and it is reported once, when it has ended
(about ``lookahead_s + episode_tail_s`` after its end).
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from ..errors import FascidetectError
from ..events import EVENT_DTYPE, empty_events
from ..params import DetectionParams
from ..results import poisson_rate_ci
from .faults import FaultMonitor, Note
from .filters import CausalFilter, NoiseTracker

#: Episode codes on the episode timeline (0 = rest).
_EPISODE_TYPES = ("spasm", "voluntary")


@dataclasses.dataclass
class LiveSettings:
    """How the live processor slides its analysis window.

    Parameters
    ----------
    window_s : float
        Length of the analysis window, s (the context each verdict sees).
    lookahead_s : float
        Signal needed after a discharge before it is judged, s (the fixed part of latency).
    hop_s : float
        Time between analyses, s (adds up to one hop of latency; CPU scales with 1 / hop).
    episode_context_s : float
        Signal needed before an episode's onset for its verdict, s.
    episode_tail_s : float
        Signal needed after an episode's end (beyond the look-ahead) before it is
        reported, s.
    display_s : float
        Band-passed history kept for the view, s.
    catch_up : bool
        Analyse every grid point even when behind real time (playback, tests); False
        skips to the newest one (live sessions).
    """

    window_s: float = 8.0
    lookahead_s: float = 0.35
    hop_s: float = 0.1
    episode_context_s: float = 2.0
    episode_tail_s: float = 0.5
    display_s: float = 10.0
    catch_up: bool = True

    def __post_init__(self):
        if not 0 < self.lookahead_s < self.window_s / 2:
            raise FascidetectError(f"lookahead_s={self.lookahead_s} must be in (0, window_s / 2)")
        if not 0 < self.hop_s <= self.window_s - 2 * self.lookahead_s:
            raise FascidetectError(f"hop_s={self.hop_s} must be > 0 and leave the window room")
        if not 0 <= self.episode_context_s < self.window_s - self.lookahead_s:
            raise FascidetectError("episode_context_s must be shorter than the window")


@dataclasses.dataclass
class LiveUpdate:
    """What one :meth:`LiveProcessor.push` produced."""

    events: np.ndarray          # discharge and episode rows (EVENT_DTYPE), times from start
    latency_s: np.ndarray       # per row: when it was reported minus when it happened, s
    notes: list                 # list of faults.Note


def _end(row) -> float:
    """End of a one-row event table, s."""
    return float(row["onset"][0] + row["duration"][0])


class LiveProcessor:
    """Stateful chunk-by-chunk fasciculation detection that shares the offline stages.

    Parameters
    ----------
    sfreq : float
        Sampling rate, Hz.
    ch_names : list of str
        EMG channel names (all channels pushed are analysed).
    params : DetectionParams | None
        Detection parameters, as for :func:`fascidetect.detect`.
    settings : LiveSettings | None
    rail_v : float | None
        Amplifier input limit in volts, for the railed-channel check.

    Examples
    --------
    >>> import numpy as np
    >>> from fascidetect.live import LiveProcessor, LiveSettings
    >>> proc = LiveProcessor(1000.0, ["EMG A", "EMG B"], settings=LiveSettings(hop_s=0.5))
    >>> x = 5e-6 * np.random.default_rng(0).standard_normal((2, 6000))
    >>> x[0, 3000:3010] += 200e-6 * np.hanning(10)      # one discharge at 3 s
    >>> found = [proc.push(x[:, i:i + 100]).events for i in range(0, 6000, 100)]
    >>> fasc = np.concatenate(found)
    >>> [(round(float(e["peak_time"]), 3), e["channel"]) for e in fasc if e["trial_type"] == "fasciculation"]
    [(3.004, 'EMG A')]
    """

    def __init__(self, sfreq: float, ch_names, params: DetectionParams | None = None,
                 settings: LiveSettings | None = None, rail_v: float | None = None):
        self.sfreq = float(sfreq)
        self.names = list(ch_names)
        self.params = params or DetectionParams()
        self.settings = settings or LiveSettings()
        s, fs = self.settings, self.sfreq
        self._win = int(round(s.window_s * fs))
        self._look = int(round(s.lookahead_s * fs))
        self._hop = max(int(round(s.hop_s * fs)), 1)
        self._ctx = int(round(s.episode_context_s * fs))
        n = len(self.names)
        # Raw samples [self._buf_start, self.n_samples) for the analysis window.
        self._buf = np.empty((n, 2 * self._win + self._hop))
        self._buf_len = 0
        self._buf_start = 0
        self.n_samples = 0
        self._next_end = self._hop
        self._committed = 0
        self.filter = CausalFilter(fs, n, self.params.band_for(fs), self.params.filter_order)
        self.noise = NoiseTracker(fs, n)
        self.faults = FaultMonitor(fs, self.names, rail_v)
        self._display = np.zeros((n, int(round(s.display_s * fs))))
        self._recent = np.empty(0)          # onsets of recently reported discharges
        self._recent_ch = np.empty(0, dtype=object)
        self._pending: list = []            # episodes being followed (one-row tables)
        self._reported_spans: list = []     # (onset, end) of episodes reported, s
        self._fault_samples = np.zeros(n)   # per channel, samples spent in a noted fault
        self._stalled_s = 0.0
        self.events = empty_events(0)       # everything reported so far
        self.latency_s = np.empty(0)
        self.notes: list[Note] = []
        self.analysis_s: list[float] = []   # wall time of each analysis
        self.analysis_cpu_s: list[float] = []  # CPU time of each analysis (this thread)
        self.wait_s = np.empty(0)           # per row: the stream-time part of latency_s
        self.row_cpu_s = np.empty(0)        # per row: CPU time of the analysis reporting it
        self.line_freq_hz = None

    # -- input -------------------------------------------------------------------------
    def push(self, chunk: np.ndarray, pushed_at: float | None = None) -> LiveUpdate:
        """Add a chunk (volts, ``(n_channels, n_samples)``) and return what it revealed.

        ``pushed_at`` is the wall time (``time.perf_counter()``) the chunk arrived; the
        latency of each reported row counts from the arrival of its own sample.
        """
        pushed_at = time.perf_counter() if pushed_at is None else pushed_at
        chunk = np.asarray(chunk, dtype=float)
        if chunk.ndim != 2 or chunk.shape[0] != len(self.names):
            raise FascidetectError(f"chunk of shape {chunk.shape}: expected ({len(self.names)}, n)")
        start = self.n_samples
        filtered = self.filter(chunk)
        self.noise.update(filtered)
        notes = self.faults.check(chunk, filtered, start)
        self._fault_samples += self.faults.faulty * chunk.shape[1]
        self._keep_display(filtered)
        self._append(chunk)
        events, latency = [], []
        due = self._due_ends()
        for end in due:
            ev, lat = self._analyse(end, final=False, pushed_at=pushed_at)
            events.append(ev)
            latency.append(lat)
        self.notes.extend(notes)
        return self._record(events, latency, notes)

    def note(self, note: Note) -> None:
        """Record a note from outside (dropped packets, a stall)."""
        self.notes.append(note)

    def add_stall(self, seconds: float) -> None:
        """Count ``seconds`` without samples as no rest."""
        self._stalled_s += max(float(seconds), 0.0)

    def finish(self) -> LiveUpdate:
        """Judge the tail (no look-ahead left) and report the remaining episodes."""
        if self.n_samples <= self._committed:
            return self._record([], [], [])
        ev, lat = self._analyse(self.n_samples, final=True, pushed_at=time.perf_counter())
        return self._record([ev], [lat], [])

    # -- state for the view ------------------------------------------------------------
    @property
    def committed_s(self) -> float:
        """Stream time up to which discharges are final, s."""
        return self._committed / self.sfreq

    @property
    def episode_s(self) -> float:
        """Time in spasm or voluntary episodes before the committed point, s."""
        upto = self.committed_s
        spans = list(self._reported_spans) + [(float(p["onset"][0]), _end(p))
                                              for p in self._pending]
        return float(sum(max(min(b, upto) - a, 0.0) for a, b in spans))

    @property
    def ongoing_episode(self) -> str:
        """``"spasm"`` or ``"voluntary"`` while an episode is followed, else ``""``."""
        return str(self._pending[-1]["trial_type"][0]) if self._pending else ""

    def rest_s(self) -> np.ndarray:
        """Rest collected per channel, s: committed time without episodes, stalls and
        the channel's faults."""
        total = self.committed_s - self.episode_s - self._stalled_s
        return np.clip(total - self._fault_samples / self.sfreq, 0.0, None)

    def channel_rates(self) -> list[dict]:
        """Per channel: fasciculations, rest, rate per minute and its 95 % Poisson CI."""
        fasc = self.events[self.events["trial_type"] == "fasciculation"]
        counts = np.array([(fasc["channel"] == n).sum() for n in self.names])
        rest = self.rest_s()
        low, high = poisson_rate_ci(counts, rest / 60.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(rest > 0, counts / (rest / 60.0), np.nan)
        return [{"name": n, "n_fasciculations": int(c), "rest_s": float(r),
                 "rate_per_min": float(v), "rate_ci_low": float(lo), "rate_ci_high": float(hi),
                 "noise_sigma_uv": float(sg * 1e6), "fault": str(f)}
                for n, c, r, v, lo, hi, sg, f in zip(self.names, counts, rest, rate, low, high,
                                                     self.noise.sigma, self.faults.state)]

    def display(self) -> tuple[np.ndarray, float]:
        """Return the causally band-passed last ``display_s`` (V) and the time of its
        first sample, s."""
        return self._display, self.n_samples / self.sfreq - self.settings.display_s

    # -- internals ---------------------------------------------------------------------
    def _append(self, chunk):
        n = chunk.shape[1]
        if self._buf_len + n > self._buf.shape[1]:
            keep = min(self._buf_len, max(self.n_samples - (self._next_end - self._win), 0))
            keep = min(keep, self._buf_len)
            self._buf[:, :keep] = self._buf[:, self._buf_len - keep:self._buf_len]
            self._buf_start = self.n_samples - keep
            self._buf_len = keep
            if keep + n > self._buf.shape[1]:
                grown = np.empty((self._buf.shape[0], keep + n + self._win))
                grown[:, :keep] = self._buf[:, :keep]
                self._buf = grown
        self._buf[:, self._buf_len:self._buf_len + n] = chunk
        self._buf_len += n
        self.n_samples += n

    def _keep_display(self, filtered):
        n = min(filtered.shape[1], self._display.shape[1])
        if n:
            self._display = np.roll(self._display, -n, axis=1)
            self._display[:, -n:] = filtered[:, -n:]

    def _due_ends(self) -> list[int]:
        ends = np.arange(self._next_end, self.n_samples + 1, self._hop)
        if ends.size == 0:
            return []
        self._next_end = int(ends[-1]) + self._hop
        if not self.settings.catch_up:
            ends = ends[-1:]
        return [int(e) for e in ends]

    def _window(self, end):
        # (The buffer may start up to a hop later than a full window at the final call.)
        start = max(end - self._win, self._buf_start)
        return start, self._buf[:, start - self._buf_start:end - self._buf_start]

    def _analyse(self, end, final, pushed_at):
        from ..pipeline import detect  # the offline driver and its STAGES

        start, x = self._window(end)
        commit_to = end if final else end - self._look
        if commit_to <= self._committed or x.shape[1] < self.params.min_recording_s * self.sfreq:
            return empty_events(0), np.empty(0)
        tic, cpu_tic = time.perf_counter(), time.thread_time()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = detect(x, self.params, sfreq=self.sfreq, ch_names=self.names, units="V")
        except FascidetectError as exc:   # e.g. a window that is all NaN after a stall
            self.notes.append(Note(end / self.sfreq, "analysis", "", f"window skipped: {exc}"))
            return empty_events(0), np.empty(0)
        if self.line_freq_hz is None and res.line_noise.get("freq_hz"):
            self.line_freq_hz = res.line_noise["freq_hz"]
            self.filter.add_notches(res.line_noise["notch_hz"])
        t0 = start / self.sfreq
        ev = res.events.copy()
        ev["onset"] += t0
        ev["peak_time"] += t0
        ev["unit"] = -1   # unit ids are per window, not per session
        episode = np.isin(ev["trial_type"], _EPISODE_TYPES) & np.isfinite(ev["rms_uv"])
        discharges = ev[~episode]
        lo_t, hi_t = self._committed / self.sfreq, commit_to / self.sfreq
        discharges = discharges[(discharges["onset"] >= lo_t) & (discharges["onset"] < hi_t)]
        discharges = self._new_only(discharges)
        self._committed = commit_to
        episodes = self._update_episodes(ev[episode], start, end, final)
        out = np.concatenate([discharges, episodes]) if episodes.size else discharges
        toc = time.perf_counter()
        self.analysis_s.append(toc - tic)
        self.analysis_cpu_s.append(time.thread_time() - cpu_tic)
        # Stream time between the row's sample and the newest sample, plus the wall time
        # since that newest sample arrived (waiting for the hop and the analysis itself).
        happened = np.where(np.isin(out["trial_type"], _EPISODE_TYPES),
                            out["onset"] + out["duration"], out["onset"])
        wait = self.n_samples / self.sfreq - happened
        self.wait_s = np.concatenate([self.wait_s, wait])
        self.row_cpu_s = np.concatenate([self.row_cpu_s, np.full(wait.size, self.analysis_cpu_s[-1])])
        return out, wait + (toc - pushed_at)

    def _new_only(self, rows):
        """Drop a discharge already reported by an earlier window (same channel, within
        merge_ms: a peak that moved by a sample between windows)."""
        if rows.size == 0:
            return rows
        tol = self.params.merge_ms / 1000.0
        keep = np.ones(rows.size, dtype=bool)
        for ch in np.unique(rows["channel"]):  # loop over channels with new rows
            mine = rows["channel"] == ch
            prev = self._recent[self._recent_ch == ch]
            if prev.size:
                near = np.abs(rows["onset"][mine][:, None] - prev[None, :]).min(axis=1) < tol
                keep[np.flatnonzero(mine)[near]] = False
        rows = rows[keep]
        horizon = self._committed / self.sfreq - 1.0
        old = self._recent >= horizon
        self._recent = np.concatenate([self._recent[old], rows["onset"]])
        self._recent_ch = np.concatenate([self._recent_ch[old], rows["channel"].astype(object)])
        return rows

    def _update_episodes(self, rows, start, end, final):
        """Follow episodes across windows; return those now complete.

        An episode's onset is taken from the newest window that has ``episode_context_s``
        of signal before it, its end is the latest any window saw; a window that starts
        inside an episode only extends one already followed (alone, it would see a
        fragment with no context). An episode is reported once the newest window has
        ``episode_tail_s`` of signal after its end.
        """
        fs, st = self.sfreq, self.settings
        head_ok_from = 0.0 if start == 0 else start / fs + st.episode_context_s
        tail_ok_to = np.inf if final else end / fs - st.lookahead_s - st.episode_tail_s
        rows = rows[np.argsort(rows["onset"])]
        for i in range(rows.size):  # loop over this window's episodes (a few)
            row = rows[i:i + 1].copy()
            a, b = float(row["onset"][0]), float(row["onset"][0] + row["duration"][0])
            if any(a < r_b and b > r_a for r_a, r_b in self._reported_spans):
                continue
            # (Any type: a partial view may call a spasm's start voluntary; the newest
            # view with context decides.)
            same = [p for p in self._pending
                    if a < _end(p) + st.episode_tail_s and b > p["onset"][0]]
            if same:
                p = same[0]
                p_on, p_end = float(p["onset"][0]), _end(p)
                if a >= head_ok_from and a <= p_on + 1.0:
                    # A newer view of the onset, with more signal after it, decides type
                    # and onset; a view starting later is a part and only extends it.
                    p[:] = row
                p["duration"] = max(b, p_end) - p["onset"]
            elif a >= head_ok_from:
                self._pending.append(row)
            # else: the tail of an episode already reported, seen without context
        out, still = [], []
        for p in self._pending:
            if _end(p) <= tail_ok_to:
                p["duration_ms"] = p["duration"] * 1000.0
                out.append(p)
                self._reported_spans.append((float(p["onset"][0]), _end(p)))
            else:
                still.append(p)
        self._pending = still
        return np.concatenate(out) if out else empty_events(0)

    def _record(self, events, latency, notes):
        ev = np.concatenate(events) if events else empty_events(0)
        lat = np.concatenate(latency) if latency else np.empty(0)
        if ev.size:
            self.events = np.concatenate([self.events, ev.astype(EVENT_DTYPE)])
            self.latency_s = np.concatenate([self.latency_s, lat])
        return LiveUpdate(ev, lat, list(notes))
