"""Reports: one multi-page PDF (or PNG pages, or a self-contained HTML) per recording.

Page 1 summarises what was found and what surface EMG cannot tell; the following pages
are the figures of :mod:`fascidetect.plot`. The same summary feeds every format, so the
PDF and the HTML always say the same thing.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import html
import io
import os
import textwrap
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import InputError, ParameterError

FORMATS = ("pdf", "png", "html")
#: A4 portrait for the summary, landscape-ish for figures (inches).
_SUMMARY_SIZE = (8.27, 11.69)
_PNG_DPI = 100
_HTML_DPI = 90
#: Seconds of EMG shown in the zoomed trace page, and around a spasm.
_ZOOM_S = 10.0
_SPASM_PAD_S = 2.0


@dataclasses.dataclass
class Page:
    """One report page: a name (used in PNG file names) and its figure."""

    name: str
    figure: object


# ---------------------------------------------------------------------- inputs
def _load(recording_or_path, read_options):
    """Return (Recording | None, stem) from a Recording, a path, or None."""
    from .recording import Recording

    if recording_or_path is None:
        return None, "recording"
    if isinstance(recording_or_path, Recording):
        stem = Path(recording_or_path.source).stem if recording_or_path.source else "recording"
        return recording_or_path, stem
    path = Path(recording_or_path)
    if not path.exists():
        from .errors import FileMissingError

        raise FileMissingError(f"recording '{path}' does not exist")
    from .io import read

    return read(path, **(read_options or {})), path.stem


def result_from_events(events, recording=None, params=None):
    """Return a DetectionResult rebuilt from an event table (e.g. a saved events.tsv).

    Rates use the rest time left after the spasm, voluntary and long artifact spans of
    the table; waveforms and noise levels are not stored in an events.tsv, so they are
    empty/NaN (the waveform page is then left out).

    Parameters
    ----------
    events : ndarray of EVENT_DTYPE | str | path-like
        The events, or the path of an events.tsv.
    recording : Recording | None
        Gives duration, sampling rate and the channel list when present.
    params : DetectionParams | None
    """
    from .events import read_events_tsv
    from .params import DetectionParams
    from .plot._common import excluded_spans, overlap_s
    from .results import DetectionResult, poisson_rate_ci

    if not isinstance(events, np.ndarray):
        events = read_events_tsv(events)
    params = params or DetectionParams()
    ends = events["onset"] + np.nan_to_num(events["duration"])
    if recording is not None:
        duration, fs = recording.duration_s, recording.sfreq
        names = [recording.ch_names[i] for i in recording.emg_picks]
    else:
        duration = float(np.nanmax(ends)) if len(events) else 0.0
        fs = float("nan")
        names = []
    for ch in events["channel"]:
        if ch and ch not in names:
            names.append(str(ch))
    # Not rest, as in the pipeline: the episodes and long artifacts of the table, the
    # recording's edges, and its BAD and voluntary-task annotations.
    guard = params.edge_guard_s
    spans = excluded_spans(events) + [(0.0, guard), (duration - guard, duration)]
    labels = tuple(lbl.lower() for lbl in params.voluntary_labels)
    for ann in getattr(recording, "annotations", None) or []:
        desc, end = ann.description.lower(), ann.onset + max(ann.duration, 0.0)
        if desc.startswith(("bad", "edge")):
            spans.append((ann.onset - guard, end + guard))
        elif ann.duration > 0 and any(lbl in desc for lbl in labels):
            spans.append((ann.onset, end))
    rest_s = duration - overlap_s(spans, 0.0, duration)
    fasc = events[events["trial_type"] == "fasciculation"]
    spasms = events[events["trial_type"] == "spasm"]
    counts = np.array([(fasc["channel"] == n).sum() for n in names])
    low, high = poisson_rate_ci(counts, np.full(len(names), rest_s / 60.0))
    channels = []
    for i, name in enumerate(names):
        on = np.array([name in s.split(",") for s in spasms["channels"]], bool)
        channels.append({
            "name": name, "status": "ok", "noise_sigma_uv": float("nan"),
            "n_fasciculations": int(counts[i]), "rest_s": rest_s,
            "rate_per_min": counts[i] / (rest_s / 60.0) if rest_s > 0 else float("nan"),
            "rate_ci_low": float(low[i]), "rate_ci_high": float(high[i]),
            "n_spasms": int(on.sum()), "spasm_s": float(np.nansum(spasms["duration"][on])),
        })
    rec_info = {"source": getattr(recording, "source", None),
                "format": getattr(recording, "format", "events.tsv"),
                "sfreq": fs, "duration_s": duration, "n_channels": len(names),
                "emg_channels": names, "meas_date": None}
    if recording is not None and recording.meas_date is not None:
        rec_info["meas_date"] = recording.meas_date.isoformat()
    return DetectionResult(events=events, channels=channels,
                           waveforms=np.zeros((len(fasc), 0, 0), np.float32),
                           templates=np.zeros((0, 0, 0), np.float32), params=params,
                           recording=rec_info,
                           warnings=["report built from a saved events table: waveforms "
                                     "and noise levels were not re-measured"],
                           sfreq=fs)


# ---------------------------------------------------------------------- summary
def _rest_text(channels, rest_s: float) -> str:
    """Return the rest time analysed: one figure, or the range over the channels."""
    per = [c["rest_s"] for c in channels if c.get("status") != "flat" and c.get("rest_s") is not None]
    need = "about 120 s are needed before 'no fasciculations' means much"
    if per and max(per) - min(per) >= 1.0:
        return f"{min(per):.0f}-{max(per):.0f} s per channel (see the table; {need})"
    return f"{rest_s:.1f} s ({need})"



def report_summary(result, muscles=None) -> dict:
    """Return the report's first page as data: key facts, channel table, root pattern,
    warnings and the limits of surface EMG.

    Returns
    -------
    dict
        ``facts`` (list of (label, text)), ``table_header``, ``table_rows``,
        ``root_pattern`` (text), ``warnings``, ``limits``, ``title``.
    """
    from .myotomes import (MUSCLES, label_channels, muscle_for_channel, rates_by_muscle,
                           root_pattern, side_for_channel)
    from .results import limits_for, poisson_rate_ci

    s = result.summary()
    rec = result.recording
    names = [c["name"] for c in result.channels]
    labels = label_channels(names, muscles)
    source = rec.get("source") or "in-memory recording"
    rest_s = s["rest_s"] or 0.0
    total = s["counts"]["fasciculation"]
    low, high = poisson_rate_ci([total], [rest_s / 60.0])
    rate = f"{total / (rest_s / 60.0):.1f}/min (95 % CI {low[0]:.1f}-{high[0]:.1f})" \
        if rest_s > 0 else "n/a (no rest analysed)"
    spasms = result.spasms
    spasm_list = ", ".join(f"{a:.1f} s for {d:.1f} s" for a, d in
                           zip(spasms["onset"][:6], spasms["duration"][:6]))
    vol = result.events[result.events["trial_type"] == "voluntary"]
    vol_ep = vol[vol["duration"] > 0.5]
    arts = s["artifacts_by_kind"]
    fs = rec.get("sfreq")
    facts = [
        ("Recording", str(source)),
        ("Format / rate", f"{rec.get('format', 'n/a')}, "
                          f"{fs:g} Hz" if fs and np.isfinite(fs) else f"{rec.get('format', 'n/a')}"),
        ("Duration", f"{rec.get('duration_s', 0.0):.1f} s, {len(names)} EMG channel(s)"),
        ("Start", str(rec.get("meas_date") or "n/a")),
        ("Rest analysed", _rest_text(result.channels, rest_s)),
        ("Fasciculations", f"{total}, {rate}"),
        ("Motor units", f"{result.n_units} template(s)"),
        ("Spasm episodes", f"{len(spasms)} ({s['spasm_total_s'] or 0:.1f} s)"
                           + (f": {spasm_list}" if spasm_list else "")),
        ("Voluntary", f"{len(vol_ep)} episode(s), {len(vol) - len(vol_ep)} discharge(s) "
                      "in firing trains (not counted)"),
        ("Artifacts rejected", ", ".join(f"{k} {v}" for k, v in sorted(arts.items())) or "none"),
    ]
    header = ["channel", "muscle", "root", "fasc.", "rest s", "rate /min", "95 % CI",
              "spasm s", "doublets", "noise σ µV"]
    rows = []
    for ch in result.channels:
        lab = labels.get(ch["name"]) or ""
        key = muscle_for_channel(lab) if lab else None
        root = MUSCLES[key].main_root if key else ""
        r, lo, hi = (ch.get(k) for k in ("rate_per_min", "rate_ci_low", "rate_ci_high"))
        muscle = MUSCLES[key].name if key else (lab or "")
        side = side_for_channel(lab) if key else None
        muscle += f" ({side})" if side else ""
        rows.append([_short(ch["name"]), muscle, root, str(ch.get("n_fasciculations", 0)),
                     _fmt(ch.get("rest_s"), ".0f"),
                     _fmt(r, ".1f"), f"{_fmt(lo, '.1f')}-{_fmt(hi, '.1f')}",
                     _fmt(ch.get("spasm_s"), ".1f"),
                     str(ch["n_doublets"]) if ch.get("n_doublets") is not None else "n/a",
                     _fmt(ch.get("noise_sigma_uv"), ".1f")])
    pattern = root_pattern(rates_by_muscle(result.channels, muscles))
    title = Path(str(source)).name if rec.get("source") else "in-memory recording"
    return {"title": title, "facts": facts, "table_header": header, "table_rows": rows,
            "root_pattern": pattern.text, "root_candidates": list(pattern.roots),
            "warnings": list(result.warnings), "limits": limits_for(result.params),
            "generated": f"fascidetect {s['fascidetect_version']}, "
                         f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}"}


def _short(name: str) -> str:
    return name[4:] if name.upper().startswith("EMG ") else name


def _fmt(value, spec: str) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return format(value, spec) if np.isfinite(value) else "n/a"


def summary_figure(summary: dict):
    """Return the summary page (A4 portrait) drawn from :func:`report_summary`."""
    from .plot._common import new_figure

    fig = new_figure(_SUMMARY_SIZE)
    fig.set_layout_engine(None)
    y = 0.965

    def line(text, size=9, weight="normal", x=0.06, width=105, color="k", gap=1.45):
        nonlocal y
        for part in textwrap.wrap(text, width) or [""]:
            fig.text(x, y, part, fontsize=size, weight=weight, va="top", color=color)
            y -= gap * size / 72 / _SUMMARY_SIZE[1]

    line(f"fascidetect report: {summary['title']}", 14, "bold", width=70)
    line(summary["generated"], 8, color="0.4")
    y -= 0.01
    for label, value in summary["facts"]:
        parts = textwrap.wrap(value, 80) or [""]
        fig.text(0.06, y, label, fontsize=9, weight="bold", va="top")
        for part in parts:
            fig.text(0.27, y, part, fontsize=9, va="top")
            y -= 1.45 * 9 / 72 / _SUMMARY_SIZE[1]
    y -= 0.012
    rows, note = _rows_on_page(summary["table_rows"])
    line("Per channel (rates over each channel's own rest time; 95 % exact Poisson CI)", 10,
         "bold")
    if note:
        line(note, 8, color="0.3", width=130)
    n_rows = len(rows) + 1
    height = min(0.4, 0.022 * n_rows)
    ax = fig.add_axes([0.06, y - height, 0.88, height])
    ax.axis("off")
    if rows:
        widths = [0.11, 0.22, 0.05, 0.06, 0.07, 0.08, 0.12, 0.08, 0.09, 0.1]
        table = ax.table(cellText=rows, colLabels=summary["table_header"],
                         loc="upper center", cellLoc="center", bbox=[0, 0, 1, 1],
                         colWidths=widths[:len(summary["table_header"])])
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        for (r, _), cell in table.get_celld().items():
            cell.set_edgecolor("0.8")
            if r == 0:
                cell.set_facecolor("0.92")
                cell.set_text_props(weight="bold")
    y -= height + 0.02
    line("Root pattern", 10, "bold")
    line(summary["root_pattern"], 9)
    y -= 0.008
    line("What this recording cannot assess", 10, "bold")
    line(summary["limits"], 9)
    line("A report can state fasciculation rates with a confidence interval, spasm episodes "
         "and the root pattern they are consistent with; across repeated recordings a "
         "rising rate is worth a clinician's look.", 9)
    if summary["warnings"]:
        y -= 0.008
        line(f"Warnings ({len(summary['warnings'])})", 10, "bold")
        for w in summary["warnings"][:12]:
            if y < 0.04:
                line("... (more in the JSON summary)", 8, color="0.4")
                break
            line(f"- {w}", 8, color="0.25", width=125)
    return fig


#: Channel rows the summary page holds; an HD grid's other channels go into one row.
MAX_PAGE_ROWS = 20


def _rows_on_page(rows: list) -> tuple[list, str]:
    """Return the channel rows the summary page shows and a note on those left out.

    Up to :data:`MAX_PAGE_ROWS` rows all show; beyond that (an HD grid), the channels
    with the most fasciculations, then spasm time, in their order, and one row adding up
    the others (the HTML report and the JSON summary keep every channel).
    """
    if len(rows) <= MAX_PAGE_ROWS:
        return rows, ""
    def count(row, col):
        try:
            return float(row[col])
        except ValueError:
            return 0.0

    keep = MAX_PAGE_ROWS - 1
    order = sorted(range(len(rows)), key=lambda i: (-count(rows[i], 3), -count(rows[i], 7), i))
    shown = sorted(order[:keep])
    rest = [rows[i] for i in order[keep:]]
    rest_s = [count(r, 4) for r in rest]
    other = [f"{len(rest)} others", "", "", str(int(sum(count(r, 3) for r in rest))),
             _span(min(rest_s), max(rest_s)), "", "",
             f"{sum(count(r, 7) for r in rest):.1f}", "", ""]
    return [rows[i] for i in shown] + [other], (
        f"Of {len(rows)} channels, the {keep} with the most fasciculations and spasm time; "
        "the others summed in the last row (every channel in the JSON summary and HTML report).")


def _span(low: float, high: float) -> str:
    return f"{low:.0f}" if f"{low:.0f}" == f"{high:.0f}" else f"{low:.0f}-{high:.0f}"


# ---------------------------------------------------------------------- pages
def build_pages(result, recording=None, muscles=None) -> list[Page]:
    """Return the report pages: summary, overview, traces, raster/rate, waveforms,
    histograms (traces only with a recording, waveforms only when measured)."""
    from . import plot
    from .plot._common import new_figure

    pages = [Page("summary", summary_figure(report_summary(result, muscles))),
             Page("overview", plot.plot_overview(result, muscles))]
    if recording is not None:
        duration = recording.duration_s
        fig = new_figure((11, 8.5))
        top, bottom = fig.subplots(2, 1)
        plot.plot_traces(recording, result, 0.0, duration, ax=top, muscles=muscles)
        plot.plot_traces(recording, result, ax=bottom, muscles=muscles, window_s=_ZOOM_S)
        pages.append(Page("traces", fig))
        for i, sp in enumerate(result.spasms[:2]):
            a = max(0.0, sp["onset"] - _SPASM_PAD_S)
            b = min(duration, sp["onset"] + sp["duration"] + _SPASM_PAD_S)
            pages.append(Page(f"spasm{i + 1}",
                              plot.plot_traces(recording, result, a, b, muscles=muscles)))
    pages.append(Page("raster", plot.plot_raster_rate(result, muscles=muscles)))
    if result.waveforms.ndim == 3 and result.waveforms.shape[-1] > 0:
        pages.append(Page("waveforms", plot.plot_waveforms(result)))
    pages.append(Page("histograms", plot.plot_histograms(result)))
    return pages


def _atomic(path: Path):
    """Return a temporary sibling of *path* to write to before ``os.replace``."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def _write_pdf(pages, path: Path, title: str) -> Path:
    from matplotlib.backends.backend_pdf import PdfPages

    tmp = _atomic(path)
    with PdfPages(tmp, metadata={"Title": f"fascidetect report: {title}",
                                 "Creator": "fascidetect"}) as pdf:
        for page in pages:
            pdf.savefig(page.figure)
    os.replace(tmp, path)
    return path


