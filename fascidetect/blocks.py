"""Cutting a recording into processing blocks: the one block iterator, and the sample
counts every stage derives from the sampling rate.

Blocks are whole noise segments with margins covering the filter transient, and every
window grid (activity sub-windows, motion windows, noise windows and segments) tiles a
block exactly, so block-by-block output equals whole-file output.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np

from .params import DetectionParams

#: Samples (channels x time) held per processing block: bounds memory on long or wide
#: recordings; it never changes the answer (blocks are whole noise segments).
BLOCK_VALUES = 2_000_000


def block_bounds(n_samples: int, block: int, margin: int = 0) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(start, stop, lo, hi)``: each block's owned samples ``[start, stop)`` and
    the span ``[lo, hi)`` read with ``margin`` samples on each side (clipped at the ends).

    Examples
    --------
    >>> list(block_bounds(10, 4, margin=1))
    [(0, 4, 0, 5), (4, 8, 3, 9), (8, 10, 7, 10)]
    """
    for start in range(0, n_samples, max(1, block)):
        stop = min(n_samples, start + block)
        yield start, stop, max(0, start - margin), min(n_samples, stop + margin)


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Sample counts derived once from the rate and parameters.

    Attributes
    ----------
    act_win, motion_win, rest_win, noise_win, segment : int
        Activity sub-window, motion window, rest window, noise window and noise segment,
        samples.
    block, margin, search_margin : int
        Owned samples per block, samples read on each side, and how far into the margin
        peaks are searched (so a discharge at a seam is seen whole by its owner).
    dead, shadow, phase, merge, merge_loose : int
        Dead time, echo shadow, opposite-phase window and cross-channel merge windows,
        samples.
    span : int
        Samples within which a smaller peak on the channel is a phase of a larger one
        whatever its size (:func:`phase_span_samples`); at least ``dead``.
    half, art_half : int
        Half lengths of the waveform snippet and of the raw artifact window, samples.
    """

    act_win: int
    motion_win: int
    rest_win: int
    noise_win: int
    segment: int
    block: int
    margin: int
    search_margin: int
    dead: int
    span: int
    shadow: int
    phase: int
    merge: int
    merge_loose: int
    half: int
    art_half: int

    @classmethod
    def build(cls, sfreq: float, params: DetectionParams, n_channels: int) -> "Geometry":
        """Return the geometry for a recording of ``n_channels`` at ``sfreq``."""
        ms = sfreq / 1000.0
        act = max(1, int(round(params.activity_window_ms * ms)))
        noise_win = act * max(1, int(round(params.noise_window_s * 1000 / params.activity_window_ms)))
        segment = noise_win * params.noise_segment_windows
        per_block = max(1, int(min(params.chunk_s * sfreq, BLOCK_VALUES / max(1, n_channels))
                               // segment))
        margin = int(round(params.filter_margin_s * sfreq))
        dead = max(1, int(round(params.dead_time_ms * ms)))
        return cls(act_win=act, motion_win=act * _tiling(segment // act, params.motion_window_ms
                                                            / params.activity_window_ms),
                   rest_win=act * _tiling(segment // act, params.rest_window_s * 1000.0
                                          / params.activity_window_ms),
                   noise_win=noise_win, segment=segment,
                   block=per_block * segment, margin=margin, search_margin=margin // 2,
                   dead=dead, span=max(dead, phase_span_samples(sfreq, params)),
                   shadow=int(round(params.shadow_ms * ms)),
                   phase=int(round(params.phase_ms * ms)),
                   merge=max(1, int(round(params.merge_ms * ms))),
                   merge_loose=max(1, int(round(params.merge_loose_ms * ms))),
                   half=max(2, int(round(params.snippet_ms * ms / 2))),
                   art_half=max(4, int(round(params.artifact_window_ms * ms / 2))))

    def blocks(self, n_samples: int) -> Iterator[tuple[int, int, int, int]]:
        """Yield the processing blocks of a recording (see :func:`block_bounds`)."""
        return block_bounds(n_samples, self.block, self.margin)


def phase_span_samples(sfreq: float, params: DetectionParams) -> int:
    """Return how many samples apart one potential's phases may be peaks on a coarse grid.

    Where a sample period is longer than ``one_sample_phase_ms`` each phase of a typical
    potential is one sample: phases lie up to ``phase_span_ms`` apart and each sampled
    peak up to a sample off its phase, so the span is ``floor(phase_span_ms * fs / 1000
    + 1)`` samples (125 Hz: 3). Elsewhere (or with ``phase_span_ms`` 0): 0, the dead
    time and the phase rule decide.

    Parameters
    ----------
    sfreq : float
        Sampling rate, Hz.
    params : DetectionParams

    Returns
    -------
    int

    Examples
    --------
    >>> from fascidetect.params import DetectionParams
    >>> [phase_span_samples(fs, DetectionParams()) for fs in (125.0, 200.0, 250.0, 2048.0)]
    [3, 0, 0, 0]
    """
    if 1000.0 / sfreq <= params.one_sample_phase_ms or params.phase_span_ms <= 0:
        return 0
    return int(np.floor(params.phase_span_ms * sfreq / 1000.0 + 1.0 + 1e-9))


def _tiling(n_sub: int, wanted: float) -> int:
    """Return the sub-windows per window nearest ``wanted`` (at most) that tile ``n_sub``:
    motion and rest windows must tile the noise segments (and so every block) exactly."""
    k = max(1, int(round(wanted)))
    while n_sub % k:
        k -= 1
    return k
