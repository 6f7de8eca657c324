"""EDF, EDF+ (C and D), BDF and BDF+ through MNE, with the header checks MNE leaves out.

MNE reads the samples (and keeps annotations); this module first parses the fixed-size
header itself to (1) refuse truncated or corrupt files with a clear message, (2) learn each
signal's own sampling rate, so mixed-rate files are read at the EMG channels' rate instead
of being upsampled, and (3) find the gaps of EDF+D files, which MNE concatenates as if
continuous (mne-tools/mne-python#13429): each gap is marked ``BAD_ACQ_SKIP`` so nothing is
analysed across it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from pathlib import Path

import numpy as np

from ..errors import CorruptFileError, EmptyRecordingError, InputError
from ..recording import Annotation, Recording, own_annotation_mask
from ._channels import types_from_labels

#: Recordings larger than this (float64 bytes of the analysed channels) stay on disk
#: and are read block by block.
LAZY_BYTES = 256 * 2**20

_ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")


@dataclasses.dataclass
class EdfHeader:
    """The parts of an EDF/BDF header fascidetect needs."""

    path: Path
    is_bdf: bool
    subtype: str  # "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C", "BDF+D"
    header_bytes: int
    n_records: int
    record_s: float
    labels: list[str]
    n_samps: np.ndarray  # samples per record of each signal
    physical_dim: list[str]
    physical_min: np.ndarray
    physical_max: np.ndarray

    extra_records: int = 0
    transducers: list = dataclasses.field(default_factory=list)

    @property
    def bytes_per_sample(self) -> int:
        return 3 if self.is_bdf else 2

    @property
    def record_bytes(self) -> int:
        return int(self.n_samps.sum()) * self.bytes_per_sample

    @property
    def annotation_signals(self) -> list[int]:
        return [i for i, lab in enumerate(self.labels) if lab in _ANNOTATION_LABELS]

    @property
    def data_signals(self) -> list[int]:
        ann = set(self.annotation_signals)
        return [i for i in range(len(self.labels)) if i not in ann]

    def rate(self, i: int) -> float:
        return float(self.n_samps[i]) / self.record_s if self.record_s > 0 else 0.0


def _field(raw: bytes, name: str, path, cast):
    text = raw.decode("latin-1").strip()
    try:
        return cast(text)
    except ValueError:
        raise CorruptFileError(
            f"'{path}': corrupt EDF/BDF header: field '{name}' is {text!r}, not a number") from None


def read_header(path: str | os.PathLike) -> EdfHeader:
    """Parse and check the header of an EDF/BDF file.

    Raises
    ------
    CorruptFileError
        If a header field is not what the format demands or the file is shorter than
        its header says (a truncated download or an interrupted recording).
    EmptyRecordingError
        If the file holds no data record.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fixed = fh.read(256)
        if len(fixed) < 256:
            raise CorruptFileError(f"'{path}': truncated EDF/BDF header ({len(fixed)} of 256 bytes)")
        is_bdf = fixed[:8] == b"\xffBIOSEMI"
        if not is_bdf and fixed[:8].strip() != b"0":
            raise CorruptFileError(f"'{path}': not an EDF/BDF file (version field {fixed[:8]!r})")
        reserved = fixed[192:236].decode("latin-1").strip()
        header_bytes = _field(fixed[184:192], "number of header bytes", path, int)
        n_records = _field(fixed[236:244], "number of data records", path, int)
        record_s = _field(fixed[244:252], "duration of a data record", path, float)
        n_signals = _field(fixed[252:256], "number of signals", path, int)
        if n_signals <= 0 or header_bytes != 256 * (n_signals + 1):
            raise CorruptFileError(
                f"'{path}': corrupt EDF/BDF header: {n_signals} signals need a "
                f"{256 * (n_signals + 1)}-byte header, the file says {header_bytes}")
        rest = fh.read(256 * n_signals)
    if len(rest) < 256 * n_signals:
        raise CorruptFileError(f"'{path}': truncated EDF/BDF header (signal headers cut off)")

    def column(offset, width):
        start = offset * n_signals
        return [rest[start + i * width: start + (i + 1) * width] for i in range(n_signals)]

    labels = [b.decode("latin-1").strip() for b in column(0, 16)]
    dims = [b.decode("latin-1").strip() for b in column(16 + 80, 8)]
    ranges = np.array([[_field(b, f"{what} of signal {i + 1} ({labels[i]})", path, float)
                        for i, b in enumerate(column(offset, 8))]
                       for offset, what in ((104, "physical minimum"), (112, "physical maximum"),
                                            (120, "digital minimum"), (128, "digital maximum"))])
    n_samps = np.array([_field(b, f"samples per record of signal {i + 1}", path, int)
                        for i, b in enumerate(column(16 + 80 + 8 + 8 * 4 + 80, 8))])
    if (n_samps < 0).any():
        raise CorruptFileError(f"'{path}': corrupt EDF/BDF header: negative samples per record")
    if not np.isfinite(record_s) or record_s <= 0:
        raise CorruptFileError(f"'{path}': corrupt EDF/BDF header: record duration {record_s!r} s "
                               "(must be a positive number)")
    if n_records < -1:
        raise CorruptFileError(f"'{path}': corrupt EDF/BDF header: {n_records} data records")
    for i, lab in enumerate(labels):
        if lab in _ANNOTATION_LABELS:
            continue
        pmin, pmax, dmin, dmax = ranges[:, i]
        volts = _VOLTS.get(dims[i].strip().lower().replace(" ", ""))
        if volts is not None and max(abs(pmin), abs(pmax)) * volts > _MAX_PHYSICAL_V:
            raise CorruptFileError(
                f"'{path}': signal {i + 1} ({lab}) states a physical range of {pmin:g}..{pmax:g} "
                f"{dims[i].strip()}, beyond any amplifier ({_MAX_PHYSICAL_V:g} V): the header "
                "is corrupt, or its physical dimension is wrong (a range in µV or mV labelled "
                f"{dims[i].strip()!r}): fix that field")
        if dmin >= dmax or pmin == pmax or not np.isfinite([pmin, pmax]).all():
            raise CorruptFileError(
                f"'{path}': signal {i + 1} ({lab}) has an unusable range (physical "
                f"{pmin:g}..{pmax:g}, digital {dmin:g}..{dmax:g}): its samples cannot be scaled")
    base = "BDF" if is_bdf else "EDF"
    subtype = base + ("+D" if reserved.startswith(("EDF+D", "BDF+D")) else
                      "+C" if reserved.startswith(("EDF+C", "BDF+C")) else "")
    head = EdfHeader(path, is_bdf, subtype, header_bytes, n_records, record_s, labels,
                     n_samps, dims, ranges[0], ranges[1],
                     transducers=[b.decode("latin-1").strip() for b in column(16, 80)])
    _check_size(head, size)
    return head


