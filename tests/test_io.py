"""Readers: every format against real files, the Recording contract, and bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fascidetect
from fascidetect.errors import (BadSamplesError, CorruptFileError, EmptyRecordingError,
                                FileMissingError, InputError, NoEmgChannelError,
                                ParameterError, UnknownFormatError)
from fascidetect.io import describe_recording, detect_format, read
from fascidetect.recording import Recording

REPO = Path(__file__).resolve().parents[1]
SIGNALS = REPO / "signals"
DATA = Path(__file__).resolve().parent / "data"


def check_contract(rec: Recording) -> None:
    """What every reader's Recording must satisfy."""
    assert rec.sfreq > 0 and rec.n_samples > 0
    assert len(rec.ch_names) == len(rec.ch_types) == rec.n_channels
    assert set(rec.ch_types) <= set(fascidetect.recording.CHANNEL_TYPES)
    block = rec.get_data(start=0, stop=min(rec.n_samples, 100))
    assert block.shape == (rec.n_channels, min(rec.n_samples, 100))
    assert block.dtype.kind == "f"
    # volts: surface, needle and consumer EMG all stay well under 1 V
    assert np.nanmax(np.abs(block[rec.emg_picks])) < 1.0
    chunks = list(rec.iter_chunks(chunk_s=max(rec.duration_s / 3, 1.0 / rec.sfreq)))
    assert sum(c.stop - c.start for c in chunks) == rec.n_samples
    for onset, duration, desc in rec.annotations:
        assert onset >= -1e-9 and duration >= 0 and isinstance(desc, str)
    raw = rec.load().to_raw()
    back = Recording.from_raw(raw)
    np.testing.assert_allclose(back.get_data(), rec.load().get_data())
    assert back.ch_types == rec.ch_types


# ---------------------------------------------------------------------- bundled files
def test_bundled_edf_reads_with_annotations_and_emg_names():
    rec = read(SIGNALS / "sim_mixed_L5.edf")
    check_contract(rec)
    assert rec.format == "edf" and rec.sfreq == 2048.0
    assert rec.n_samples == 120 * 2048
    assert rec.ch_names[0] == "EMG TA_R"  # the type prefix stays in the name
    assert rec.ch_types == ["emg"] * 6
    assert any(a.description == "voluntary" for a in rec.annotations)
    assert rec.metadata["subtype"] == "EDF+C"


def test_bundled_edf_lazy_matches_preloaded():
    lazy = read(SIGNALS / "sim_mixed_L5.edf", preload=False)
    full = read(SIGNALS / "sim_mixed_L5.edf", preload=True)
    assert lazy.is_lazy and not full.is_lazy
    np.testing.assert_array_equal(lazy.get_data([1, 3], 5000, 9000), full.data[[1, 3], 5000:9000])


def test_bundled_openbci_ganglion_rest():
    rec = read(SIGNALS / "openbci_ganglion_S05_rest.txt")
    check_contract(rec)
    assert rec.format == "openbci" and rec.sfreq == 200.0
    assert rec.n_samples == 4879 and rec.n_channels == 4
    assert rec.ch_types == ["emg", "emg", "misc", "misc"]  # ch3-4 are all zero
    assert rec.metadata["dropped_samples"] == 0
    # 20-90 Hz content of a resting MyoWare channel is a few µV; offsets are tens of µV
    assert 1e-6 < np.abs(rec.data[0]).max() < 1e-3


def test_bundled_openbci_v6_cyton():
    rec = read(SIGNALS / "openbci_gui_v6_cyton_10s.txt")
    check_contract(rec)
    assert rec.sfreq == 250.0 and rec.n_samples == 2500 and rec.n_channels == 8
    assert rec.ch_names[0] == "EXG Channel 0"
    assert rec.meas_date.year == 2019 and rec.meas_date.month == 5
    assert rec.data[0, 0] == pytest.approx(61379.36e-6)


