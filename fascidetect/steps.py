"""Single steps of the pipeline, usable alone on an array, a Recording or an ``mne.io.Raw``.

Each runs the same code as :func:`fascidetect.detect` up to its step and returns plain
arrays, a small record or :class:`mne.Annotations`, the way MNE's ``find_ecg_events``
and ``annotate_muscle_zscore`` do. Arrays are ``(n_channels, n_samples)`` in volts and
need ``sfreq``.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from . import episodes, faults, neighbours, preprocessing, rest, scan
from ._inputs import as_recording
from ._timing import Stopwatch
from .blocks import Geometry
from .ecg import beat_samples
from .errors import FascidetectWarning
from .params import DetectionParams
from .spans import in_channel_spans, in_spans
from .stages.artifacts import artifact_evidence

__all__ = ["find_discharges", "find_sustained_activity", "find_heart_beats", "fit_power_line"]

#: Columns of :func:`find_discharges`.
DISCHARGE_DTYPE = np.dtype([("time_s", "f8"), ("sample", "i8"), ("channel", "O"),
                            ("amplitude_v", "f8"), ("snr", "f8"), ("n_channels", "i4")])


@dataclasses.dataclass
class _Prepared:
    rec: object
    picks: np.ndarray
    names: list
    params: DetectionParams
    geometry: Geometry
    line: preprocessing.LineNoise
    prep: preprocessing.Preprocessor
    sigma: np.ndarray
    floor_shape: rest.FloorShape


def _prepare(data, sfreq, params, overrides) -> _Prepared:
    params = DetectionParams.from_kwargs(params, **overrides)
    rec = as_recording(data, sfreq, None, None)
    picks = rec.emg_picks if rec.emg_picks.size else np.arange(rec.n_channels)
    band = params.band_for(rec.sfreq)
    geometry = Geometry.build(rec.sfreq, params, picks.size)
    line, prep, sigma, floor_shape = scan.noise_and_line(rec, picks, params, band, geometry)
    names = [rec.ch_names[i] for i in picks]
    warns = list(rec.warnings)
    sigma, _ = faults.channel_status(rec, names, sigma, params, warns)  # as detect does
    for w in warns:
        warnings.warn(w, FascidetectWarning, stacklevel=3)
    return _Prepared(rec, picks, [rec.ch_names[i] for i in picks], params, geometry, line,
                     prep, sigma, floor_shape)


def _scan(p: _Prepared):
    return scan.scan(p.rec, p.picks, p.prep, p.sigma, p.params, p.geometry,
                     p.params.band_for(p.rec.sfreq), Stopwatch(), floor_shape=p.floor_shape,
                     neighbourhood=neighbours.build(p.names, p.params))


def find_discharges(data, sfreq: float | None = None, *, params: DetectionParams | None = None,
                    **overrides) -> np.ndarray:
    """Return every candidate motor-unit discharge above the threshold, unclassified.

    Band-pass, hum removal, local noise and peak finding as in :func:`fascidetect.detect`
    (greatest peak per dead time, echoes suppressed, peaks on several channels merged),
    without deciding what the discharges are.

    Parameters
    ----------
    data : ndarray, Recording or mne.io.Raw
        ``(n_channels, n_samples)`` in volts for arrays.
    sfreq : float | None
        Sampling rate of array input, Hz.
    params : DetectionParams | None
    **overrides
        Any :class:`DetectionParams` field, e.g. ``threshold_sigma=4.5``.

    Returns
    -------
    ndarray (structured)
        ``time_s``, ``sample``, ``channel`` (name of the largest), ``amplitude_v`` (signed
        band-passed peak), ``snr`` (peak over local noise sigma), ``n_channels`` (channels
        it is seen on), sorted by time.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fs = 2000.0
    >>> x = 3e-6 * rng.standard_normal((1, int(10 * fs)))
    >>> t = np.arange(-20, 21) / fs
    >>> spike = 100e-6 * np.exp(-(t / 2e-3) ** 2) * np.sin(2 * np.pi * 80 * t)
    >>> for s in (2.0, 5.0, 8.0):
    ...     x[0, int(s * fs) - 20:int(s * fs) + 21] += spike
    >>> found = find_discharges(x, sfreq=fs)
    >>> np.round(found["time_s"], 2).tolist()
    [2.0, 5.0, 8.0]
    """
    p = _prepare(data, sfreq, params, overrides)
    found = _scan(p)
    cands = found.candidates
    # Nothing is found where samples are missing (NaN, or beyond +-10 V), as in detect.
    t = cands.times(p.rec.sfreq)
    guard = p.params.edge_guard_s
    keep = ~(in_spans(t, found.bad_spans, margin=guard)
             | in_channel_spans(t, cands.channel, found.channel_bad_spans, margin=guard))
    cands = cands.select(keep)
    out = np.zeros(len(cands), dtype=DISCHARGE_DTYPE)
    out["time_s"] = cands.times(p.rec.sfreq)
    out["sample"] = cands.sample
    out["channel"] = np.asarray(p.names, dtype=object)[cands.channel] if len(cands) else []
    out["amplitude_v"] = cands.amplitude
    out["snr"] = cands.snr
    out["n_channels"] = cands.spread
    return out[np.argsort(out["time_s"], kind="stable")]


def find_sustained_activity(data, sfreq: float | None = None, *,
                            params: DetectionParams | None = None, **overrides):
    """Return sustained activity (spasm or voluntary episodes) as ``mne.Annotations``.

    A stretch of at least ``spasm_min_duration_s`` in which at least ``activity_fraction``
    of the 25-ms RMS sub-windows exceed ``activity_sigma`` noise sigmas is sustained; on
    several channels it is a ``spasm``, on one a ``voluntary`` episode.

    Parameters
    ----------
    data : ndarray, Recording or mne.io.Raw
    sfreq : float | None
    params : DetectionParams | None
    **overrides

    Returns
    -------
    mne.Annotations
        Description ``spasm`` or ``voluntary``, onset and duration in s, ``ch_names``
        the channels involved.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> fs = 2000.0
    >>> x = 3e-6 * rng.standard_normal((2, int(20 * fs)))
    >>> x[:, int(8 * fs):int(11 * fs)] += 60e-6 * rng.standard_normal((2, int(3 * fs)))
    >>> ann = find_sustained_activity(x, sfreq=fs)
    >>> list(ann.description), round(float(ann.onset[0])), round(float(ann.duration[0]))
    (['spasm'], 8, 3)
    """
    import mne

    p = _prepare(data, sfreq, params, overrides)
    found = _scan(p)
    rows, _ = episodes.find_episodes(found, p.sigma, p.names, p.params, p.geometry,
                                     p.rec.sfreq, [])
    return mne.Annotations(onset=rows["onset"], duration=rows["duration"],
                           description=list(rows["trial_type"]),
                           ch_names=[tuple(c.split(",")) for c in rows["channels"]])


def find_heart_beats(data, sfreq: float | None = None, *, params: DetectionParams | None = None,
                     **overrides) -> np.ndarray:
    """Return the times (s) of heart beats seen in the EMG, empty when there is no rhythm.

    Discharges recurring at heart-rate intervals (``ecg_rr_range_s``) on many channels,
    or in a longer regular chain on one, covering at least ``ecg_min_coverage`` of the
    beats their rhythm implies, are ECG; each beat is timed by its largest discharge.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> fs = 1000.0
    >>> x = 3e-6 * rng.standard_normal((3, int(30 * fs)))
    >>> t = np.arange(-30, 31) / fs
    >>> qrs = 80e-6 * np.exp(-(t / 8e-3) ** 2) * np.cos(2 * np.pi * 25 * t)
    >>> for b in np.arange(1.0, 29.0, 0.8):
    ...     x[:, int(b * fs) - 30:int(b * fs) + 31] += qrs
    >>> beats = find_heart_beats(x, sfreq=fs)
    >>> len(beats) >= 30, round(float(np.median(np.diff(beats))), 1)
    (True, 0.8)
    """
    p = _prepare(data, sfreq, params, overrides)
    cands = _scan(p).candidates
    kind = artifact_evidence(cands, len(p.names), p.rec.sfreq, p.params,
                             neighbourhood=neighbours.build(p.names, p.params))
    beats = beat_samples(cands.sample, cands.snr, kind == "ecg",
                         int(p.params.ecg_beat_s * p.rec.sfreq))
    return np.sort(beats) / p.rec.sfreq


def fit_power_line(data, sfreq: float | None = None, *, params: DetectionParams | None = None,
                   **overrides) -> tuple[np.ndarray, preprocessing.LineNoise]:
    """Return the band-passed signal with power-line hum removed, and the hum found.

    50 vs 60 Hz is found in the spectrum and refined to the exact frequency; where it
    stands out (``line_ratio_db``), sinusoids at the fundamental and its prominent
    harmonics are fitted and subtracted in 1-s windows with discharges masked out of the
    fit (no notch ringing after large discharges).

    Returns
    -------
    filtered : ndarray, shape (n_channels, n_samples)
        Band-passed, hum-free signal of the analysed channels, V.
    line : LineNoise
        ``freq_hz`` (None without hum), ``notch_hz`` (the frequencies removed), ...

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> fs = 1000.0
    >>> tt = np.arange(int(10 * fs)) / fs
    >>> x = 3e-6 * rng.standard_normal((1, tt.size)) + 40e-6 * np.sin(2 * np.pi * 50.1 * tt)
    >>> clean, line = fit_power_line(x, sfreq=fs)
    >>> round(line.freq_hz), bool(clean[:, 1000:-1000].std() < 4e-6)
    (50, True)
    """
    p = _prepare(data, sfreq, params, overrides)
    return scan.read_filtered(p.rec, p.picks, p.prep, 0, p.rec.n_samples, p.geometry), p.line