def _write_png(pages, out_dir: Path, stem: str) -> list[Path]:
    paths = []
    for i, page in enumerate(pages, 1):
        path = out_dir / f"{stem}_report_p{i}_{page.name}.png"
        tmp = _atomic(path)
        page.figure.savefig(tmp, dpi=_PNG_DPI, format="png")
        os.replace(tmp, path)
        paths.append(path)
    return paths


def html_figures(pages) -> list[str]:
    """Return each page as an HTML ``<figure>`` with the PNG embedded (one file to share)."""
    figs = []
    for page in pages:
        buf = io.BytesIO()
        page.figure.savefig(buf, dpi=_HTML_DPI, format="png")
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        name = html.escape(page.name)
        figs.append(f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{name}</figcaption></figure>")
    return figs


def _write_html(pages, summary: dict, path: Path) -> Path:
    esc = html.escape
    facts = "\n".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in summary["facts"])
    head = "".join(f"<th>{esc(h)}</th>" for h in summary["table_header"])
    body = "\n".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>"
                     for row in summary["table_rows"])
    warns = "".join(f"<li>{esc(w)}</li>" for w in summary["warnings"])
    figs = html_figures(pages[1:])  # page 1 is the summary, written as HTML above
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>fascidetect report: {esc(summary['title'])}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; font-size: 0.9em; }}
th {{ background: #f0f0f0; }}
.note {{ background: #fff6e0; border-left: 4px solid #e69f00; padding: 0.5em 1em; }}
img {{ max-width: 100%; }} figcaption {{ color: #666; font-size: 0.8em; }}
</style></head><body>
<h1>fascidetect report: {esc(summary['title'])}</h1>
<p><small>{esc(summary['generated'])}</small></p>
<table>{facts}</table>
<h2>Per channel</h2>
<p>Rates over rest time with 95 % exact Poisson confidence intervals.</p>
<table><tr>{head}</tr>
{body}</table>
<h2>Root pattern</h2><p>{esc(summary['root_pattern'])}</p>
<h2>What this recording cannot assess</h2><p class="note">{esc(summary['limits'])}</p>
{'<h2>Warnings</h2><ul>' + warns + '</ul>' if warns else ''}
<h2>Figures</h2>
{chr(10).join(figs)}
</body></html>
"""
    tmp = _atomic(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------- driver
def write_report(recording_or_path, out_dir, *, result=None, formats=("pdf",), muscles=None,
                 params=None, progress: Callable[[float], None] | None = None,
                 events=None, read_options: dict | None = None) -> dict:
    """Write the report of one recording and return the paths written per format.

    Parameters
    ----------
    recording_or_path : Recording | str | path-like | None
        The recording (read with :func:`fascidetect.read` when a path). May be None when
        ``result`` or ``events`` is given: the trace pages are then left out.
    out_dir : str | path-like
        Output folder (created). Files: ``<stem>_report.pdf``,
        ``<stem>_report_p<N>_<page>.png``, ``<stem>_report.html``.
    result : DetectionResult | None
        A result to report; detected here when None (and no ``events``).
    formats : sequence of {"pdf", "png", "html"}
    muscles : str | dict | path-like | None
        Channel-to-muscle map, e.g. ``"1=TA_R,2=GAS_R"`` or a TSV with columns
        ``channel`` and ``muscle``. By default the muscles the recording itself names
        (``metadata["muscles"]``: a BIDS dataset's ``target_muscle``, an OTBiolab+
        export's descriptions), else those read from channel names.
    params : DetectionParams | None
        Detection parameters (when detecting).
    progress : callable | None
        Called with the fraction done (0-1).
    events : ndarray | str | path-like | None
        Reuse a saved events.tsv (or event table) instead of detecting.
    read_options : dict | None
        Keyword arguments for :func:`fascidetect.read`.

    Returns
    -------
    dict
        ``{"pdf": Path, "png": [Path, ...], "html": Path}`` for the formats asked.

    Examples
    --------
    >>> from fascidetect.simulation import simulate
    >>> rec, _ = simulate(duration_s=20, scenario="mixed", seed=1)
    >>> write_report(rec, "out", formats=("pdf", "html"))      # doctest: +SKIP
    {'pdf': PosixPath('out/recording_report.pdf'), 'html': PosixPath('out/recording_report.html')}
    """
    formats = tuple(dict.fromkeys(f.lower() for f in formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ParameterError(f"unknown report format(s) {bad or formats}; choose from {FORMATS}")
    report = progress or (lambda fraction: None)
    if muscles is not None and not isinstance(muscles, dict):
        from .myotomes import parse_muscle_map

        muscles = parse_muscle_map(muscles)  # read once, and a bad map fails before any work
    recording, stem = _load(recording_or_path, read_options)
    if muscles is None and recording is not None and recording.metadata.get("muscles"):
        muscles = dict(recording.metadata["muscles"])  # as the file (or BIDS) names them
    elif muscles and recording is not None and result is None:
        from .myotomes import check_muscle_map

        check_muscle_map(muscles, [recording.ch_names[i] for i in recording.emg_picks])
    if result is None and events is not None:
        if isinstance(events, (str, os.PathLike)) and Path(events).is_dir():
            events = Path(events) / f"{stem}_events.tsv"
        result = result_from_events(events, recording, params)
    if result is None:
        if recording is None:
            raise InputError("write_report needs a recording, a result or an events table")
        from .pipeline import detect

        result = detect(recording, params, progress=lambda f: report(0.6 * f))
    if recording is not None and stem == "recording" and result.recording.get("source"):
        stem = Path(result.recording["source"]).stem
    report(0.6)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pages = build_pages(result, recording, muscles)
    report(0.8)
    written = {}
    try:
        title = Path(str(result.recording.get("source") or stem)).name
        if "pdf" in formats:
            written["pdf"] = _write_pdf(pages, out / f"{stem}_report.pdf", title)
        if "png" in formats:
            written["png"] = _write_png(pages, out, stem)
        if "html" in formats:
            written["html"] = _write_html(pages, report_summary(result, muscles),
                                          out / f"{stem}_report.html")
    finally:
        pages.clear()  # figures hold the traces: free them before the next recording
    report(1.0)
    return written
