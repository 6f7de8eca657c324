"""One BLAS thread while a file is processed (unless the user chose a thread count)."""

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
