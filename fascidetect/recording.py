"""The Recording: the one data model every reader returns and every later stage consumes."""

from __future__ import annotations

import collections
import dataclasses
import datetime as _dt
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np

from ._text import clean_text
from .errors import InputError, ParameterError

#: Channel types a Recording knows. ``emg`` channels are analysed; the others are kept
#: for context (ECG for cross-checking, EEG from mixed montages, ``misc``).
#: Words in a file's transducer fields, comments or channel names that mean needle EMG.
_NEEDLE_WORDS = ("needle", "concentric", "intramuscular", "fine wire", "fine-wire")

CHANNEL_TYPES = ("emg", "ecg", "eeg", "eog", "misc", "stim", "resp", "bio")


class Annotation(NamedTuple):
    """One annotation: onset and duration in seconds from recording start, and a label."""

    onset: float
    duration: float
    description: str


#: Prefix of every annotation description fascidetect writes
#: (:meth:`DetectionResult.to_annotations`): ``fascidetect/fasciculation``,
#: ``fascidetect/spasm``, ``fascidetect/voluntary``, and ``BAD_fascidetect/artifact/<kind>``
#: (``BAD_`` first, so MNE's ``reject_by_annotation`` drops artifact epochs).
OWN_PREFIX = "fascidetect/"
_OWN_BAD_PREFIX = "BAD_" + OWN_PREFIX
#: Descriptions written before :data:`OWN_PREFIX` existed (always channel-specific),
#: besides ``voluntary`` and ``artifact/<kind>``.
_LEGACY_OWN = ("fasciculation", "spasm")


def own_descriptions(trial_type, artifact_kind) -> np.ndarray:
    """Return the annotation description of each event (``fascidetect/<trial type>``,
    ``BAD_fascidetect/artifact/<kind>`` for artifacts)."""
    trial_type = np.asarray(trial_type, dtype=str)
    kind = np.asarray(artifact_kind, dtype=str)
    plain = np.char.add(OWN_PREFIX, trial_type)
    bad = np.char.add(np.char.add(_OWN_BAD_PREFIX, "artifact/"), kind)
    return np.where(trial_type == "artifact", bad, plain)


def is_own_annotation(description: str, ch_names: Sequence[str] = (), *,
                      legacy_export: bool = False) -> bool:
    """Return True when an annotation was written by fascidetect, not by the user.

    Descriptions starting with :data:`OWN_PREFIX` (or ``BAD_`` + it) are ours. So are the
    older unprefixed labels when they name channels, as the tool always wrote them:
    ``fasciculation``, ``spasm`` and ``artifact/<kind>``, and ``voluntary`` only when
    *legacy_export* says such other labels are present too (a channel-specific
    ``voluntary`` on its own is the user's task mark). See :func:`own_annotation_mask`.
    """
    desc = str(description)
    if desc.startswith(OWN_PREFIX) or desc.startswith(_OWN_BAD_PREFIX):
        return True
    if not ch_names:
        return False
    if desc == "voluntary":
        return legacy_export
    if desc in _LEGACY_OWN:
        return True
    from .events import ARTIFACT_KINDS

    return desc.startswith("artifact/") and desc[len("artifact/"):] in ARTIFACT_KINDS


def own_annotation_mask(annotations) -> np.ndarray:
    """Return, per annotation of an ``mne.Annotations``, whether fascidetect wrote it.

    An unprefixed ``voluntary`` on channels counts as ours only beside other unprefixed
    labels of the tool (an export of an older version), see :func:`is_own_annotation`.
    """
    items = [(a["description"], tuple(a.get("ch_names", ()) or ())) for a in annotations]
    legacy = any(is_own_annotation(d, c) and not d.startswith((OWN_PREFIX, _OWN_BAD_PREFIX))
                 for d, c in items)
    return np.array([is_own_annotation(d, c, legacy_export=legacy) for d, c in items], bool)


