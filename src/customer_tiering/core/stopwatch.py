"""Seconds per stage of a job: what training runs log as metrics and ratings print and store."""

from __future__ import annotations

import time

__all__ = ["Stopwatch"]


class Stopwatch:
    """Seconds per stage of a job (``laps``, in the order the stages ended), and in all."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._started = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Record the seconds since the previous lap (or the start) as ``stage``."""
        now = time.perf_counter()
        self.laps[stage] = now - self._last
        self._last = now

    def elapsed(self) -> float:
        """Seconds since the stopwatch started."""
        return time.perf_counter() - self._started
