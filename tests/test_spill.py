"""Whole-recording arrays held out of memory (issue 14): spilled columns and bit masks."""

import numpy as np

from fascidetect._spill import BitColumns, ColumnSpill


def test_column_spill_reads_back_any_range():
    rng = np.random.default_rng(0)
    full = rng.standard_normal((3, 1000)).astype(np.float16)
    spill = ColumnSpill(3, 1000, np.float16)
    col = 0
    for w in (0, 7, 250, 1, 342, 400):  # uneven blocks, written in order
        spill.write(col, full[:, col:col + w])
        col += w
    for a, b in [(0, 1000), (5, 9), (249, 260), (600, 601), (990, 1200), (300, 300)]:
        assert np.array_equal(spill.read(a, b), full[:, a:min(b, 1000)])
    assert np.array_equal(spill[1, 100:700], full[1, 100:700])


def test_bit_columns_pack_as_the_whole_mask():
    rng = np.random.default_rng(1)
    mask = rng.random((4, 999)) < 0.3
    bits = BitColumns(4, 999)
    col = 0
    for w in (3, 0, 13, 500, 1, 482):
        bits.add(mask[:, col:col + w])
        col += w
    packed = np.asarray(bits.finish())  # in a temporary file: read back whole
    assert np.array_equal(packed, np.packbits(mask, axis=1))
    for r in range(4):  # and by rows and slices of rows, as the array
        assert np.array_equal(bits.finish()[r], packed[r])
        assert np.array_equal(bits.finish()[r, 7:70], packed[r, 7:70])
    assert np.array_equal(np.unpackbits(packed, axis=1, count=999).view(bool), mask)


def test_column_spill_falls_back_to_memory_when_the_file_cannot_grow(monkeypatch):
    full = np.arange(40, dtype=np.float16).reshape(2, 20)
    spill = ColumnSpill(2, 20, np.float16)
    spill.write(0, full[:, :8])
    real = spill._file

    class Full:  # a file whose next write fails as a full disk does
        def seek(self, pos):
            real.seek(pos)

        def read(self, n):
            return real.read(n)

        def write(self, data):
            raise OSError(27, "File too large")

        def close(self):
            real.close()

    spill._file = Full()
    spill.write(8, full[:, 8:])
    assert np.array_equal(spill.read(0, 20), full)


def _motion_spans_whole(raw_max, raw_min, window_s, params, band_range):
    """motion_spans as written before issue 14's fifth pass: all channels at once."""
    from fascidetect.episodes import run_bounds

    n_ch, n = raw_max.shape
    k = max(1, int(round(params.motion_window_ms / 1000.0 / window_s)))
    g = n // k

    def grouped(a, reduce):
        return a[:, :g] if k == 1 else reduce(a[:, : g * k].reshape(n_ch, g, k), axis=-1)

    span = grouped(raw_max, np.max) - grouped(raw_min, np.min)
    usual = np.median(span, axis=1, keepdims=True)
    out_of_band = span > params.motion_out_of_band * grouped(band_range, np.max)
    wild = (span > params.motion_range_factor * np.maximum(usual, np.finfo(float).tiny)) \
        & out_of_band
    moving = wild.sum(axis=0) >= max(2, int(np.ceil(0.5 * n_ch)))
    starts, stops = run_bounds(moving)
    group_s, margin = k * window_s, params.episode_margin_s
    return [(a * group_s - margin, b * group_s + margin) for a, b in zip(starts, stops)]


def test_motion_spans_from_spilled_rows_equal_the_whole_array_judgement():
    from fascidetect.episodes import motion_spans
    from fascidetect.params import DetectionParams

    rng = np.random.default_rng(5)
    n_ch, n = 6, 4001  # odd: the median of an odd and (k = 2) an even count
    raw_max = rng.gamma(2.0, 1.0, (n_ch, n)).astype(np.float32)
    raw_min = -rng.gamma(2.0, 1.0, (n_ch, n)).astype(np.float32)
    band = (0.5 * (raw_max - raw_min) * rng.random((n_ch, n))).astype(np.float32)
    for t in (300, 1500, 1501, 3000):  # swings on most channels
        raw_max[:5, t:t + 3] += 40.0
        band[:5, t:t + 3] = 1.0
    spill = ColumnSpill(3 * n_ch, n, np.float32)
    col = 0
    for w in (1000, 7, 1993, 1001):  # blocks of columns, as the scan writes them
        spill.write(col, np.concatenate([raw_max, raw_min, band])[:, col:col + w])
        col += w
    rows = [spill.rows(i * n_ch, n_ch) for i in range(3)]
    assert np.array_equal(np.asarray(rows[2]), band)
    assert np.array_equal(rows[1].read_row(3), raw_min[3])
    for window_s in (0.2, 0.1):  # k = 1 and k = 2 windows per motion group
        params = DetectionParams()
        want = _motion_spans_whole(raw_max, raw_min, window_s, params, band)
        assert want  # the swings are found
        assert motion_spans(*rows[:2], None, window_s, params, band_range=rows[2]) == want
        assert motion_spans(raw_max, raw_min, None, window_s, params, band_range=band) == want


