"""Built-in health judgements: gateway per shard, database, event-loop lag, memory and disk.

:func:`run_health` runs them with the host bot's own checks (``monitor.add_check``) and returns a
:class:`HealthReport`; ``/health`` and the dashboard format it. The Discord side is passed in as
plain :class:`ShardState` values, so this module stays free of discord imports.

Thresholds come from the config; "critical" levels derive from them in this one place:
gateway latency unhealthy at 4x its warning, loop lag and flush lag at 10x, memory and disk half
way from their warning to 100 %.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Sequence
from typing import Any

from .health import HealthResult, HealthStatus, threshold_status, worst
from .store.base import StoreError

__all__ = ["HealthReport", "ShardState", "builtin_checks", "run_health"]

log = logging.getLogger(__name__)

GATEWAY_CRIT_FACTOR = 4.0
LAG_CRIT_FACTOR = 10.0
MAX_SHARD_LINES = 8
"""Beyond this many shards, healthy shards are summarised in one line."""
RECENT_LAG_SECONDS = 300


@dataclasses.dataclass(frozen=True, slots=True)
class ShardState:
    """One gateway shard as the adapter sees it. ``latency_ms`` None (or NaN) before a heartbeat."""

    shard_id: int
    latency_ms: float | None
    connected: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class HealthReport:
    """Every check's verdict and the worst of them."""

    results: tuple[HealthResult, ...]
    checked_at: float

    @property
    def status(self) -> HealthStatus:
        return worst(self.results)


def _gateway(shards: Sequence[ShardState], warn: float) -> list[HealthResult]:
    crit = warn * GATEWAY_CRIT_FACTOR
    results: list[HealthResult] = []
    for shard in sorted(shards, key=lambda s: s.shard_id):
        name = f"gateway shard {shard.shard_id}"
        latency = shard.latency_ms
        if not shard.connected:
            results.append(HealthResult(name, HealthStatus.UNHEALTHY, "disconnected"))
        elif latency is None or math.isnan(latency) or math.isinf(latency):
            results.append(HealthResult(name, HealthStatus.DEGRADED, "no heartbeat answered yet"))
        else:
            results.append(threshold_status(name, latency, warn, crit, " ms", "latency"))
    if len(results) <= MAX_SHARD_LINES:
        return results
    healthy = [r for r in results if r.status is HealthStatus.HEALTHY]
    others = [r for r in results if r.status is not HealthStatus.HEALTHY]
    values = [r.value for r in healthy if r.value is not None]
    reason = f"{len(healthy)} of {len(results)} shards healthy"
    if values:
        reason += f", latency {min(values):.0f}-{max(values):.0f} ms"
    out = [HealthResult("gateway", HealthStatus.HEALTHY, reason), *others[: MAX_SHARD_LINES - 1]]
    rest = others[MAX_SHARD_LINES - 1 :]
    if rest:
        out.append(HealthResult("gateway", worst(rest), f"{len(rest)} more shards not healthy"))
    return out


async def _database(monitor: Any, now: float) -> HealthResult:
    config = monitor.config
    stats = monitor.flusher.stats
    name = "database"
    if not stats.store_open:
        reason = f"not open ({stats.last_error})" if stats.last_error else "not open"
        return HealthResult(name, HealthStatus.UNHEALTHY, reason[:200])
    # Writability is judged from the flusher: every flush writes at least its own timing row, so
    # a recent successful flush proves the file is writable. (A probe transaction here could be
    # cancelled while BEGIN waits on a lock, leaving the shared writer inside a transaction.)
    warn = config.flush_lag_warning_seconds
    lag = stats.lag(now)
    pending = f", {stats.pending_rows} rows waiting" if stats.pending_rows else ""
    if lag is None:
        return HealthResult(name, HealthStatus.DEGRADED, "writable, no flush yet" + pending)
    if stats.consecutive_failures:
        status = HealthStatus.UNHEALTHY if lag >= warn * LAG_CRIT_FACTOR else HealthStatus.DEGRADED
        reason = (
            f"not writable: the last {stats.consecutive_failures} flushes failed "
            f"({stats.last_error})"
        )
        return HealthResult(name, status, (reason + pending)[:200], lag)
    result = threshold_status(name, lag, warn, warn * LAG_CRIT_FACTOR, " s", "writable, flush lag")
    if stats.dropped_rows:
        return HealthResult(
            name,
            max(result.status, HealthStatus.DEGRADED),
            f"{result.reason}; {stats.dropped_rows} rows dropped while it was unavailable",
            lag,
        )
    return dataclasses.replace(result, reason=result.reason + pending)


async def _loop_lag(monitor: Any, now: float) -> HealthResult:
    warn = monitor.config.loop_lag_warning_ms
    value: float | None = None
    try:
        recent = await monitor.store.aggregate("loop_lag_ms", now - RECENT_LAG_SECONDS, now + 60)
        value = recent.p95
    except StoreError as exc:
        log.debug("loop lag history unavailable: %s", exc)
    last = monitor.loop_lag.last_lag_ms
    if value is None or last > value:
        value = last
    return threshold_status("event loop", value, warn, warn * LAG_CRIT_FACTOR, " ms", "lag p95")


def _percent(name: str, value: float | None, warn: float, what: str) -> HealthResult:
    crit = warn + (100.0 - warn) / 2
    return threshold_status(name, value, warn, crit, "%", what)


async def builtin_checks(
    monitor: Any, *, shards: Sequence[ShardState], now: float
) -> list[HealthResult]:
    """The built-in checks, in display order (``monitor`` is a :class:`~monitoring.Monitor`)."""
    config = monitor.config
    results = _gateway(shards, config.gateway_latency_warning_ms)
    results.append(await _database(monitor, now))
    results.append(await _loop_lag(monitor, now))
    host = monitor.system.last
    memory = _percent(
        "memory",
        host.memory_percent if host else None,
        config.memory_warning_threshold,
        "host memory",
    )
    if host is not None:
        memory = dataclasses.replace(
            memory, reason=f"{memory.reason}, bot uses {host.process_rss_mb:.0f} MB"
        )
    results.append(memory)
    results.append(
        _percent("disk", host.disk_percent if host else None, config.disk_warning_threshold, "disk")
    )
    return results


async def run_health(monitor: Any, *, shards: Sequence[ShardState], now: float) -> HealthReport:
    """Built-in checks plus the host bot's own checks (run concurrently, each with its timeout)."""
    builtin, custom = await asyncio.gather(
        builtin_checks(monitor, shards=shards, now=now), monitor.run_custom_checks()
    )
    return HealthReport(tuple([*builtin, *custom]), now)