class Chunk(NamedTuple):
    """A block of samples handed out by :meth:`Recording.iter_chunks`.

    ``data`` covers samples ``[lo, hi)`` of the recording (core plus margins); the chunk
    *owns* samples ``[start, stop)`` and results found in the margins belong to a neighbour.
    """

    start: int
    stop: int
    lo: int
    hi: int
    data: np.ndarray


# eq=False: comparing field by field would compare arrays (ValueError); results
# and recordings compare by identity, as MNE's Raw does.
@dataclasses.dataclass(eq=False)
class Recording:
    """A multichannel recording in volts, with the context needed to analyse it.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_samples) | None
        Samples in volts. ``None`` when the recording is lazily backed by an MNE ``Raw``
        (see ``raw``); use :meth:`get_data` or :meth:`iter_chunks` to read samples.
    sfreq : float
        Sampling rate in Hz.
    ch_names : list of str
        Channel names.
    ch_types : list of str
        One of :data:`CHANNEL_TYPES` per channel; only ``emg`` channels are analysed.
    meas_date : datetime | None
        Start of the recording (UTC) if the file says it.
    annotations : list of Annotation
        Existing annotations (onset and duration in s from recording start). Labels
        starting with ``BAD`` (MNE's convention), including gaps of EDF+D files, are
        excluded from analysis. Readers leave out fascidetect's own annotations (see
        :func:`own_annotation_mask`), so a detection written back into a file or Raw is
        never taken for the user's marks.
    source : str | None
        Path of the file the recording came from.
    format : str
        Short name of the reader that produced it (``edf``, ``bdf``, ``openbci``...).
    metadata : dict
        Free metadata (device, subject, reader notes).
    warnings : list of str
        Problems found while reading that limit the analysis.
    raw : mne.io.BaseRaw | None
        The lazy MNE object behind ``data`` when ``data`` is ``None``; ``picks`` index into it.
    """

    data: np.ndarray | None
    sfreq: float
    ch_names: list[str]
    ch_types: list[str]
    meas_date: _dt.datetime | None = None
    annotations: list[Annotation] = dataclasses.field(default_factory=list)
    source: str | None = None
    format: str = "array"
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)
    raw: Any = dataclasses.field(default=None, repr=False)
    raw_picks: list[int] | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self):
        try:
            sfreq = float(self.sfreq)
        except (TypeError, ValueError):
            sfreq = float("nan")
        if not np.isfinite(sfreq) or sfreq <= 0:
            raise ParameterError(f"{_where(self.source)}: sampling rate must be a "
                                 f"positive number of Hz, got {self.sfreq!r}")
        self.sfreq = sfreq
        # Labels end up in tab-separated outputs: no tabs, newlines or other controls.
        self.ch_names = [clean_text(c) for c in self.ch_names]
        self.ch_names = _unique_names(self.ch_names, self.source, self.warnings)
        self.ch_types = [str(t) for t in self.ch_types]
        if len(self.ch_types) != len(self.ch_names):
            raise ParameterError(
                f"{len(self.ch_names)} channel names but {len(self.ch_types)} channel types"
            )
        if self.data is not None:
            data = np.asarray(self.data)
            if data.ndim == 1:
                data = data[np.newaxis, :]
            if data.ndim != 2:
                raise ParameterError(f"data must be 2-D (channels x samples), got shape {data.shape}")
            if data.shape[0] != len(self.ch_names):
                raise ParameterError(
                    f"data has {data.shape[0]} rows but {len(self.ch_names)} channel names were given"
                )
            if not np.issubdtype(data.dtype, np.floating):
                data = data.astype(np.float64)
            self.data = data
        elif self.raw is None:
            raise ParameterError("a Recording needs either data or a lazy raw object")
        self.annotations = [Annotation(float(o), float(d), clean_text(s))
                            for o, d, s in self.annotations]

    # ------------------------------------------------------------------ shape
    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.ch_names)

    @property
    def n_samples(self) -> int:
        """Number of samples per channel."""
        if self.data is not None:
            return int(self.data.shape[1])
        return int(self.raw.n_times)

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return self.n_samples / self.sfreq

    @property
    def emg_picks(self) -> np.ndarray:
        """Indices of the EMG channels."""
        return np.flatnonzero(np.asarray(self.ch_types) == "emg")

    @property
    def is_lazy(self) -> bool:
        """True when samples stay on disk until asked for."""
        return self.data is None

    # ------------------------------------------------------------------ data access
    def get_data(self, picks: Sequence[int] | None = None, start: int = 0,
                 stop: int | None = None) -> np.ndarray:
        """Return samples ``[start, stop)`` of the picked channels, in volts (2-D float array)."""
        stop = self.n_samples if stop is None else int(stop)
        start = int(start)
        picks_arr = np.arange(self.n_channels) if picks is None else np.asarray(picks, dtype=int)
        if self.data is not None:
            return self.data[picks_arr, start:stop]
        raw_picks = np.asarray(self.raw_picks if self.raw_picks is not None
                               else np.arange(self.n_channels))[picks_arr]
        return self.raw.get_data(picks=raw_picks, start=start, stop=stop)

    def iter_chunks(self, chunk_s: float, margin_s: float = 0.0,
                    picks: Sequence[int] | None = None) -> Iterator[Chunk]:
        """Yield the recording in blocks of ``chunk_s`` seconds with ``margin_s`` on each side.

        Only one block is in memory at a time when the recording is lazy, so long files
        are processed in bounded memory.

        Parameters
        ----------
        chunk_s : float
            Length of the owned core of each chunk in seconds.
        margin_s : float
            Extra samples read on each side (clipped at the recording's ends), e.g. to
            cover a filter's transient.
        picks : sequence of int | None
            Channels to read (default all).

        Yields
        ------
        Chunk
        """
        if chunk_s <= 0:
            raise ParameterError(f"chunk length must be positive, got {chunk_s} s")
        n = self.n_samples
        step = max(1, int(round(chunk_s * self.sfreq)))
        margin = max(0, int(round(margin_s * self.sfreq)))
        from .blocks import block_bounds

        for start, stop, lo, hi in block_bounds(n, step, margin):
            yield Chunk(start, stop, lo, hi, self.get_data(picks, lo, hi))

    def electrode_kind(self) -> str:
        """Return ``"needle"`` when the file says its EMG comes from a needle electrode
        (transducer fields, header comments, channel names), else ``"surface"``."""
        meta = self.metadata or {}
        text = " ".join([str(meta.get("comments") or ""), str(meta.get("device") or ""),
                         " ".join(map(str, meta.get("transducers") or [])),
                         " ".join(self.ch_names[i] for i in self.emg_picks)]).lower()
        return "needle" if any(w in text for w in _NEEDLE_WORDS) else "surface"

    def load(self) -> "Recording":
        """Return a Recording with all samples in memory (self if already loaded)."""
        if self.data is not None:
            return self
        return dataclasses.replace(self, data=self.get_data(), raw=None, raw_picks=None)

    def pick(self, picks: Sequence[int] | Sequence[str]) -> "Recording":
        """Return a Recording restricted to the given channel indices or names."""
        idx = [self.ch_names.index(p) if isinstance(p, str) else int(p) for p in picks]
        if self.data is not None:
            return dataclasses.replace(
                self, data=self.data[idx], ch_names=[self.ch_names[i] for i in idx],
                ch_types=[self.ch_types[i] for i in idx])
        base = self.raw_picks if self.raw_picks is not None else list(range(self.n_channels))
        return dataclasses.replace(
            self, ch_names=[self.ch_names[i] for i in idx],
            ch_types=[self.ch_types[i] for i in idx], raw_picks=[base[i] for i in idx])

    # ------------------------------------------------------------------ MNE interop
    @classmethod
    def from_raw(cls, raw, *, emg_channels: Sequence[str] | None = None,
                 source: str | None = None, format: str = "mne") -> "Recording":
        """Return a Recording wrapping an ``mne.io.Raw``; samples stay lazy if the Raw is.

        Channel types are taken from the Raw; channels named in ``emg_channels`` are
        typed EMG whatever the Raw says. Annotations that fascidetect wrote
        (:meth:`DetectionResult.to_annotations`, see :func:`own_annotation_mask`) are left
        out: they are results, not the user's task or BAD marks.
        """
        from .io._channels import mne_type_to_ours

        ch_types = [mne_type_to_ours(t) for t in raw.get_channel_types()]
        if emg_channels is not None:
            missing = [c for c in emg_channels if c not in raw.ch_names]
            if missing:
                raise InputError(
                    f"channel(s) {missing} not in {source or 'the recording'}; "
                    f"available: {raw.ch_names}")
            ch_types = ["emg" if c in emg_channels else t for c, t in zip(raw.ch_names, ch_types)]
        meas_date = raw.info["meas_date"]
        offset = _orig_offset(raw)
        own = own_annotation_mask(raw.annotations)
        annotations = [Annotation(float(a["onset"]) - offset, float(a["duration"]),
                                  a["description"])
                       for a, skip in zip(raw.annotations, own) if not skip]
        preloaded = bool(getattr(raw, "preload", False))
        return cls(
            data=raw.get_data() if preloaded else None,
            sfreq=raw.info["sfreq"], ch_names=list(raw.ch_names), ch_types=ch_types,
            meas_date=meas_date, annotations=annotations,
            source=source or _raw_source(raw),
            format=format, raw=None if preloaded else raw,
        )

    def to_raw(self):
        """Return an ``mne.io.RawArray`` with the same data, channel types and annotations."""
        import mne

        mne_types = [t if t in ("emg", "ecg", "eeg", "eog", "misc", "stim", "resp", "bio")
                     else "misc" for t in self.ch_types]
        info = mne.create_info(self.ch_names, self.sfreq, mne_types)
        raw = mne.io.RawArray(self.get_data(), info, verbose="error")
        if self.meas_date is not None:
            raw.set_meas_date(self.meas_date)
        if self.annotations:
            onset, duration, desc = zip(*self.annotations)
            raw.set_annotations(mne.Annotations(onset, duration, desc,
                                                orig_time=raw.info["meas_date"]))
        return raw