def test_a_spill_let_go_without_close_closes_its_file():
    # Scans and results hold spills nobody closes by hand: collecting one must close its
    # temporary file (it left a ResourceWarning per detect() before).
    import gc
    import warnings

    spill = ColumnSpill(2, 10, np.float32)
    spill.write(0, np.ones((2, 10)))
    handle = spill._file
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del spill
        gc.collect()
    assert handle.closed


def test_row_spill_indexes_as_the_array():
    import pickle

    from fascidetect._spill import RowSpill

    rng = np.random.default_rng(5)
    full = (rng.standard_normal((700, 3, 9)) * 3).astype(np.float16)
    spill = RowSpill(full.shape[1:], np.float16)
    start = 0
    for n in (0, 13, 200, 1, 486):  # appended in uneven parts
        spill.append(full[start:start + n])
        start += n
    spill.WINDOW_BYTES = 5 * full[0].nbytes  # gathers across many windows
    assert spill.shape == full.shape and len(spill) == 700 and spill.ndim == 3
    idx = rng.integers(0, 700, 60)  # unsorted, repeated
    mask = rng.random(700) < 0.2
    for key in (idx, idx[:0], mask, slice(None), slice(5, 90), slice(650, 900),
                slice(3, 400, 7), 0, 699, -1, (idx, 1), (slice(2, 30), slice(None), 4),
                (5, 2), idx.reshape(6, 10), [3, 1, 2]):
        got, want = spill[key], full[key]
        assert got.dtype == want.dtype and got.shape == want.shape, key
        assert got.tobytes() == want.tobytes(), key
    assert np.asarray(spill).tobytes() == full.tobytes()
    assert pickle.loads(pickle.dumps(spill)).tobytes() == full.tobytes()  # as the array
    for bad in (np.array([700]), np.array([-701])):
        try:
            spill[bad]
        except IndexError:
            pass
        else:
            raise AssertionError("an index out of range was read")


def test_row_spill_falls_back_to_memory_when_the_file_cannot_grow():
    from fascidetect._spill import RowSpill

    full = np.arange(60, dtype=np.float32).reshape(10, 6)
    spill = RowSpill((6,), np.float32)
    spill.append(full[:4])
    real = spill._file

    class Full:  # a file whose next write fails as a full disk does
        def seek(self, *a):
            return real.seek(*a)

        def readinto(self, buffer):
            return real.readinto(buffer)

        def write(self, data):
            raise OSError(28, "No space left on device")

        def close(self):
            real.close()

    spill._file = Full()
    spill.append(full[4:])
    assert spill[:].tobytes() == full.tobytes()
    assert spill[np.array([9, 0, 5])].tobytes() == full[[9, 0, 5]].tobytes()


def test_spilled_columns_read_back_as_the_dict():
    import pickle

    from fascidetect._spill import SpilledColumns

    rng = np.random.default_rng(6)
    cols = {"a": rng.standard_normal(1000), "n": np.arange(1000, dtype=np.int32),
            "flag": rng.random(1000) < 0.5, "empty": np.zeros(0)}
    spill = SpilledColumns(cols)
    assert list(spill) == list(cols) and len(spill) == 4 and "n" in spill and "x" not in spill
    for k, v in cols.items():
        assert spill[k].dtype == v.dtype and spill[k].tobytes() == v.tobytes()
    spill["n"] = spill["n"].astype(np.int64) * 2  # replaced in place: order kept
    assert list(spill) == list(cols) and spill["n"].dtype == np.int64
    np.testing.assert_array_equal(spill["n"], 2 * cols["n"])
    assert spill.get("missing", 7) == 7
    assert spill.pop("flag").tobytes() == cols["flag"].tobytes() and "flag" not in spill
    back = pickle.loads(pickle.dumps(spill))
    assert type(back) is dict and list(back) == ["a", "n", "empty"]
    np.testing.assert_array_equal(back["a"], cols["a"])
