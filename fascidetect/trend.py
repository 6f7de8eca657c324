"""One person over time: fasciculation rate per muscle and session, tests for a change,
and the wording of what changed.

Input is the ``<stem>_summary.json`` of every recording (``fascidetect detect`` or
``batch`` outputs, or a BIDS ``derivatives/fascidetect`` folder). Per muscle and session
the table holds the discharges, the rest minutes they were counted over (the exposure),
the rate with its exact 95 % interval, spasm time and doublet share; per muscle,
:func:`analyse` compares the first and last session exactly and fits a log-linear trend
over all sessions (:mod:`fascidetect.rate_change`). Sessions with less rest than
``min_rest_min`` (2 minutes, the README's figure) are listed but left out of the tests.

Results are stated as "rate rose from X to Y per minute (ratio R, 95 % CI a-b, p = ...)",
never as a diagnosis.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from .errors import FileMissingError, InputError, ParameterError
from .rate_change import compare_two_rates, poisson_trend
from .results import poisson_rate_ci

#: Minutes of rest below which a session is not compared (README: about 2 minutes of
#: rest are needed before "no fasciculations" means much).
MIN_REST_MIN = 2.0
#: Rate (per minute) from which a muscle counts as fasciculating in a session, as in
#: :func:`fascidetect.myotomes.root_pattern` (and the lower 95 % bound must be above 0).
ACTIVE_RATE_PER_MIN = 1.0
#: Significance level of the "rose"/"fell" wording.
ALPHA = 0.05
NOT_A_DIAGNOSIS = ("These are statistics of counted discharges over rest minutes, not a "
                   "diagnosis; a rising rate is worth a clinician's look.")

#: Columns of ``trend.tsv`` (one row per muscle and session).
SESSION_COLUMNS = ("muscle", "channel", "session", "date", "days", "rest_min",
                   "n_fasciculations", "rate_per_min", "rate_ci_low", "rate_ci_high",
                   "n_spasms", "spasm_s", "doublet_share", "status", "enough_rest", "source")
#: Columns of ``trend_tests.tsv`` (one row per muscle).
TEST_COLUMNS = ("muscle", "n_sessions", "n_compared", "first_date", "last_date",
                "rate_first", "rate_last", "ratio", "ratio_ci_low", "ratio_ci_high",
                "p_exact", "trend_ratio", "trend_ci_low", "trend_ci_high", "p_trend",
                "dispersion", "change", "statement")

_BIDS_ENTITY = re.compile(r"(?:^|_)(sub|ses)-([A-Za-z0-9]+)")


@dataclasses.dataclass
class Session:
    """One recording's results, as the trend needs them.

    Attributes
    ----------
    label : str
        BIDS session (``ses-02``), else the file stem.
    date : datetime | None
        Recording start (summary ``meas_date`` or the ``--dates`` table).
    subject : str | None
        BIDS subject label, when the file name has one.
    channels : list of dict
        The summary's per-channel dicts, each with a ``muscle`` label added.
    source : str
        The summary.json path.
    root_pattern : str
        The root-pattern sentence of this session (always "consistent with" at most).
    """

    label: str
    date: _dt.datetime | None
    subject: str | None
    channels: list
    source: str
    root_pattern: str = ""


# ---------------------------------------------------------------------- loading
def find_summaries(inputs, subject: str | None = None, session: str | None = None) -> list[Path]:
    """Return the ``*_summary.json`` files named by *inputs*, sorted.

    Parameters
    ----------
    inputs : path or list of paths
        Summary files, folders of ``detect``/``batch`` outputs (searched recursively), or
        a BIDS root whose ``derivatives/fascidetect`` holds them.
    subject, session : str | None
        BIDS labels to keep (with or without the ``sub-``/``ses-`` prefix).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_file():
            found.append(path)
            continue
        if not path.is_dir():
            raise FileMissingError(f"'{path}' does not exist")
        derived = path / "derivatives" / "fascidetect"
        folder = derived if derived.is_dir() else path
        found.extend(p for p in sorted(folder.rglob("*_summary.json"))
                     if p.name != "batch_summary.json" and not p.name.startswith("."))
    keep = []
    for p in dict.fromkeys(found):
        entities = bids_entities(p.name)
        if subject and entities.get("sub") != _bare(subject, "sub"):
            continue
        if session and entities.get("ses") != _bare(session, "ses"):
            continue
        keep.append(p)
    if not keep:
        raise InputError(f"no <stem>_summary.json found in {[str(i) for i in inputs]}"
                         + (f" for subject {subject}" if subject else "")
                         + (f" session {session}" if session else "")
                         + "; run 'fascidetect detect' or 'batch' on the recordings first"
                         " (for a BIDS root: --out ROOT/derivatives/fascidetect)")
    return keep