def _check_size(head: EdfHeader, size: int) -> None:
    """Refuse files whose body is shorter than the header promises."""
    body = size - head.header_bytes
    if head.record_bytes == 0:
        raise CorruptFileError(f"'{head.path}': corrupt EDF/BDF header: records hold no samples")
    complete = body // head.record_bytes
    if head.n_records == -1:  # allowed while recording: the count is in the file length
        head.n_records = int(complete)
    if head.n_records == 0 or (body == 0 and head.n_records == complete):
        raise EmptyRecordingError(f"'{head.path}': the file holds no data record")
    if complete > head.n_records:
        head.extra_records = int(complete - head.n_records)
    if complete < head.n_records:
        raise CorruptFileError(
            f"'{head.path}' is truncated: its header announces {head.n_records} data records "
            f"({head.n_records * head.record_s:g} s) but the file holds only {complete} "
            f"complete records ({body} of {head.n_records * head.record_bytes} data bytes)")


def record_onsets(head: EdfHeader) -> np.ndarray | None:
    """Return each data record's start time (s) from the annotation channel of an EDF+/BDF+.

    Reads only the annotation bytes of each record through a memory map, so it costs
    little even on day-long files. None when the file has no annotation channel.
    """
    if not head.annotation_signals:
        return None
    ann = head.annotation_signals[0]
    bps = head.bytes_per_sample
    start = int(head.n_samps[:ann].sum()) * bps
    width = int(head.n_samps[ann]) * bps
    body = np.memmap(head.path, dtype=np.uint8, mode="r", offset=head.header_bytes,
                     shape=(head.n_records, head.record_bytes))
    # Only the first TAL of a record ("+<onset>\x14\x14") is needed: 24 bytes hold it.
    first = np.asarray(body[:, start:start + min(width, 24)])
    text = [bytes(r).split(b"\x14", 1)[0] for r in first]
    try:
        onsets = np.array([float(t.decode("latin-1")) for t in text])
    except ValueError:
        raise CorruptFileError(
            f"'{head.path}': an EDF+ data record lacks its time-keeping annotation") from None
    return onsets


def _subsecond_start(head: EdfHeader) -> float:
    """Return the EDF+ start offset (0 <= s < 1) held by the first record's time stamp."""
    if not head.subtype.endswith(("+C", "+D")) or not head.annotation_signals:
        return 0.0
    onsets = record_onsets(head)
    first = float(onsets[0]) if onsets is not None and onsets.size else 0.0
    return first if 0.0 < first < 1.0 else 0.0