def test_brainflow_synthetic_board_file():
    # Written by BrainFlow 5.x DataFilter.write_file from its synthetic board.
    path = DATA / "brainflow_synthetic_board.csv"
    assert detect_format(path) == "brainflow"
    rec = read(path, board="synthetic")
    check_contract(rec)
    assert rec.sfreq == 250.0 and rec.n_channels == 16 and rec.n_samples == 750
    assert rec.data[0, 0] == pytest.approx(11.712108e-6)
    assert rec.meas_date is not None and rec.meas_date.year >= 2026
    assert read(path, board=-1).n_channels == 16


def test_brainflow_wrong_board_names_the_fix():
    with pytest.raises(ParameterError, match=r"32 columns.*board 0 \(cyton\) writes 24.*synthetic"):
        read(DATA / "brainflow_synthetic_board.csv")


# ---------------------------------------------------------------------- shared real files
def test_openbci_v5_and_v6_hold_the_same_samples(shared_data):
    folder = shared_data / "openbci-gui-sample"
    v5 = read(folder / "OpenBCI_GUI-v5-blinks-jawClench-alpha.txt")
    v6 = read(folder / "OpenBCI_GUI-v6-blinks-jawClench-alpha.txt")
    for rec in (v5, v6):
        check_contract(rec)
        assert rec.sfreq == 250.0 and rec.n_samples == 22490 and rec.n_channels == 8
        assert rec.metadata["dropped_samples"] == 0  # the 0-255 counter wraps, no drops
    assert v5.metadata["layout"] == "v5" and v6.metadata["layout"] == "v6"
    np.testing.assert_array_equal(v5.data, v6.data)
    assert v5.meas_date == v6.meas_date


@pytest.mark.parametrize("name, rows", [("OpenBCI-RAW-S02_S1R0.txt", 26207),
                                        ("OpenBCI-RAW-S02_S1REST.txt", 6414),
                                        ("OpenBCI-RAW-S05_S1R0.txt", 26474)])
def test_openbci_ganglion_legacy(shared_data, name, rows):
    rec = read(shared_data / "openbci-mi-emg-ganglion" / name)
    assert rec.sfreq == 200.0 and rec.n_samples == rows
    assert list(rec.emg_picks) == [0, 1]


def test_openbci_dropped_packets_are_filled_with_nan(tmp_path):
    lines = (SIGNALS / "openbci_ganglion_S05_rest.txt").read_text().splitlines()
    head, body = lines[:6], lines[6:]
    del body[100:103]  # three consecutive samples lost
    path = tmp_path / "dropped.txt"
    path.write_text("\n".join(head + body) + "\n")
    rec = read(path)
    assert rec.metadata["dropped_samples"] == 3
    assert any("3 dropped sample(s) in 1 place" in w for w in rec.warnings)
    # the holes keep later samples at their true times
    assert rec.n_samples == 4879
    assert np.isnan(rec.data[0, 100:103]).all() and np.isfinite(rec.data[0, 103:]).all()
    full = read(SIGNALS / "openbci_ganglion_S05_rest.txt")
    np.testing.assert_array_equal(rec.data[:, 103:], full.data[:, 103:])


def test_bdf_with_plain_emg_label(shared_data):
    rec = read(shared_data / "mne-testing-data-edf" / "multiple_annotation_chans.bdf")
    check_contract(rec)
    assert rec.format == "bdf" and rec.sfreq == 125.0
    assert rec.duration_s == pytest.approx(247.0)
    assert rec.n_channels == 19
    assert [rec.ch_names[i] for i in rec.emg_picks] == ["EMG"]
    assert rec.ch_types[rec.ch_names.index("ECG")] == "ecg"
    assert rec.ch_types[rec.ch_names.index("EOG")] == "eog"
    assert len(rec.annotations) == 10


def test_edf_type_prefixes_and_no_emg(shared_data):
    path = shared_data / "mne-testing-data-edf" / "chtypes_edf.edf"
    rec = read(path)
    assert rec.sfreq == 200.0 and rec.duration_s == pytest.approx(5.0)
    assert rec.ch_types.count("ecg") == 2 and "emg" not in rec.ch_types
    assert len(rec.annotations) == 8
    with pytest.raises(NoEmgChannelError, match="chtypes_edf.edf.*no EMG channel"):
        fascidetect.detect(rec)