def bids_entities(name: str) -> dict:
    """Return the ``sub``/``ses`` labels in a BIDS file name (``{"sub": "01", ...}``)."""
    return {key: value for key, value in _BIDS_ENTITY.findall(name)}


def _bare(label: str, prefix: str) -> str:
    label = str(label)
    return label[len(prefix) + 1:] if label.startswith(prefix + "-") else label


def read_dates(path) -> dict:
    """Return key -> datetime from a TSV/CSV with a ``date`` column and a ``session``,
    ``file`` or ``path`` column (keys: session labels, file names and stems)."""
    path = Path(path)
    if not path.is_file():
        raise FileMissingError(f"dates table '{path}' does not exist")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(2048)
        fh.seek(0)
        reader = csv.DictReader(fh, delimiter="\t" if "\t" in sample else ",")
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        key_col = next((c for c in ("session", "file", "path") if c in fields), None)
        if "date" not in fields or key_col is None:
            raise InputError(f"dates table '{path}' needs a 'date' column and a 'session', "
                             f"'file' or 'path' column, found {reader.fieldnames}")
        out = {}
        for lineno, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            if not row.get(key_col):
                continue
            out[row[key_col]] = _parse_date(row["date"], f"'{path}' line {lineno}")
    return out


def _parse_date(text, where: str) -> _dt.datetime:
    try:
        value = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: date {text!r} is not ISO 8601 (e.g. 2026-03-01)") from None
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def _muscle_labels(summary: dict, spec) -> dict:
    """Return channel name -> muscle label for one summary (BIDS target muscles first)."""
    from .myotomes import label_channels

    names = [c["name"] for c in summary.get("channels", [])]
    given = summary.get("muscles") or {}
    labels = label_channels(names, spec) if spec else label_channels(names)
    out = {}
    for name in names:
        label = given.get(name) or labels.get(name)
        out[name] = label or (name[4:] if name.upper().startswith("EMG ") else name)
    # Two channels on one muscle stay apart (a rate is per channel's rest minutes).
    seen = [v for v in out.values()]
    return {n: (f"{v} ({n})" if seen.count(v) > 1 else v) for n, v in out.items()}


def load_sessions(paths, dates: dict | None = None, muscles=None) -> list[Session]:
    """Return the sessions of the given summary files, sorted by date.

    Parameters
    ----------
    paths : list of path
        ``*_summary.json`` files (see :func:`find_summaries`).
    dates : dict | None
        Key -> datetime overriding the summaries' ``meas_date`` (keys: BIDS session
        label, file name or stem; see :func:`read_dates`).
    muscles : str | dict | None
        Channel-to-muscle map applied to every session (default: BIDS ``target_muscle``
        when the summary has it, else the channel names).

    Raises
    ------
    InputError
        A file is not a fascidetect summary, or a session has no date.
    """
    from .myotomes import root_pattern

    dates = dates or {}
    sessions = []
    for path in paths:
        path = Path(path)
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"'{path}' is not a readable summary JSON ({exc})") from None
        if not isinstance(summary, dict) or "channels" not in summary:
            raise InputError(f"'{path}' is not a fascidetect summary (no 'channels')")
        stem = path.name[: -len("_summary.json")] if path.name.endswith("_summary.json") \
            else path.stem
        entities = bids_entities(path.name)
        label = f"ses-{entities['ses']}" if "ses" in entities else stem
        keys = [label, entities.get("ses", ""), path.name, stem,
                Path(str(summary.get("recording", {}).get("source") or "")).name]
        date = next((dates[k] for k in keys if k and k in dates), None)
        if date is None and summary.get("recording", {}).get("meas_date"):
            date = _parse_date(summary["recording"]["meas_date"], f"'{path}' meas_date")
        if date is None:
            raise InputError(f"'{path}': no recording date (meas_date) in the summary; "
                             "give one with --dates (a TSV with session/file and date)")
        labels = _muscle_labels(summary, muscles)
        channels = [dict(c, muscle=labels[c["name"]]) for c in summary["channels"]]
        pattern = root_pattern({c["muscle"]: c for c in channels if c.get("status") != "flat"}) \
            if channels else None
        sessions.append(Session(label, date, entities.get("sub"), channels, str(path),
                                pattern.text if pattern else ""))
    subjects = {s.subject for s in sessions} - {None}
    if len(subjects) > 1:
        raise InputError(f"the summaries belong to several subjects ({', '.join(sorted(subjects))});"
                         " a trend follows one person: choose one with --subject")
    sessions.sort(key=lambda s: s.date)
    return sessions


