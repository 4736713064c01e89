"""The store protocol, its typed values and its errors (no database import here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal, Protocol

from ..recorder import Batch

__all__ = [
    "RESOLUTIONS",
    "Aggregate",
    "Change",
    "CommandStat",
    "SeriesPoint",
    "Store",
    "StoreBusy",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreReadOnly",
    "StoreUnavailable",
    "TopItem",
    "choose_step",
]


class StoreError(Exception):
    """Base class of store failures."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (missing folder, I/O error); retry later."""


class StoreBusy(StoreUnavailable):
    """The database is locked by another writer; retry later."""


class StoreReadOnly(StoreUnavailable):
    """The database file or its folder is read-only; retry later."""


class StoreFull(StoreUnavailable):
    """The disk is full; retry later."""


class StoreCorrupt(StoreError):
    """The file is not a usable monitoring database (corrupt or another application's).

    It is never deleted or overwritten: the message names the file so the operator can act.
    """


@dataclasses.dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of a time series: the rows of ``[ts, ts + step)`` merged."""

    ts: int
    count: int
    sum: float
    min: float | None
    max: float | None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None


@dataclasses.dataclass(frozen=True, slots=True)
class Aggregate:
    """A metric over a whole range."""

    count: int
    sum: float
    min: float | None
    max: float | None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    @classmethod
    def empty(cls) -> Aggregate:
        return cls(0, 0.0, None, None)


@dataclasses.dataclass(frozen=True, slots=True)
class TopItem:
    """One row of a top-N list (a command or a guild) with its aggregate."""

    label: str
    aggregate: Aggregate


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """A total over a period against the period before it."""

    current: float
    previous: float

    @property
    def ratio(self) -> float | None:
        """current / previous - 1 (0.25 = +25 %), None when there was nothing before."""
        if not self.previous:
            return None
        return self.current / self.previous - 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class CommandStat:
    """One command over a range: invocations, errors, latency percentiles (milliseconds)."""

    command: str
    count: int
    errors: int
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


RESOLUTIONS: tuple[int, ...] = (
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)
"""Allowed steps (seconds) for series queries."""

Field = Literal["count", "sum", "mean", "min", "max", "p50", "p95", "p99"]


def choose_step(seconds: float, max_points: int = 300) -> int:
    """The smallest allowed step that keeps a range of ``seconds`` within ``max_points``."""
    for step in RESOLUTIONS:
        if seconds / step <= max_points:
            return step
    return RESOLUTIONS[-1]


class Store(Protocol):
    """What the core needs from a time-series store. Times are Unix epoch seconds.

    Label filters: ``guild=None`` means all guilds, ``command=None`` all commands; ``shard`` and
    ``kind`` of ``None`` merge every value.
    """

    salt: bytes

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def write(self, batch: Batch) -> None: ...

    async def apply_retention(self, now: float) -> int: ...

    async def series(
        self,
        metric: str,
        start: float,
        end: float,
        *,
        step: int | None = None,
        guild: int | None = None,
        command: str | None = None,
        shard: int | None = None,
        kind: str | None = None,
    ) -> list[SeriesPoint]: ...

    async def aggregate(
        self,
        metric: str,
        start: float,
        end: float,
        *,
        guild: int | None = None,
        command: str | None = None,
        shard: int | None = None,
        kind: str | None = None,
    ) -> Aggregate: ...

    async def top(
        self,
        metric: str,
        start: float,
        end: float,
        *,
        by: Literal["command", "guild"] = "command",
        guild: int | None = None,
        n: int = 10,
        order: Literal["count", "sum", "p95"] = "count",
    ) -> list[TopItem]: ...

    async def change(
        self, metric: str, start: float, end: float, *, guild: int | None = None
    ) -> Change: ...

    async def distinct_users(
        self, start: float, end: float, *, guild: int | None = None
    ) -> int: ...

    async def command_stats(
        self, start: float, end: float, *, guild: int | None = None, limit: int = 100
    ) -> list[CommandStat]: ...

    async def shards(self, metric: str, start: float, end: float) -> Sequence[int]: ...
