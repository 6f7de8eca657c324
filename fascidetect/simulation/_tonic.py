"""Tonic (postural) firing: a few motor units discharging steadily near the noise floor.

A muscle that has not quite relaxed holds one to three units firing regularly at about
6-20 Hz (interval CV 0.1-0.3) for seconds to minutes; nobody annotates it. These
discharges are voluntary activity, not fasciculations, however sparse the detector's view
of them may be when they barely clear the noise.
"""

from __future__ import annotations

import numpy as np

from ..events import empty_events
from ._firing import _operational_time_train
from ._ranges import _draw, _draw_int
from ._truth import _join, _reference_noise
from ._units import _discharge_rows
from ._waveforms import _make_unit

#: Time step of the rate grid a unit's train is drawn on (s).
_RATE_GRID_S = 1e-3
#: Range of the slow wander of a tonic unit's rate (Hz): breathing, posture.
_WANDER_HZ = (0.05, 0.3)


def _tonic(rng, sp, montage, renderer, stretches, noise, first_unit: int):
    """Return (buffer, truth rows) of the tonic stretches ``[(start, stop), ...]``.

    Truth holds one ``voluntary`` row per stretch (reason ``tonic_firing``; channels seen,
    mean rate, RMS on the main channel) and one ``voluntary`` row per discharge with its unit id, counted from
    ``first_unit`` so that ids never clash with fasciculating units.
    """
    buf = renderer.new_buffer()
    hosts = montage.channels_for(sp.tonic_muscles)
    floor = _reference_noise(noise)
    discharge_parts, stretch_info = [], []
    unit_id = first_unit
    for s, e in stretches:  # a loop over a few stretches
        n_units = _draw_int(rng, sp.tonic_n_units)
        extent = max(1, _draw_int(rng, sp.tonic_extent_ch))
        if montage.grid:
            rows_, cols_ = montage.pos.max(axis=0) + 1
            c_r, c_c = rng.uniform(0, rows_ - 1), rng.uniform(0, cols_ - 1)
            half = (extent - 1) / 2
            centres = np.column_stack([
                np.clip(c_r + rng.uniform(-half, half, n_units), 0, rows_ - 1),
                np.clip(c_c + rng.uniform(-half, half, n_units), 0, cols_ - 1)])
        else:
            first = rng.integers(0, max(1, hosts.size - extent + 1))
            centres = montage.pos[rng.choice(hosts[first:first + extent], n_units)]
        dur = e - s
        rates, strongest = [], (-1.0, 0)
        parts_here = []
        for i in range(n_units):  # a loop over the stretch's one to three units
            unit = _make_unit(rng, renderer, montage, centres[i], _draw(rng, sp.tonic_spread),
                              _draw(rng, sp.tonic_duration_ms), 1.0)
            main_ch = int(unit.chans[unit.main])
            # Scale the rendered potential (mean over sub-sample phases) so its peak, half
            # its p2p as in the truth's snr, is tonic_snr x the channel's noise.
            p2p = renderer.features(unit)[0][:, unit.main]
            snr = _draw(rng, sp.tonic_snr)
            scale = snr * floor[main_ch] / max(float(np.mean(p2p)) / 2, 1e-12)
            on = s + dur * rng.uniform(0, sp.tonic_stagger)
            off = e - dur * rng.uniform(0, sp.tonic_stagger)
            t = np.arange(0.0, off - on, _RATE_GRID_S)
            base = _draw(rng, sp.tonic_rate_hz)
            wander = 1 + sp.tonic_rate_wander * np.sin(
                2 * np.pi * rng.uniform(*_WANDER_HZ) * t + rng.uniform(0, 2 * np.pi))
            times = on + _operational_time_train(rng, t, base * wander, _draw(rng, sp.tonic_cv))
            amps = scale * (1.0 + sp.fasc_jitter * rng.standard_normal(times.size))
            if times.size == 0:
                continue
            renderer.place(buf, unit, times, amps)
            rows = _discharge_rows(renderer, unit, times, amps, unit_id, montage, noise, sp,
                                   trial_type="voluntary")
            parts_here.append(rows)
            unit_id += 1
            if times.size >= 2:
                rates.append((times.size - 1) / (times[-1] - times[0]))
            if snr > strongest[0]:
                strongest = (snr, main_ch)
        discharge_parts += parts_here
        stretch_info.append((s, e, strongest[1], parts_here, rates))
    sig = renderer.trim(buf)
    rows = [_stretch_row(sig, renderer.sfreq, montage, *info) for info in stretch_info]
    truth = np.concatenate(rows + discharge_parts) if rows else empty_events(0)
    return sig, truth


def _stretch_row(sig, sfreq, montage, start, stop, main_ch, parts, rates):
    """Return the ``voluntary`` row of one tonic stretch."""
    row = empty_events(1)
    row["trial_type"] = "voluntary"
    # Marks the row as the stretch's summary: it spans the stretch as placed, its units
    # starting and stopping up to tonic_stagger of it inside, so it is no episode of
    # activity for the evaluator (its units' discharges say when a channel is active).
    row["reason"] = "tonic_firing"
    row["onset"], row["duration"] = start, stop - start
    row["duration_ms"] = (stop - start) * 1000.0
    row["peak_time"] = start
    row["channel"] = montage.names[main_ch]
    seen = {c for part in parts for chans in part["channels"] for c in chans.split(",") if c}
    row["channels"] = _join(montage.names, [n in seen or i == main_ch
                                            for i, n in enumerate(montage.names)])
    a, b = int(round(start * sfreq)), int(round(stop * sfreq))
    row["rms_uv"] = float(np.sqrt(np.mean(sig[main_ch, a:b] ** 2)))
    row["firing_rate_hz"] = float(np.mean(rates)) if rates else np.nan
    return row
