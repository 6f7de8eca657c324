"""From labelled candidates to the result: motor units of the fasciculations, with the
waveforms following their fasciculations' rows in the time-sorted event table."""

from __future__ import annotations

import dataclasses

import numpy as np

from . import templates
from .events import column_equals
from .scan import noise_unit

#: Snippets converted to float32 at a time (a fancy-indexed float16 copy of the whole
#: sample would sit beside the float32 waveforms).
_SLICE = 2000


@dataclasses.dataclass
class HeldWaveforms:
    """The fasciculations whose snippets the scan held, in candidate order.

    Attributes
    ----------
    waveforms : ndarray of float32, shape (n_held, n_channels, n_snippet)
        Their multichannel snippets, V.
    discharge : ndarray of int
        Index of each among the candidates not labelled ``excluded`` (the discharges
        of the event table).
    channel : ndarray of int
        Main channel of each.
    """

    waveforms: np.ndarray
    discharge: np.ndarray
    channel: np.ndarray


def held_fasciculations(cands, snippets, sigma) -> HeldWaveforms:
    """Return the waveforms (V) of the labelled fasciculations among ``cands`` whose
    snippets are held.

    Only this is needed of the scan to build the motor units, so it can go before the
    event table is made (issue 14: the scan's float16 sample is 20 MB when full).

    Parameters
    ----------
    cands : Candidates
        Labelled by the stages.
    snippets : ndarray of float16
        The scan's waveform sample (:attr:`fascidetect.scan.Scan.snippets`).
    sigma : ndarray
    """
    kept = np.flatnonzero(cands.label != "excluded")
    # The event table's trial_type of a discharge is its label.
    fasc = np.flatnonzero(cands.label[kept] == "fasciculation")
    rows = cands.snip_row[kept[fasc]]
    held = np.flatnonzero(rows >= 0)
    waveforms = np.empty((held.size,) + snippets.shape[1:], dtype=np.float32)
    for start in range(0, held.size, _SLICE):  # loop over slices
        waveforms[start:start + _SLICE] = snippets[rows[held[start:start + _SLICE]]]
    waveforms *= noise_unit(sigma)[None, :, None]  # in place: the sample is 39 MB when full
    return HeldWaveforms(waveforms=waveforms, discharge=fasc[held],
                         channel=cands.channel[kept[fasc]][held])


def motor_units(events, discharge_rows, held: HeldWaveforms, sigma, params, sfreq):
    """Return the fasciculations' waveforms (V), their rows among the events'
    fasciculations and the unit templates; set each fasciculation's ``unit``.

    Parameters
    ----------
    events : CodedEvents | ndarray
        The event table, sorted by time
        (:func:`fascidetect.candidates.to_sorted_events`); its ``unit`` column is set.
    discharge_rows : ndarray of int
        Row in ``events`` of each candidate not labelled ``excluded`` (candidate order).
    held : HeldWaveforms
        From :func:`held_fasciculations`; its waveforms are reordered in place.
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
    waveforms = held.waveforms
    event_rows = discharge_rows[held.discharge]
    if sfreq < params.shape_min_sfreq_hz:
        # A potential spans 1-4 samples here: snippets that short hold no waveform to
        # tell units apart by (noise and glitches would be grouped as one "unit").
        unit_templates = np.zeros((0,) + waveforms.shape[1:], np.float32)
    else:
        units, unit_templates = templates.assign_units(
            waveforms, held.channel, sigma, min_discharges=params.min_unit_discharges)
        events["unit"][event_rows] = units
    # Fasciculations keep their relative order: their ranks among the sorted events' ones.
    rank = np.cumsum(column_equals(events, "trial_type", "fasciculation")) - 1
    moved = rank[event_rows]
    del rank
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
