"""OTBiolab+ MAT exports: the real openhdemg sample, written look-alikes, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import fascidetect
from fascidetect.errors import CorruptFileError
from fascidetect.io import detect_format

sio = pytest.importorskip("scipy.io")
FS = 2048.0


def _write_export(path, emg_unit="mV", force=None, n=4 * 2048, description=True,
                  compress=False):
    """Write a MAT file laid out as OTBiolab+ exports it: Data and Description in cells."""
    rng = np.random.default_rng(0)
    emg = 0.01 * rng.standard_normal((n, 4))  # 10 µV in mV
    cols = [emg]
    names = [f"Tibialis Anterior - AUX 1 - GR10MM0808 ({k + 1})[{emg_unit}]" for k in range(4)]
    if force is not None:
        cols.append(force[:, None])
        names.append("acquired data[ %(MVC)]")
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.hstack(cols).astype(np.float32)
    content = {"Data": cell,
               "SamplingFrequency": np.array([[FS]]), "Time": np.arange(n)[:, None] / FS}
    if description:
        content["Description"] = np.array([[name] for name in names], dtype=object)
    sio.savemat(path, content, do_compression=compress)
    return path


def test_the_openhdemg_sample_reads_as_volts_with_its_grid_and_contraction(shared_data):
    path = shared_data / "openhdemg-otb-sample" / "otb_testfile.mat"
    assert detect_format(path) == "otb-mat"
    rec = fascidetect.read(path)
    assert rec.sfreq == FS and rec.n_samples == 66_560
    assert rec.ch_names[:2] == ["EMG1", "EMG2"] and len(rec.emg_picks) == 64
    # µV in the file: the channels' SD is about 114 µV (PROVENANCE.md).
    assert 80e-6 < np.std(rec.data[0]) < 150e-6
    assert rec.metadata["electrode_grid"] == "GR08MM1305"
    assert rec.metadata["force_channel"] == "acquired data"
    assert set(rec.metadata["muscles"].values()) == {"VL"}        # "Vastus Lateralis - ..."
    assert len(rec.metadata["muscles"]) == 64
    # The force ramps above 10 % MVC 2.9 s into the export (9.9 s on its own clock) and
    # back down at 29.5 s: the contraction annotation covers that and a little more.
    (ann,) = rec.annotations
    assert "voluntary" in ann.description and "% MVC" in ann.description
    assert 1.0 < ann.onset < 2.9 and 29.5 < ann.onset + ann.duration < 32.0
    result = fascidetect.detect(rec, layout=rec.metadata["electrode_grid"])
    assert result.summary()["counts"]["fasciculation"] == 0


def test_a_written_export_in_millivolts_with_a_force_channel(tmp_path):
    force = np.zeros(4 * 2048) + 1.0
    force[2048:6144] = 20.0                                      # 1-3 s at 20 % MVC
    path = _write_export(tmp_path / "ta.mat", force=force)
    rec = fascidetect.read(path)
    assert rec.format == "otb-mat" and rec.ch_types == ["emg"] * 4 + ["misc"]
    assert np.std(rec.data[0]) == pytest.approx(10e-6, rel=0.05)  # mV -> V
    assert rec.metadata["electrode_grid"] == "GR10MM0808"
    (ann,) = rec.annotations
    assert ann.onset == pytest.approx(1.0, abs=1e-3) and ann.duration == pytest.approx(2.0, abs=1e-3)
    # Without a force channel nothing is annotated.
    assert fascidetect.read(_write_export(tmp_path / "plain.mat")).annotations == []


def test_a_mat_file_that_is_not_an_export_names_what_is_missing(tmp_path):
    path = _write_export(tmp_path / "other.mat", description=False)
    with pytest.raises(CorruptFileError, match="not an OTBiolab\\+ export: no Description"):
        fascidetect.read(path)
    cut = tmp_path / "cut.mat"
    cut.write_bytes(_write_export(tmp_path / "whole.mat").read_bytes()[:3000])
    with pytest.raises(CorruptFileError, match="cannot read this MATLAB file"):
        fascidetect.read(cut)


def test_the_command_line_detects_an_export(tmp_path):
    from click.testing import CliRunner

    from fascidetect.cli import cli

    path = _write_export(tmp_path / "ta.mat")
    res = CliRunner().invoke(cli, ["detect", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "ta_events.tsv").is_file()


def test_signals_without_a_unit_are_not_taken_as_emg_silently(tmp_path):
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.zeros((2048, 2), dtype=np.float32)
    sio.savemat(tmp_path / "bare.mat", {"Data": cell, "SamplingFrequency": [[FS]],
                                        "Description": np.array([["a"], ["b"]], dtype=object)})
    rec = fascidetect.read(tmp_path / "bare.mat")
    assert rec.ch_types == ["misc", "misc"]
    assert any("state no unit" in w for w in rec.warnings)


def test_a_damaged_compressed_export_is_refused_plainly(tmp_path):
    # MATLAB compresses its v7 files (the openhdemg sample too): a damaged byte inside a
    # compressed variable reached the caller as zlib.error with a traceback.
    whole = _write_export(tmp_path / "whole.mat", compress=True).read_bytes()
    for at in (len(whole) // 3, len(whole) // 2, 2 * len(whole) // 3):
        damaged = bytearray(whole)
        damaged[at] ^= 0xFF
        path = tmp_path / f"damaged_{at}.mat"
        path.write_bytes(bytes(damaged))
        with pytest.raises(CorruptFileError, match="damaged or truncated"):
            fascidetect.read(path)


@pytest.mark.parametrize("data", [np.zeros((100, 2, 3)), np.zeros((100, 6)) + 1j,
                                  np.array([["a", "b"]] * 6)])
def test_data_that_is_not_a_real_matrix_is_named(tmp_path, data):
    # A 3-D Data was 'holds no samples'; complex values lost their imaginary part silently.
    names = np.array([[f"GR08MM1305 ({k})[uV]"] for k in range(1, 7)], dtype=object)
    sio.savemat(tmp_path / "odd.mat", {"Data": data, "SamplingFrequency": [[FS]],
                                       "Description": names})
    with pytest.raises(CorruptFileError, match="not a samples x signals matrix of real"):
        fascidetect.read(tmp_path / "odd.mat")


def test_several_sampling_rates_are_refused(tmp_path):
    path = _write_export(tmp_path / "ta.mat")
    content = sio.loadmat(path)
    content["SamplingFrequency"] = np.array([[2048.0, 512.0]])
    sio.savemat(tmp_path / "two.mat", {k: v for k, v in content.items() if not k.startswith("__")})
    with pytest.raises(CorruptFileError, match="several rates"):
        fascidetect.read(tmp_path / "two.mat")


def test_the_muscle_of_the_descriptions_names_the_channels_in_reports(tmp_path):
    from fascidetect.report import report_summary, write_report

    path = _write_export(tmp_path / "ta.mat")
    rec = fascidetect.read(path)
    assert rec.metadata["muscles"] == {f"EMG{k}": "TA" for k in range(1, 5)}
    written = write_report(rec, tmp_path / "out", formats=("html",))
    html = written["html"].read_text(encoding="utf-8")
    assert "<td>EMG1</td><td>tibialis anterior</td><td>L5</td>" in html
    # Without the file's muscles the channel names (EMG<k>) name none.
    bare = report_summary(fascidetect.detect(rec))
    assert [row[1] for row in bare["table_rows"]] == [""] * 4
