"""Myotomes: which nerve root supplies which muscle, channel-to-muscle maps, and the root a
fasciculation pattern is consistent with.

The table follows the domain notes (Tsao et al. 2003 for lumbosacral roots, Furukawa et
al. 2021 for cervical ones). Root-to-muscle maps vary between people (about 28 % of legs
are pre- or post-fixed; Phillips & Park 1991), so :func:`root_pattern` only ever says a
pattern is *consistent with* a root, never diagnostic of it.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
from pathlib import Path

from ._text import clean_text
from .errors import InputError, ParameterError

#: Weight of the main root and of a contributing root when scoring a pattern.
MAIN_WEIGHT = 1.0
MINOR_WEIGHT = 0.5

#: Roots in anatomical order; neighbours are adjacent within one list.
ROOT_ORDER = (("C5", "C6", "C7", "C8", "T1"), ("L2", "L3", "L4", "L5", "S1", "S2"))


@dataclasses.dataclass(frozen=True)
class Muscle:
    """One muscle of the myotome table.

    Attributes
    ----------
    key : str
        Short name used throughout fascidetect (``"TA"``).
    name : str
        Full name (``"tibialis anterior"``).
    main_root : str
        The root that mainly supplies it (bold in the domain notes).
    roots : tuple of str
        Every root that supplies it, main root included.
    aliases : tuple of str
        Abbreviations seen in channel labels (upper case, no separators).
    """

    key: str
    name: str
    main_root: str
    roots: tuple
    aliases: tuple = ()

    def weight(self, root: str) -> float:
        """Return how strongly *root* supplies the muscle (0 when it does not)."""
        if root == self.main_root:
            return MAIN_WEIGHT
        return MINOR_WEIGHT if root in self.roots else 0.0


def _m(key, name, main, roots, *aliases):
    return Muscle(key, name, main, tuple(roots), tuple(aliases))


#: The domain notes' myotome table (main root first in ``roots`` order of the notes).
MUSCLES: dict[str, Muscle] = {m.key: m for m in (
    # Lower limb
    _m("TA", "tibialis anterior", "L5", ("L4", "L5"), "TIBANT", "TIBIALISANTERIOR"),
    _m("EHL", "extensor hallucis longus", "L5", ("L5",), "EXTHALLUCIS"),
    _m("PL", "peroneus longus", "L5", ("L5", "S1"), "PER", "PERL", "PERONEUS", "PERONEUSLONGUS",
       "FIBULARISLONGUS", "FL"),
    _m("TP", "tibialis posterior", "L5", ("L5",), "TIBPOST", "TIBIALISPOSTERIOR"),
    _m("GMED", "gluteus medius", "L5", ("L4", "L5", "S1"), "GLUTMED", "GLUTEUSMEDIUS"),
    _m("TFL", "tensor fasciae latae", "L5", ("L4", "L5", "S1"), "TENSORFASCIAELATAE"),
    _m("GAS", "gastrocnemius", "S1", ("S1", "S2"), "GM", "GL", "MG", "LG", "GASM", "GASL",
       "GASTROC", "GASTROCNEMIUS", "GASTROCNEMIUSMEDIALIS", "GASTROCNEMIUSLATERALIS"),
    _m("SOL", "soleus", "S1", ("S1", "S2"), "SO", "SOLEUS"),
    _m("GMAX", "gluteus maximus", "S1", ("L5", "S1"), "GLUTMAX", "GLUTEUSMAXIMUS"),
    _m("BF", "biceps femoris", "S1", ("S1",), "BFLH", "BICEPSFEMORIS"),
    _m("VL", "vastus lateralis", "L3", ("L2", "L3", "L4"), "VASTUSLATERALIS"),
    _m("VM", "vastus medialis", "L3", ("L2", "L3", "L4"), "VMO", "VASTUSMEDIALIS"),
    _m("RF", "rectus femoris", "L4", ("L2", "L3", "L4"), "RECTUSFEMORIS"),
    _m("AL", "adductor longus", "L3", ("L3",), "ADL", "ADDL", "ADDUCTORLONGUS"),
    _m("IP", "iliopsoas", "L2", ("L2", "L3"), "ILIO", "PSOAS", "ILIOPSOAS"),
    # Upper limb
    _m("DEL", "deltoid", "C5", ("C5", "C6"), "DELT", "DELTOID", "AD", "MD", "PD"),
    _m("INF", "infraspinatus", "C5", ("C5", "C6"), "ISP", "INFRA", "INFRASPINATUS"),
    _m("BIC", "biceps brachii", "C5", ("C5", "C6"), "BB", "BICEPS", "BICEPSBRACHII"),
    _m("BRD", "brachioradialis", "C5", ("C5", "C6"), "BR", "BRACHIORADIALIS"),
    _m("ECRB", "extensor carpi radialis brevis", "C6", ("C6",), "ECR"),
    _m("PT", "pronator teres", "C6", ("C6",), "PRONATORTERES"),
    _m("TRI", "triceps brachii", "C7", ("C7",), "TB", "TRICEPS", "TRICEPSBRACHII"),
    _m("FCR", "flexor carpi radialis", "C7", ("C7",)),
    _m("EDC", "extensor digitorum", "C7", ("C7", "C8"), "ED", "EXTENSORDIGITORUM"),
    _m("FDI", "first dorsal interosseous", "C8", ("C8", "T1"), "1DI", "DI1", "FDIO"),
    _m("ADM", "abductor digiti minimi", "C8", ("C8", "T1"), "ADQ", "ABDUCTORDIGITIMINIMI"),
    _m("APB", "abductor pollicis brevis", "T1", ("C8", "T1"), "ABDUCTORPOLLICISBREVIS"),
)}

_ALIASES = {alias: m.key for m in MUSCLES.values() for alias in (m.key,) + m.aliases}
_SIDE_WORDS = {"R": "R", "RT": "R", "RIGHT": "R", "L": "L", "LT": "L", "LEFT": "L"}
_TYPE_WORDS = {"EMG", "SEMG", "CH", "CHANNEL"}


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^0-9A-Z]+", str(name).upper()) if t]


def _split_side(name: str) -> tuple[str, str | None]:
    """Return (muscle part without separators, side 'R'/'L'/None) of a channel label."""
    tokens = [t for t in _tokens(name) if t not in _TYPE_WORDS]
    side = None
    kept = []
    for tok in tokens:
        if tok in _SIDE_WORDS:
            side = _SIDE_WORDS[tok]
        else:
            kept.append(tok)
    return "".join(kept), side


def muscle_for_channel(name: str) -> str | None:
    """Return the muscle key a channel label names (``"EMG TA_R"`` -> ``"TA"``), or None.

    Type prefixes (``EMG``), side markers (``_R``, ``L``, ``right``...) and separators are
    ignored; abbreviations and full names are recognised (``GM``/``GL``/``GAS`` ->
    ``"GAS"``, ``PER`` -> ``"PL"``, ``tibialis anterior`` -> ``"TA"``).

    Examples
    --------
    >>> muscle_for_channel("EMG TA_R"), muscle_for_channel("left soleus")
    ('TA', 'SOL')
    >>> muscle_for_channel("EMG3") is None
    True
    """
    core, _ = _split_side(name)
    if core in _ALIASES:
        return _ALIASES[core]
    # A side glued to the muscle ("TAR", "RTA"): strip one side letter and retry.
    for cand in (core[:-1] if core[-1:] in "RL" else "", core[1:] if core[:1] in "RL" else ""):
        if cand in _ALIASES:
            return _ALIASES[cand]
    return None


def side_for_channel(name: str) -> str | None:
    """Return ``"R"``, ``"L"`` or None: the body side a channel label names."""
    core, side = _split_side(name)
    if side is None and core not in _ALIASES:
        if core[-1:] in "RL" and core[:-1] in _ALIASES:
            side = core[-1]
        elif core[:1] in "RL" and core[1:] in _ALIASES:
            side = core[0]
    return side


# ---------------------------------------------------------------------- channel maps
def parse_muscle_map(spec) -> dict[str, str]:
    """Return channel -> muscle label from ``"1=TA_R,2=GAS_R"``, a TSV path, or a dict.

    Parameters
    ----------
    spec : str | path-like | dict | None
        ``"CHANNEL=MUSCLE"`` pairs separated by ``,`` or ``;`` where CHANNEL is a name or
        a 1-based EMG channel number; or a plain list ``"TA_R;GAS_R"`` (positional); or
        the path of a TSV/CSV with columns ``channel`` and ``muscle``.

    Returns
    -------
    dict
        Keys are channel names or ``"#<n>"`` for positional numbers; values are labels
        as given (``"TA_R"``).
    """
    if spec is None or spec == "":
        return {}
    if isinstance(spec, dict):
        return {clean_text(k): clean_text(v) for k, v in spec.items()}
    text = os.fspath(spec)
    path = Path(text)
    if path.suffix.lower() in (".tsv", ".csv", ".txt") or ("=" not in text and _is_file(path)):
        return _read_muscle_table(path)
    text = clean_text(text)
    items = [s.strip() for s in re.split(r"[,;]", text) if s.strip()]
    if all("=" in item for item in items):
        out = {}
        for item in items:
            key, value = (s.strip() for s in item.split("=", 1))
            if not key or not value:
                raise ParameterError(f"muscle map item {item!r} needs CHANNEL=MUSCLE")
            out[f"#{key}" if key.isdigit() else key] = value
        return out
    if any("=" in item for item in items):
        raise ParameterError(f"muscle map {text!r} mixes CHANNEL=MUSCLE pairs and plain names; "
                             "use one form, e.g. '1=TA_R,2=GAS_R'")
    return {f"#{i + 1}": item for i, item in enumerate(items)}


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a long inline map is no file name ("File name too long")
        return False


#: A muscle map is a short table: larger files are not one (and are not read whole).
_MAX_MAP_BYTES = 1 << 20


def _read_muscle_table(path: Path) -> dict[str, str]:
    if not _is_file(path):
        from .errors import FileMissingError

        raise FileMissingError(f"muscle map '{path}' does not exist")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_MAP_BYTES + 1)
    except OSError as exc:
        raise InputError(f"muscle map '{path}' cannot be read: {exc.strerror or exc}") from None
    try:
        if len(raw) > _MAX_MAP_BYTES or b"\0" in raw:
            raise UnicodeDecodeError("utf-8", raw[:1], 0, 1, "binary")
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"muscle map '{path}' is not a text table (TSV/CSV with columns "
                         "channel and muscle)") from None
    lines = text.splitlines()
    delim = "\t" if "\t" in "\n".join(lines[:20]) else ","
    reader = csv.DictReader(lines, delimiter=delim)
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if not {"channel", "muscle"} <= set(fields):
        # the file's own first line is not echoed: it may be anything (/etc/passwd)
        raise InputError(f"muscle map '{path}' needs a header row with columns 'channel' and "
                         "'muscle' (tab or comma separated)")
    out = {}
    for row in reader:
        row = {k.strip().lower(): clean_text(v or "").strip() for k, v in row.items()
               if isinstance(k, str) and isinstance(v, (str, type(None)))}
        if row.get("channel") and row.get("muscle"):
            key = row["channel"]
            out[f"#{key}" if key.isdigit() else key] = row["muscle"]
    return out


def label_channels(channel_names, spec=None) -> dict[str, str | None]:
    """Return, per channel name, its muscle label: from *spec*, else the name itself.

    The label keeps the side (``"TA_R"``); channels whose name names no muscle and that
    the map does not cover get None.
    """
    mapping = parse_muscle_map(spec)
    out = {}
    for i, name in enumerate(channel_names):
        bare = name[4:] if name.upper().startswith("EMG ") else name
        label = mapping.get(name) or mapping.get(bare) or mapping.get(f"#{i + 1}")
        if label is None and muscle_for_channel(name) is not None:
            label = bare
        out[name] = label
    unknown = [k for k in mapping if not k.startswith("#") and k not in out
               and f"EMG {k}" not in out]
    if unknown:
        raise ParameterError(f"muscle map names channel(s) {unknown} that the recording does "
                             f"not have; channels: {list(channel_names)}")
    return out


def check_muscle_map(spec, channel_names) -> dict[str, str | None]:
    """Return :func:`label_channels` of *spec* after checking it against the channels.

    Run before detection, so a wrong map fails at once: channel names the recording
    lacks, and channel numbers beyond its EMG channels (``99=TA_R`` on 6 channels).

    Raises
    ------
    ParameterError, InputError
        One line naming what is wrong (never the content of a file that is no map).
    """
    channel_names = list(channel_names)
    mapping = parse_muscle_map(spec)
    beyond = [k[1:] for k in mapping if k.startswith("#")
              and not 1 <= int(k[1:]) <= len(channel_names)]
    if beyond:
        raise ParameterError(f"muscle map numbers channel(s) {', '.join(beyond)}, but the "
                             f"recording has {len(channel_names)} EMG channel(s), numbered "
                             "from 1")
    return label_channels(channel_names, mapping)


# ---------------------------------------------------------------------- root pattern
@dataclasses.dataclass(frozen=True)
class RootPattern:
    """The root(s) a fasciculation pattern is consistent with, and the wording to report.

    Attributes
    ----------
    roots : tuple of str
        Candidate roots (empty when the pattern cannot point to a root).
    text : str
        One or two sentences for a report, with the "not diagnostic" caveat.
    scores : dict
        Score per root (affected supply minus unaffected main supply).
    affected, unaffected, unmapped : tuple of str
        Muscle labels judged affected, unaffected, or not in the myotome table.
    """

    roots: tuple
    text: str
    scores: dict
    affected: tuple
    unaffected: tuple
    unmapped: tuple


CAVEAT = ("surface EMG cannot confirm a root and root-to-muscle maps vary between people; "
          "imaging and a clinical examination decide")


def _rate_of(value) -> tuple[float, float | None]:
    if isinstance(value, dict):
        return float(value.get("rate_per_min") or 0.0), value.get("rate_ci_low")
    return float(value or 0.0), None


def _neighbours(root: str) -> set[str]:
    for order in ROOT_ORDER:
        if root in order:
            i = order.index(root)
            return set(order[max(0, i - 1):i]) | set(order[i + 1:i + 2])
    return set()


def root_pattern(rates_by_muscle: dict, *, min_rate_per_min: float = 1.0) -> RootPattern:
    """Return the root(s) the pattern of affected muscles is consistent with.

    A muscle is *affected* when its fasciculation rate is at least ``min_rate_per_min``
    (and the lower 95 % bound is above zero when given). Following the domain notes, a
    root is a candidate only when >= 2 affected muscles share it and a recorded muscle
    mainly supplied by a neighbouring root (and not by this one) is unaffected. Among
    candidates, roots score the summed supply of affected muscles (main root 1, other
    roots 0.5) minus the main supply of unaffected muscles; the best (and ties) win.

    Parameters
    ----------
    rates_by_muscle : dict
        Muscle label (``"TA_R"``, ``"EHL"``, a channel name...) -> rate per minute, or a
        per-channel dict with ``rate_per_min`` (and ``rate_ci_low``).
    min_rate_per_min : float
        Rate from which a muscle counts as affected.

    Returns
    -------
    RootPattern

    Examples
    --------
    >>> root_pattern({"TA_R": 12.0, "EHL_R": 20.0, "GAS_R": 0.0}).roots
    ('L5',)
    >>> root_pattern({"TA_R": 12.0, "GAS_R": 0.0}).roots
    ()
    """
    if min_rate_per_min <= 0:
        raise ParameterError(f"min_rate_per_min must be positive, got {min_rate_per_min}")
    affected, unaffected, unmapped = {}, {}, []
    for label, value in rates_by_muscle.items():
        key = muscle_for_channel(label)
        if key is None:
            unmapped.append(str(label))
            continue
        rate, low = _rate_of(value)
        hit = rate >= min_rate_per_min and (low is None or low > 0)
        (affected if hit else unaffected)[str(label)] = MUSCLES[key]
    sides = {side_for_channel(lbl) for lbl in affected} - {None}
    if len(sides) > 1:
        text = (f"Fasciculations on both sides ({_names(affected)}): one root does not "
                "explain a bilateral pattern, so it cannot point to a root; "
                f"{CAVEAT}.")
        return RootPattern((), text, {}, tuple(affected), tuple(unaffected), tuple(unmapped))

    roots = sorted({r for m in affected.values() for r in m.roots})
    scores, reasons = {}, {}
    for root in roots:
        sharing = [lbl for lbl, m in affected.items() if root in m.roots]
        controls = [lbl for lbl, m in unaffected.items()
                    if m.main_root in _neighbours(root) and root not in m.roots]
        score = (sum(m.weight(root) for m in affected.values())
                 - sum(MAIN_WEIGHT for m in unaffected.values() if m.main_root == root))
        scores[root] = round(score, 2)
        if len(sharing) < 2:
            reasons[root] = "fewer than 2 affected muscles share it"
        elif not controls:
            reasons[root] = "no unaffected muscle of a neighbouring root was recorded"
        else:
            reasons[root] = None
    candidates = [r for r in roots if reasons[r] is None]
    args = (scores, tuple(affected), tuple(unaffected), tuple(unmapped))
    if not affected and not unaffected:
        return RootPattern((), "No channel names a muscle of the myotome table (name them "
                           "with --muscles), so the recording cannot point to a root.", *args)
    if not affected:
        return RootPattern((), "No named muscle has fasciculations above "
                           f"{min_rate_per_min:g}/min, so the recording cannot point to a root.",
                           *args)
    if not candidates:
        best = max(roots, key=lambda r: scores[r])
        text = (f"Fasciculations on {_names(affected)}: the pattern cannot point to a root "
                f"(for {best}: {reasons[best]}; a root needs >= 2 affected muscles sharing it "
                "and an unaffected muscle of a neighbouring root).")
        return RootPattern((), text, *args)
    top = max(scores[r] for r in candidates)
    chosen = tuple(r for r in candidates if scores[r] >= top - 1e-9)
    shared = [lbl for lbl, m in affected.items() if any(r in m.roots for r in chosen)]
    controls = [lbl for lbl, m in unaffected.items()
                if any(m.main_root in _neighbours(r) and r not in m.roots for r in chosen)]
    which = " or ".join(chosen)
    text = (f"Fasciculations on {_names(shared)}, sparing {_names(controls)}: "
            f"consistent with {which}, not diagnostic of {'it' if len(chosen) == 1 else 'either'} "
            f"({CAVEAT}).")
    return RootPattern(chosen, text, *args)


def _names(labels) -> str:
    labels = list(labels)
    return ", ".join(labels) if labels else "none"


def rates_by_muscle(channels: list, spec=None) -> dict:
    """Return muscle label -> per-channel dict from a result's ``channels`` list.

    Channels that name no muscle (and that the map *spec* does not label) are left out.
    """
    labels = label_channels([c["name"] for c in channels], spec)
    return {labels[c["name"]]: c for c in channels if labels[c["name"]]}