def test_edf_subsecond_start(shared_data):
    rec = read(shared_data / "mne-testing-data-edf" / "subsecond_starttime.edf")
    assert rec.sfreq == 512.0 and rec.n_channels == 3 and rec.n_samples == 5 * 512
    # EDF+ holds the start's fraction of a second in the first record's time stamp
    assert rec.meas_date.microsecond == 394531
    assert [round(a.onset, 4) for a in rec.annotations] == [1.5566, 3.0977]


def test_edf_mixed_rates_read_at_the_emg_rate(shared_data):
    path = shared_data / "mne-testing-data-edf" / "test_reduced.edf"
    rec = read(path, emg_channels=["Ergo-Right"])
    assert rec.sfreq == 32.0  # the channel's own rate, not MNE's 512-Hz upsampling
    assert [rec.ch_names[i] for i in rec.emg_picks] == ["Ergo-Right"]
    assert any("mixed sampling rates" in w for w in rec.warnings)
    with pytest.raises(InputError, match="different sampling rates.*I8 16 Hz.*Ergo-Right 32 Hz"):
        read(path, emg_channels=["Ergo-Right", "I8"])


def test_too_low_rate_for_the_band_is_refused(shared_data):
    rec = read(shared_data / "mne-testing-data-edf" / "test_reduced.edf",
               emg_channels=["Ergo-Right"])
    with pytest.raises(ParameterError, match="32 Hz"):
        fascidetect.detect(rec)


@pytest.mark.parametrize("name, n", [("emg_healthy", 50860), ("emg_myopathy", 110337)])
def test_wfdb_emgdb(shared_data, name, n):
    folder = shared_data / "physionet-emgdb"
    rec = read(folder / f"{name}.hea")
    check_contract(rec)
    assert rec.format == "wfdb" and rec.sfreq == 4000.0 and rec.n_samples == n
    assert rec.ch_names == ["EMG"] and rec.ch_types == ["emg"]
    # needle EMG in mV in the file ("mv" in the myopathy header), volts here
    assert 1e-4 < np.abs(rec.data).max() < 2e-2
    assert read(folder / f"{name}.dat").n_samples == n
    assert read(folder / name).n_samples == n  # record name without suffix


# ---------------------------------------------------------------------- arrays
def test_csv_with_header_and_units(tmp_path):
    x = np.random.default_rng(0).normal(0, 5, (1000, 2))
    path = tmp_path / "emg.csv"
    np.savetxt(path, x, delimiter=",", header="TA_R,GAS_R", comments="")
    rec = read(path, sfreq=1000, units="uV")
    check_contract(rec)
    assert rec.ch_names == ["TA_R", "GAS_R"] and rec.ch_types == ["emg", "emg"]
    np.testing.assert_allclose(rec.data, x.T * 1e-6)


def test_csv_without_header_guesses_units_with_a_warning(tmp_path):
    x = np.random.default_rng(1).normal(0, 20, (500, 3))
    path = tmp_path / "emg.tsv"
    np.savetxt(path, x, delimiter="\t")
    with pytest.warns(fascidetect.FascidetectWarning, match="look like uV"):
        rec = read(path, sfreq=500)
    assert rec.ch_names == ["EMG1", "EMG2", "EMG3"]
    np.testing.assert_allclose(rec.data, x.T * 1e-6)


def test_csv_with_a_stated_unit_that_cannot_be_right_is_warned(tmp_path):
    x = np.random.default_rng(1).normal(0, 20, (500, 3))  # microvolts
    path = tmp_path / "emg.csv"
    np.savetxt(path, x, delimiter=",")
    with pytest.warns(fascidetect.FascidetectWarning, match="given as V .*pass units='uV'"):
        rec = read(path, sfreq=500, units="V")
    np.testing.assert_allclose(rec.data, x.T)  # the stated unit still wins
    assert any("pass units='uV'" in w for w in rec.warnings)


