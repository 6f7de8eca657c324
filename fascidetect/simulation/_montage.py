"""Electrode montages: a linear row of muscles or an HD grid, with positions in
electrode units."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ..errors import ParameterError
from .scenarios import _muscle_token, default_channel_names


@dataclasses.dataclass
class _Montage:
    names: list
    pos: np.ndarray          # (C, 2) row/col position in electrode units
    grid: bool

    @property
    def n(self):
        return len(self.names)

    @property
    def linear(self) -> bool:
        """A linear array (layout ``(1, n)``), laid along the muscle fibres."""
        return self.grid and self.n > 1 and bool(np.all(self.pos[:, 0] == 0))

    def channels_for(self, muscles: Sequence[str]) -> np.ndarray:
        if not muscles:
            return np.arange(self.n)
        wanted = {m.upper() for m in muscles}
        idx = np.array([i for i, c in enumerate(self.names) if _muscle_token(c) in wanted], int)
        if idx.size == 0:
            raise ParameterError(f"none of the muscles {tuple(muscles)} is among the channels "
                                 f"{self.names}; name the channels or clear the muscle list")
        return idx


def _make_montage(n_channels, layout, ch_names) -> _Montage:
    if layout is not None:
        from ..params import normalise_layout

        layout = normalise_layout(layout)
        if isinstance(layout, str):
            raise ParameterError(f"the simulator draws row-major grids: give layout=(rows, cols), "
                                 f"not the grid name {layout!r}")
        rows, cols = layout
        if rows < 1 or cols < 1 or rows * cols > 256:
            raise ParameterError(f"layout must be (rows, cols) with up to 256 electrodes, got {layout!r}")
        names = list(ch_names) if ch_names else default_channel_names(layout=(rows, cols))
        if len(names) != rows * cols:
            raise ParameterError(f"{len(names)} channel names for a {rows}x{cols} grid")
        r, c = np.divmod(np.arange(rows * cols), cols)
        return _Montage(names, np.column_stack([r, c]).astype(float), True)
    if ch_names:
        names = list(ch_names)
    else:
        if n_channels is None or int(n_channels) < 1:
            raise ParameterError(f"n_channels must be a positive integer, got {n_channels!r}")
        names = default_channel_names(int(n_channels))
    if len(set(names)) != len(names):
        raise ParameterError(f"channel names must be unique, got {names}")
    pos = np.column_stack([np.zeros(len(names)), np.arange(len(names))]).astype(float)
    return _Montage(names, pos, False)
