"""Turn what a user passes to :func:`fascidetect.detect` into a :class:`Recording`."""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import ParameterError
from .recording import Recording


def as_recording(source, sfreq, ch_names, emg_channels) -> Recording:
    """Return a Recording from any supported source."""
    if isinstance(source, Recording):
        rec = source
    elif isinstance(source, np.ndarray) or (isinstance(source, (list, tuple))
                                            and np.ndim(source) in (1, 2)):
        data = np.atleast_2d(np.asarray(source, dtype=float))
        if sfreq is None:
            raise ParameterError("array input needs its sampling rate: detect(x, sfreq=...)")
        names = list(ch_names) if ch_names is not None else [f"EMG{i + 1}" for i in range(len(data))]
        rec = Recording(data, sfreq, names, ["emg"] * len(names))
    elif hasattr(source, "info") and hasattr(source, "get_data"):
        rec = Recording.from_raw(source, emg_channels=emg_channels)
        emg_channels = None
    else:
        from .io import read

        rec = read(source, sfreq=sfreq, emg_channels=emg_channels)
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