def test_npy_channels_by_samples(tmp_path):
    x = 1e-5 * np.random.default_rng(2).standard_normal((4, 3000))
    path = tmp_path / "emg.npy"
    np.save(path, x)
    rec = read(path, sfreq=2000, units="V", ch_names=["a", "b", "c", "d"])
    np.testing.assert_array_equal(rec.data, x)
    np.save(path, x.T)  # samples x channels is turned round
    np.testing.assert_array_equal(read(path, sfreq=2000, units="V").data, x)


def test_array_without_sfreq_is_refused(tmp_path):
    path = tmp_path / "emg.npy"
    np.save(path, np.zeros((2, 10)))
    with pytest.raises(ParameterError, match="emg.npy.*sampling rate.*--sfreq"):
        read(path)


# ---------------------------------------------------------------------- bad input
def test_missing_file():
    with pytest.raises(FileMissingError, match="nope.edf.*no such file"):
        read("nope.edf")


def test_unknown_format(tmp_path):
    path = tmp_path / "thing.xyz"
    path.write_bytes(b"\x01\x02 binary")
    with pytest.raises(UnknownFormatError, match="thing.xyz.*unknown format"):
        read(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.edf"
    path.write_bytes(b"")
    with pytest.raises(EmptyRecordingError, match="empty.edf"):
        read(path)


def test_truncated_edf(tmp_path):
    path = tmp_path / "cut.edf"
    data = (SIGNALS / "sim_mixed_L5.edf").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=r"cut.edf' is truncated.*120 data records"):
        read(path)


def test_truncated_edf_header(tmp_path):
    path = tmp_path / "head.edf"
    path.write_bytes((SIGNALS / "sim_mixed_L5.edf").read_bytes()[:600])
    with pytest.raises(CorruptFileError, match="head.edf.*truncated EDF/BDF header"):
        read(path)


def test_corrupt_edf_header_field(tmp_path):
    path = tmp_path / "bad.edf"
    data = bytearray((SIGNALS / "sim_mixed_L5.edf").read_bytes())
    data[236:244] = b"12x4    "  # number of data records
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="bad.edf.*'number of data records' is '12x4'"):
        read(path)


def test_all_nan_is_refused_and_some_nan_is_warned(tmp_path):
    x = 1e-5 * np.random.default_rng(3).standard_normal((2, 4000))
    x[0, 100:200] = np.nan
    path = tmp_path / "nan.npy"
    np.save(path, x)
    rec = read(path, sfreq=2000, units="V")
    assert any("2.50 % of samples are NaN" in w for w in rec.warnings)
    np.save(path, np.full((2, 4000), np.nan))
    with pytest.raises(BadSamplesError, match="NaN"):
        read(path, sfreq=2000, units="V")


def test_flat_channel_is_reported_by_detect():
    x = 5e-6 * np.random.default_rng(4).standard_normal((2, 40000))
    x[1] = 0.0
    res = fascidetect.detect(x, sfreq=2000.0, ch_names=["TA", "GAS"])
    assert any("GAS is flat" in w for w in res.warnings)
    with pytest.raises(BadSamplesError, match="every EMG channel is flat"):
        fascidetect.detect(np.zeros((2, 40000)), sfreq=2000.0)


def test_unknown_channel_pick_names_the_choices():
    with pytest.raises(InputError, match=r"\['XYZ'\] not in.*EMG TA_R"):
        read(SIGNALS / "sim_mixed_L5.edf", emg_channels=["XYZ"])


