"""A second thread for one file (issue 14): who gets threads, and the same events with them."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import fascidetect
from fascidetect import _threads, fftfilter, matching, scan
from fascidetect.errors import ParameterError


def test_threads_only_where_one_file_is_processed_at_a_time(monkeypatch):
    """Library calls and batch workers: 1; the one-file commands: the usable cores, at
    most two; the environment variable wins everywhere, and nonsense in it is an error."""
    monkeypatch.delenv(_threads.FILE_THREADS_VAR, raising=False)
    assert _threads.file_threads() == 1
    with _threads.one_file_at_a_time():
        assert _threads.file_threads() == min(2, _threads.usable_cores())
    assert _threads.file_threads() == 1  # restored
    monkeypatch.setenv(_threads.FILE_THREADS_VAR, "1")
    with _threads.one_file_at_a_time():
        assert _threads.file_threads() == 1
    monkeypatch.setenv(_threads.FILE_THREADS_VAR, "3")
    assert _threads.file_threads() == 3
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv(_threads.FILE_THREADS_VAR, bad)
        with pytest.raises(ParameterError, match=_threads.FILE_THREADS_VAR):
            _threads.file_threads()


def test_ordered_map_keeps_order_and_bounds_the_items_in_flight():
    live, most = [0], [0]
    lock = threading.Lock()

    def work(i):
        with lock:
            live[0] += 1
            most[0] = max(most[0], live[0])
        time.sleep(0.002 * (i % 3))  # later items may finish first
        with lock:
            live[0] -= 1
        return i * i

    for threads in (1, 2, 3):
        most[0] = 0
        assert list(_threads.ordered_map(work, iter(range(20)), threads)) == \
            [i * i for i in range(20)]
        assert 1 <= most[0] <= threads


def test_ordered_map_raises_at_the_failing_item():
    def work(i):
        if i == 5:
            raise ValueError("item 5")
        return i

    got = []
    with pytest.raises(ValueError, match="item 5"):
        for x in _threads.ordered_map(work, range(10), 2):
            got.append(x)
    assert got == [0, 1, 2, 3, 4]


def test_helper_runs_both_halves_and_waits_for_the_second():
    helper = _threads.Helper()
    try:
        names = helper.both(lambda: threading.current_thread().name,
                            lambda: (time.sleep(0.01), threading.current_thread().name)[1])
        assert names[0] == threading.current_thread().name and names[1] != names[0]
        done = []
        with pytest.raises(RuntimeError):
            helper.both(lambda: (_ for _ in ()).throw(RuntimeError("first")),
                        lambda: (time.sleep(0.02), done.append(1)))
        assert done == [1]  # the second half had finished when the error came out
    finally:
        helper.close()


def test_fft_filter_a_few_channels_at_a_time_equals_the_whole_block(monkeypatch):
    """Each channel's transform is its own: any grouping gives the same bits."""
    from scipy.signal import butter

    sos = butter(4, [20, 450], btype="band", fs=2000, output="sos")
    kernel = fftfilter.zero_phase_kernel(sos, 2000.0, 4000)
    rng = np.random.default_rng(4)
    data = 1e-5 * rng.standard_normal((11, 30001)) + 1e-3 * rng.standard_normal((11, 1))
    monkeypatch.setattr(fftfilter, "_GROUP_VALUES", 10 ** 9)
    whole = fftfilter.fft_filtfilt(data, kernel, sos)
    monkeypatch.setattr(fftfilter, "_GROUP_VALUES", 1)  # the minimum of rows: 4, 4, 3
    grouped = fftfilter.fft_filtfilt(data, kernel, sos)
    assert np.array_equal(whole, grouped)


def test_two_threads_give_the_same_events_as_one(monkeypatch):
    """Blocks prepared in a thread and units scored in halves: the same events, bit for
    bit (ECG subtraction and template matching on, several blocks, a NaN gap)."""
    rec, _ = fascidetect.simulation.simulate(scenario="ecg", seed=103, duration_s=40.0)
    data = rec.get_data()
    data[1, 30000:30400] = np.nan  # one channel's gap
    used = {"ahead": [], "halves": 0}
    real_map, real_both = _threads.ordered_map, _threads.Helper.both

    def spy_map(func, items, threads):
        used["ahead"].append(threads)
        return real_map(func, items, threads)

    def spy_both(self, first, second):
        used["halves"] += 1
        return real_both(self, first, second)

    monkeypatch.setattr(_threads, "ordered_map", spy_map)
    monkeypatch.setattr(_threads.Helper, "both", spy_both)
    tables = {}
    for threads in ("1", "2"):
        monkeypatch.setenv(_threads.FILE_THREADS_VAR, threads)
        res = fascidetect.detect(data, sfreq=rec.sfreq, ch_names=rec.ch_names, chunk_s=8.0)
        tables[threads] = res.events
    assert used["ahead"] and used["ahead"][0] == 1 and max(used["ahead"]) == 2
    assert used["halves"] > 0  # the matching pass scored units in the helper thread
    one, two = tables["1"], tables["2"]
    assert one.size > 10 and np.isfinite(one["match_score"]).any()
    assert one.dtype == two.dtype
    for name in one.dtype.names:
        a, b = one[name], two[name]
        same = np.array_equal(a, b, equal_nan=True) if a.dtype.kind == "f" else \
            np.array_equal(a, b)
        assert same, name


def test_a_failing_block_in_the_thread_fails_the_file(monkeypatch):
    monkeypatch.setenv(_threads.FILE_THREADS_VAR, "2")
    calls = [0]
    real = scan._prepare_block

    def failing(*args):
        calls[0] += 1
        if calls[0] == 3:
            raise MemoryError("block 3")
        return real(*args)

    monkeypatch.setattr(scan, "_prepare_block", failing)
    rec, _ = fascidetect.simulation.simulate(scenario="rest", seed=1, duration_s=40.0)
    with pytest.raises(MemoryError, match="block 3"):
        fascidetect.detect(rec, chunk_s=8.0)
    assert matching  # (imported for the spies above; the module is the pass they watch)
