"""Array input to detect(): units, implausible amplitudes and transposed arrays."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import fascidetect
from fascidetect._inputs import as_recording
from fascidetect.errors import FascidetectWarning, InputError, ParameterError
from fascidetect.io._arrays import implausible_units_message

from conftest import synthetic_emg

_DETECT_TAKES_UNITS = "units" in inspect.signature(fascidetect.detect).parameters
needs_detect_units = pytest.mark.skipif(
    not _DETECT_TAKES_UNITS, reason="pipeline.detect does not pass units= to as_recording yet")


def assert_same_events(got, expected):
    """Same rows, labels and integers; floats equal to rounding (x * 1e6 * 1e-6 != x)."""
    assert got.dtype == expected.dtype and got.size == expected.size
    for name in expected.dtype.names:
        if expected.dtype[name].kind == "f":
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-9, atol=1e-12,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def _unit_warnings(caught):
    return [str(w.message) for w in caught
            if issubclass(w.category, FascidetectWarning) and "typical deviation" in str(w.message)]


@pytest.mark.parametrize("units, factor", [("V", 1.0), ("mV", 1e3), ("uV", 1e6), ("µV", 1e6)])
def test_array_units_are_scaled_to_volts(units, factor):
    x, _, _ = synthetic_emg(duration_s=2.0, n_discharges=3)
    rec = as_recording(x * factor, 2048.0, None, None, units=units)
    np.testing.assert_allclose(rec.data, x, rtol=1e-12)
    assert rec.warnings == []


def test_unknown_unit_is_refused():
    with pytest.raises(ParameterError, match="unknown unit 'volts'"):
        as_recording(np.zeros((2, 4000)), 2000.0, None, None, units="volts")


def test_units_for_a_recording_are_refused():
    rec = as_recording(np.zeros((2, 4000)), 2000.0, None, None)
    with pytest.raises(ParameterError, match="already in volts"):
        as_recording(rec, None, None, None, units="uV")


@pytest.mark.parametrize("factor, units, guess", [
    (1e6, None, "uV"),     # microvolts passed as if volts (the default)
    (1e3, "V", "mV"),      # millivolts stated as volts
    (1.0, "uV", "V"),      # volts stated as microvolts
])
def test_implausible_amplitudes_are_noted_with_the_likely_unit(factor, units, guess):
    x, _, _ = synthetic_emg(duration_s=2.0, n_discharges=3)
    rec = as_recording(x * factor, 2048.0, None, None, units=units)
    assert len(rec.warnings) == 1
    assert f"pass units='{guess}'" in rec.warnings[0]
    assert "\n" not in rec.warnings[0]


def test_plausible_amplitudes_get_no_note():
    x, _, _ = synthetic_emg(duration_s=2.0, n_discharges=3)
    assert implausible_units_message(x, "V", "array input") is None
    assert implausible_units_message(x * 1e6, "uV", "array input") is None
    # A maximal contraction (1 mV typical deviation) is still EMG in volts.
    assert implausible_units_message(np.full((1, 4), 1e-3) * [1, -1, 1, -1], "V", "x") is None


@needs_detect_units
def test_detect_warns_when_microvolts_are_taken_as_volts():
    x, _, _ = synthetic_emg(duration_s=5.0, n_discharges=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FascidetectWarning)
        res_v = fascidetect.detect(x, sfreq=2048.0)
        assert _unit_warnings(caught) == []
        fascidetect.detect(x * 1e6, sfreq=2048.0)
        assert len(_unit_warnings(caught)) == 1
        res_uv = fascidetect.detect(x * 1e6, sfreq=2048.0, units="uV")
        assert len(_unit_warnings(caught)) == 1
    assert_same_events(res_uv.events, res_v.events)


def test_transposed_array_gets_one_line_naming_both_shapes():
    x, _, _ = synthetic_emg(duration_s=2.0, n_channels=4, n_discharges=3)
    with pytest.raises(InputError) as info:
        fascidetect.detect(x.T, sfreq=2048.0)
    message = str(info.value)
    assert "\n" not in message
    assert f"{x.T.shape}" in message and "(n_channels, n_samples)" in message
    assert f"{x.shape}" in message


def test_one_channel_column_is_transposed_too():
    with pytest.raises(InputError, match=r"\(4000, 1\)"):
        fascidetect.detect(np.zeros((4000, 1)), sfreq=2000.0)


def _hdsemg_uv(shared_data, seconds=10.0):
    """Return the first *seconds* of the 64 EMG channels of the OTB sample, in µV, (64, n)."""
    sio = pytest.importorskip("scipy.io")
    path = shared_data / "openhdemg-otb-sample" / "otb_testfile.mat"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    data = sio.loadmat(path)["Data"][0, 0]
    fs = 2048.0
    return np.ascontiguousarray(data[: int(seconds * fs), :64].T, dtype=float), fs


def test_hdsemg_in_microvolts_with_units_gives_the_volt_events(shared_data):
    # 64 channels are taken as a dense array whatever `layout` says (layout only
    # matters for 4-16 separate muscles), and the grid is 13x5 with a corner missing,
    # so no layout is passed.
    x_uv, fs = _hdsemg_uv(shared_data)
    expected = fascidetect.detect(x_uv * 1e-6, sfreq=fs)
    rec = as_recording(x_uv, fs, None, None, units="uV")
    assert rec.warnings == []
    got = fascidetect.detect(rec)
    assert len(expected.events) > 0
    assert_same_events(got.events, expected.events)
    if _DETECT_TAKES_UNITS:
        direct = fascidetect.detect(x_uv, sfreq=fs, units="uV")
        assert_same_events(direct.events, expected.events)
    # Unscaled, the same numbers are flagged as probably microvolts.
    assert "pass units='uV'" in as_recording(x_uv, fs, None, None).warnings[0]


def test_hdsemg_transposed_gets_one_line_naming_the_shapes(shared_data):
    x_uv, fs = _hdsemg_uv(shared_data, seconds=2.0)
    with pytest.raises(InputError) as info:
        fascidetect.detect(x_uv.T * 1e-6, sfreq=fs)
    message = str(info.value)
    assert "\n" not in message
    assert "(4096, 64)" in message and "(64, 4096)" in message
    assert "(n_channels, n_samples)" in message
