"""From labelled candidates to the result: motor units of the fasciculations, and the
discharge and episode rows in time order with the waveforms following them."""

from __future__ import annotations

import numpy as np

from . import templates
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
    their fasciculations into that order (as :func:`fascidetect.events.sort_events` orders them).

    The rows are put straight into their sorted places: a concatenation and a sorted copy
    of it would hold the table three times (266 bytes per row).
    """
    n = len(events)
    onset = np.concatenate([events["onset"], episode_rows["onset"]])
    peak = np.concatenate([events["peak_time"], episode_rows["peak_time"]])
    order = np.lexsort((peak, onset))  # as sort_events orders the concatenation
    place = np.empty(order.size, dtype=np.int64)
    place[order] = np.arange(order.size)
    del onset, peak, order
    all_events = np.empty(place.size, dtype=events.dtype)
    all_events[place[:n]] = events
    all_events[place[n:]] = episode_rows
    # Fasciculations keep their relative order: their ranks among the sorted events' ones.
    fasc = events["trial_type"] == "fasciculation"
    is_fasc = np.zeros(place.size, dtype=bool)
    is_fasc[place[:n][fasc]] = True
    rank = np.cumsum(is_fasc) - 1
    moved = rank[place[:n][fasc]][waveform_rows]
    order = np.argsort(moved)
    return all_events, waveforms[order], moved[order]
