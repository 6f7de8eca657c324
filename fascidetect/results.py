"""DetectionResult: the events, per-channel statistics and waveforms of one recording,
with exports to events.tsv, JSON, MNE Annotations and pandas."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .events import EVENT_DTYPE, column_equals, column_text, write_events_tsv


def poisson_rate_ci(count: np.ndarray, exposure_min: np.ndarray, level: float = 0.95):
    """Return the exact (Garwood) confidence interval of a Poisson rate per minute.

    Parameters
    ----------
    count : array_like of int
        Events observed.
    exposure_min : array_like of float
        Observation time in minutes.
    level : float
        Confidence level.

    Returns
    -------
    low, high : ndarray
        Rate bounds per minute (NaN where the exposure is zero).
    """
    from scipy.stats import chi2

    count = np.asarray(count, dtype=float)
    exposure = np.asarray(exposure_min, dtype=float)
    alpha = 1.0 - level
    low = np.where(count > 0, chi2.ppf(alpha / 2, 2 * count) / 2, 0.0)
    high = chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.where(exposure > 0, low / exposure, np.nan),
                np.where(exposure > 0, high / exposure, np.nan))


# eq=False: comparing field by field would compare arrays (ValueError); results
# and recordings compare by identity, as MNE's Raw does.
@dataclasses.dataclass(eq=False)
class DetectionResult:
    """What :func:`fascidetect.detect` found in one recording.

    Attributes
    ----------
    events : ndarray (structured, :data:`fascidetect.events.EVENT_DTYPE`)
        One row per fasciculation, firing-train discharge, artifact, and per spasm or
        voluntary episode, sorted by onset. :func:`fascidetect.detect` passes the table
        with its text columns as codes (:class:`fascidetect.events.CodedEvents`);
        reading ``events`` builds the structured array once (same values and dtype).
        :meth:`to_tsv`, :meth:`to_json` and :meth:`summary` read the coded table
        directly, so ``fascidetect detect`` never builds it.
    channels : list of dict
        Per EMG channel: ``name``, ``status``, ``noise_sigma_uv``, ``line_freq_hz``,
        ``n_fasciculations``, ``rest_s``, ``rate_per_min`` with ``rate_ci_low`` and
        ``rate_ci_high`` (95 % exact Poisson), ``n_spasms``, ``spasm_s``.
    waveforms : ndarray, shape (n_stored, n_channels, n_samples)
        Band-passed snippets (volts) of the fasciculation rows listed in
        ``waveform_rows`` (all of them, in order, unless the recording had more than
        20,000 candidate discharges; then a uniform sample). Use :meth:`waveforms_of`.
        float32; :func:`fascidetect.detect` hands them over as float16 snippets in noise
        units with each channel's scale, and the float32 array is built (same values)
        the first time ``waveforms`` is read.
    templates : ndarray, shape (n_units, n_channels, n_samples)
        Mean snippet of each motor-unit template.
    params : DetectionParams
    recording : dict
        Source path, format, sampling rate, duration, channel names, start time.
    warnings : list of str
    sfreq : float
        Sampling rate of the waveforms.
    line_noise : dict
        Power-line fundamental found (``freq_hz``), notches applied, peak height in dB.
    timings : dict
        Seconds spent per pipeline stage (read, filter, detect, features, ...).
    waveform_rows : ndarray of int | None
        Rows of :attr:`fasciculations` whose snippets :attr:`waveforms` holds, in order
        (``None``: all of them). A proper subset once the recording had more than 20,000
        candidate discharges (artifacts and trains included), as a uniform sample.

    Notes
    -----
    An event table or waveforms over 1 MB stay in a temporary file (deleted with the
    result), so a result keeps up to two files open: a script that keeps
    hundreds of long recordings' results can reach the process's open-file limit (macOS:
    256 by default). Write what you need (:meth:`to_tsv`) and let the results go, or use
    ``fascidetect batch``; the next read then fails with an error saying so.
    """

    events: np.ndarray
    channels: list
    waveforms: np.ndarray
    templates: np.ndarray
    params: Any
    recording: dict
    warnings: list
    sfreq: float
    line_noise: dict = dataclasses.field(default_factory=dict)
    timings: dict = dataclasses.field(default_factory=dict)
    waveform_rows: Any = None

    # ------------------------------------------------------------------ views
    @property
    def fasciculations(self) -> np.ndarray:
        """Return the fasciculation rows of :attr:`events`."""
        return self.events[self.events["trial_type"] == "fasciculation"]

    def _table(self):
        """Return the event table the exports read: the pipeline's coded table
        (:class:`~fascidetect.events.CodedEvents`) until :attr:`events` is first read,
        then that array (which the caller may have changed)."""
        return self.__dict__["_events"] if self.__dict__.get("_coded") is None \
            else self.__dict__["_coded"]

    def _fasciculation_column(self, name: str) -> np.ndarray:
        """Return one column of the fasciculation rows (without copying the rows: they
        are most of a long recording's event table)."""
        ev = self._table()
        return ev[name][column_equals(ev, "trial_type", "fasciculation")]

    def waveforms_of(self, rows) -> np.ndarray:
        """Return the stored snippets (volts) of the given rows of :attr:`fasciculations`.

        Rows without a stored snippet are skipped: beyond 20,000 candidate discharges only
        a uniform sample keeps its waveform (see :attr:`waveform_rows`).
        """
        rows = np.asarray(rows, dtype=int)
        if self.waveform_rows is None:
            return self.waveforms[rows]
        stored = np.asarray(self.waveform_rows)
        pos = np.searchsorted(stored, rows)
        ok = (pos < stored.size) & (stored[np.minimum(pos, max(stored.size - 1, 0))] == rows) \
            if stored.size else np.zeros(rows.size, bool)
        return self.waveforms[pos[ok]]

    @property
    def spasms(self) -> np.ndarray:
        """Return the spasm episode rows of :attr:`events`."""
        return self.events[self.events["trial_type"] == "spasm"]

    @property
    def n_units(self) -> int:
        """Return the number of motor-unit templates among the fasciculations."""
        units = self._fasciculation_column("unit")
        return int(np.unique(units[units >= 0]).size)

    def summary(self) -> dict:
        """Return a JSON-friendly dict: recording, counts, rates per channel, warnings."""
        ev = self._table()
        counts = {t: int(np.sum(column_equals(ev, "trial_type", t)))
                  for t in ("fasciculation", "spasm", "voluntary", "artifact")}
        kinds, kc = np.unique(column_text(ev, "artifact_kind",
                                          column_equals(ev, "trial_type", "artifact")),
                              return_counts=True)
        rest_s = max((c["rest_s"] for c in self.channels), default=0.0)
        total = counts["fasciculation"]
        low, high = poisson_rate_ci([total], [rest_s / 60.0])
        return {
            "fascidetect_version": _version(),
            "recording": self.recording,
            "counts": counts,
            "artifacts_by_kind": {str(k): int(c) for k, c in zip(kinds, kc)},
            "fasciculation_rate_per_min": _num(total / (rest_s / 60.0)) if rest_s > 0 else None,
            "fasciculation_rate_ci": [_num(low[0]), _num(high[0])],
            "rest_s": _num(rest_s),
            "n_units": self.n_units,
            # Later discharges of doublets and multiplets over all fasciculations.
            "doublet_share": _num(float(np.sum(self._fasciculation_column("doublet") == 1))
                                  / total)
            if total else None,
            "spasm_total_s": _num(float(np.nansum(
                ev["duration"][column_equals(ev, "trial_type", "spasm")]))),
            "line_noise": self.line_noise,
            "channels": [{k: _num(v) for k, v in c.items()} for c in self.channels],
            "warnings": list(self.warnings),
            "surface_emg_limits": limits_for(self.params),
            "params": self.params.as_dict(),
        }

    # ------------------------------------------------------------------ exports
    def to_tsv(self, path: str | os.PathLike) -> Path:
        """Write the events as a BIDS-style events.tsv and return its path."""
        return write_events_tsv(self._table(), path)

    def to_json(self, path: str | os.PathLike | None = None, extra: dict | None = None) -> str:
        """Return the summary as strict JSON text (no NaN or Infinity: missing numbers are
        null), and write it atomically to *path* if given. *extra* keys are added to it
        (``detect`` adds ``outputs``: the events file it belongs to and its hash)."""
        doc = self.summary()
        doc.update(extra or {})
        text = json.dumps(_json_safe(doc), indent=2, ensure_ascii=False, allow_nan=False)
        if path is not None:
            path = Path(path)
            tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, path)
        return text

    def to_annotations(self, raw=None):
        """Return the events as ``mne.Annotations``, one per event, on its channels.

        Descriptions carry the prefix ``fascidetect/`` so they stay apart from the
        user's own marks: ``fascidetect/fasciculation``, ``fascidetect/spasm``,
        ``fascidetect/voluntary``, and ``BAD_fascidetect/artifact/<kind>`` (``ecg``,
        ``motion``, ``pop``...) for artifacts, whose ``BAD_`` prefix makes MNE reject
        the epochs they touch (``reject_by_annotation``). When a Raw or EDF+ file
        carrying these annotations is analysed again, they are left out (see
        :func:`fascidetect.recording.own_annotation_mask`), so a detection never mistakes
        its own ``voluntary`` or ``BAD_`` labels for task periods or bad spans.

        Parameters
        ----------
        raw : mne.io.Raw | None
            The Raw the annotations are for (the one analysed, or ``rec.to_raw()``).
            Given, onsets are placed on its time axis (its ``orig_time`` and first
            sample), so they add to its own annotations: ``raw.annotations +
            result.to_annotations(raw)``. Default: onsets in seconds from the first
            sample, without ``orig_time`` (fine for ``raw.set_annotations``).

        Returns
        -------
        mne.Annotations

        Examples
        --------
        >>> raw = rec.to_raw()                                                  # doctest: +SKIP
        >>> raw.set_annotations(raw.annotations + result.to_annotations(raw))   # doctest: +SKIP
        >>> epochs = mne.Epochs(raw, events, reject_by_annotation=True)         # doctest: +SKIP
        """
        import mne

        from .recording import own_descriptions

        ev = self.events
        desc = own_descriptions(ev["trial_type"], ev["artifact_kind"])
        orig_time, shift = None, 0.0
        if raw is not None and raw.annotations.orig_time is not None:
            # With orig_time, MNE counts onsets from the measurement date, which lies
            # first_samp samples before a cropped Raw's first sample.
            orig_time = raw.annotations.orig_time
            shift = raw.first_samp / raw.info["sfreq"]
        return mne.Annotations(ev["onset"] + shift, ev["duration"], desc, orig_time=orig_time,
                               ch_names=[tuple(c.split(",")) if c else () for c in ev["channels"]])

    def to_dataframe(self):
        """Return the events as a ``pandas.DataFrame`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on environment
            from .errors import MissingDependencyError

            raise MissingDependencyError("to_dataframe() needs pandas: pip install pandas") from None
        return pd.DataFrame({name: self.events[name] for name in EVENT_DTYPE.names})


class _BuiltOnRead:
    """A field held in a compact form (anything with ``materialise()``) until it is
    first read, then as the array that built: the instance keeps the compact form under
    ``compact`` and the array under ``full`` in its ``__dict__``."""

    def __init__(self, full: str, compact: str, doc: str):
        self.full, self.compact, self.__doc__ = full, compact, doc

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        packed = obj.__dict__.get(self.compact)
        if packed is not None:  # built once, on first reading; from then on it is the field
            obj.__dict__[self.full], obj.__dict__[self.compact] = packed.materialise(), None
        return obj.__dict__[self.full]

    def __set__(self, obj, value) -> None:
        packed = hasattr(value, "materialise")  # CodedEvents, assemble.HalfWaveforms
        obj.__dict__[self.compact] = value if packed else None
        obj.__dict__[self.full] = None if packed else value


# ``events`` is a dataclass field (the constructor takes it as before) read through a
# descriptor: ``detect`` hands over the event table with its text columns as codes
# (issue 14: 23 instead of 67 MB for a day), ``to_tsv`` and ``summary`` read that, and
# the EVENT_DTYPE array is built the first time ``events`` is read.
# ``waveforms`` likewise: float16 snippets in noise units until read (issue 14: the
# float32 sample of a day is 39 MB), then the float32 array (same values).
DetectionResult.waveforms = _BuiltOnRead(
    "_waveforms", "_half_waveforms",
    doc="The stored waveforms (float32, V); see the class docstring.")
DetectionResult.events = _BuiltOnRead(
    "_events", "_coded",
    doc="The event table (structured, :data:`fascidetect.events.EVENT_DTYPE`); see the "
        "class docstring.")


SURFACE_LIMITS = (
    "Surface EMG cannot assess fibrillation potentials or positive sharp waves (needle "
    "only), cannot see red flags such as bladder or bowel dysfunction or saddle anaesthesia, "
    "and cannot diagnose a disc herniation (MRI does). Root patterns are 'consistent with', "
    "never diagnostic."
)


NEEDLE_LIMITS = (
    "This is needle EMG: fascidetect counts spontaneous motor-unit discharges, it does not "
    "detect fibrillation potentials or positive sharp waves, cannot see red flags such as "
    "bladder or bowel dysfunction or saddle anaesthesia, and cannot diagnose a disc "
    "herniation (MRI does). Root patterns are 'consistent with', never diagnostic."
)


def limits_for(params) -> str:
    """Return the statement of what the recording cannot assess (surface or needle)."""
    return NEEDLE_LIMITS if getattr(params, "electrode", "surface") == "needle" else SURFACE_LIMITS


def _version() -> str:
    from ._version import __version__

    return __version__


def _json_safe(obj):
    """Return *obj* with every non-finite float (anywhere in it) replaced by None."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return _num(obj)


def _num(value):
    """Return a JSON-safe number (NaN/inf -> None; numpy scalars -> Python)."""
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