# ---------------------------------------------------------------------- EDF+D
def _write_edf_plus_d(path: Path, onsets, sfreq=1000, seed=0):
    """Write a 1-channel EDF+D with 1-s records starting at ``onsets`` (seconds)."""
    n_rec = len(onsets)
    tal_samples = 30
    rng = np.random.default_rng(seed)
    digital = rng.integers(-300, 300, (n_rec, sfreq)).astype("<i2")

    def f(value, width):
        return str(value).ljust(width)[:width].encode("latin-1")

    header = (f("0", 8) + f("X X X X", 80) + f("Startdate 01-JAN-2024 X X X", 80)
              + f("01.01.24", 8) + f("09.00.00", 8) + f(256 * 3, 8) + f("EDF+D", 44)
              + f(n_rec, 8) + f(1, 8) + f(2, 4))
    labels = ["EMG TA_R", "EDF Annotations"]
    sig = [f(x, 16) for x in labels] + [f("", 80)] * 2 + [f("uV", 8), f("", 8)]
    sig += [f(-3277, 8), f(-1, 8)] + [f(3277, 8), f(1, 8)]
    sig += [f(-32768, 8)] * 2 + [f(32767, 8)] * 2 + [f("", 80)] * 2
    sig += [f(sfreq, 8), f(tal_samples, 8)] + [f("", 32)] * 2
    body = b""
    for k, onset in enumerate(onsets):
        tal = f"+{onset:g}\x14\x14\x00".encode("latin-1").ljust(2 * tal_samples, b"\x00")
        body += digital[k].tobytes() + tal
    path.write_bytes(header + b"".join(sig) + body)


def test_edf_plus_d_gaps_are_marked(tmp_path):
    path = tmp_path / "disc.edf"
    _write_edf_plus_d(path, [0, 1, 2, 5, 6, 7])  # 2 s missing after the third record
    rec = read(path)
    assert rec.metadata["subtype"] == "EDF+D"
    assert rec.n_samples == 6000
    assert rec.metadata["gaps"] == [{"after_s": 3.0, "length_s": 2.0}]
    gaps = [a for a in rec.annotations if a.description.startswith("BAD_ACQ_SKIP")]
    assert len(gaps) == 1 and gaps[0].onset < 3.0 < gaps[0].onset + gaps[0].duration
    assert any("EDF+D" in w for w in rec.warnings)


def test_edf_plus_d_without_gaps_has_no_marks(tmp_path):
    path = tmp_path / "cont.edf"
    _write_edf_plus_d(path, [0, 1, 2, 3])
    rec = read(path)
    assert rec.metadata["gaps"] == []
    assert not [a for a in rec.annotations if a.description.startswith("BAD")]


# ---------------------------------------------------------------------- CLI
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fascidetect.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_info_json_and_errors(tmp_path):
    shutil.copy(SIGNALS / "sim_mixed_L5.edf", tmp_path / "a.edf")
    out = _cli("info", "--json", tmp_path / "a.edf", tmp_path / "missing.edf")
    assert out.returncode == 1
    assert '"sfreq": 2048.0' in out.stdout and '"EMG TA_R"' in out.stdout
    import json

    doc = json.loads(out.stdout.splitlines()[0])
    for key in ("path", "format", "sfreq", "n_channels", "ch_names", "duration_s"):
        assert key in doc
    assert doc["n_channels"] == 6 and doc["duration_s"] == 120.0
    assert out.stderr.strip().splitlines() == [f"Error: '{tmp_path / 'missing.edf'}': no such file"]
    assert "Traceback" not in out.stderr


def test_cli_detect_bad_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.edf"
    bad.write_bytes((SIGNALS / "sim_mixed_L5.edf").read_bytes()[:5000])
    out = _cli("detect", bad, "--out", tmp_path / "out")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "truncated" in lines[0] and "Traceback" not in out.stderr


def test_describe_recording_is_plain_data():
    desc = describe_recording(read(SIGNALS / "openbci_ganglion_S05_rest.txt"))
    assert desc["emg_channels"] == ["EXG Channel 0", "EXG Channel 1"]
    assert desc["metadata"]["layout"] == "legacy"


# ---------------------------------------------------------------------- header damage
def _patched_edf(tmp_path, name, patches):
    """Copy the bundled EDF and overwrite header bytes: {offset: bytes}."""
    data = bytearray((SIGNALS / "sim_mixed_L5.edf").read_bytes())
    for offset, value in patches.items():
        data[offset:offset + len(value)] = value
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


