"""The C heap under the pipeline (glibc; issue 14): freed memory handed back to the
operating system between steps, and allocator thresholds fixed for the block-wise work.

The pipeline allocates and frees arrays of a few MB per block (a block's channels,
masks, scores). glibc serves allocations above a dynamic threshold with ``mmap`` and
gives the heap's top back to the system above a trim threshold, so such arrays came as
fresh, zero-filled pages block after block: on an hour of 8 channels at 2 kHz about
260,000-470,000 minor page faults and 1.6-2.2 s of system CPU, which moved with any
change of the allocation pattern (removing two 8-MB copies per block raised them by
170,000). With both thresholds fixed above a block's arrays the heap keeps those pages:
about 50,000 faults and 0.5 s, peak RSS unchanged (measured on the hour).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Allocations up to this size come from the heap (glibc's largest dynamic value).
MMAP_THRESHOLD = 32 * 2 ** 20
#: Free memory at the heap's top kept for the next block before it is given back.
TRIM_THRESHOLD = 64 * 2 ** 20
#: Environment variables by which a user (or a job runner) sets the thresholds itself.
MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_applied = False


@functools.lru_cache(maxsize=None)
def _glibc(name: str, argtypes: tuple, restype=ctypes.c_int):
    """Return the glibc function ``name``, or None where there is none (macOS, Windows,
    musl, no symbol)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        func = getattr(libc, name)
    except (OSError, AttributeError):
        return None
    func.argtypes, func.restype = argtypes, restype
    return func


def _malloc_trim():
    """Return glibc's ``malloc_trim``, or None where there is none."""
    return _glibc("malloc_trim", (ctypes.c_size_t,))


def release() -> None:
    """Return the free pages inside the C heap to the system (glibc ``malloc_trim(0)``).

    Block-sized temporaries (tens of MB) come from the heap once glibc's mmap threshold
    has risen past them, and the small long-lived arrays allocated between them (each
    block's candidates) pin that memory: freed, it stays resident. Over a day-long
    recording that grew the peak by about 15 MB an hour above what was live (issue 14).
    Called at a few step boundaries, it costs milliseconds.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def steady_block_allocations() -> bool:
    """Fix glibc's mmap and trim thresholds for this process (once), unless the
    environment sets them; return True when they are set (False elsewhere: another C
    library or platform, or a threshold chosen in the environment).

    Process-wide and not undone: called by the ``fascidetect`` commands' per-file work
    (:func:`fascidetect.jobs.detect_file`), not by the library's :func:`detect`.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or any(os.environ.get(v) for v in MALLOC_VARS):
        return False
    mallopt = _glibc("mallopt", (ctypes.c_int, ctypes.c_int))
    if mallopt is None:
        return False
    _applied = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and \
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _applied
