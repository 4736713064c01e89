"""The clock is a parameter: every piece of the core that needs "now" takes a :data:`Clock`."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "FakeClock", "system_clock"]

Clock = Callable[[], float]
"""A function returning the current time as Unix epoch seconds."""

system_clock: Clock = time.time


class FakeClock:
    """A manually advanced clock for tests and backfills (never sleeps)."""

    __slots__ = ("now",)

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now

    def set(self, now: float) -> None:
        self.now = float(now)
