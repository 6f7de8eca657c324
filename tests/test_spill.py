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