_NS = 7  # signals in the bundled EDF (6 EMG + annotations)


def _signal_field(field_offset, signal, width=8):
    return 256 + field_offset * _NS + signal * width


def test_edf_unit_spelling_does_not_change_the_scale(tmp_path):
    good = read(SIGNALS / "sim_mixed_L5.edf").data[0]
    for spelling in (b"uv      ", b"UV      ", b"uV      "):
        path = _patched_edf(tmp_path, "u.edf", {_signal_field(96, 0): spelling})
        np.testing.assert_allclose(read(path).data[0], good)
    path = _patched_edf(tmp_path, "blank.edf", {_signal_field(96, 0): b"        "})
    rec = read(path)
    np.testing.assert_allclose(rec.data[0], good)  # range +/-hundreds: taken as µV...
    assert any("states no voltage unit" in w and "assumed µV" in w for w in rec.warnings)


@pytest.mark.parametrize("patch, message", [
    ({_signal_field(120, 0): b"32767   "}, r"signal 1 \(EMG TA_R\) has an unusable range"),
    ({_signal_field(104, 0): b"100     ", _signal_field(112, 0): b"100     "},
     "unusable range"),
    ({_signal_field(112, 0): b"1e308   "}, r"signal 1 \(EMG TA_R\) states a physical range .*"
                                            "beyond any amplifier"),
    ({244: b"0       "}, r"record duration 0.0 s"),
    ({236: b"-5      "}, "-5 data records"),
])
def test_edf_header_nonsense_is_refused(tmp_path, patch, message):
    with pytest.raises(CorruptFileError, match=message):
        read(_patched_edf(tmp_path, "bad.edf", patch))


def test_edf_duplicate_labels_keep_their_types(tmp_path):
    path = _patched_edf(tmp_path, "dup.edf", {256 + 16: b"EMG TA_R        "})
    rec = read(path)
    assert rec.ch_types[:2] == ["emg", "emg"] and rec.ch_names[0] != rec.ch_names[1]


def test_edf_more_records_than_announced(tmp_path):
    path = _patched_edf(tmp_path, "more.edf", {236: b"60      "})
    rec = read(path)
    assert rec.duration_s == pytest.approx(60.0)
    assert any("more than its header announces" in w for w in rec.warnings)


# ---------------------------------------------------------------------- arrays, boards
def test_csv_in_millivolts_is_recognised(tmp_path):
    x = np.random.default_rng(5).normal(0, 0.004, (4000, 2))  # 4 µV noise written in mV
    path = tmp_path / "mv.csv"
    np.savetxt(path, x, delimiter=",")
    with pytest.warns(fascidetect.FascidetectWarning, match="look like mV"):
        rec = read(path, sfreq=2000)
    np.testing.assert_allclose(rec.data, x.T * 1e-3)
    assert any("look like mV" in w for w in rec.warnings)  # also in the results


def test_csv_time_and_accelerometer_columns_are_not_emg(tmp_path):
    t = np.arange(2000) / 2000
    x = np.random.default_rng(6).normal(0, 5, (2000, 2))
    path = tmp_path / "cols.csv"
    np.savetxt(path, np.column_stack([t, x[:, 0], x[:, 1]]), delimiter=",",
               header="time,TA_R,ACC X", comments="")
    rec = read(path, sfreq=2000, units="uV")
    assert rec.ch_types == ["misc", "emg", "misc"]
    path2 = tmp_path / "nohead.csv"
    np.savetxt(path2, np.column_stack([np.arange(2000), x[:, 0]]), delimiter=",")
    assert read(path2, sfreq=2000, units="uV").ch_types == ["misc", "emg"]  # a counter


def test_non_numeric_npy_is_refused(tmp_path):
    path = tmp_path / "c.npy"
    np.save(path, np.ones((2, 100), dtype=complex))
    with pytest.raises(CorruptFileError, match="complex128 values, not real numbers"):
        read(path, sfreq=100)