def _unique_names(names: list[str], source, warns: list[str]) -> list[str]:
    """Return *names* with repeated ones numbered (``TA_R-0``, ``TA_R-1``, as MNE does),
    adding a warning: results keyed by channel name would otherwise merge two channels."""
    counts = collections.Counter(names)
    repeated = [n for n, k in counts.items() if k > 1]
    if not repeated:
        return names
    taken = set(names)
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if counts[name] == 1:
            out.append(name)
            continue
        k = seen.get(name, 0)
        while f"{name}-{k}" in taken:
            k += 1
        seen[name] = k + 1
        taken.add(f"{name}-{k}")
        out.append(f"{name}-{k}")
    renamed = ", ".join(f"{n!r} x{counts[n]}" for n in repeated)
    warns.append(f"{_where(source)}: channel names repeated ({renamed}): numbered "
                 f"{', '.join(o for o, n in zip(out, names) if counts[n] > 1)} to keep the "
                 "channels apart; name each channel "
                 "once (ch_names=... / the file's header) to be sure which is which")
    return out


def _where(source) -> str:
    return f"'{source}'" if source else "the recording"


def _orig_offset(raw) -> float:
    """Seconds to subtract from an MNE annotation onset to get time from recording start."""
    # MNE annotation onsets are relative to meas_date when orig_time is set, which
    # includes first_samp / sfreq; without orig_time they are relative to first_samp.
    if raw.annotations.orig_time is None:
        return 0.0
    return raw.first_samp / raw.info["sfreq"]


def _raw_source(raw) -> str | None:
    """Return the file an MNE Raw was read from, if any."""
    names = [f for f in (raw.filenames or ()) if f]
    return str(names[0]) if names else None
