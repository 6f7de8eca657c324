"""Checks every reader's Recording goes through: explicit EMG picks, empty data, NaNs."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import BadSamplesError, EmptyRecordingError, InputError
from ..recording import Recording


def finish(rec: Recording, emg_channels=None) -> Recording:
    """Apply an explicit EMG channel choice and refuse recordings that cannot be analysed.

    Raises
    ------
    InputError
        If a named channel is not in the recording.
    EmptyRecordingError
        If there are no samples.
    BadSamplesError
        If every sample of every EMG channel is NaN/inf (loaded recordings only).
    """
    where = f"'{rec.source}'" if rec.source else "the recording"
    if emg_channels is not None:
        missing = [c for c in emg_channels if c not in rec.ch_names]
        if missing:
            raise InputError(f"{where}: channel(s) {missing} not found; available: {rec.ch_names}")
        rec = dataclasses.replace(rec, ch_types=[
            "emg" if c in emg_channels else ("misc" if t == "emg" else t)
            for c, t in zip(rec.ch_names, rec.ch_types)])
    if rec.n_samples == 0 or rec.n_channels == 0:
        raise EmptyRecordingError(f"{where}: no samples")
    picks = rec.emg_picks
    if rec.data is not None and picks.size:
        finite = np.isfinite(rec.data[picks])
        if not finite.any():
            raise BadSamplesError(f"{where}: every EMG sample is NaN or infinite")
        share = 1.0 - finite.mean(axis=1)
        for k in np.flatnonzero(share > 0):
            rec.warnings.append(f"channel {rec.ch_names[picks[k]]}: {100 * share[k]:.2f} % of "
                                "samples are NaN/inf (excluded from analysis)")
    return rec