def find_gaps(head: EdfHeader) -> list[tuple[int, float]]:
    """Return ``(record index after the gap, gap length in s)`` for each gap of an EDF+D."""
    if not head.subtype.endswith("+D"):
        return []
    onsets = record_onsets(head)
    if onsets is None:
        return []
    jumps = np.diff(onsets) - head.record_s
    idx = np.flatnonzero(np.abs(jumps) > 1e-3 * max(head.record_s, 1e-3))
    return [(int(i + 1), float(jumps[i])) for i in idx]


def read_edf(path, *, emg_channels=None, preload=None) -> Recording:
    """Read an EDF/EDF+/BDF/BDF+ file into a Recording (lazy when it is large).

    Parameters
    ----------
    path : path-like
    emg_channels : list of str | None
        Channels to analyse; default the EMG-typed ones (by label).
    preload : bool | None
        Load all samples now; default only when they take under 256 MB.
    """
    import mne

    head = read_header(path)
    want = ".bdf" if head.is_bdf else ".edf"
    if Path(path).suffix.lower() != want:
        # MNE reads EDF only from a name ending .edf, and BDF from .bdf.
        raise InputError(f"'{path}' holds {want[1:].upper()} data but is named "
                         f"'{Path(path).suffix or '(no suffix)'}': MNE reads it only from a "
                         f"'{want}' name; rename or copy it to {Path(path).with_suffix(want).name}")
    data_idx = head.data_signals
    labels = [head.labels[i] for i in data_idx]
    if not data_idx:
        raise EmptyRecordingError(f"'{path}': the file has annotation channels only, no signal")
    types = types_from_labels(labels, default="eeg")
    rates = np.array([head.rate(i) for i in data_idx])
    warnings = []
    if emg_channels is not None:
        missing = [c for c in emg_channels if c not in labels]
        if missing:
            raise InputError(f"'{path}': channel(s) {missing} not in the file; available: {labels}")
        types = ["emg" if lab in emg_channels else ("misc" if t == "emg" else t)
                 for lab, t in zip(labels, types)]
    keep = _channels_at_emg_rate(path, labels, types, rates, warnings)
    include = [labels[i] for i in keep]
    reader = mne.io.read_raw_bdf if head.is_bdf else mne.io.read_raw_edf
    n_keep_emg = sum(types[i] == "emg" for i in keep) or len(keep)
    n_samples = int(head.n_records * head.n_samps[data_idx[keep[0]]])
    if preload is None:
        preload = n_keep_emg * n_samples * 8 < LAZY_BYTES
    picked = include if len(include) < len(labels) else None
    try:
        try:
            raw = reader(path, include=picked, infer_types=False, preload=False, verbose="error")
        except Exception as exc:  # noqa: BLE001 - MNE raises a bare Exception for this
            if "encoding=" not in str(exc):
                raise
            # EDF+ asks for UTF-8 annotations; older writers use Latin-1. Every byte is a
            # Latin-1 character, so the file reads, with the odd letter perhaps wrong.
            raw = reader(path, include=picked, infer_types=False, preload=False,
                         verbose="error", encoding="latin1")
            warnings.append("EDF+ annotations are not valid UTF-8: read as Latin-1 (check "
                            "accented letters in their descriptions)")
    except Exception as exc:  # noqa: BLE001 - MNE raises many types on damaged files
        raise CorruptFileError(f"'{path}': MNE cannot read it: {exc}") from None
    # MNE keeps header order but renames repeated labels: align types by position.
    names = list(raw.ch_names)
    repeated = sorted({lab for lab in include if include.count(lab) > 1})
    if repeated:
        warnings.append(f"channel labels repeated in the header ({', '.join(map(repr, repeated))}): "
                        f"read as {', '.join(n for n, lab in zip(names, include) if lab in repeated)}"
                        "; check which electrode each one is")
    ch_types = [types[i] for i in keep]
    _fix_voltage_units(raw, head, [data_idx[i] for i in keep], ch_types, warnings)
    if head.extra_records:
        warnings.append(f"the file holds {head.extra_records} data record(s) more than its "
                        "header announces: only the announced ones are read")
        raw.crop(tmax=(head.n_records * head.n_samps[data_idx[keep[0]]] - 1) / raw.info["sfreq"])
    offset = raw.first_samp / raw.info["sfreq"] if raw.annotations.orig_time is not None else 0.0
    # EDF+ keeps the sub-second part of the start time in the first record's time stamp;
    # MNE drops it, and its annotation onsets count from the whole second.
    subsecond = _subsecond_start(head)
    # fascidetect's own annotations written back into the file are results, not marks.
    own = own_annotation_mask(raw.annotations)
    annotations = [Annotation(float(a["onset"]) - offset - subsecond, float(a["duration"]),
                              a["description"])
                   for a, skip in zip(raw.annotations, own) if not skip]
    meas_date = raw.info["meas_date"]
    if meas_date is not None and subsecond:
        meas_date = meas_date + _dt.timedelta(seconds=subsecond)
    gaps = find_gaps(head)
    annotations += _gap_annotations(gaps, head)
    if gaps:
        total = sum(g for _, g in gaps)
        warnings.append(
            f"EDF+D file with {len(gaps)} gap(s) ({total:g} s in all): samples are analysed as "
            "continuous segments, each junction is excluded (BAD_ACQ_SKIP), and times after a "
            "gap count recorded samples, not wall-clock time")
    rec = Recording(
        data=None, sfreq=raw.info["sfreq"], ch_names=names, ch_types=ch_types,
        meas_date=meas_date, annotations=annotations, source=str(path),
        format=head.subtype.split("+")[0].lower(),
        metadata={"subtype": head.subtype, "n_records": head.n_records,
                  "record_s": head.record_s,
                  "gaps": [{"after_s": round(i * head.record_s, 6), "length_s": g} for i, g in gaps],
                  "device": raw.info.get("device_info") or None,
                  "transducers": sorted({head.transducers[i] for i in data_idx
                                         if i < len(head.transducers) and head.transducers[i]}),
                  "subject": (raw.info.get("subject_info") or {}).get("his_id")},
        warnings=warnings, raw=raw, raw_picks=list(range(len(names))),
    )
    return rec.load() if preload else rec


