"""A tiny stopwatch that adds up the time spent in each named pipeline stage."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict


class Stopwatch:
    """Accumulate wall time per stage name (``with watch.stage("filter"): ...``)."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextlib.contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0

    def as_dict(self) -> dict:
        """Return the seconds per stage, rounded to microseconds."""
        return {k: round(v, 6) for k, v in self.seconds.items()}
