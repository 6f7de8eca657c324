"""Named electrode grids: the OTB 13x5 channel order, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from fascidetect.errors import ParameterError
from fascidetect.grids import positions
from fascidetect.neighbours import build, electrode_positions
from fascidetect.params import DetectionParams, parse_param_overrides


def test_otb_1305_positions_follow_the_makers_order():
    pos = positions("GR08MM1305")
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
        electrode_positions("GR08MM1305", 32)


def test_cli_layout_text_parses_to_a_name_or_a_shape():
    assert parse_param_overrides([("layout", "GR08MM1305")])["layout"] == "GR08MM1305"
    assert parse_param_overrides([("layout", "8x8")])["layout"] == (8, 8)
    assert np.all(positions("GR04MM1305") == positions("GR08MM1305"))


@pytest.mark.parametrize("value, expected", [("8x8", (8, 8)), ("8X8", (8, 8)), (" 1 x 8 ", (1, 8)),
                                             ([8, 8], (8, 8)), ("gr04mm1305", "GR04MM1305")])
def test_layout_forms_are_normalised(value, expected):
    # "8x8" is what --layout takes: the Python API refused it ("a grid name") and the
    # command line refused "8X8" ("expects a NoneType").
    assert DetectionParams(layout=value).layout == expected
    if isinstance(value, str):
        assert parse_param_overrides([("layout", value)])["layout"] == expected


@pytest.mark.parametrize("value", [("a", "b"), 64, (8,), (0, 8), "(8,8)", "", "8x8x2", (8.5, 8)])
def test_bad_layouts_give_a_parameter_error(value):
    # ("a", "b") raised a bare ValueError and 64 a TypeError; (8.5, 8) was read as (8, 8).
    with pytest.raises(ParameterError, match="layout must be"):
        DetectionParams(layout=value)


def test_simulator_layout_takes_the_text_form_and_refuses_a_grid_name():
    from fascidetect.simulation import simulate

    rec, _ = simulate(layout="3x3", duration_s=5.0)
    assert len(rec.ch_names) == 9 and rec.metadata["layout"] == (3, 3)
    with pytest.raises(ParameterError, match="row-major"):
        simulate(layout="GR08MM1305", duration_s=5.0)


def test_missing_electrodes_are_holes_the_channels_skip():
    pos = electrode_positions((3, 3), 8, missing=(5,))
    assert [0, 0] in pos.tolist() and [1, 1] not in pos.tolist() and pos[4].tolist() == [1, 2]
    otb = electrode_positions("GR08MM1305", 63, missing=(1,))
    assert otb[0].tolist() == [2, 0]  # channel 1's electrode is gone: the next is first
    nb = build([f"EMG{i}" for i in range(8)], DetectionParams(layout="3x3", layout_missing="5"))
    assert nb.distance[3, 4] == pytest.approx(2.0)  # either side of the hole
    with pytest.raises(ParameterError, match="less 1 missing but the recording has 9"):
        electrode_positions((3, 3), 9, missing=(5,))


@pytest.mark.parametrize("kwargs, message", [
    (dict(layout_missing=(3,)), "declare the layout too"),
    (dict(layout="3x3", layout_missing=(10,)), "electrode numbers 1-9"),
    (dict(layout="3x3", layout_missing=tuple(range(1, 10))), "leaving at least one"),
    (dict(layout="3x3", layout_missing="a"), "1-based electrode numbers, got 'a'"),
])
def test_bad_missing_electrodes_give_a_parameter_error(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        DetectionParams(**kwargs)


def test_missing_electrodes_from_the_command_line_text():
    given = parse_param_overrides([("layout", "8x8"), ("layout_missing", "40,12")])
    assert DetectionParams(**given).layout_missing == (12, 40)


def test_names_that_number_other_electrodes_than_their_positions_warn():
    # Dropping EMG5 while declaring electrode 4 missing passes the count check and would
    # shift EMG4's position silently: the names say which electrodes are there.
    import warnings

    import fascidetect
    from fascidetect.neighbours import numbering_warnings

    names = [f"EMG{k}" for k in range(1, 10) if k != 5]
    (text,) = numbering_warnings(names, DetectionParams(layout="3x3", layout_missing=4))
    assert "EMG4 is placed at electrode 5" in text and "missing by name are [5]" in text
    assert numbering_warnings(names, DetectionParams(layout="3x3", layout_missing=5)) == []
    x = 5e-6 * np.random.default_rng(0).standard_normal((8, 20 * 2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fascidetect.detect(x, sfreq=2000.0, ch_names=names, layout="3x3", layout_missing=4)
    assert any("placed at electrode 5" in w for w in res.warnings)
