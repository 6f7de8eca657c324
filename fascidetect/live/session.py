"""The live session loop: source -> writer + processor -> view, until stopped.

Stopping (Ctrl+C, SIGTERM, the end of a played file, ``duration_s``, or closing the
window) writes the live summary, closes the BDF, runs the offline analysis on it
(``<stem>_events.tsv`` and ``<stem>_summary.json`` as ``fascidetect detect`` writes
them) and the HTML report. A SIGKILL or a crash leaves the BDF and the live events TSV as
of the last flush.
"""

from __future__ import annotations

import datetime as _dt
import json
import signal
import time
import warnings
from pathlib import Path

import numpy as np

from ..errors import FascidetectWarning
from ..params import DetectionParams
from .faults import Note
from .processor import LiveProcessor, LiveSettings
from .writer import BdfWriter, EventsWriter


class _Stop(Exception):
    """Raised by the SIGTERM handler to end the loop like Ctrl+C."""


def _raise_stop(signum, frame):
    raise _Stop()


class Session:
    """One live recording.

    Parameters
    ----------
    source : sources.BrainFlowSource | sources.LslSource | sources.ArraySource
    out_dir : str | path-like
        Folder for ``<stem>.bdf``, ``<stem>_live_events.tsv``, ``<stem>_live_summary.json``
        and, at the end, the offline outputs and the report.
    stem : str | None
        File stem (default ``live_<UTC time>``).
    params : DetectionParams | None
    settings : LiveSettings | None
    view : {"status", "plot", None}
        Terminal status line, matplotlib window, or nothing.
    flush_s : float
        Longest time between flushes of the files, s.
    stall_s : float
        A stream silent this long is noted as stalled, s.
    duration_s : float | None
        Stop after this much stream time.
    end_after_stall_s : float | None
        Stop when the stream has been silent this long (the end of a played file).
    report : bool
        Run the offline analysis and write the report at the end.
    """

    def __init__(self, source, out_dir, stem: str | None = None,
                 params: DetectionParams | None = None, settings: LiveSettings | None = None,
                 view: str | None = "status", flush_s: float = 2.0, stall_s: float = 1.0,
                 duration_s: float | None = None, end_after_stall_s: float | None = None,
                 report: bool = True):
        self.source = source
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.stem = stem or "live_" + self.started.strftime("%Y%m%dT%H%M%S")
        self.params = params or DetectionParams()
        settings = settings or LiveSettings(catch_up=False)
        self.proc = LiveProcessor(source.sfreq, source.ch_names, self.params, settings,
                                  rail_v=source.rail_v)
        self.bdf_path = self.out / f"{self.stem}.bdf"
        self.bdf = BdfWriter(self.bdf_path, source.sfreq, source.ch_names,
                             range_v=source.rail_v or 0.25, start=self.started)
        self.events = EventsWriter(self.out / f"{self.stem}_live_events.tsv")
        self.flush_s, self.stall_s = flush_s, stall_s
        self.duration_s, self.end_after_stall_s = duration_s, end_after_stall_s
        self.report = report
        self.view_kind = view
        self.view = None
        self.stopped_by = ""
        self.n_lost = 0

    def _open_view(self):
        from .view import LiveView, TerminalStatus

        if self.view_kind == "plot":
            return LiveView(self.proc, self.params.min_rest_s)
        if self.view_kind == "status":
            return TerminalStatus(self.params.min_rest_s)
        return None

    def _note(self, note: Note):
        self.proc.note(note)
        self.events.add_note(note)
        if self.view is not None:
            self.view.note(note)

    def run(self) -> dict:
        """Record until stopped; return the live summary (also written as JSON)."""
        previous = signal.signal(signal.SIGTERM, _raise_stop)
        self.view = self._open_view()
        last_data = last_flush = last_draw = time.perf_counter()
        stalled = read_failed = False
        lost_since_note = 0
        try:
            while True:
                try:
                    data, lost = self.source.read()
                except Exception as exc:  # noqa: BLE001 - a board gone away is a stall, not a crash
                    if not read_failed:
                        self._note(Note(self.proc.n_samples / self.proc.sfreq, "read_error", "",
                                        f"reading the source failed: {exc}"))
                    read_failed = True
                    data, lost = np.empty((len(self.proc.names), 0)), 0
                else:
                    read_failed = False
                now = time.perf_counter()
                if data.shape[1]:
                    if stalled:
                        gap = now - last_data
                        self.proc.add_stall(gap)
                        self._note(Note(self.proc.n_samples / self.proc.sfreq, "resumed", "",
                                        f"stream resumed after {gap:.1f} s without samples"))
                        stalled = False
                    last_data = now
                    self.bdf.write(data)
                    update = self.proc.push(data, pushed_at=now)
                    for note in update.notes:
                        self.events.add_note(note)
                        if self.view is not None:
                            self.view.note(note)
                    self.events.add_events(update.events, update.latency_s)
                    lost_since_note += lost
                    self.n_lost += lost
                elif not stalled and now - last_data > self.stall_s:
                    stalled = True
                    self._note(Note(self.proc.n_samples / self.proc.sfreq, "stalled", "",
                                    f"no samples for {self.stall_s:g} s: stream stalled "
                                    "(cable, dongle or Bluetooth?)"))
                if lost_since_note and now - last_flush >= self.flush_s:
                    self._note(Note(self.proc.n_samples / self.proc.sfreq, "dropped", "",
                                    f"{lost_since_note} samples lost (dropped packets), "
                                    "stored as 0 in the BDF"))
                    lost_since_note = 0
                if now - last_flush >= self.flush_s:
                    self.bdf.flush()
                    self.events.flush()
                    last_flush = now
                if self.view is not None and now - last_draw >= 0.25:
                    self.view.update(self.proc)
                    last_draw = now
                    if getattr(self.view, "closed", False):
                        self.stopped_by = "window closed"
                        break
                if self.duration_s is not None and self.proc.n_samples >= self.duration_s * self.proc.sfreq:
                    self.stopped_by = "duration reached"
                    break
                if getattr(self.source, "exhausted", False):
                    self.stopped_by = "end of the played file"
                    break
                if (stalled and self.end_after_stall_s is not None
                        and now - last_data > self.end_after_stall_s):
                    self.stopped_by = "stream ended"
                    break
                if not data.shape[1]:
                    time.sleep(0.01)
        except (KeyboardInterrupt, _Stop):
            self.stopped_by = "interrupted"
        finally:
            signal.signal(signal.SIGTERM, previous)
        return self.finish()

    def finish(self) -> dict:
        """Judge the tail, close the files, write the summary and (optionally) the
        offline analysis and report; return the summary."""
        update = self.proc.finish()
        self.events.add_events(update.events, update.latency_s)
        self.bdf.close()
        self.events.close()
        try:
            self.source.close()
        except Exception:  # noqa: BLE001 - a board already gone must not lose the summary
            pass
        if self.view is not None:
            self.view.close()
        summary = self.summary()
        if self.report and self.proc.n_samples >= self.params.min_recording_s * self.proc.sfreq:
            summary["offline"] = self._offline()
        path = self.out / f"{self.stem}_live_summary.json"
        path.write_text(json.dumps(summary, indent=2, default=str))
        return summary

    def summary(self) -> dict:
        """The live session's numbers: rest, per-channel rates, latency, faults, CPU."""
        proc = self.proc
        ev = proc.events
        fasc = ev["trial_type"] == "fasciculation"
        lat = proc.latency_s[fasc]
        pct = (np.percentile(lat, [50, 90, 99, 100]) * 1000).round(0).tolist() if lat.size else []
        rates = proc.channel_rates()
        rest = max((r["rest_s"] for r in rates), default=0.0)
        return {
            "stem": self.stem, "started": self.started.isoformat(),
            "stopped_by": self.stopped_by, "source": getattr(self.source, "name", ""),
            "sfreq": proc.sfreq, "channels": proc.names,
            "duration_s": proc.n_samples / proc.sfreq, "bdf": str(self.bdf_path),
            "rest_s": rest, "enough_rest": bool(rest >= self.params.min_rest_s),
            "counts": {t: int((ev["trial_type"] == t).sum())
                       for t in ("fasciculation", "spasm", "voluntary", "artifact")},
            "per_channel": rates,
            "latency_ms": dict(zip(["p50", "p90", "p99", "max"], pct)),
            "samples_lost": self.n_lost,
            "notes": [str(n) for n in proc.notes],
            "analysis_ms_mean": float(np.mean(proc.analysis_s) * 1000) if proc.analysis_s else None,
            "settings": vars(proc.settings),
        }

    def _offline(self) -> dict:
        from ..jobs import detect_file
        from ..report import write_report

        opts = {"emg_channels": self.proc.names}
        row = detect_file(self.bdf_path, self.out, self.params, opts)
        out = {"events_tsv": row["events_tsv"], "summary_json": row["summary_json"],
               "status": row["status"], "error": row["error"],
               "n_fasciculations": row["n_fasciculations"]}
        if row["status"] == "ok":
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FascidetectWarning)
                    paths = write_report(self.bdf_path, self.out, formats=("html",),
                                         params=self.params, read_options=opts,
                                         events=row["events_tsv"])
                out["report"] = [str(p) for v in paths.values()
                                 for p in (v if isinstance(v, list) else [v])]
            except Exception as exc:  # noqa: BLE001 - the session's files are already safe
                out["report_error"] = f"{type(exc).__name__}: {exc}"
        return out