#: Volts per physical unit, spelled as EDF writers spell them (MNE knows only "uV", "µV"
#: and "mV" exactly and takes anything else, "uv" included, for volts).
_VOLTS = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "nv": 1e-9}
#: Largest physical range of a voltage signal taken at face value (EMG front ends span
#: at most a few hundred mV; ECG and EEG less).
_MAX_PHYSICAL_V = 100.0


def _fix_voltage_units(raw, head, header_idx, ch_types, warnings) -> None:
    """Make MNE scale every voltage channel by its stated unit, whatever its spelling.

    EMG channels without a voltage unit get one guessed from their physical range (sEMG
    spans hundreds of µV), with a warning naming the guess.
    """
    gains = raw._raw_extras[0]["units"]  # MNE's per-channel scale, applied at read time
    for k, (hi, ctype) in enumerate(zip(header_idx, ch_types)):
        dim = head.physical_dim[hi].strip().lower().replace(" ", "")
        want = _VOLTS.get(dim)
        if want is None and ctype == "emg":
            span = max(abs(head.physical_min[hi]), abs(head.physical_max[hi]))
            want, guess = (1e-6, "µV") if span > 50 else (1e-3, "mV") if span > 0.05 else (1.0, "V")
            warnings.append(f"channel {raw.ch_names[k]} states no voltage unit "
                            f"({head.physical_dim[hi]!r}): assumed {guess} from its range "
                            f"+/-{span:g}")
        if want is not None and not np.isclose(gains[k], want):
            gains[k] = want


def _channels_at_emg_rate(path, labels, types, rates, warnings) -> list[int]:
    """Return the channels to read: all if one rate, else those at the EMG channels' rate."""
    if np.unique(rates).size == 1:
        return list(range(len(labels)))
    emg = [i for i, t in enumerate(types) if t == "emg"]
    if not emg:
        top = rates.max()
        keep = [i for i in range(len(labels)) if rates[i] == top]
        warnings.append(f"mixed sampling rates and no EMG channel: read the {len(keep)} "
                        f"channel(s) at {top:g} Hz, left out {len(labels) - len(keep)}")
        return keep
    emg_rates = np.unique(rates[emg])
    if emg_rates.size > 1:
        detail = ", ".join(f"{labels[i]} {rates[i]:g} Hz" for i in emg)
        raise InputError(
            f"'{path}': the EMG channels have different sampling rates ({detail}); pick "
            "channels of one rate with emg_channels=[...] / --emg-channels")
    keep = [i for i in range(len(labels)) if rates[i] == emg_rates[0]]
    dropped = len(labels) - len(keep)
    warnings.append(f"mixed sampling rates: read the {len(keep)} channel(s) at the EMG rate "
                    f"{emg_rates[0]:g} Hz, left out {dropped} channel(s) at other rates")
    return keep


def _gap_annotations(gaps, head: EdfHeader) -> list[Annotation]:
    """A short BAD_ACQ_SKIP span at each junction, so no detection straddles a gap."""
    out = []
    for record, length in gaps:
        t = record * head.record_s
        out.append(Annotation(max(0.0, t - 0.25), 0.5, f"BAD_ACQ_SKIP gap of {length:g} s"))
    return out
