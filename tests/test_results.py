"""DetectionResult exports: MNE annotations (and their round trip), pandas."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fascidetect
from fascidetect.errors import FascidetectWarning
from fascidetect.recording import Recording, is_own_annotation, own_annotation_mask

mne = pytest.importorskip("mne")


def assert_same_events(got, expected):
    """Every field equal (NaN equal to NaN)."""
    assert got.dtype == expected.dtype and got.size == expected.size
    for name in expected.dtype.names:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


@pytest.fixture(scope="module")
def hum_motion():
    """30 s with motion, pops and voluntary firing (no annotations), and its result."""
    rec, _ = fascidetect.simulate(duration_s=30, scenario="hum_motion", seed=1)
    raw = rec.to_raw()
    raw.set_annotations(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FascidetectWarning)
        result = fascidetect.detect(raw)
    counts = result.summary()["counts"]
    assert counts["voluntary"] > 0 and counts["artifact"] > 0 and counts["fasciculation"] > 0
    return raw, result


def test_annotation_descriptions_are_prefixed_and_artifacts_bad(hum_motion):
    _, result = hum_motion
    ann = result.to_annotations()
    assert len(ann) == len(result.events)
    ev = result.events
    desc = np.asarray(ann.description)
    art = ev["trial_type"] == "artifact"
    assert set(desc[~art]) <= {"fascidetect/fasciculation", "fascidetect/spasm",
                               "fascidetect/voluntary"}
    expected = ["BAD_fascidetect/artifact/" + k for k in ev["artifact_kind"][art]]
    assert list(desc[art]) == expected
    assert all(tuple(c.split(",")) == tuple(a) for c, a in zip(ev["channels"], ann.ch_names))


def test_artifact_annotations_make_mne_reject_epochs(hum_motion):
    raw, result = hum_motion
    raw = raw.copy()
    art = result.events[result.events["trial_type"] == "artifact"]
    raw.set_annotations(result.to_annotations())
    events = mne.make_fixed_length_events(raw, duration=1.0)
    epochs = mne.Epochs(raw, events, tmin=0.0, tmax=1.0 - 1 / raw.info["sfreq"], baseline=None,
                        reject_by_annotation=True, preload=True, verbose="error")
    starts = events[:, 0] / raw.info["sfreq"]
    hit = np.array([np.any((art["onset"] < s + 1.0) & (art["onset"] + art["duration"] > s))
                    for s in starts])  # a few dozen epochs
    assert hit.any() and not hit.all()
    assert len(epochs) == int((~hit).sum())


def test_detect_again_on_a_raw_carrying_its_annotations_gives_the_same_events(hum_motion):
    raw, result = hum_motion
    raw = raw.copy()
    raw.set_annotations(result.to_annotations())
    again = fascidetect.detect(raw)
    assert_same_events(again.events, result.events)
    assert again.summary()["rest_s"] == result.summary()["rest_s"]


def test_user_marks_still_count_beside_the_tool_annotations():
    rec, _ = fascidetect.simulate(duration_s=30, scenario="voluntary", seed=1)
    raw = rec.to_raw()  # carries the experimenter's "voluntary" marks
    assert any(a == "voluntary" for a in raw.annotations.description)
    first = fascidetect.detect(raw)
    unmarked = raw.copy().set_annotations(None)
    assert fascidetect.detect(unmarked).summary()["rest_s"] != first.summary()["rest_s"]
    raw.set_annotations(raw.annotations + first.to_annotations(raw))
    again = fascidetect.detect(raw)
    assert_same_events(again.events, first.events)
    assert again.summary()["rest_s"] == first.summary()["rest_s"]


def test_to_annotations_on_a_cropped_raw_lines_up_with_its_times(hum_motion):
    raw, _ = hum_motion
    cropped = raw.copy().crop(tmin=5.0)
    assert cropped.first_samp > 0 and cropped.annotations.orig_time is not None
    result = fascidetect.detect(cropped)
    combined = cropped.annotations + result.to_annotations(cropped)  # same orig_time
    # Read back as a user's labels (renamed), the onsets are the events' onsets.
    renamed = mne.Annotations(combined.onset, combined.duration,
                              [d.replace("fascidetect/", "mine/") for d in combined.description],
                              orig_time=combined.orig_time)
    back = Recording.from_raw(cropped.set_annotations(renamed))
    np.testing.assert_allclose([a.onset for a in back.annotations], result.events["onset"],
                               atol=1e-3)


def test_own_annotations_are_recognised_old_and_new():
    assert is_own_annotation("fascidetect/voluntary")
    assert is_own_annotation("BAD_fascidetect/artifact/ecg")
    # Before the prefix, the tool wrote bare labels, always on channels.
    assert is_own_annotation("fasciculation", ("EMG1",))
    assert is_own_annotation("artifact/motion", ("EMG1", "EMG2"))
    assert is_own_annotation("voluntary", ("EMG1",), legacy_export=True)
    # The experimenter's marks have no channels; unknown labels are never ours.
    assert not is_own_annotation("voluntary")
    assert not is_own_annotation("fasciculation")
    assert not is_own_annotation("BAD_ACQ_SKIP gap of 1 s")
    assert not is_own_annotation("artifact/sneeze", ("EMG1",))
    assert not is_own_annotation("voluntary task", ("EMG1",))


def test_a_users_channel_specific_voluntary_mark_is_kept():
    ann = mne.Annotations([1.0, 5.0, 9.0], [2.0, 0.01, 0.01],
                          ["voluntary", "fascidetect/fasciculation", "BAD_blink"],
                          ch_names=[("EMG1",), ("EMG1",), ("EMG2",)])
    assert list(own_annotation_mask(ann)) == [False, True, False]
    old = mne.Annotations([1.0, 5.0], [2.0, 0.01], ["voluntary", "fasciculation"],
                          ch_names=[("EMG1",), ("EMG1",)])
    assert list(own_annotation_mask(old)) == [True, True]


def test_old_style_annotations_are_not_read_as_task_marks(hum_motion):
    raw, result = hum_motion
    raw = raw.copy()
    ev = result.events
    old = np.where(ev["artifact_kind"] != "",
                   np.char.add("artifact/", ev["artifact_kind"].astype(str)),
                   ev["trial_type"].astype(str))
    raw.set_annotations(mne.Annotations(ev["onset"], ev["duration"], old,
                                        ch_names=[tuple(c.split(",")) for c in ev["channels"]]))
    assert Recording.from_raw(raw).annotations == []
    assert_same_events(fascidetect.detect(raw).events, result.events)


def test_own_annotations_written_to_edf_are_left_out_when_read(hum_motion, tmp_path):
    pytest.importorskip("edfio")
    raw, result = hum_motion
    raw = raw.copy()
    user = mne.Annotations([2.0], [3.0], ["voluntary"], orig_time=raw.annotations.orig_time)
    raw.set_annotations(user + result.to_annotations(raw))
    path = tmp_path / "with_results.edf"
    raw.export(path, verbose="error")
    in_file = mne.io.read_raw_edf(path, verbose="error").annotations.description
    assert any(d.startswith("fascidetect/") for d in in_file)
    rec = fascidetect.read(path)
    assert [a.description for a in rec.annotations] == ["voluntary"]


def test_to_dataframe_has_one_row_per_event_and_the_tsv_columns(hum_motion):
    pd = pytest.importorskip("pandas")
    from fascidetect.events import COLUMN_NAMES

    _, result = hum_motion
    df = result.to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert tuple(df.columns) == COLUMN_NAMES
    assert len(df) == len(result.events)
    assert df["trial_type"].value_counts().to_dict() == {
        k: v for k, v in result.summary()["counts"].items() if v}


def test_results_and_recordings_compare_by_identity_without_raising(hum_motion):
    # Field-by-field equality would compare arrays and raise "truth value of an array is
    # ambiguous"; a set of results or `result in results` must just work.
    import copy

    _, result = hum_motion
    twin = copy.copy(result)
    assert result == result and result != twin and result in [twin, result]
    assert len({result, twin}) == 2
    rec = Recording.from_raw(hum_motion[0])
    assert rec == rec and rec != copy.copy(rec)
