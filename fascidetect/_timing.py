"""A tiny stopwatch that adds up the time spent in each named pipeline stage."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict


class Stopwatch:
    """Accumulate wall time per stage name (``with watch.stage("filter"): ...``).

    Stages timed in several threads at once (blocks in flight, :mod:`fascidetect._threads`)
    add up each thread's time.
    """

    def __init__(self):
        self.seconds = defaultdict(float)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - t0
            with self._lock:
                self.seconds[name] += spent

    def as_dict(self) -> dict:
        """Return the seconds per stage, rounded to microseconds."""
        return {k: round(v, 6) for k, v in self.seconds.items()}
