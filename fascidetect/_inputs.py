"""Turn what a user passes to :func:`fascidetect.detect` into a :class:`Recording`."""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import InputError, ParameterError
from .recording import Recording


def as_recording(source, sfreq, ch_names, emg_channels, units=None) -> Recording:
    """Return a Recording from any supported source.

    Parameters
    ----------
    source : Recording | mne.io.Raw | path-like | array_like
        An array is ``(n_channels, n_samples)``; a 1-D array is one channel.
    sfreq : float | None
        Sampling rate of array input (and of CSV/NPY files).
    ch_names : list of str | None
        Channel names of array input.
    emg_channels : list of str | None
        Channels to analyse; the others are kept as ``misc``.
    units : {"V", "mV", "uV", "nV"} | None
        Unit of array values (default volts) and of CSV/NPY files (default guessed).
        Array input whose amplitudes are implausible for the stated or assumed unit gets a
        :class:`~fascidetect.FascidetectWarning` naming the likely unit. A Recording or an
        MNE Raw is already in volts, so ``units`` must be left out for them.
    """
    if isinstance(source, Recording) or (hasattr(source, "info") and hasattr(source, "get_data")):
        if units is not None:
            raise ParameterError(f"units={units!r} applies to array input and CSV/NPY files; "
                                 f"a {type(source).__name__} is already in volts")
    if isinstance(source, Recording):
        rec = source
    elif isinstance(source, (np.ndarray, list, tuple)):  # a list is never a path
        rec = _array_recording(source, sfreq, ch_names, units)
    elif hasattr(source, "info") and hasattr(source, "get_data"):
        rec = Recording.from_raw(source, emg_channels=emg_channels)
        emg_channels = None
    else:
        from .io import read

        rec = read(source, sfreq=sfreq, emg_channels=emg_channels, units=units)
        emg_channels = None
    if emg_channels is not None:
        missing = [c for c in emg_channels if c not in rec.ch_names]
        if missing:
            raise ParameterError(f"channel(s) {missing} not in {rec.source or 'the recording'}; "
                                 f"available: {rec.ch_names}")
        rec = dataclasses.replace(rec, ch_types=["emg" if c in emg_channels else
                                                 ("misc" if t == "emg" else t)
                                                 for c, t in zip(rec.ch_names, rec.ch_types)])
    return rec


def _array_recording(source, sfreq, ch_names, units) -> Recording:
    """Return a Recording (volts) of an ``(n_channels, n_samples)`` array in *units*."""
    from .errors import BadSamplesError, EmptyRecordingError
    from .io._arrays import as_float_samples, implausible_units_message, unit_scale

    if sfreq is None:
        raise ParameterError("array input needs its sampling rate: detect(x, sfreq=...)")
    data, notes = as_float_samples(source, "array input", InputError)
    data = np.atleast_2d(data)
    if data.ndim != 2:
        raise InputError(f"array input of shape {data.shape}: detect expects a 2-D array "
                         "(n_channels, n_samples) or one channel's 1-D samples")
    if data.size == 0:
        raise EmptyRecordingError(f"array input of shape {data.shape} holds no samples")
    if not np.isfinite(data).any():
        raise BadSamplesError(f"array input of shape {data.shape}: every sample is NaN or "
                              "infinite")
    if data.shape[0] > data.shape[1]:
        # No recording has more channels than samples: this is samples x channels.
        raise InputError(f"array of shape {data.shape} looks like (n_samples, n_channels); "
                         f"detect expects (n_channels, n_samples): pass the array transposed "
                         f"(x.T, shape {data.shape[::-1]})")
    scale, key = unit_scale("V" if units is None else units)
    # detect() warns with every note of the recording, so the note is not warned here.
    message = implausible_units_message(data, key, "array input", assumed=units is None)
    notes += [message] if message else []
    names = list(ch_names) if ch_names is not None else [f"EMG{i + 1}" for i in range(len(data))]
    return Recording(data * scale if scale != 1.0 else data, sfreq, names, ["emg"] * len(names),
                     metadata={"units": key if units is not None else "V (assumed)"},
                     warnings=notes)
