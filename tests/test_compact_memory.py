"""Compact in-memory forms of issue 14's fifth pass equal the forms they replace:
the coded event table, the firing stage's per-channel activity, int32 candidate columns."""

import os

import numpy as np
import pytest

from fascidetect.params import DetectionParams


def _ongoing_whole(bits, n_sub, samples, main_ch, art, window, params, sfreq):
    """The firing stage's ongoing-activity test as written before: the whole mask."""
    from fascidetect.stages.firing import in_ongoing_activity

    active = np.unpackbits(bits, axis=1, count=n_sub).view(bool)
    sub = np.clip(samples // window, 0, max(0, n_sub - 1))
    for shift in (-1, 0, 1):
        active[main_ch, np.clip(sub + shift, 0, max(0, n_sub - 1))] = False
        active[:, np.clip(sub[art] + shift, 0, max(0, n_sub - 1))] = False
    return in_ongoing_activity(samples, main_ch, active, window, params, sfreq)


@pytest.mark.parametrize("chunk", [7, 64, 1000, 1 << 20])
def test_ongoing_activity_from_bits_per_channel_equals_the_whole_mask(monkeypatch, chunk):
    from fascidetect.stages import firing

    monkeypatch.setattr(firing, "_CHUNK_SUBWINDOWS", chunk)
    rng = np.random.default_rng(chunk)
    params, fs, window = DetectionParams(), 2000.0, 50
    for n_ch, n_sub in ((3, 2001), (5, 803), (1, 17)):
        active = rng.random((n_ch, n_sub)) < 0.4
        active[:, n_sub // 3:n_sub // 2] = True  # a busy stretch
        bits = np.packbits(active, axis=1)
        samples = np.sort(rng.integers(0, n_sub * window + 30, 300))  # some past the end
        main_ch = rng.integers(0, n_ch, samples.size)
        art = rng.random(samples.size) < 0.1
        want = _ongoing_whole(bits, n_sub, samples, main_ch, art, window, params, fs)
        got = firing.ongoing_from_bits(bits, n_sub, samples, main_ch, art, window, params, fs)
        if n_sub > 100:  # (the 17 sub-windows are all cleared by the discharges)
            assert want.any() and not want.all()
        np.testing.assert_array_equal(got, want)
    empty = firing.ongoing_from_bits(bits, n_sub, samples[:0], main_ch[:0], art[:0], window,
                                     params, fs)
    assert empty.shape == (0,)


def _random_events(rng, n):
    from fascidetect.events import empty_events

    ev = empty_events(n)
    ev["onset"] = np.sort(rng.random(n) * 100)
    ev["duration"] = rng.random(n)
    ev["peak_time"] = ev["onset"] + 0.001
    ev["trial_type"] = rng.choice(["fasciculation", "voluntary", "artifact", "spasm"], n)
    ev["channel"] = rng.choice(np.array(["C1", "C2", "C3"], dtype=object), n)
    ev["channels"] = rng.choice(np.array(["C1", "C1,C2", ""], dtype=object), n)
    ev["unit"] = rng.integers(-1, 4, n)
    ev["doublet"] = rng.integers(0, 2, n)
    ev["match_score"][rng.random(n) < 0.3] = 7.25
    art = ev["trial_type"] == "artifact"
    ev["artifact_kind"][art] = rng.choice(["ecg", "motion", "pop"], int(art.sum()))
    # a custom reason longer than the column: cut as a fixed-width column cuts it
    ev["reason"] = rng.choice(["isolated_discharge", "firing_cluster", "",
                               "a_reason_longer_than_twenty_four_characters"], n)
    return ev


@pytest.mark.parametrize("spilled", [False, True])
def test_coded_events_materialise_equal_the_event_table(spilled):
    import pickle

    from fascidetect._spill import SpilledColumns
    from fascidetect.events import EVENT_DTYPE, CodedEvents, column_equals, column_text

    rng = np.random.default_rng(7)
    for n in (0, 1, 500):
        ev = _random_events(rng, n)
        coded = CodedEvents.from_events(ev)
        if spilled:  # in a temporary file: read back column by column, or a few rows
            coded.spill()
            assert isinstance(coded.columns, SpilledColumns)
        out = coded.materialise()
        assert out.dtype == EVENT_DTYPE
        for name in EVENT_DTYPE.names:
            np.testing.assert_array_equal(out[name], ev[name])
            np.testing.assert_array_equal(coded[name], ev[name])
        for a, b in ((3, 40), (0, n), (n - 1, n + 5), (7, 3)):
            part = coded.rows(a, b)
            assert part.dtype == EVENT_DTYPE
            for name in EVENT_DTYPE.names:
                np.testing.assert_array_equal(part[name], ev[name][max(a, 0):b])
        assert coded.nbytes <= n * EVENT_DTYPE.itemsize / 3
        for t in ("fasciculation", "artifact", "nothing", "a_reason_longer_than_twe"):
            for name in ("trial_type", "reason"):
                np.testing.assert_array_equal(column_equals(coded, name, t), ev[name] == t)
        mask = ev["trial_type"] == "artifact"
        np.testing.assert_array_equal(column_text(coded, "artifact_kind", mask),
                                      ev["artifact_kind"][mask])
        np.testing.assert_array_equal(column_text(coded, "channels", mask), ev["channels"][mask])
        rows = np.flatnonzero(mask)
        coded.put("unit", rows, 9)  # held or spilled, the assignment reaches the table
        assert (coded.materialise()["unit"][rows] == 9).all()
        if not spilled:
            coded["unit"][:] = 8  # number columns held in memory are views
            assert (coded.materialise()["unit"] == 8).all()
        back = pickle.loads(pickle.dumps(coded))  # a spilled table pickles as held
        assert isinstance(back.columns, dict)
        for name in EVENT_DTYPE.names:
            np.testing.assert_array_equal(back[name], coded[name])


def test_sorted_events_spilled_equal_held(monkeypatch):
    # A large event table is made column by column into a temporary file: the same table.
    import pickle

    import fascidetect
    from fascidetect import candidates

    rec, _ = fascidetect.simulate(scenario="ecg", seed=3, duration_s=40.0, n_channels=3)
    held = fascidetect.detect(rec)
    assert isinstance(held.__dict__["_coded"].columns, dict)
    monkeypatch.setattr(candidates, "_SPILL_MIN_BYTES", 0)
    spilled = fascidetect.detect(rec)
    assert not isinstance(spilled.__dict__["_coded"].columns, dict)
    assert spilled.summary() == held.summary()
    for name in spilled.events.dtype.names:
        np.testing.assert_array_equal(spilled.events[name], held.events[name])
    assert len(held.events) > 20 and (held.events["unit"] >= 0).any()
    # Pickled before its events are read, a result with a spilled table reads the same.
    again = pickle.loads(pickle.dumps(fascidetect.detect(rec)))
    for name in held.events.dtype.names:
        np.testing.assert_array_equal(again.events[name], held.events[name])


def test_detection_result_from_coded_events_writes_and_reads_as_the_array(tmp_path):
    from fascidetect.events import EVENT_DTYPE, CodedEvents
    from fascidetect.params import DetectionParams
    from fascidetect.results import DetectionResult

    rng = np.random.default_rng(8)
    ev = _random_events(rng, 300)

    def result(events):
        return DetectionResult(events=events, channels=[{"name": "C1", "rest_s": 90.0}],
                               waveforms=np.zeros((0, 3, 5), np.float32),
                               templates=np.zeros((0, 3, 5), np.float32),
                               params=DetectionParams(), recording={}, warnings=[],
                               sfreq=2000.0)

    plain, coded = result(ev.copy()), result(CodedEvents.from_events(ev))
    plain.to_tsv(tmp_path / "a.tsv")
    coded.to_tsv(tmp_path / "b.tsv")
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert coded.summary() == plain.summary()
    assert coded.n_units == plain.n_units
    assert coded.__dict__["_coded"] is not None  # not built by the exports
    # Read: the public table, as before (dtype, values); then it is the table.
    assert coded.events.dtype == EVENT_DTYPE
    for name in EVENT_DTYPE.names:
        np.testing.assert_array_equal(coded.events[name], ev[name])
    for name in EVENT_DTYPE.names:
        np.testing.assert_array_equal(coded.fasciculations[name], plain.fasciculations[name])
    coded.events["trial_type"][:5] = "spasm"  # changes are kept, and written
    plain.events["trial_type"][:5] = "spasm"
    coded.to_tsv(tmp_path / "c.tsv")
    plain.to_tsv(tmp_path / "d.tsv")
    assert (tmp_path / "c.tsv").read_bytes() == (tmp_path / "d.tsv").read_bytes()
    assert coded.summary() == plain.summary()


def _sustained_whole(active, span, fraction, min_ch, gap):
    """The episodes' sustained mask as written before: whole bool masks."""
    from fascidetect.episodes import run_bounds, sustained_mask

    n_ch = active.shape[0]
    sustained = sustained_mask(active, span, fraction)
    if min_ch >= 2:
        need = max(min_ch, int(np.ceil(0.5 * n_ch)))
        pooled = sustained_mask((active.sum(axis=0) >= need)[None, :], span, fraction)[0]
        sustained |= pooled & active
    starts, stops = run_bounds(sustained.any(axis=0))
    if starts.size > 1:
        short = (starts[1:] - stops[:-1]) <= gap
        for k in np.flatnonzero(short):
            sustained[:, stops[k]:starts[k + 1]] = \
                sustained[:, starts[k]:stops[k]].any(axis=1)[:, None]
    return sustained


def test_sustained_bits_equal_the_whole_masks():
    from fascidetect.episodes import _bit_range, _set_bit_range, sustained_bits

    rng = np.random.default_rng(11)
    for n_ch, n_sub, min_ch in ((4, 3001, 2), (3, 1003, 3), (1, 999, 1), (6, 64, 2)):
        active = rng.random((n_ch, n_sub)) < 0.15
        for a, b, chans in ((100, 400, [0, 1 % n_ch]), (430, 700, [1 % n_ch]),
                            (705, 900, [0, 2 % n_ch])):
            if b < n_sub:
                active[chans, a:b] = rng.random((len(chans), b - a)) < 0.9
        # activity hopping between channels: each alone too sparse
        hop = np.arange(1500, min(n_sub, 1900))
        active[hop % n_ch, hop] = True
        bits = np.packbits(active, axis=1)
        got = sustained_bits(bits, n_sub, span=40, fraction=0.6, min_ch=min_ch, gap=16)
        want = _sustained_whole(active, 40, 0.6, min_ch, 16)
        np.testing.assert_array_equal(np.unpackbits(got, axis=1, count=n_sub).view(bool),
                                      want)
        if n_sub > 1000:
            assert want.any() and not want.all()
    mask = rng.random((3, 77)) < 0.5
    bits = np.packbits(mask, axis=1)
    for a, b in ((0, 77), (3, 5), (8, 16), (9, 70), (76, 77)):
        np.testing.assert_array_equal(_bit_range(bits, a, b), mask[:, a:b])
        new = rng.random((3, b - a)) < 0.5
        _set_bit_range(bits, a, new)
        mask[:, a:b] = new
        np.testing.assert_array_equal(np.unpackbits(bits, axis=1, count=77).view(bool), mask)


def test_int32_candidate_columns_give_the_same_events_as_int64(monkeypatch, tmp_path):
    import warnings

    from fascidetect import candidates, pipeline, simulate

    rec, _ = simulate(scenario="mixed", duration_s=90, sfreq=2000, n_channels=4, seed=2)
    seen = {}
    run_stages = pipeline.run_stages

    def spy(cands, context, stages):
        seen.setdefault("dtypes", []).append(
            {k: getattr(cands, k).dtype for k in candidates._INTEGER_COLUMNS})
        return run_stages(cands, context, stages)

    monkeypatch.setattr(pipeline, "run_stages", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        narrow = pipeline.detect(rec)
        monkeypatch.setattr(candidates, "_INT32_SAMPLES", 0)  # as a 60-h 10-kHz file: int64
        wide = pipeline.detect(rec)
    assert all(d == np.int32 for d in seen["dtypes"][0].values())
    assert all(d == np.int64 for d in seen["dtypes"][1].values())
    narrow.to_tsv(tmp_path / "narrow.tsv")
    wide.to_tsv(tmp_path / "wide.tsv")
    assert (tmp_path / "narrow.tsv").read_bytes() == (tmp_path / "wide.tsv").read_bytes()
    assert len(narrow.events) > 10
    np.testing.assert_array_equal(narrow.waveforms, wide.waveforms)


def test_narrow_integers_keeps_values_and_guards_long_recordings():
    from fascidetect.candidates import _INT32_SAMPLES, Candidates

    rng = np.random.default_rng(3)
    n = 50
    sample = np.sort(rng.integers(0, 2**31 - 2**25, n))

    def table():
        return Candidates(sample=sample.copy(), centre=sample + 3, channel=rng.integers(0, 8, n),
                          channels=np.ones((n, 8), bool), amplitude=rng.random(n),
                          snr=rng.random(n), features={"n_phases": rng.integers(0, 9, n),
                                                       "p2p": rng.random(n)},
                          snip_row=np.full(n, -1))

    c = table()
    c.narrow_integers(2**31 - 2**25 + 100)
    assert c.sample.dtype == np.int32 and c.features["n_phases"].dtype == np.int32
    assert c.features["p2p"].dtype == np.float64
    np.testing.assert_array_equal(c.sample, sample)
    np.testing.assert_array_equal(c.centre, sample + 3)
    d = table()
    d.narrow_integers(_INT32_SAMPLES)  # 2^31 samples or near: kept int64
    assert d.sample.dtype == np.int64


@pytest.mark.parametrize("max_waveforms", [25, 20000])
def test_scan_merging_block_tables_changes_nothing(monkeypatch, tmp_path, max_waveforms):
    import warnings

    from fascidetect import pipeline, scan, simulate

    rec, _ = simulate(scenario="mixed", duration_s=140, sfreq=2000, n_channels=4, seed=4)
    out = {}
    for merge in (2, 3, 10**9):  # every 2 / 3 blocks, never
        monkeypatch.setattr(scan, "_MERGE_BLOCKS", merge)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = pipeline.detect(rec, chunk_s=20.0, max_waveforms=max_waveforms)
        res.to_tsv(tmp_path / f"{merge}.tsv")
        out[merge] = ((tmp_path / f"{merge}.tsv").read_bytes(), res.waveforms,
                      res.waveform_rows)
    ref = out[10**9]
    assert ref[0].count(b"\n") > 10
    for merge in (2, 3):
        assert out[merge][0] == ref[0]
        np.testing.assert_array_equal(out[merge][1], ref[1])
        np.testing.assert_array_equal(out[merge][2], ref[2])


def test_choose_equals_nested_where_over_strings():
    from fascidetect.stages import choose

    rng = np.random.default_rng(9)
    a, b, c = (rng.random(300) < p for p in (0.2, 0.4, 0.5))
    want = np.where(a, "annotated_task", np.where(b, "in_spasm",
                                                  np.where(c, "in_voluntary_episode",
                                                           "outside_rest")))
    got = choose([(a, "annotated_task"), (b, "in_spasm"), (c, "in_voluntary_episode")],
                 "outside_rest")
    assert got.dtype == object
    np.testing.assert_array_equal(got.astype(str), want)
    one = choose([(a, "isolated_discharge")], "sporadic_discharge")
    np.testing.assert_array_equal(one.astype(str),
                                  np.where(a, "isolated_discharge", "sporadic_discharge"))
    # One shared object per distinct string (np.full made one per row: issue 14).
    assert len({id(v) for v in got.tolist()}) == 4
    assert len({id(v) for v in one.tolist()}) == 2


def test_stages_return_shared_reason_strings():
    """The motion stage's reasons (own kind, else "motion") and the fasciculation
    stage's (isolated or sporadic) are a few shared objects, not one string per row."""
    from fascidetect.blocks import Geometry
    from fascidetect.candidates import Candidates
    from fascidetect.stages import Context, artifacts, fasciculation

    n = 500
    sample = np.cumsum(np.where(np.arange(n) % 3 < 2, 1000, 100))  # every 3rd isolated
    cands = Candidates(sample=sample, centre=sample,
                       channel=np.zeros(n, int), channels=np.ones((n, 1), bool),
                       amplitude=np.ones(n), snr=np.ones(n), features={},
                       snip_row=np.full(n, -1))
    cands.artifact_kind[::7] = "ecg"
    params = DetectionParams()
    ctx = Context(params=params, sfreq=2000.0, names=["a"], sigma=np.ones(1),
                  geometry=Geometry.build(2000.0, params, 1), scan=None,
                  duration_s=n / 20, bad_spans=[], task_spans=[], motion_spans=[(0.0, 1e9)],
                  episode_spans=[], episode_types=[])
    labels, reasons = artifacts.motion(cands, ctx)
    assert set(reasons.tolist()) == {"ecg", "motion"}
    assert len({id(v) for v in reasons.tolist()}) == 2
    ctx.isolated = fasciculation.isolation(cands.times(2000.0), cands.channel, 0.07)
    labels, reasons = fasciculation.fasciculations(cands, ctx)
    assert set(reasons.tolist()) == {"isolated_discharge", "sporadic_discharge"}
    assert len({id(v) for v in reasons.tolist()}) == 2
    assert len({id(v) for v in labels.tolist()}) == 1


def test_scan_rest_windows_fill_as_the_blocks_concatenated():
    from fascidetect.scan import _Columns

    rng = np.random.default_rng(12)
    blocks = [rng.random((3, w)) for w in (5, 5, 0, 5, 2)]
    for planned in (17, 12, 20):  # exact, too few (grows), too many (cut)
        cols = _Columns(3, planned)
        for b in blocks:
            cols.add(b)
        rows = cols.finish()  # in a temporary file, read back a row at a time
        want = np.concatenate([b.astype(np.float32) for b in blocks], axis=1)
        assert rows.shape == want.shape
        got = np.asarray(rows)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
        for c in range(3):
            np.testing.assert_array_equal(rows.read_row(c), want[c])


def test_rest_masks_from_spilled_rows_equal_the_arrays():
    from fascidetect.rest import with_hysteresis
    from fascidetect.scan import _Columns

    rng = np.random.default_rng(14)
    ratio = (1 + 0.05 * rng.standard_normal((4, 900)).cumsum(axis=1)).astype(np.float32)
    ratio[rng.random(ratio.shape) < 0.03] = np.nan
    threshold = (1.2 + 0.1 * rng.random((4, 900))).astype(np.float32)
    spilled = []
    for a in (ratio, threshold):
        cols = _Columns(4, 900)
        for j in range(0, 900, 128):  # as the blocks come
            cols.add(a[:, j:j + 128])
        spilled.append(cols.finish())
    want = with_hysteresis(ratio, threshold, 0.4)
    assert want.any() and not want.all()
    np.testing.assert_array_equal(with_hysteresis(*spilled, 0.4), want)
    np.testing.assert_array_equal(with_hysteresis(spilled[0], threshold[0], 0.4),
                                  with_hysteresis(ratio, threshold[0], 0.4))


def test_half_waveforms_index_and_materialise_as_the_float32_waveforms():
    from fascidetect.assemble import HalfWaveforms, _permute_rows

    rng = np.random.default_rng(13)
    data = (rng.standard_normal((2100, 3, 7)) * 4).astype(np.float16)  # > one slice
    unit = np.array([2e-6, 3.3e-6, 1.0], dtype=np.float32)
    want = data.astype(np.float32)  # as held_fasciculations computed them
    want *= unit[None, :, None]
    half = HalfWaveforms(data.copy(), unit)
    got = half.materialise()
    assert got.dtype == np.float32 and got.shape == want.shape
    assert got.tobytes() == want.tobytes()
    idx = np.sort(rng.choice(2100, 50, replace=False))
    for key in (idx, (idx, 1, slice(None)), slice(5, 40), 7, (7, 2), idx % 2 == 0):
        if isinstance(key, np.ndarray) and key.dtype == bool:
            key = np.resize(key, 2100)
        np.testing.assert_array_equal(half[key], want[key])
        assert half[key].dtype == np.float32
    assert np.asarray(half).tobytes() == want.tobytes()
    order = rng.permutation(2100)
    _permute_rows(half.data, order)
    assert half.materialise().tobytes() == want[order].tobytes()


def test_detection_result_builds_float32_waveforms_when_read():
    from fascidetect.assemble import HalfWaveforms
    from fascidetect.events import empty_events
    from fascidetect.results import DetectionResult

    data = np.arange(24, dtype=np.float16).reshape(2, 3, 4)
    unit = np.array([1.0, 0.5, 2.0], dtype=np.float32)
    res = DetectionResult(events=empty_events(0), channels=[], templates=np.zeros((0, 3, 4)),
                          waveforms=HalfWaveforms(data, unit), params=None, recording={},
                          warnings=[], sfreq=1000.0)
    assert res.__dict__["_half_waveforms"] is not None
    wf = res.waveforms
    assert isinstance(wf, np.ndarray) and wf.dtype == np.float32
    np.testing.assert_array_equal(wf, data.astype(np.float32) * unit[None, :, None])
    assert res.waveforms is wf  # built once
    np.testing.assert_array_equal(res.waveforms_of([1]), wf[[1]])


def test_spilled_half_waveforms_reorder_and_read_as_the_array():
    from fascidetect._spill import RowSpill
    from fascidetect.assemble import HalfWaveforms, _permute_rows

    rng = np.random.default_rng(17)
    data = (rng.standard_normal((1300, 3, 7)) * 4).astype(np.float16)
    unit = np.array([2e-6, 3.3e-6, 1.0], dtype=np.float32)
    in_memory = HalfWaveforms(data.copy(), unit)
    spilled = HalfWaveforms(RowSpill.of(data), unit)
    for order in (rng.permutation(1300), np.arange(1300)[::-1]):  # twice: orders compose
        in_memory.reorder(order)
        spilled.reorder(order)
    assert spilled.shape == in_memory.shape and len(spilled) == 1300
    assert spilled.materialise().tobytes() == in_memory.materialise().tobytes()
    idx = rng.choice(1300, 40, replace=False)
    for key in (idx, (idx, 1), slice(10, 900), 3, (3, 0), np.resize(idx % 2 == 0, 1300)):
        assert spilled[key].tobytes() == in_memory[key].tobytes()
    reference = data.copy()
    _permute_rows(reference, np.arange(1300))
    assert reference.tobytes() == data.tobytes()


def test_scan_features_spilled_equal_the_in_memory_table(monkeypatch):
    from fascidetect._spill import SpilledColumns
    from fascidetect.candidates import Candidates

    rng = np.random.default_rng(8)

    def table(n, start):
        return Candidates(sample=np.arange(start, start + n), centre=np.arange(start, start + n),
                          channel=rng.integers(0, 3, n), channels=rng.random((n, 3)) < 0.5,
                          amplitude=rng.standard_normal(n), snr=rng.random(n),
                          features={"p2p": rng.random(n), "n_turns": rng.integers(0, 9, n)},
                          snip_row=np.full(n, -1))

    parts = [table(n, 100 * i) for i, n in enumerate((5, 0, 17, 3))]
    plain = Candidates.concatenate(parts)
    spilled = Candidates.concatenate(parts, spill=True)
    assert isinstance(spilled.features, SpilledColumns) and not isinstance(plain.features,
                                                                            SpilledColumns)
    for k in plain.features:
        assert spilled.features[k].tobytes() == plain.features[k].tobytes()
    extra = table(6, 150)
    extra_copy = extra.select(np.arange(6))
    plain.insert_by_sample(extra)
    spilled.insert_by_sample(extra_copy)
    for k in plain.features:
        assert spilled.features[k].tobytes() == plain.features[k].tobytes()
    assert np.array_equal(spilled.sample, plain.sample)
    spilled.keep_features(("p2p",))
    assert isinstance(spilled.features, SpilledColumns) and list(spilled.features) == ["p2p"]
    np.testing.assert_array_equal(spilled.features["p2p"], plain.features["p2p"])


@pytest.mark.parametrize("chunk", [3, 64, 2 ** 18])
def test_sustained_and_dense_rows_counted_in_chunks_equal_the_whole_row(monkeypatch, chunk):
    from fascidetect import episodes
    from fascidetect.spans import run_bounds

    rng = np.random.default_rng(21)
    active = np.zeros(5000, dtype=bool)
    for a in rng.integers(0, 5000, 40):  # bursts over sparse noise
        active[a:a + rng.integers(5, 300)] = True
    active |= rng.random(5000) < 0.05
    h = episodes._DENSE_SUBWINDOWS // 2
    dense = np.array([2 * active[max(i - h, 0):i + h + 1].sum() >= min(i + h + 1, 5000)
                      - max(i - h, 0) for i in range(5000)])
    monkeypatch.setattr(episodes, "_CHUNK", 2 ** 30)
    whole = episodes._sustained_row(active, 80, 0.6)
    monkeypatch.setattr(episodes, "_CHUNK", chunk)
    np.testing.assert_array_equal(episodes._dense(active), dense)
    np.testing.assert_array_equal(episodes._sustained_row(active, 80, 0.6), whole)
    padded = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    starts, stops = run_bounds(active)
    np.testing.assert_array_equal(starts, np.flatnonzero(padded == 1))
    np.testing.assert_array_equal(stops, np.flatnonzero(padded == -1))


def test_regular_trains_with_anchors_in_slices_equal_one_slice(monkeypatch):
    from fascidetect import firing_pattern

    rng = np.random.default_rng(4)
    t = np.concatenate([np.sort(rng.random(3000) * 300),
                        np.arange(0, 60, 0.1) + 0.005 * rng.standard_normal(600)])
    g = np.concatenate([rng.integers(0, 3, 3000), np.ones(600, dtype=int)])
    whole = firing_pattern.regular_trains(t, g)
    assert whole.sum() > 100
    monkeypatch.setattr(firing_pattern, "_CHAIN_SLICE", 7)
    np.testing.assert_array_equal(firing_pattern.regular_trains(t, g), whole)


def test_hysteresis_per_channel_equals_all_channels_at_once():
    from fascidetect.rest import with_hysteresis

    def at_once(ratio, thr, hysteresis):  # the former form: every channel in one array
        ratio = np.nan_to_num(np.asarray(ratio, dtype=float), nan=0.0)
        thr = np.asarray(thr, dtype=float)
        thr = thr[None, :] if thr.ndim == 1 else thr
        strong, weak = ratio > thr, ratio > 1.0 + hysteresis * (thr - 1.0)
        n_ch, n = ratio.shape
        run = np.cumsum(~weak, axis=1) + (n + 1) * np.arange(n_ch)[:, None]
        return weak & (np.bincount(run[strong], minlength=(n + 1) * n_ch) > 0)[run]

    rng = np.random.default_rng(9)
    ratio = (1 + 0.05 * rng.standard_normal((5, 3000)).cumsum(axis=1)).astype(np.float32)
    ratio[rng.random(ratio.shape) < 0.02] = np.nan
    for thr in (1.2 + 0.1 * rng.random(3000), 1.2 + 0.1 * rng.random((5, 3000))):
        want = at_once(ratio, thr, 0.4)
        assert want.any() and not want.all()
        np.testing.assert_array_equal(with_hysteresis(ratio, thr, 0.4), want)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
def test_results_of_short_recordings_hold_no_open_file(monkeypatch):
    # A script keeping the results of a few hundred short recordings ran out of file
    # descriptors: each result held its waveforms' temporary file open.
    import gc

    import fascidetect
    from fascidetect import assemble

    rec, _ = fascidetect.simulate(scenario="ecg", seed=2, duration_s=30.0, n_channels=2)
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    kept = [fascidetect.detect(rec) for _ in range(2)]
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before
    assert len(kept[0].waveforms) > 0
    # A large sample still goes to a temporary file, and reads back the same.
    monkeypatch.setattr(assemble, "_SPILL_MIN_BYTES", 0)
    spilled = fascidetect.detect(rec)
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before + 1
    assert spilled.waveforms.tobytes() == kept[0].waveforms.tobytes()


def test_parked_candidate_columns_come_back_as_they_were():
    from fascidetect.candidates import _COLUMNS, Candidates

    rng = np.random.default_rng(15)
    n = 300
    cands = Candidates(sample=np.sort(rng.integers(0, 10**6, n)).astype(np.int32),
                       centre=rng.integers(0, 10**6, n).astype(np.int32),
                       channel=rng.integers(0, 4, n).astype(np.int32),
                       channels=rng.random((n, 4)) < 0.5, amplitude=rng.standard_normal(n),
                       snr=rng.random(n) * 9, features={"p2p": rng.random(n)},
                       snip_row=rng.integers(-1, 50, n),
                       artifact_kind=rng.choice(["", "ecg", "pop"], n))
    cands.label[::3] = "voluntary"
    before = {name: getattr(cands, name).copy() for name in _COLUMNS}
    parked = cands.park()
    assert all(getattr(cands, name) is None for name in _COLUMNS)
    cands.unpark(parked)
    for name in _COLUMNS:
        got = getattr(cands, name)
        assert got.dtype == before[name].dtype and got.shape == before[name].shape
        np.testing.assert_array_equal(got, before[name])
    # The text columns are shared strings again (one object per distinct value).
    assert len({id(v) for v in cands.artifact_kind.tolist()}) == 3


def test_spilled_matrix_reads_back_rows_and_slices():
    from fascidetect._spill import SpilledMatrix

    rng = np.random.default_rng(4)
    bits = np.packbits(rng.random((3, 1001)) < 0.3, axis=1)
    m = SpilledMatrix.of(bits, width=37)  # several column blocks
    assert m.shape == bits.shape and m.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(m), bits)
    for r in (0, 2, np.int64(1), -1):
        np.testing.assert_array_equal(m[r], bits[r])
        for a, b in ((0, 5), (17, 126), (120, 500), (126, 126), (-3, None)):
            np.testing.assert_array_equal(m[r, a:b], bits[r, a:b])
    with pytest.raises(IndexError):
        m[3, 0:2]
    with pytest.raises(TypeError):
        m[0, ::2]


def test_firing_stage_reads_spilled_active_bits_as_the_array(monkeypatch):
    from fascidetect._spill import SpilledMatrix
    from fascidetect.stages import firing

    monkeypatch.setattr(firing, "_CHUNK_SUBWINDOWS", 1024)  # several chunks a channel
    rng = np.random.default_rng(5)
    n_sub, window = 5000, 50
    active = rng.random((2, n_sub)) < 0.4
    bits = np.packbits(active, axis=1)
    samples = np.sort(rng.integers(0, n_sub * window, 300))
    channel = rng.integers(0, 2, 300)
    art = rng.random(300) < 0.1
    want = firing.ongoing_from_bits(bits, n_sub, samples, channel, art, window,
                                    DetectionParams(), 2000.0)
    got = firing.ongoing_from_bits(SpilledMatrix.of(bits, width=100), n_sub, samples, channel, art,
                                   window, DetectionParams(), 2000.0)
    assert want.any() and not want.all()
    np.testing.assert_array_equal(got, want)


def test_sustained_row_trims_to_dense_activity_as_by_indices():
    """The runs' ends found from the runs of dense activity equal those found from the
    active sub-windows' indices (the former way, 8 bytes a sub-window)."""
    from fascidetect import episodes
    from fascidetect.spans import run_bounds

    rng = np.random.default_rng(23)
    for trial in range(5):  # loop over random rows
        n, span, fraction = 6000, 80, 0.6
        active = rng.random(n) < 0.04
        for a in rng.integers(0, n, 30):  # bursts, some dense, some sparse
            active[a:a + rng.integers(5, 400)] |= rng.random() < 0.5 or trial % 2 == 0
        need = int(np.ceil(fraction * span - 1e-9))
        counts = np.concatenate([[0], np.cumsum(active)])
        covered = np.zeros(n, dtype=bool)
        for s in np.flatnonzero(counts[span:] - counts[:-span] >= need):
            covered[s:s + span] = True
        act = np.flatnonzero(active & episodes._dense(active) & covered)
        c_starts, c_stops = run_bounds(covered)
        first, last = np.searchsorted(act, c_starts), np.searchsorted(act, c_stops) - 1
        want = np.zeros(n, dtype=bool)
        for f, lst in zip(act[first[first <= last]], act[last[first <= last]]):
            want[f:lst + 1] = True
        assert want.any()
        np.testing.assert_array_equal(episodes._sustained_row(active, span, fraction), want)


def test_mark_fills_the_merged_spans():
    from fascidetect import episodes

    rng = np.random.default_rng(24)
    for trial in range(20):  # loop over random span sets (overlapping, touching, at the end)
        n = 300
        starts = np.sort(rng.integers(0, n, rng.integers(0, 12)))
        stops = np.maximum.accumulate(starts + rng.integers(0, 60, starts.size))
        want = np.zeros(n, dtype=bool)
        for a, b in zip(starts, stops):
            want[a:b] = True
        np.testing.assert_array_equal(episodes._mark(n, starts, stops), want)
