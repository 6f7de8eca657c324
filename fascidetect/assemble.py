"""From labelled candidates to the result: motor units of the fasciculations, with the
waveforms following their fasciculations' rows in the time-sorted event table."""

from __future__ import annotations

import dataclasses

import numpy as np

from . import templates
from ._spill import RowSpill
from .events import CodedEvents, column_equals
from .scan import noise_unit

#: Snippets converted to float32 at a time (a fancy-indexed float16 copy of the whole
#: sample would sit beside the float32 waveforms).
_SLICE = 2000
#: Waveform samples up to this size stay in memory: a spill's temporary file stays open
#: as long as the result holds it, and a script keeping the results of a few hundred
#: short recordings ran out of file descriptors (open() failed with EMFILE).
_SPILL_MIN_BYTES = 2 ** 20


class HalfWaveforms:
    """Waveforms (V) held as the scan's float16 snippets in noise units and each
    channel's unit (float32): indexing returns float32 volts, ``float16 -> float32``
    times the unit, as the float32 waveforms were computed (the same bits).

    The float32 sample of a day-long recording is 39 MB at its cap, this half of it
    (issue 14); :class:`~fascidetect.results.DetectionResult` builds the float32 array
    the first time its ``waveforms`` are read.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, data, unit: np.ndarray):
        # float16, (n, n_channels, n_samples): an array, or a _spill.RowSpill (a day's
        # 20 MB in a temporary file until read, issue 14)
        self.data = data
        self.unit = np.asarray(unit, dtype=np.float32)
        self._order = None  # row i is data[_order[i]] once reordered (a spill)

    @property
    def shape(self) -> tuple:
        return (len(self),) + tuple(self.data.shape[1:])

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        return self.data.shape[0] if self._order is None else self._order.size

    def __getitem__(self, key) -> np.ndarray:
        """``waveforms[key]`` of the float32 array (rows are taken first, then scaled)."""
        if not isinstance(key, tuple):
            key = (key,)
        rows = self.data[key[0] if self._order is None else self._order[key[0]]]
        if rows.ndim < self.data.ndim:  # one row
            return (rows.astype(np.float32) * self.unit[:, None])[key[1:]]
        return (rows.astype(np.float32) * self.unit[None, :, None])[(slice(None),) + key[1:]]

    def reorder(self, order: np.ndarray) -> None:
        """Set the rows to ``self[order]`` (in place in an array; a spill is not
        rewritten, its rows are read through ``order``)."""
        if isinstance(self.data, np.ndarray) and self._order is None:
            _permute_rows(self.data, order)
        else:
            self._order = order if self._order is None else self._order[order]

    def materialise(self) -> np.ndarray:
        """Return the float32 waveforms (V), built a slice at a time."""
        out = np.empty(self.shape, dtype=np.float32)
        for start in range(0, len(self), _SLICE):  # loop over slices
            out[start:start + _SLICE] = self[start:start + _SLICE]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.materialise()
        return out if dtype is None else out.astype(dtype, copy=False)


@dataclasses.dataclass
class HeldWaveforms:
    """The fasciculations whose snippets the scan held, in candidate order.

    Attributes
    ----------
    waveforms : HalfWaveforms, shape (n_held, n_channels, n_snippet)
        Their multichannel snippets, V (float16 in noise units until read).
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
    snippets : ndarray or RowSpill of float16
        The scan's waveform sample (:attr:`fascidetect.scan.Scan.snippets`).
    sigma : ndarray
    """
    kept = np.flatnonzero(cands.label != "excluded")
    # The event table's trial_type of a discharge is its label.
    fasc = np.flatnonzero(cands.label[kept] == "fasciculation")
    rows = cands.snip_row[kept[fasc]]
    held = np.flatnonzero(rows >= 0)
    # In a temporary file (issue 14: 20 MB for a day), read back by the motor units'
    # slices and when the result's waveforms are first read; a small sample in memory.
    row_bytes = int(np.prod(snippets.shape[1:])) * np.dtype(snippets.dtype).itemsize
    if held.size * row_bytes > _SPILL_MIN_BYTES:
        waveforms = RowSpill(snippets.shape[1:], snippets.dtype)
        for start in range(0, held.size, _SLICE):  # loop over slices
            waveforms.append(snippets[rows[held[start:start + _SLICE]]])
    else:
        waveforms = np.empty((held.size,) + tuple(snippets.shape[1:]), dtype=snippets.dtype)
        for start in range(0, held.size, _SLICE):  # loop over slices
            waveforms[start:start + _SLICE] = snippets[rows[held[start:start + _SLICE]]]
    # Scaled to volts (float32) when read: the float32 sample is 39 MB when full.
    return HeldWaveforms(waveforms=HalfWaveforms(waveforms, noise_unit(sigma)),
                         discharge=fasc[held],
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
    waveforms : HalfWaveforms, shape (n_held, n_channels, n_snippet)
        In the order of the fasciculations in ``events`` (float32 volts when indexed).
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
        if isinstance(events, CodedEvents):
            events.put("unit", event_rows, units)  # a spilled column is read and written back
        else:
            events["unit"][event_rows] = units
    # Fasciculations keep their relative order: their ranks among the sorted events' ones.
    rank = np.cumsum(column_equals(events, "trial_type", "fasciculation")) - 1
    moved = rank[event_rows]
    del rank
    order = np.argsort(moved)
    if isinstance(waveforms, HalfWaveforms):
        waveforms.reorder(order)
    else:
        _permute_rows(waveforms, order)
    return waveforms, moved[order], unit_templates


def _permute_rows(a: np.ndarray, order: np.ndarray) -> None:
    """Set ``a`` to ``a[order]`` in place, copying only the rows that move (the sorted
    order of discharges and events differs in a few rows: a full copy would hold the
    waveform sample twice)."""
    moving = np.flatnonzero(order != np.arange(order.size))
    if moving.size:
        a[moving] = a[order[moving]]
