"""From labelled candidates to the result: motor units of the fasciculations, with the
waveforms following their fasciculations' rows in the time-sorted event table."""

from __future__ import annotations

import numpy as np

from . import templates
from .scan import noise_unit


def motor_units(events, discharge_rows, cands, found, sigma, params, sfreq):
    """Return the fasciculations' waveforms (V), their rows among the events'
    fasciculations and the unit templates; set each fasciculation's ``unit``.

    Parameters
    ----------
    events : ndarray
        The event table, sorted by time
        (:func:`fascidetect.candidates.to_sorted_events`).
    discharge_rows : ndarray of int
        Row in ``events`` of each candidate not labelled ``excluded`` (candidate order).
    cands : Candidates
    found : fascidetect.scan.Scan
        Its waveform sample (``snippets``).
    sigma : ndarray
    params : DetectionParams
    sfreq : float

    Returns
    -------
    waveforms : ndarray of float32, shape (n_held, n_channels, n_snippet)
        In the order of the fasciculations in ``events``.
    waveform_rows : ndarray of int
        Rank of each waveform's fasciculation among the events' fasciculations.
    unit_templates : ndarray of float32
    """
    kept = np.flatnonzero(cands.label != "excluded")
    fasc = np.flatnonzero(events["trial_type"][discharge_rows] == "fasciculation")
    rows = cands.snip_row[kept[fasc]]
    held = rows >= 0
    waveforms = found.snippets[rows[held]].astype(np.float32)
    waveforms *= noise_unit(sigma)[None, :, None]  # in place: the sample is 39 MB when full
    if sfreq < params.shape_min_sfreq_hz:
        # A potential spans 1-4 samples here: snippets that short hold no waveform to
        # tell units apart by (noise and glitches would be grouped as one "unit").
        unit_templates = np.zeros((0,) + waveforms.shape[1:], np.float32)
    else:
        units, unit_templates = templates.assign_units(
            waveforms, cands.channel[kept[fasc]][held], sigma,
            min_discharges=params.min_unit_discharges)
        events["unit"][discharge_rows[fasc[held]]] = units
    # Fasciculations keep their relative order: their ranks among the sorted events' ones.
    is_fasc = np.zeros(len(events), dtype=bool)
    is_fasc[discharge_rows[fasc]] = True
    rank = np.cumsum(is_fasc) - 1
    moved = rank[discharge_rows[fasc]][np.flatnonzero(held)]
    del is_fasc, rank
    order = np.argsort(moved)
    _permute_rows(waveforms, order)
    return waveforms, moved[order], unit_templates


def _permute_rows(a: np.ndarray, order: np.ndarray) -> None:
    """Set ``a`` to ``a[order]`` in place, copying only the rows that move (the sorted
    order of discharges and events differs in a few rows: a full copy would hold the
    waveform sample twice)."""
    moving = np.flatnonzero(order != np.arange(order.size))
    if moving.size:
        a[moving] = a[order[moving]]
