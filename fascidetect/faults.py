"""Faulty channels and stretches: found, named in a warning, and left out so that the
healthy channels and the healthy time keep the answer they would have alone.

A channel with no signal (constant, railed, all NaN) is not analysed; a NaN or flat
stretch of one channel costs that channel its time only; a stretch lost on every
channel at once is a gap of the recording (a bad span for all).
"""

from __future__ import annotations

import numpy as np

from .errors import BadSamplesError
from .spans import in_spans, run_bounds


def channel_status(rec, names, sigma, params, warns) -> tuple[np.ndarray, np.ndarray]:
    """Return the noise floors (0 for channels without a signal) and each channel's
    status ('ok' or 'flat'); raise when no channel carries a signal.

    A constant or railed channel leaves floating-point residue after the band-pass, not
    an exact zero: floors under ``flat_max_sigma_uv`` are flat.
    """
    flat = sigma <= params.flat_max_sigma_uv * 1e-6
    sigma = np.where(flat, 0.0, sigma)
    status = np.where(flat, "flat", "ok").astype("U16")
    for name in np.asarray(names)[flat]:
        warns.append(f"channel {name} is flat (no signal: constant, railed or missing): "
                     "it is not analysed")
    if flat.all():
        # The recording's own notes (a unit that looks wrong, most of all) explain why.
        notes = "".join(f"; {w}" for w in rec.warnings)
        raise BadSamplesError(f"{rec.source or 'the recording'}: every EMG channel is flat "
                              f"(no signal on any channel){notes}")
    return sigma, status


#: Band-passed noise floors (robust sigma, V) that EMG amplifiers give: from a good
#: amplifier's 0.1 µV to a needle record's tens of µV (the real files here: 1.3-43 µV).
#: A median floor outside this band is a unit the file states wrongly.
PLAUSIBLE_FLOOR_V = (0.03e-6, 1e-3)


def unit_warning(rec, sigma) -> str | None:
    """Return a warning when the EMG noise floors say the file's unit is wrong, else None.

    A file in µV that declares mV scales every amplitude by 1000: the absolute limits (a
    fasciculation is at most 2 mV peak-to-peak) then turn every discharge into a 'large'
    artifact without another sign; declared too small, the amplitudes in the results are
    off by the factor. Arrays and CSV/NPY files are checked on their raw values as they
    are read (their ``metadata['units']`` is the unit used, a string).
    """
    if isinstance(rec.metadata.get("units"), str):
        return None
    floors = sigma[sigma > 0]
    if not floors.size:
        return None
    floor = float(np.median(floors))
    low, high = PLAUSIBLE_FLOOR_V
    if low <= floor <= high:
        return None
    # the power of 1000 that brings the floor nearest 3 µV, the middle of the band
    ratio = 1000.0 ** round(np.log10(floor / 3e-6) / 3)
    example = {1e3: "µV labelled mV, or mV labelled V", 1e6: "µV labelled V",
               1e-3: "mV labelled µV, or V labelled mV", 1e-6: "V labelled µV"}.get(ratio)
    size = f"{ratio:g} times too large" if ratio > 1 else f"{1 / ratio:g} times too small"
    where = f"'{rec.source}'" if rec.source else "the recording"
    return (f"{where}: the EMG noise floor is {floor * 1e6:.3g} µV (median over channels), "
            f"outside the {low * 1e6:g}-{high * 1e6:g} µV of EMG amplifiers: the samples "
            f"are probably read {size}, in another unit than the file states"
            + (f" ({example})" if example else "")
            + "; amplitudes, and the limits that tell fasciculations from artifacts, are off "
            "by that factor: fix the unit in the file (EDF: each signal's physical dimension)")


def scan_warnings(found, names, status, n_samples: int, sfreq: float, warns) -> None:
    """Add the scan's warnings (NaN stretches per channel, clipped channels) and mark
    clipped channels and channels without finite samples."""
    duration = n_samples / sfreq
    lost = found.nonfinite_s
    if lost.size and (lost > 0).all() and np.allclose(lost, lost[0]) and lost[0] < 0.99 * duration:
        warns.append(f"{lost[0]:.2f} s of NaN/inf (or beyond ±10 V) samples on every channel "
                     "were excluded from analysis")
        lost = np.zeros_like(lost)
    for i in np.flatnonzero(lost > 0):  # loop over faulty channels
        if lost[i] >= 0.99 * duration:
            status[i] = "flat"
            warns.append(f"channel {names[i]} has no usable samples (all NaN/inf or beyond "
                         "±10 V): it is not analysed")
        else:
            warns.append(f"channel {names[i]}: {lost[i]:.3g} s of NaN/inf (or beyond ±10 V) "
                         "samples were excluded from its analysis")
    clipped = (found.clipped_share > 1e-2) & (status == "ok")
    for i in np.flatnonzero(clipped):  # loop over clipped channels
        status[i] = "saturated"
        warns.append(f"channel {names[i]} is clipped/saturated (at its rail) in "
                     f"{100 * found.clipped_share[i]:.1f} % of 200-ms windows")


def channel_spans(found, flat_windows: np.ndarray, window_s: float, guard_s: float,
                  names, warns) -> dict:
    """Return, per channel, the spans lost on that channel only: its NaN stretches
    (widened by ``guard_s`` for the filter's edge) and its flat windows (those not in a
    gap of the whole recording, which is named once already)."""
    spans: dict = {c: [(a - guard_s, b + guard_s) for a, b in v]
                   for c, v in found.channel_bad_spans.items()}
    centres = (np.arange(flat_windows.shape[1]) + 0.5) * window_s
    flat_windows = flat_windows & ~in_spans(centres, found.bad_spans, margin=window_s)[None, :]
    for c in np.flatnonzero(flat_windows.any(axis=1)):  # loop over channels with dropouts
        starts, stops = run_bounds(flat_windows[c])
        lost = [(a * window_s, b * window_s) for a, b in zip(starts, stops)]
        spans.setdefault(int(c), []).extend(lost)
        total = sum(b - a for a, b in lost)
        if total < 0.99 * flat_windows.shape[1] * window_s:
            warns.append(f"channel {names[c]} carries no signal for {total:.0f} s (a dropout "
                         "or loose lead): that time is not counted as its rest")
    return spans
