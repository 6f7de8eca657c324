"""Named electrode grids: the OTB 13x5 channel order, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from fascidetect.errors import ParameterError
from fascidetect.grids import positions
from fascidetect.neighbours import build
from fascidetect.params import DetectionParams, parse_param_overrides


def test_otb_1305_positions_follow_the_makers_order():
    pos = positions("GR08MM1305", 64)
    # Channel 1 is under the empty corner, the first column runs down, the second up.
    assert pos[0].tolist() == [1, 0] and pos[11].tolist() == [12, 0]
    assert pos[12].tolist() == [12, 1] and pos[24].tolist() == [0, 1]
    assert pos[25].tolist() == [0, 2] and pos[63].tolist() == [12, 4]
    assert len({tuple(p) for p in pos}) == 64  # every electrode once
    assert [0, 0] not in pos.tolist()


def test_named_grid_gives_a_grid_neighbourhood():
    names = [f"EMG{i}" for i in range(1, 65)]
    nb = build(names, DetectionParams(layout="gr08mm1305"))
    assert nb.grid and not nb.linear
    # Channels 1 and 24 are side by side (row 1, columns 0 and 1).
    assert nb.distance[0, 23] == pytest.approx(1.0)


def test_unknown_grid_and_wrong_channel_count_are_clear_errors():
    with pytest.raises(ParameterError, match="GR08MM1305"):
        DetectionParams(layout="GR99")
    with pytest.raises(ParameterError, match="64 electrodes but the recording has 32"):
        positions("GR08MM1305", 32)


def test_cli_layout_text_parses_to_a_name_or_a_shape():
    assert parse_param_overrides([("layout", "GR08MM1305")])["layout"] == "GR08MM1305"
    assert parse_param_overrides([("layout", "8x8")])["layout"] == (8, 8)
    assert np.all(positions("GR04MM1305", 64) == positions("GR08MM1305", 64))
