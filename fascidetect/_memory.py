"""Hand freed heap memory back to the operating system between pipeline steps."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """Return glibc's ``malloc_trim``, or None where there is none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release() -> None:
    """Return the free pages inside the C heap to the system (glibc ``malloc_trim(0)``).

    Block-sized temporaries (tens of MB) come from the heap once glibc's mmap threshold
    has risen past them, and the small long-lived arrays allocated between them (each
    block's candidates) pin that memory: freed, it stays resident. Over a day-long
    recording that grew the peak by about 15 MB an hour above what was live (issue 14).
    Called at a few step boundaries, it costs milliseconds; a fixed mmap threshold
    instead would fault every large array in afresh (10 x the system time, measured).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
