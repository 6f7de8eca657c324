"""Threads: one BLAS thread while a file is processed (unless the user chose a thread
count), and the pipeline's own threads for one file (:func:`file_threads`)."""

from __future__ import annotations

import contextlib
import os

#: Thread-count variables of the BLAS/OpenMP libraries NumPy and SciPy may load.
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def user_chose_threads() -> bool:
    """Return True when one of :data:`BLAS_THREAD_VARS` is set in the environment."""
    return any(os.environ.get(name) for name in BLAS_THREAD_VARS)


@contextlib.contextmanager
def one_blas_thread():
    """Limit the loaded BLAS libraries to one thread for the duration, then restore them.

    The pipeline's BLAS work is small matrices (the Gram matrix of unit clustering):
    a second BLAS thread there only competes with the other process on a busy machine
    (measured for issue 14: 5.0 s CPU with 2 threads vs 0.83 s with one). The limit is set
    at run time (threadpoolctl), so it also holds when NumPy was imported before, and the
    caller's environment and thread settings are left as they were.
    """
    if user_chose_threads():
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


#: Environment variable by which a user sets how many threads one file may use.
FILE_THREADS_VAR = "FASCIDETECT_THREADS"
#: Threads a file uses by default when the command processes one file at a time: the
#: pipeline's parallel parts (two blocks in flight, the units' inverse FFTs in halves)
#: have measured gains up to two cores.
MAX_AUTO_THREADS = 2

_one_file_at_a_time = False


def usable_cores() -> int:
    """Return the CPU cores this process may run on (its affinity mask where known)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def file_threads() -> int:
    """Return how many threads the pipeline may use for one file.

    :data:`FILE_THREADS_VAR` when set (a whole number >= 1; honoured everywhere, also in
    batch workers, where the user then answers for the oversubscription). Otherwise 1,
    except inside :func:`one_file_at_a_time` (``fascidetect detect``, ``batch --jobs 1``):
    there the usable cores, at most :data:`MAX_AUTO_THREADS`. A batch of several
    processes, Dask workers and library calls stay single-threaded (each file one core).

    Raises
    ------
    ParameterError
        When the variable is not a whole number >= 1.
    """
    text = os.environ.get(FILE_THREADS_VAR, "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            from .errors import ParameterError

            raise ParameterError(f"{FILE_THREADS_VAR} must be a whole number >= 1 (threads "
                                 f"per file), got {text!r}")
        return value
    return min(MAX_AUTO_THREADS, usable_cores()) if _one_file_at_a_time else 1


@contextlib.contextmanager
def one_file_at_a_time():
    """Mark that this process handles one file at a time (cores may be free for threads)."""
    global _one_file_at_a_time
    saved, _one_file_at_a_time = _one_file_at_a_time, True
    try:
        yield
    finally:
        _one_file_at_a_time = saved


def ordered_map(func, items, threads: int):
    """Yield ``func(item)`` for each of ``items`` in order, computed by up to ``threads``
    threads (``threads`` items in flight: memory for that many at once).

    ``items`` is consumed in the calling thread, as results are taken (reading a file
    there keeps one reader). With ``threads <= 1`` it is a plain loop. An exception of
    ``func`` is raised at its item; the items in flight are waited for, the rest dropped.
    """
    if threads <= 1:
        for item in items:
            yield func(item)
        return
    import collections
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fascidetect")
    pending = collections.deque()
    try:
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class Helper:
    """One helper thread beside the calling one, for work split in two halves
    (:meth:`both`); ``None`` in place of a helper runs them one after the other."""

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fascidetect")

    def both(self, first, second):
        """Run ``first()`` here and ``second()`` in the helper thread; return both results."""
        future = self._pool.submit(second)
        try:
            a = first()
        finally:
            b = future.result()  # waited for even when ``first`` failed
        return a, b

    def close(self) -> None:
        self._pool.shutdown(wait=True)
