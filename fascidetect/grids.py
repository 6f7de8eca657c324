"""Named electrode grids whose channel order is not row-major.

OT Bioelettronica's 64-electrode 13 x 5 grids (GR08MM1305: 8 mm between electrodes;
GR04MM1305: 4 mm) have one corner empty and their channels run down the first column
and up and down the others (the order openhdemg's ``sort_rawemg`` documents for them).
A ``layout`` may name one of them instead of giving ``(rows, cols)``; channel k of the
recording is then at the position the maker's order gives it.
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError


def _otb_1305() -> np.ndarray:
    """(row, col) of channels 1-64 of a 13 x 5 OTB grid (row 0 of column 0 empty)."""
    pos = np.zeros((64, 2), dtype=float)
    c = np.arange(1, 65)
    col = np.select([c <= 12, c <= 25, c <= 38, c <= 51], [0, 1, 2, 3], 4)
    row = np.select([col == 0, col == 1, col == 2, col == 3],
                    [c, 25 - c, c - 26, 51 - c], c - 52)
    pos[:, 0], pos[:, 1] = row, col
    return pos


GRIDS = {"GR08MM1305": _otb_1305, "GR04MM1305": _otb_1305}


def positions(name: str) -> np.ndarray:
    """Return the (row, col) of every electrode of the named grid in the maker's channel
    order, in electrode units."""
    key = str(name).upper()
    if key not in GRIDS:
        raise ParameterError(f"unknown electrode grid {name!r}; known: {sorted(GRIDS)}, or give "
                             "layout=(rows, cols) for a grid in row-major order")
    return GRIDS[key]()
