"""Board faults seen in the stream: railed, flat or very noisy channels, missing samples.

A fault is noted when it has lasted ``persist_s`` and again when the channel recovers,
so a loose electrode gives two notes, not one per chunk. Dropped packets and stalls are
reported by the source and the session loop; they come here as :class:`Note` too.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: A band-passed sigma above this is no EMG at rest: a loose or lifted electrode (V).
NOISY_SIGMA_V = 2e-3
#: Below this every sample is the same: an open input or a channel switched off (V).
FLAT_PTP_V = 1e-9

_TEXT = {
    "railed": "railed (at the amplifier's limit): electrode off or saturated",
    "flat": "flat: no signal (input open or channel off)",
    "noisy": "very noisy (sigma > 2 mV): loose or lifted electrode",
    "missing": "missing samples (NaN) in the stream",
}


@dataclasses.dataclass
class Note:
    """A fault or stream note for the events file and the status line."""

    onset: float            # s from session start
    kind: str   # railed | flat | noisy | missing | recovered | dropped | stalled | resumed | read_error | analysis
    channel: str            # channel name, or "" for the whole stream
    text: str

    def __str__(self) -> str:
        where = f"{self.channel}: " if self.channel else ""
        return f"{self.onset:.1f} s {where}{self.text}"


class FaultMonitor:
    """Per-channel fault state from raw and causally filtered chunks.

    Parameters
    ----------
    sfreq : float
    names : list of str
    rail_v : float | None
        The amplifier's input limit in volts (Cyton: 0.1875 V at gain 24), when known.
    persist_s : float
        How long a fault must last before it is noted (and a recovery too).
    """

    def __init__(self, sfreq: float, names, rail_v: float | None = None, persist_s: float = 0.25):
        self.sfreq = float(sfreq)
        self.names = list(names)
        self.rail_v = rail_v
        self.persist = max(int(round(persist_s * sfreq)), 1)
        n = len(self.names)
        self.state = np.array([""] * n, dtype=object)      # the noted fault per channel
        self._candidate = np.array([""] * n, dtype=object)  # what the recent samples show
        self._run = np.zeros(n, dtype=int)                  # samples the candidate has lasted

    def check(self, raw: np.ndarray, filtered: np.ndarray, start_sample: int) -> list[Note]:
        """Return the notes that ``raw`` (volts, ``(n_channels, n)``) starting at
        ``start_sample`` gives; ``filtered`` is the same chunk causally band-passed."""
        n = raw.shape[1]
        if n == 0:
            return []
        kind = self._classify(raw, filtered)
        same = kind == self._candidate
        self._run = np.where(same, self._run + n, n)
        self._candidate = kind
        due = (self._run >= self.persist) & (kind != self.state)
        notes = []
        t = (start_sample + n) / self.sfreq
        for ch in np.flatnonzero(due):  # loop over channels changing state (rare)
            new = kind[ch]
            text = _TEXT[new] if new else f"recovered from {self.state[ch]}"
            notes.append(Note(t, new or "recovered", self.names[ch], text))
            self.state[ch] = new
        return notes

    def _classify(self, raw, filtered):
        missing = np.isnan(raw).mean(axis=1) > 0.5
        finite = np.nan_to_num(raw)
        ptp = np.ptp(finite, axis=1)
        kind = np.array([""] * raw.shape[0], dtype=object)
        if filtered.shape[1] >= 4:
            kind[np.std(filtered, axis=1) > NOISY_SIGMA_V] = "noisy"
        kind[ptp <= FLAT_PTP_V] = "flat"
        if self.rail_v:
            kind[(np.abs(finite) >= 0.99 * self.rail_v).mean(axis=1) > 0.2] = "railed"
        kind[missing] = "missing"
        return kind

    @property
    def faulty(self) -> np.ndarray:
        """Boolean per channel: a fault is noted and not yet recovered."""
        return self.state != ""