# ---------------------------------------------------------------------- analysis
def session_table(sessions: list[Session], min_rest_min: float = MIN_REST_MIN) -> list[dict]:
    """Return one row per muscle and session (the columns of :data:`SESSION_COLUMNS`)."""
    if not sessions:
        return []
    origin = sessions[0].date
    rows = []
    for s in sessions:
        days = (s.date - origin).total_seconds() / 86400.0
        for c in s.channels:
            rest_min = float(c.get("rest_s") or 0.0) / 60.0
            count = int(c.get("n_fasciculations") or 0)
            low, high = poisson_rate_ci([count], [rest_min])
            flat = c.get("status") == "flat"
            rows.append({
                "muscle": c["muscle"], "channel": c["name"], "session": s.label,
                "date": s.date.date().isoformat(), "days": round(days, 3),
                "rest_min": rest_min, "n_fasciculations": count,
                "rate_per_min": count / rest_min if rest_min > 0 else math.nan,
                "rate_ci_low": float(low[0]), "rate_ci_high": float(high[0]),
                "n_spasms": int(c.get("n_spasms") or 0), "spasm_s": float(c.get("spasm_s") or 0.0),
                "doublet_share": _float(c.get("doublet_share")),
                "status": c.get("status", "ok"),
                "enough_rest": bool(rest_min >= min_rest_min and not flat),
                "source": s.source,
            })
    return rows


def _float(value) -> float:
    return math.nan if value is None else float(value)


@dataclasses.dataclass
class MuscleTrend:
    """What changed in one muscle over the sessions: the tests and their wording."""

    muscle: str
    rows: list
    comparison: object | None
    trend: object | None
    change: str
    statement: str

    def as_row(self) -> dict:
        """Return the muscle's row of ``trend_tests.tsv``."""
        used = [r for r in self.rows if r["enough_rest"]]
        c, t = self.comparison, self.trend
        return {
            "muscle": self.muscle, "n_sessions": len(self.rows), "n_compared": len(used),
            "first_date": used[0]["date"] if used else "", "last_date": used[-1]["date"] if used else "",
            "rate_first": c.rate_a if c else math.nan, "rate_last": c.rate_b if c else math.nan,
            "ratio": c.ratio if c else math.nan, "ratio_ci_low": c.ci_low if c else math.nan,
            "ratio_ci_high": c.ci_high if c else math.nan, "p_exact": c.p_value if c else math.nan,
            "trend_ratio": t.ratio if t else math.nan, "trend_ci_low": t.ci_low if t else math.nan,
            "trend_ci_high": t.ci_high if t else math.nan, "p_trend": t.p_value if t else math.nan,
            "dispersion": t.dispersion if t else math.nan, "change": self.change,
            "statement": self.statement,
        }


def format_p(p: float) -> str:
    """Return ``p = 0.012`` style text (``p < 0.0001`` for tiny values)."""
    if p is None or not math.isfinite(p):
        return "p = n/a"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}"


def _rate(x: float) -> str:
    return f"{x:.1f}" if x >= 1 or x == 0 else f"{x:.2f}"


