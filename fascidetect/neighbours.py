"""Which channels may share one discharge: electrode neighbourhoods and muscles.

A motor unit's potential reaches the electrodes over its territory: the neighbouring
electrodes of an array or grid, and crosstalk on an adjacent muscle's channel at the
same instant. Two muscles do not share a motor unit, so peaks on different muscles are
different discharges, however close in time (domain.md: units of neighbouring muscles
firing within a few ms). The montage is declared with ``layout`` (electrode positions)
and ``muscles`` (a channel-to-muscle map, or ``"auto"`` for the muscles the channel names
name); with neither, every channel may join every other, as before this module existed.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from .errors import ParameterError
from .params import DetectionParams


@dataclasses.dataclass(frozen=True)
class Neighbourhood:
    """The montage as the cross-channel merge and the artifact gates see it.

    Attributes
    ----------
    adjacent : ndarray of bool, shape (n_channels, n_channels)
        Channels whose near-simultaneous peaks are one discharge (within
        ``neighbour_radius`` electrodes on a declared layout, and of the same muscle).
    muscle : ndarray of int, shape (n_channels,)
        Muscle (or array) index of every channel: the cross-channel join of a weaker,
        later peak (another phase, propagation) stays within one.
    n_muscles : int
        Number of distinct muscles declared (0 when none are).
    declared : bool
        False for the undeclared montage (every channel joins every other).
    distance : ndarray of float, shape (n_channels, n_channels) | None
        Distance between electrodes of a declared layout, in inter-electrode distances.
    linear : bool
        The layout is a linear array (``(1, n)`` or ``(n, 1)``), laid along the fibres:
        a potential reaches its electrodes one after another.
    """

    adjacent: np.ndarray
    muscle: np.ndarray
    n_muscles: int
    declared: bool
    distance: np.ndarray | None = None
    linear: bool = False

    @property
    def n_channels(self) -> int:
        return int(self.muscle.size)

    @property
    def grid(self) -> bool:
        """A declared two-dimensional layout (an HD grid, not a linear array)."""
        return self.declared and self.distance is not None and not self.linear


def undeclared(n_channels: int) -> Neighbourhood:
    """Return the neighbourhood of a montage nothing is known about: all channels join."""
    return Neighbourhood(adjacent=np.ones((n_channels, n_channels), dtype=bool),
                         muscle=np.zeros(n_channels, dtype=int), n_muscles=0, declared=False)


def electrode_positions(layout, n_channels: int, missing=()) -> np.ndarray:
    """Return (row, col) of each analysed channel of a ``(rows, cols)`` layout in row-major
    order.

    A linear array is ``(1, n)``; the positions are in electrode units. A grid name
    (:mod:`fascidetect.grids`) gives the maker's channel order. ``missing`` are the
    1-based numbers of electrodes with no analysed channel (a dead or bad electrode): the
    channels fill the other positions in order.
    """
    if isinstance(layout, str):
        from .grids import positions

        every = positions(layout)
        name = layout
    else:
        rows, cols = (int(v) for v in layout)
        r, c = np.divmod(np.arange(rows * cols), cols)
        every = np.column_stack([r, c]).astype(float)
        name = f"layout {rows}x{cols}"
    keep = np.ones(every.shape[0], dtype=bool)
    keep[np.asarray(missing, dtype=int) - 1] = False
    if keep.sum() != n_channels:
        gone = f" less {len(missing)} missing" if len(missing) else ""
        raise ParameterError(f"{name} has {every.shape[0]} electrodes{gone} but the recording "
                             f"has {n_channels} EMG channels; give the analysed channels' layout, "
                             "pick its channels with emg_channels, or name the electrodes "
                             "without a channel in layout_missing")
    return every[keep]


def numbering_warnings(names, params: DetectionParams) -> list[str]:
    """Return a warning when the channel names look like electrode numbers (``EMG14``,
    ``14``) of the declared layout but the positions the channels get (their order, less
    ``layout_missing``) put some of them at other electrodes: dropping ``EMG13`` while
    declaring electrode 14 missing would otherwise shift every position silently."""
    from .params import layout_size

    if params.layout is None:
        return []
    found = [re.fullmatch(r"\s*(?:EMG)?\s*0*(\d+)\s*", str(n), re.IGNORECASE) for n in names]
    if not all(found):
        return []
    numbers = [int(m.group(1)) for m in found]
    size = layout_size(params.layout)
    if len(set(numbers)) != len(numbers) or not 1 <= min(numbers) <= max(numbers) <= size:
        return []
    gone = set(params.layout_missing)
    placed = [k for k in range(1, size + 1) if k not in gone]
    if numbers == placed:
        return []
    k = next(i for i, (a, b) in enumerate(zip(numbers, placed)) if a != b)
    by_name = sorted(set(range(1, size + 1)) - set(numbers))
    return [f"channel {names[k]} is placed at electrode {placed[k]} of the layout: the channel "
            f"names look like electrode numbers, and the electrodes missing by name are "
            f"{by_name[:12]} (layout_missing: {sorted(gone) or 'none'}); if the names are "
            "electrode numbers, give those as layout_missing"]


def muscle_labels(names, spec) -> list:
    """Return a muscle label per channel (``None`` where unknown) from a muscle map.

    ``spec`` is ``"auto"`` (the muscle each channel name names, ``"EMG TA_R"`` ->
    ``"TA_R"``), a map such as ``"1=TA_R,2=TA_R,3=GAS_R"`` or ``{"EMG 1": "TA_R"}``, or a
    sequence with one label per channel.
    """
    from .myotomes import label_channels

    names = list(names)
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ParameterError(f"muscles lists {len(spec)} labels for {len(names)} EMG channels "
                                 f"({names})")
        return [str(s) if s not in (None, "") else None for s in spec]
    labels = label_channels(names, None if spec == "auto" else spec)
    return [labels[n] for n in names]


def build(names, params: DetectionParams) -> Neighbourhood:
    """Return the neighbourhood of the analysed channels from ``layout`` and ``muscles``.

    Channels of an undeclared muscle (the map does not cover them and the name names
    none) share one group of their own.
    """
    n = len(names)
    if params.layout is None and params.muscles is None:
        return undeclared(n)
    adjacent = np.ones((n, n), dtype=bool)
    muscle = np.zeros(n, dtype=int)
    n_muscles = 0
    if params.muscles is not None:
        labels = muscle_labels(names, params.muscles)
        keys = [lab.upper() if lab else "" for lab in labels]
        known = sorted({k for k in keys if k})
        index = {k: i for i, k in enumerate([""] + known)}
        muscle = np.array([index[k] for k in keys], dtype=int)
        n_muscles = len(known)
        adjacent &= muscle[:, None] == muscle[None, :]
    dist = None
    if params.layout is not None:
        pos = electrode_positions(params.layout, n, params.layout_missing)
        dist = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
        adjacent &= dist <= params.neighbour_radius
    linear = params.layout is not None and not isinstance(params.layout, str) \
        and min(params.layout) == 1 and n > 1
    return Neighbourhood(adjacent=adjacent, muscle=muscle, n_muscles=n_muscles, declared=True,
                         distance=dist, linear=linear)


def coincident_channels(ch_sorted, t_sorted, main, n_channels: int,
                        merge_samples: int) -> np.ndarray:
    """Return, per candidate, the channels with a peak in the same ``merge_samples`` chain
    as its main peak, whatever the neighbourhood: common-mode artifacts (ECG, motion)
    reach every muscle at once.

    Parameters
    ----------
    ch_sorted, t_sorted : ndarray of int
        Channel and sample of the channel peaks in time order.
    main : ndarray of int
        Index (into the time-sorted peaks) of each candidate's main peak.
    n_channels, merge_samples : int
    """
    if t_sorted.size == 0:
        return np.zeros((main.size, n_channels), dtype=bool)
    chain = np.cumsum(np.concatenate([[True], np.diff(t_sorted) > merge_samples])) - 1
    members = np.zeros((int(chain[-1]) + 1, n_channels), dtype=bool)
    members[chain, ch_sorted] = True
    return members[chain[main]]
