"""From labelled candidates to the result: motor units of the fasciculations, and the
discharge and episode rows in time order with the waveforms following them."""

from __future__ import annotations

import numpy as np

from . import templates
from .events import sort_events
from .scan import noise_unit


def motor_units(events, cands, found, sigma, params, sfreq):
    """Return the fasciculations' waveforms (V), their rows among the events' fasciculations
    and the unit templates; set each fasciculation's ``unit``."""
    kept = np.flatnonzero(cands.label != "excluded")
    fasc = np.flatnonzero(events["trial_type"] == "fasciculation")
    rows = cands.snip_row[kept[fasc]]
    held = rows >= 0
    waveforms = found.snippets[rows[held]].astype(np.float32) * \
        noise_unit(sigma)[None, :, None]
    if sfreq < params.shape_min_sfreq_hz:
        # A potential spans 1-4 samples here: snippets that short hold no waveform to
        # tell units apart by (noise and glitches would be grouped as one "unit").
        return waveforms, np.flatnonzero(held), np.zeros((0,) + waveforms.shape[1:], np.float32)
    units, unit_templates = templates.assign_units(waveforms, cands.channel[kept[fasc]][held],
                                                   sigma, min_discharges=params.min_unit_discharges)
    events["unit"][fasc[held]] = units
    return waveforms, np.flatnonzero(held), unit_templates


def sorted_with_waveforms(events, episode_rows, waveforms, waveform_rows):
    """Return the discharge and episode rows sorted by time, with the waveforms following
    their fasciculations into that order (as :func:`sort_events` orders them)."""
    all_events = sort_events(np.concatenate([events, episode_rows]))
    fasc = events[events["trial_type"] == "fasciculation"]
    new_pos = np.empty(fasc.size, dtype=int)
    new_pos[np.lexsort((fasc["peak_time"], fasc["onset"]))] = np.arange(fasc.size)
    moved = new_pos[waveform_rows]
    order = np.argsort(moved)
    return all_events, waveforms[order], moved[order]