def _ci(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return "95 % CI not estimable: discharges at one end of time only"
    hi = "inf" if not math.isfinite(high) else f"{high:.2f}"
    return f"95 % CI {low:.2f}-{hi}"


def analyse_muscle(muscle: str, rows: list, alpha: float = ALPHA) -> MuscleTrend:
    """Return the tests and wording for one muscle's session rows (sorted by date)."""
    used = [r for r in rows if r["enough_rest"]]
    short = [r for r in rows if not r["enough_rest"]]
    notes = ""
    if short:
        notes = (f" {len(short)} session(s) with under {MIN_REST_MIN:g} min of rest left out "
                 f"({', '.join(r['date'] for r in short)}).")
    if len(used) < 2:
        return MuscleTrend(muscle, rows, None, None, "not compared",
                           f"{muscle}: fewer than 2 sessions with enough rest to compare."
                           + notes)
    a, b = used[0], used[-1]
    comp = compare_two_rates(a["n_fasciculations"], a["rest_min"], b["n_fasciculations"],
                             b["rest_min"])
    trend = None
    if len(used) >= 3 and used[-1]["days"] > used[0]["days"]:
        trend = poisson_trend([r["n_fasciculations"] for r in used], [r["rest_min"] for r in used],
                              [r["days"] for r in used])
    # The trend decides when there are 3+ sessions (it uses all of them); else the pair.
    p, ratio = (trend.p_value, trend.ratio) if trend else (comp.p_value, comp.ratio)
    if sum(r["n_fasciculations"] for r in used) == 0:
        change = "none seen"
    elif p < alpha and ratio > 1:
        change = "rose"
    elif p < alpha and ratio < 1:
        change = "fell"
    elif trend is not None and comp.p_value < alpha:
        change = "first vs last only"  # the pair differs, the sessions between do not follow
    else:
        change = "no significant change"
    between = f"between {a['date']} and {b['date']}"
    pair = (f"ratio {comp.ratio:.2f}, {_ci(comp.ci_low, comp.ci_high)}, exact test "
            f"{format_p(comp.p_value)}")
    if change == "none seen":
        text = f"{muscle}: no fasciculations in any compared session {between}."
    elif change in ("rose", "fell"):
        text = (f"{muscle}: rate {change} from {_rate(comp.rate_a)} to {_rate(comp.rate_b)} "
                f"per minute {between} ({pair}).")
    elif change == "first vs last only":
        word = "higher" if comp.ratio > 1 else "lower"
        text = (f"{muscle}: rate {_rate(comp.rate_a)} then {_rate(comp.rate_b)} per minute "
                f"{between}, {word} in the last session ({pair}), but no significant trend "
                "over the sessions between.")
    else:
        text = (f"{muscle}: no significant change; rate {_rate(comp.rate_a)} then "
                f"{_rate(comp.rate_b)} per minute {between} ({pair}).")
    if trend is not None and change != "none seen":
        disp = (f"; day-to-day variation {trend.dispersion:.1f}x Poisson, allowed for"
                if trend.dispersion > 1 else "")
        text += (f" Trend over {len(used)} sessions: fitted rate {_rate(trend.rate_first)} -> "
                 f"{_rate(trend.rate_last)} per minute (ratio {trend.ratio:.2f} over "
                 f"{trend.span_days:.0f} days, {_ci(trend.ci_low, trend.ci_high)}, "
                 f"{format_p(trend.p_value)}{disp}).")
    return MuscleTrend(muscle, rows, comp, trend, change, text + notes)


def _active(row: dict) -> bool:
    return row["rate_per_min"] >= ACTIVE_RATE_PER_MIN and row["rate_ci_low"] > 0


def presence_changes(rows: list, sessions: list[Session]) -> list[str]:
    """Return sentences on muscles that began or stopped fasciculating, or were not recorded.

    A muscle fasciculates in a session when its rate is at least
    :data:`ACTIVE_RATE_PER_MIN` with a lower 95 % bound above 0; only sessions with
    enough rest count. The last run of like sessions is compared with what came before:
    ``"new in EHL_R since 2026-03-01"``, ``"no longer in GAS_R since ..."``.
    """
    out = []
    by_muscle: dict[str, list] = {}
    for r in rows:
        by_muscle.setdefault(r["muscle"], []).append(r)
    all_dates = [s.date.date().isoformat() for s in sessions]
    for muscle, mrows in by_muscle.items():
        used = [r for r in mrows if r["enough_rest"]]
        recorded = {r["date"] for r in mrows}
        missing = [d for d in all_dates if d not in recorded]
        if missing:
            out.append(f"{muscle} was not recorded on {', '.join(missing)}.")
        if len(used) < 2:
            continue
        states = [_active(r) for r in used]
        start = len(states) - 1
        while start > 0 and states[start - 1] == states[-1]:
            start -= 1
        if start == 0:
            continue  # the same in every session
        since = used[start]["date"]
        if states[-1]:
            word = "new" if not any(states[:start]) else "again"
            out.append(f"Fasciculations {word} in {muscle} since {since} "
                       f"({used[-1]['rate_per_min']:.1f}/min in the last session).")
        else:
            out.append(f"Fasciculations no longer seen in {muscle} since {since} "
                       f"(under {ACTIVE_RATE_PER_MIN:g}/min or not distinguishable from none).")
    return out


@dataclasses.dataclass
class TrendResult:
    """Everything ``fascidetect trend`` reports for one person."""

    sessions: list
    rows: list
    muscles: list
    presence: list
    warnings: list

    def as_dict(self) -> dict:
        """Return a JSON-friendly dict (sessions, per-muscle tests, sentences)."""
        return {
            "sessions": [{"session": s.label, "date": s.date.isoformat(), "subject": s.subject,
                          "source": s.source, "root_pattern": s.root_pattern}
                         for s in self.sessions],
            "muscles": [m.as_row() for m in self.muscles],
            "presence": self.presence,
            "warnings": self.warnings,
            "note": NOT_A_DIAGNOSIS,
        }


def analyse(sessions: list[Session], min_rest_min: float = MIN_REST_MIN,
            alpha: float = ALPHA) -> TrendResult:
    """Return the per-muscle trend of a person's sessions (see the module docstring).

    Examples
    --------
    >>> sessions = load_sessions(find_summaries("results/"))      # doctest: +SKIP
    >>> for m in analyse(sessions).muscles:                        # doctest: +SKIP
    ...     print(m.statement)
    """
    if min_rest_min < 0:
        raise ParameterError(f"min_rest_min must be >= 0, got {min_rest_min}")
    rows = session_table(sessions, min_rest_min)
    warnings = []
    for s in sessions:
        short = [c["muscle"] for c in s.channels
                 if float(c.get("rest_s") or 0) / 60.0 < min_rest_min and c.get("status") != "flat"]
        if short:
            warnings.append(f"{s.label} ({s.date.date().isoformat()}): under {min_rest_min:g} min "
                            f"of rest on {', '.join(short)}; too little to compare, left out "
                            "of the tests")
    if len(sessions) < 2:
        warnings.append("only one session: nothing to compare yet")
    order = list(dict.fromkeys(r["muscle"] for r in rows))
    muscles = [analyse_muscle(m, [r for r in rows if r["muscle"] == m], alpha) for m in order]
    return TrendResult(sessions, rows, muscles, presence_changes(rows, sessions), warnings)


# ---------------------------------------------------------------------- outputs
def _tsv_value(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a" if math.isnan(value) else "inf"
        return np.format_float_positional(value, precision=6, trim="-")
    return "n/a" if value in (None, "") else str(value)


def write_tsv(rows: list, columns, path) -> Path:
    """Write dict rows as a TSV (``n/a`` for missing values) atomically; return the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(columns) + "\n")
        fh.writelines("\t".join(_tsv_value(row.get(c)) for c in columns) + "\n" for row in rows)
    os.replace(tmp, path)
    return path


def write_outputs(result: TrendResult, out_dir) -> dict:
    """Write ``trend.tsv``, ``trend_tests.tsv`` and ``trend.json``; return their paths."""
    from .results import _json_safe

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"tsv": write_tsv(result.rows, SESSION_COLUMNS, out / "trend.tsv"),
             "tests": write_tsv([m.as_row() for m in result.muscles], TEST_COLUMNS,
                                out / "trend_tests.tsv")}
    path = out / "trend.json"
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(_json_safe(result.as_dict()), indent=2, allow_nan=False) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)
    paths["json"] = path
    return paths
