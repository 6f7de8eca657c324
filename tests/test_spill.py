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
    packed = bits.finish()
    assert np.array_equal(packed, np.packbits(mask, axis=1))
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
