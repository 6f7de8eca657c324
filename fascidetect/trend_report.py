"""The trend report of one person: a summary page in words, then rate-over-time pages
(PDF, PNG pages or a self-contained HTML, in the style of :mod:`fascidetect.report`)."""

from __future__ import annotations

import datetime as _dt
import html
import os
import textwrap
from pathlib import Path

from .errors import ParameterError
from .report import FORMATS, Page, _write_pdf, _write_png, html_figures
from .trend import NOT_A_DIAGNOSIS, TrendResult

_A4 = (8.27, 11.69)


def _lines(result: TrendResult) -> list[tuple[str, str]]:
    """Return (style, text) lines of the summary: heading, body or note."""
    out = [("h", "Change per muscle")]
    out += [("b", m.statement) for m in result.muscles]
    if result.presence:
        out.append(("h", "Which muscles fasciculate"))
        out += [("b", p) for p in result.presence]
    out.append(("h", "Sessions and root pattern"))
    # Runs of sessions with the same pattern sentence are said once.
    runs: list[list] = []
    for s in result.sessions:
        if runs and runs[-1][-1].root_pattern == s.root_pattern:
            runs[-1].append(s)
        else:
            runs.append([s])
    for run in runs:
        first, last = run[0], run[-1]
        when = (f"{first.label} ({first.date.date().isoformat()})" if len(run) == 1 else
                f"{first.label} to {last.label} ({first.date.date().isoformat()} to "
                f"{last.date.date().isoformat()}, {len(run)} sessions)")
        out.append(("b", f"{when}: {first.root_pattern}"))
    if result.warnings:
        out.append(("h", "Warnings"))
        out += [("n", f"- {w}") for w in result.warnings]
    out.append(("h", "What this is"))
    out.append(("b", NOT_A_DIAGNOSIS + " Tests: exact conditional test of two Poisson rates "
                "(first vs last session) and a Poisson regression on time with log(rest "
                "minutes) as offset (quasi-Poisson when sessions vary more than chance)."))
    return out


def summary_page(result: TrendResult, title: str):
    """Return the summary page figure (A4 portrait, text only)."""
    from .plot._common import new_figure

    fig = new_figure(_A4)
    fig.set_layout_engine(None)
    y = 0.965
    fig.text(0.06, y, f"fascidetect trend: {title}", fontsize=14, weight="bold", va="top")
    y -= 0.03
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    fig.text(0.06, y, f"{len(result.sessions)} sessions; generated {stamp}", fontsize=8,
             color="0.4", va="top")
    y -= 0.025
    for style, text in _lines(result):
        size = {"h": 10, "b": 8.5, "n": 7.5}[style]
        if style == "h":
            y -= 0.008
        for part in textwrap.wrap(text, 118 if style != "h" else 90) or [""]:
            if y < 0.03:
                fig.text(0.06, y, "... (more in trend.json)", fontsize=7, color="0.4", va="top")
                return fig
            fig.text(0.06, y, part, fontsize=size, va="top",
                     weight="bold" if style == "h" else "normal",
                     color="0.25" if style == "n" else "k")
            y -= 1.45 * size / 72 / _A4[1]
    return fig


def build_pages(result: TrendResult, title: str) -> list[Page]:
    """Return the pages: summary, then the rate-over-time figures (6 muscles a page)."""
    from .plot.trend import MUSCLES_PER_PAGE, plot_trend

    pages = [Page("summary", summary_page(result, title))]
    names = [m.muscle for m in result.muscles]
    for i in range(0, max(len(names), 1), MUSCLES_PER_PAGE):
        pages.append(Page(f"rates{i // MUSCLES_PER_PAGE + 1}",
                          plot_trend(result, names[i:i + MUSCLES_PER_PAGE] or None)))
    return pages


def _write_html(pages, result: TrendResult, path: Path, title: str) -> Path:
    esc = html.escape
    parts = []
    for style, text in _lines(result):
        parts.append(f"<h2>{esc(text)}</h2>" if style == "h" else
                     f"<p{' class=note' if style == 'n' else ''}>{esc(text)}</p>")
    figs = html_figures(pages[1:])
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>fascidetect trend: {esc(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
.note {{ background: #fff6e0; border-left: 4px solid #e69f00; padding: 0.3em 1em; }}
img {{ max-width: 100%; }} figcaption {{ color: #666; font-size: 0.8em; }}
</style></head><body>
<h1>fascidetect trend: {esc(title)}</h1>
{chr(10).join(parts)}
<h2>Figures</h2>
{chr(10).join(figs)}
</body></html>
"""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_trend_report(result: TrendResult, out_dir, formats=("pdf",), title: str = "trend") -> dict:
    """Write ``trend_report.pdf`` / ``trend_report_p<N>_<page>.png`` / ``trend_report.html``
    and return ``{format: path or [paths]}``."""
    formats = tuple(dict.fromkeys(f.lower() for f in formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ParameterError(f"unknown report format(s) {bad or formats}; choose from {FORMATS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pages = build_pages(result, title)
    written = {}
    try:
        if "pdf" in formats:
            written["pdf"] = _write_pdf(pages, out / "trend_report.pdf", title)
        if "png" in formats:
            written["png"] = _write_png(pages, out, "trend")
        if "html" in formats:
            written["html"] = _write_html(pages, result, out / "trend_report.html", title)
    finally:
        pages.clear()
    return written
