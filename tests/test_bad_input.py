"""Bad input found by the fuzz28 sweep (/work/bench_data/fuzz28/sweep.py): each case gives
one clear error naming the problem, or a warning where the analysis can go on, never a
traceback or a silently wrong answer."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import fascidetect
from fascidetect.errors import (BadSamplesError, CorruptFileError, EmptyRecordingError,
                                InputError, NoEmgChannelError, ParameterError)
from fascidetect.io import read
from fascidetect.recording import Recording

REPO = Path(__file__).resolve().parents[1]
SIGNALS = REPO / "signals"
DATA = Path(__file__).resolve().parent / "data"
FS = 2048.0


def _noise(n_channels=3, seconds=12.0, sigma_v=3e-6, seed=0):
    return sigma_v * np.random.default_rng(seed).standard_normal((n_channels, int(seconds * FS)))


def _small_edf(path: Path, unit: str = "uV") -> Path:
    """A 12-s, 2-channel EDF of 3 µV noise whose signals state *unit*."""
    import mne

    raw = mne.io.RawArray(_noise(2), mne.create_info(["EMG TA_R", "EMG GAS_R"], FS, "emg"),
                          verbose="error")
    mne.export.export_raw(str(path), raw, fmt="edf", overwrite=True, verbose="error")
    data = bytearray(path.read_bytes())
    n_signals = int(data[252:256].decode())
    for i in range(n_signals):
        start = 256 + (16 + 80) * n_signals + 8 * i
        if data[start:start + 8].strip() == b"uV":
            data[start:start + 8] = unit.ljust(8).encode("latin-1")
    path.write_bytes(bytes(data))
    return path


# ----------------------------------------------------------------- arrays through detect()
@pytest.mark.parametrize("values, message", [
    (lambda x: x.astype(complex), "complex128 values, not real numbers: pass the real part"),
    (lambda x: x > 0, "bool values, not real numbers"),
    (lambda x: x.astype(str)[:, :4000], "<U32 values, not real numbers"),
    (lambda x: np.arange(x.size).astype("datetime64[s]").reshape(x.shape), "datetime64"),
    (lambda x: [x[0], x[1][:-5]], "channels of unequal length .* 24571, 24576"),
    (lambda x: x.reshape(3, 2, -1), r"shape \(3, 2, 12288\): detect expects a 2-D array"),
])
def test_arrays_that_are_not_real_samples_are_refused(values, message):
    with pytest.raises(InputError, match=message):
        fascidetect.detect(values(_noise()), sfreq=FS)


def test_object_array_of_numbers_reads_like_floats():
    x = _noise()
    a = fascidetect.detect(x, sfreq=FS)
    b = fascidetect.detect(x.astype(object), sfreq=FS)
    assert a.summary()["counts"] == b.summary()["counts"] and len(a.events) == len(b.events)


def test_empty_and_all_nan_arrays_say_what_is_wrong():
    with pytest.raises(EmptyRecordingError, match=r"shape \(3, 0\) holds no samples"):
        fascidetect.detect(np.zeros((3, 0)), sfreq=FS)
    with pytest.raises(BadSamplesError, match="every sample is NaN or infinite"):
        fascidetect.detect(np.full((3, 30000), np.nan), sfreq=FS)


@pytest.mark.parametrize("sfreq", ["2048 Hz", None, [2048]])
def test_a_sampling_rate_that_is_not_a_number_is_one_error(sfreq):
    with pytest.raises(ParameterError, match="sampling rate"):
        Recording(_noise(), sfreq, ["a", "b", "c"], ["emg"] * 3, source="x.csv")
    if sfreq is not None:
        with pytest.raises(ParameterError, match=r"sampling rate must be a positive number"):
            fascidetect.detect(_noise(), sfreq=sfreq)


def test_float16_volts_are_warned_as_too_coarse():
    res = fascidetect.detect(_noise().astype(np.float16), sfreq=FS)
    assert any("float16" in w and "smallest normal" in w for w in res.warnings)
    res = fascidetect.detect((_noise() * 1e6).astype(np.float16), sfreq=FS, units="uV")
    assert not any("float16" in w for w in res.warnings)


def test_read_options_given_to_detect_point_to_read():
    with pytest.raises(ParameterError, match=r"format= is an option of fascidetect.read"):
        fascidetect.detect(str(SIGNALS / "sim_mixed_L5.edf"), format="edf")


def test_a_rate_too_low_for_the_band_names_the_file(tmp_path):
    path = tmp_path / "slow.csv"
    path.write_text("\n".join(f"{v:.3f}" for v in _noise(1, seconds=60)[0, :2400] * 1e6))
    with pytest.raises(ParameterError, match=r"slow.csv': sampling rate 40 Hz is too low"):
        fascidetect.detect(path, sfreq=40, units="uV")


# ----------------------------------------------------------------- channel names
def test_repeated_channel_names_are_numbered_with_a_warning():
    res = fascidetect.detect(_noise(), sfreq=FS, ch_names=["TA_R", "TA_R", "GAS_R"])
    assert [c["name"] for c in res.channels] == ["TA_R-0", "TA_R-1", "GAS_R"]
    assert any("channel names repeated ('TA_R' x2)" in w for w in res.warnings)


def test_csv_header_with_a_repeated_name(tmp_path):
    path = tmp_path / "dup.csv"
    rows = "\n".join(f"{a:.3f},{b:.3f}" for a, b in _noise(2).T * 1e6)
    path.write_text("EMG1,EMG1\n" + rows + "\n")
    rec = read(path, sfreq=FS, units="uV")
    assert rec.ch_names == ["EMG1-0", "EMG1-1"]
    assert any(str(path) in w and "repeated" in w for w in rec.warnings)


def test_edf_with_a_repeated_label_is_warned(tmp_path):
    data = bytearray((SIGNALS / "sim_mixed_L5.edf").read_bytes())
    data[256 + 16:256 + 32] = b"EMG TA_R        "  # signal 2 takes signal 1's label
    path = tmp_path / "dup.edf"
    path.write_bytes(bytes(data))
    rec = read(path, preload=False)
    assert rec.ch_names[:2] == ["EMG TA_R-0", "EMG TA_R-1"]
    assert any("labels repeated in the header ('EMG TA_R')" in w for w in rec.warnings)


# ----------------------------------------------------------------- units of files
@pytest.mark.parametrize("unit, size", [("mV", "1000 times too large"),
                                        ("nV", "1000 times too small")])
def test_edf_in_another_unit_than_it_states_is_warned(tmp_path, unit, size):
    path = _small_edf(tmp_path / f"as_{unit}.edf", unit)
    res = fascidetect.detect(path)
    assert any(str(path) in w and size in w and "physical dimension" in w for w in res.warnings)


def test_edf_in_its_stated_unit_gets_no_unit_warning(tmp_path):
    res = fascidetect.detect(_small_edf(tmp_path / "ok.edf", "uV"))
    assert not any("noise floor is" in w for w in res.warnings)


def test_edf_in_microvolts_labelled_volts(tmp_path):
    # a small range (+/-15 µV read as V) reads, and the floor names the factor
    res = fascidetect.detect(_small_edf(tmp_path / "as_V.edf", "V"))
    assert any("1e+06 times too large" in w and "µV labelled V" in w for w in res.warnings)
    # a large one (the bundled file's +/-1 mV as +/-1 kV) is beyond any amplifier
    data = bytearray((SIGNALS / "sim_mixed_L5.edf").read_bytes())
    for i in range(6):
        start = 256 + (16 + 80) * 7 + 8 * i
        data[start:start + 8] = b"V       "
    path = tmp_path / "big_V.edf"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"physical dimension is wrong \(a range in µV"):
        read(path)


def test_edf_content_under_another_suffix_says_rename(tmp_path):
    path = tmp_path / "rec.txt"
    path.write_bytes((SIGNALS / "sim_mixed_L5.edf").read_bytes())
    with pytest.raises(InputError, match=r"holds EDF data but is named '.txt'.*rec.edf"):
        read(path)


# ----------------------------------------------------------------- streaming text files
def test_openbci_file_cut_off_mid_row_reads_with_a_warning(tmp_path):
    text = (SIGNALS / "openbci_gui_v6_cyton_10s.txt").read_text(encoding="latin-1")
    whole = read(SIGNALS / "openbci_gui_v6_cyton_10s.txt")
    path = tmp_path / "cut.txt"
    path.write_text(text[:len(text) - 40], encoding="latin-1")  # the last row loses its end
    rec = read(path)
    assert rec.n_samples == whole.n_samples - 1
    assert any("last row is incomplete" in w for w in rec.warnings)


def test_brainflow_file_cut_off_mid_row_reads_with_a_warning(tmp_path):
    text = (DATA / "brainflow_synthetic_board.csv").read_text()
    path = tmp_path / "cut.csv"
    path.write_text(text[:len(text) // 2 + 5])
    rec = read(path, board="synthetic")
    assert any("last row is incomplete" in w for w in rec.warnings)


def test_a_damaged_row_in_the_middle_is_still_refused(tmp_path):
    lines = (DATA / "brainflow_synthetic_board.csv").read_text().splitlines()
    lines[100] = lines[100][:20]
    path = tmp_path / "mid.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptFileError, match="unreadable BrainFlow row"):
        read(path, board="synthetic")


def _shift_column(lines, col, sep, delta, from_row):
    out = []
    for k, line in enumerate(lines):
        cells = line.split(sep)
        if k >= from_row:
            cells[col] = repr(float(cells[col]) + delta)
        out.append(sep.join(cells))
    return out


def test_openbci_clock_running_back_is_warned(tmp_path):
    lines = (SIGNALS / "openbci_gui_v6_cyton_10s.txt").read_text(encoding="latin-1").splitlines()
    header = [ln for ln in lines if ln.startswith("%") or ln.startswith("Sample Index")]
    body = lines[len(header):]
    col = [c.strip() for c in header[-1].split(",")].index("Timestamp")
    path = tmp_path / "back.txt"
    path.write_text("\n".join(header + _shift_column(body, col, ",", -3600.0, len(body) // 2)),
                    encoding="latin-1")
    assert not any("backwards" in w for w in read(SIGNALS / "openbci_gui_v6_cyton_10s.txt").warnings)
    rec = read(path)
    assert any("time stamps run backwards 1 time(s)" in w for w in rec.warnings)


def test_brainflow_recordings_joined_are_read_with_a_warning_not_blamed_on_the_board(tmp_path):
    lines = (DATA / "brainflow_synthetic_board.csv").read_text().splitlines()
    path = tmp_path / "joined.csv"
    path.write_text("\n".join(lines + lines) + "\n")  # the same rows twice: time goes back
    rec = read(path, board="synthetic")
    assert rec.n_samples == 2 * len(lines)
    assert any("time stamps run backwards" in w for w in rec.warnings)
    assert not any("backwards" in w for w in read(DATA / "brainflow_synthetic_board.csv",
                                                  board="synthetic").warnings)


def test_no_emg_channel_error_gives_the_readers_reason(tmp_path):
    lines = (SIGNALS / "openbci_ganglion_S05_rest.txt").read_text(encoding="latin-1").splitlines()
    out = []
    for line in lines:
        if line.startswith("%"):
            out.append(line)
            continue
        cells = line.split(",")
        cells[1:5] = [" 0.00"] * 4
        out.append(",".join(cells))
    path = tmp_path / "zero.txt"
    path.write_text("\n".join(out) + "\n", encoding="latin-1")
    with pytest.raises(NoEmgChannelError, match=r"are all zero \(input not connected\)"):
        fascidetect.detect(path)


# ----------------------------------------------------------------- CSV layouts
def test_csv_with_decimal_commas_and_semicolons(tmp_path):
    x = _noise(2) * 1e6
    path = tmp_path / "de.csv"
    rows = [f"{a:.3f};{b:.3f}".replace(".", ",") for a, b in x.T]
    path.write_text("TA_R;GAS_R\n" + "\n".join(rows) + "\n")
    rec = read(path, sfreq=FS, units="uV")
    np.testing.assert_allclose(rec.data * 1e6, x, atol=6e-4)
    assert any("decimal comma" in w for w in rec.warnings)
    headless = tmp_path / "de2.csv"
    headless.write_text("\n".join(rows) + "\n")
    assert read(headless, sfreq=FS, units="uV").n_samples == x.shape[1]


def test_csv_with_one_row_per_channel_says_so(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(",".join(f"{v:.3f}" for v in ch) for ch in _noise(3)[:, :3000] * 1e6))
    with pytest.raises(CorruptFileError, match="looks like one row per channel"):
        read(path, sfreq=FS)


@pytest.mark.parametrize("arr, message", [
    (np.ones((2, 500), dtype=bool), "bool values, not real numbers"),
    (np.ones((2, 500), dtype=complex), "complex128 values"),
])
def test_npy_of_other_values_than_real_numbers(tmp_path, arr, message):
    path = tmp_path / "x.npy"
    np.save(path, arr)
    with pytest.raises(CorruptFileError, match=message):
        read(path, sfreq=FS)


def test_warnings_stay_quiet_for_the_bundled_files():
    """None of the new checks fires on valid recordings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fascidetect.detect(SIGNALS / "sim_mixed_L5.edf")
    new = ("noise floor is", "repeated", "backwards", "incomplete", "float16", "decimal comma")
    assert not [w for w in res.warnings if any(k in w for k in new)]
