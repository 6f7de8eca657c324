"""Support peaks: the sub-threshold peaks that fill in a small unit's missed discharges
for the train test.

A voluntary or postural unit 3-5 times the noise crosses the 5-sigma threshold on only
some of its discharges (about half at 3.6 sigma), so the train of its detected
discharges has gaps too long and too many to pass :func:`fascidetect.firing_pattern.
regular_trains`, and every detected one is reported as a fasciculation (simulator tonic
row, tuning seed 15: 50 in 20 s of one 6.5-Hz unit). The scan also keeps the peaks of
each channel above ``tonic_support_sigma`` (same dead time, echo and phase rules, applied
to each polarity apart with ``tonic_support_each_polarity``, so that both phases of a
biphasic discharge are kept) near a small candidate; the tonic stage walks trains through
candidates and these peaks together, per channel and polarity, and labels only
candidates.

Noise peaks at 3 sigma (3-4 per second and channel) are kept only within
:data:`NEAR_S` of a candidate under ``tonic_support_max_sigma`` on their channel: a
rest recording keeps a few per fasciculation, a day of tonic firing at most all of them
(about 11 bytes a peak).
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from . import detection

#: Peaks are kept this close to a small candidate on their channel, s: a filled-in
#: train of ``tonic_support_min_intervals`` steps at the slowest band (5 Hz) lasts 1.6 s.
NEAR_S = 3.0


@dataclasses.dataclass
class SupportPeaks:
    """Sub-threshold peaks kept for the train test.

    Attributes
    ----------
    channel : ndarray of int16
        Channel (index into the analysed channels).
    sample : ndarray of int64
        Peak sample from the recording's start.
    positive : ndarray of bool
        Polarity of the peak.
    """

    channel: np.ndarray
    sample: np.ndarray
    positive: np.ndarray

    @classmethod
    def empty(cls) -> SupportPeaks:
        return cls(np.zeros(0, np.int16), np.zeros(0, np.int64), np.zeros(0, bool))

    def __len__(self) -> int:
        return self.sample.size

    def select(self, keep: np.ndarray) -> SupportPeaks:
        return SupportPeaks(self.channel[keep], self.sample[keep], self.positive[keep])

    @classmethod
    def concatenate(cls, parts) -> SupportPeaks:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("channel", "sample", "positive")))


def block_support(filt, start: int, stop: int, lo: int, local, scale, params, g,
                  covered=None) -> tuple[SupportPeaks, np.ndarray]:
    """Return a block's peaks above ``tonic_support_sigma`` and under
    ``tonic_support_max_sigma`` times the local noise, main samples in ``[start, stop)``.

    With ``tonic_support_each_polarity`` the positive and negative peaks are searched
    apart (the dead time, echo and phase rules compare a peak with its own sign only),
    so a discharge may give one peak of each polarity.

    Also returns the count of the block's peaks from ``low_level_sigma`` per channel and
    rest window (``g.rest_win`` from ``start``; :mod:`fascidetect.low_level`), those on
    ``covered`` samples (shape (n_channels, stop - start): a threshold discharge's own
    phases and ringing) left out; zeros without ``covered`` or with the test off.
    """
    n_win = -(-(stop - start) // g.rest_win)
    counts = np.zeros((filt.shape[0], n_win), dtype=np.float32)
    if params.tonic_support_sigma <= 0:
        return SupportPeaks.empty(), counts
    thresholds = np.where(scale[:, None] > 0, params.tonic_support_sigma * local, np.inf)
    # Searched into the margins as the candidates are (a peak's dead time, echo and phase
    # rules reach across the block's edge), then only the block's own peaks are kept:
    # searched in [start, stop) alone, a peak beside a larger one over the edge was kept,
    # and the peaks depended on the block length.
    s_lo = max(0, start - lo - g.search_margin)
    s_hi = min(filt.shape[1], stop - lo + g.search_margin)
    # Each polarity apart (tonic_support_each_polarity): with one search the phase rule
    # keeps whichever phase of a biphasic discharge the noise made larger, which splits a
    # small unit's train between the two polarity groups the walk keeps apart.
    # (The peaks of np.maximum(filt, 0) and np.minimum(filt, 0), found without making them.)
    polarities = (1, -1) if params.tonic_support_each_polarity else (0,)
    found = [detection.find_channel_peaks(
        filt, thresholds, g.dead, g.shadow, params.shadow_fraction, s_lo, s_hi,
        segment=g.segment, origin=start - lo, phase_samples=g.phase,
        phase_fraction=params.phase_fraction, span_samples=g.span, polarity=sign)
        for sign in polarities]
    ch, idx, amp = (np.concatenate(x) for x in zip(*found))
    del found
    if params.tonic_support_each_polarity:
        order = np.lexsort((idx, ch))
        ch, idx, amp = ch[order], idx[order], amp[order]
    seg = np.clip((idx - (start - lo)) // g.segment, 0, local.shape[1] - 1)
    snr = np.abs(amp) / np.maximum(local[ch, seg], np.finfo(float).tiny)
    keep = (snr < params.tonic_support_max_sigma) & (idx >= start - lo) & (idx < stop - lo)
    if covered is not None and params.low_level_sigma > 0:
        pos = idx - (start - lo)
        counted = keep & (snr >= params.low_level_sigma)
        counted[counted] = ~covered[ch[counted], pos[counted]]
        np.add.at(counts, (ch[counted], pos[counted] // g.rest_win), 1.0)
    return SupportPeaks(ch[keep].astype(np.int16), idx[keep].astype(np.int64) + lo,
                        amp[keep] > 0), counts


def near_small_candidates(peaks: SupportPeaks, channel, sample, snr, params,
                          sfreq: float) -> np.ndarray:
    """Return a mask of the peaks within :data:`NEAR_S` of a candidate on their channel
    whose SNR is under ``tonic_support_max_sigma``."""
    small = snr < params.tonic_support_max_sigma
    return _within(peaks.channel, peaks.sample, channel[small], sample[small],
                   round(NEAR_S * sfreq))


def _within(ch, samples, ref_ch, ref_samples, distance: int) -> np.ndarray:
    """Return a mask of (ch, samples) within ``distance`` of a reference on the same channel."""
    if samples.size == 0 or ref_samples.size == 0:
        return np.zeros(samples.size, dtype=bool)
    # One sorted axis for all channels: channels lie further apart than any distance.
    span = int(max(samples.max(initial=0), ref_samples.max(initial=0))) + 2 * distance + 1
    key = ch.astype(np.int64) * span + samples
    ref = np.sort(ref_ch.astype(np.int64) * span + ref_samples)
    pos = np.searchsorted(ref, key)
    before = key - ref[np.clip(pos - 1, 0, ref.size - 1)]
    after = ref[np.clip(pos, 0, ref.size - 1)] - key
    return (np.abs(before) <= distance) | (np.abs(after) <= distance)


class SupportKeeper:
    """Collect the scan's support peaks block by block, keeping only those near a small
    candidate: a block's peaks are judged once the candidates up to :data:`NEAR_S` past
    its end are known (a candidate in a later block may be the one near a peak).

    Blocks shorter than :data:`NEAR_S` (short noise segments) need more than the next
    block's candidates, so candidates are held by time, not by a count of blocks.
    """

    def __init__(self, params, sfreq: float):
        self._params, self._sfreq = params, sfreq
        self._distance = round(NEAR_S * sfreq)
        self._kept: list = []
        self._pending: collections.deque = collections.deque()  # (stop, peaks)
        self._recent: collections.deque = collections.deque()  # (stop, ch, sample, snr)
        self._judged = 0  # peaks before this sample are judged

    def add(self, peaks: SupportPeaks, cands, stop: int) -> None:
        """Add a block's peaks and its candidates; ``stop`` is the end of the block's
        own samples (blocks come in time order)."""
        self._recent.append((stop, cands.channel, cands.sample, cands.snr))
        self._pending.append((stop, peaks))
        # A block's peaks lie before its stop: every candidate within the distance of
        # them is known once the blocks reach that far.
        while self._pending and self._pending[0][0] + self._distance <= stop:
            self._keep(*self._pending.popleft())

    def finish(self) -> SupportPeaks:
        """Return the kept peaks of all blocks, in block order."""
        while self._pending:
            self._keep(*self._pending.popleft())
        return SupportPeaks.concatenate(self._kept)

    def _keep(self, stop: int, peaks: SupportPeaks) -> None:
        # Blocks of candidates too early for any peak not yet judged go.
        while self._recent and self._recent[0][0] + self._distance <= self._judged:
            self._recent.popleft()
        self._judged = stop
        if len(peaks) == 0:
            return
        channel, sample, snr = (np.concatenate(x) for x in list(zip(*self._recent))[1:])
        self._kept.append(peaks.select(
            near_small_candidates(peaks, channel, sample, snr, self._params, self._sfreq)))


def train_members(cands, peaks: SupportPeaks, use: np.ndarray, params, sfreq: float,
                  dead: int) -> np.ndarray:
    """Return a mask (over ``cands``) of candidates in a regular train filled in by
    ``peaks``.

    Candidates in ``use`` under ``tonic_support_max_sigma`` and the peaks that are not a
    candidate's own (within ``dead`` samples of one on their channel) are grouped by
    channel and polarity (a unit's main phase keeps its sign) and walked with the
    stricter ``tonic_support_min_intervals`` and ``tonic_support_tolerance``.
    """
    from .firing_pattern import regular_trains

    out = np.zeros(len(cands), dtype=bool)
    rows = np.flatnonzero(use & (cands.snr < params.tonic_support_max_sigma))
    if rows.size == 0 or len(peaks) == 0:
        return out
    own = _within(peaks.channel, peaks.sample, cands.channel[rows], cands.sample[rows], dead)
    fill = peaks.select(~own)
    times = np.concatenate([cands.sample[rows] / sfreq, fill.sample / sfreq])
    group = np.concatenate([cands.channel[rows].astype(np.int64) * 2 + (cands.amplitude[rows] > 0),
                            fill.channel.astype(np.int64) * 2 + fill.positive])
    regular = regular_trains(times, group, min_rate_hz=params.tonic_min_rate_hz,
                             max_rate_hz=params.tonic_max_rate_hz,
                             min_intervals=params.tonic_support_min_intervals,
                             max_steps=params.tonic_support_min_intervals,
                             step_tolerance=params.tonic_support_tolerance,
                             max_cv=params.tonic_max_cv)
    out[rows] = regular[:rows.size]
    return out