def test_too_short_recording_is_refused():
    with pytest.raises(InputError, match=r"0.1 s long; at least 1 s"):
        fascidetect.detect(np.zeros((1, 200)) + 1e-6, sfreq=2000.0)


def test_brainflow_board_rate_checked_against_timestamps():
    with pytest.raises(ParameterError, match=r"timestamps say about 250 Hz.*125 Hz"):
        read(DATA / "brainflow_synthetic_board.csv", board=2)  # 32 columns too, 125 Hz


def test_bad_sfreq_names_the_file(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((1, 10)))
    with pytest.raises(ParameterError, match="x.npy.*positive number of Hz"):
        read(path, sfreq=0)


def test_cli_detect_same_names_do_not_overwrite(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(SIGNALS / "openbci_ganglion_S05_rest.txt", tmp_path / sub / "rec.txt")
    out = _cli("detect", tmp_path / "a" / "rec.txt", tmp_path / "b" / "rec.txt",
               "--out", tmp_path / "out")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "a" / "rec_events.tsv").exists()
    assert (tmp_path / "out" / "b" / "rec_events.tsv").exists()


def test_cli_warnings_are_one_line(tmp_path):
    path = tmp_path / "x.csv"
    np.savetxt(path, np.random.default_rng(0).normal(0, 5, (3000, 1)))
    out = _cli("info", "--sfreq", "1000", path)
    assert out.returncode == 0
    assert [ln for ln in out.stderr.splitlines() if ln] == [
        ln for ln in out.stderr.splitlines() if ln.startswith("Warning: ")]


def test_openbci_corrupt_counter_is_not_an_allocation(tmp_path):
    # A rate outside the reader's board table and one corrupt sample-index cell: the
    # gaps it implies are bounded by the counter's own range (they used to turn a
    # 400-KB file into 10,000 s of NaN and several GB).
    lines = (SIGNALS / "openbci_gui_v6_cyton_10s.txt").read_text().splitlines()
    head = [ln.replace("250 Hz", "500 Hz") for ln in lines[:5]]
    body = lines[5:]
    fields = body[50].split(",")
    fields[0] = "999999"
    body[50] = ",".join(fields)
    path = tmp_path / "bomb.txt"
    path.write_text("\n".join(head + body) + "\n")
    rec = read(path)
    assert rec.sfreq == 500.0
    assert rec.n_samples == len(body)  # one corrupt cell is no gap
    assert rec.metadata["dropped_samples"] == 0


@pytest.mark.skipif(sys.platform == "win32", reason="file-descriptor limits are POSIX")
@pytest.mark.parametrize("name", ["sim_mixed_L5.edf", "openbci_gui_v6_cyton_10s.txt"])
def test_out_of_file_descriptors_says_why(name):
    # A script holding many large results runs out of descriptors; the next read says so
    # (before: a bare "[Errno 24] Too many open files" naming the recording).
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    path = Path(__file__).parent.parent / "signals" / name
    held = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        with pytest.raises(OSError):
            for _ in range(300):  # use every descriptor up
                held.append(open(os.devnull, "rb"))  # noqa: SIM115 (closed below)
        with pytest.raises(InputError, match="no file descriptor left.*temporary file open"):
            read(path)
    finally:
        for fh in held:
            fh.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_out_of_file_descriptors_inside_mne_says_why(monkeypatch):
    # With one descriptor left the header reads and MNE's open fails; the EDF reader
    # turns any MNE failure into CorruptFileError ``from None``, which was reported as
    # "MNE cannot read it: [Errno 24] Too many open files" (the file is not corrupt).
    import errno
    import os

    import mne

    def no_descriptor(*args, **kwargs):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(mne.io, "read_raw_edf", no_descriptor)
    path = Path(__file__).parent.parent / "signals" / "sim_mixed_L5.edf"
    with pytest.raises(InputError, match="no file descriptor left") as info:
        read(path)
    assert not isinstance(info.value, CorruptFileError)
