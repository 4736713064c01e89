"""Shared pieces for the alert, anomaly, insights and report tests."""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from monitoring import Config, FakeClock, Monitor, histogram
from monitoring.alerts import AlertService, DeliveryError, OutgoingMessage, Rule
from monitoring.recorder import Batch, RollupRow

__all__ = [
    "FakeDestination",
    "Value",
    "minute_rows",
    "open_monitor",
    "service_with",
]


class FakeDestination:
    """Records sends and edits; ``fail`` makes the next calls raise."""

    name = "fake channel"
    channel_id = 4242

    def __init__(self) -> None:
        self.sent: list[tuple[int, OutgoingMessage]] = []
        self.edits: list[tuple[int, OutgoingMessage]] = []
        self.fail: DeliveryError | None = None
        self.problem: str | None = None
        self._ids = itertools.count(900_000_000_000_000_001)

    async def send(self, message: OutgoingMessage) -> int:
        if self.fail is not None:
            raise self.fail
        message_id = next(self._ids)
        self.sent.append((message_id, message))
        return message_id

    async def edit(self, message_id: int, message: OutgoingMessage) -> None:
        if self.fail is not None:
            raise self.fail
        self.edits.append((message_id, message))

    async def check(self) -> str | None:
        return self.problem

    def last_for(self, message_id: int) -> OutgoingMessage:
        """What the message shows now (its last edit, else what was sent)."""
        for mid, message in reversed(self.edits):
            if mid == message_id:
                return message
        return next(m for mid, m in self.sent if mid == message_id)


class Value:
    """A live signal value the test sets: ``service.signals.register(metric, value)``."""

    def __init__(self, value: float | None = None, keys: Iterable[str] = ("",)) -> None:
        self.value = value
        self.keys = tuple(keys)

    def __call__(self, now: float) -> dict[str, float | None]:
        if self.value is None:
            return {}
        return dict.fromkeys(self.keys, self.value)


@asynccontextmanager
async def open_monitor(db: Path, clock: FakeClock, **config: Any) -> AsyncIterator[Monitor]:
    """A started monitor (no background loops) on ``db``; stopped on exit."""
    monitor = Monitor(Config(db_path=db, **config), clock=clock, system_interval=3600)
    await monitor.start(background=False)
    try:
        yield monitor
    finally:
        await monitor.stop()


async def service_with(
    monitor: Monitor,
    rules: Iterable[Rule],
    destination: FakeDestination,
    values: dict[str, Value],
    **kwargs: Any,
) -> AlertService:
    """A started :class:`AlertService` whose rules read the given live values."""
    service = AlertService(monitor, rules=tuple(rules), destination=destination, **kwargs)
    for metric, value in values.items():
        service.signals.register(metric, value)
    await service.start(monitor.clock())
    return service


def minute_rows(
    metric: str, start: float, values: Iterable[float], *, count: bool = False
) -> Batch:
    """Per-minute (and matching hourly) rows of one metric from ``start``, one value a minute.

    ``count=True`` stores histogram rows whose *count* is the value (like command_latency_ms).
    """
    minutes: list[RollupRow] = []
    hours: dict[int, list[float]] = {}
    for i, value in enumerate(values):
        ts = int(start // 60 * 60) + 60 * i
        if count:
            n = int(value)
            if not n:
                continue
            blob = histogram.encode({histogram.bucket_index(100.0): n})
            minutes.append((metric, 0, "", -1, "", ts, n, 100.0 * n, 100.0, 100.0, blob))
        else:
            minutes.append((metric, 0, "", -1, "", ts, 1, float(value), value, value, None))
        acc = hours.setdefault(ts // 3600 * 3600, [0, 0.0, math.inf, -math.inf])
        acc[0] += int(value) if count else 1
        acc[1] += 100.0 * value if count else value
        acc[2] = min(acc[2], value)
        acc[3] = max(acc[3], value)
    hour_rows: list[RollupRow] = [
        (metric, 0, "", -1, "", ts, int(a[0]), a[1], a[2], a[3], None) for ts, a in hours.items()
    ]
    return Batch(tuple(minutes), tuple(hour_rows))
