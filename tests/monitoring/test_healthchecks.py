"""Built-in health judgements and the combined report."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from monitoring import Config, FakeClock, HealthStatus, Monitor
from monitoring.collectors import HostSample
from monitoring.healthchecks import MAX_SHARD_LINES, ShardState, builtin_checks, run_health
from monitoring.store.sqlite import SQLiteStore

NOW = 1_767_225_600.0
H, D, U = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


def _host(memory: float = 40.0, disk: float = 50.0) -> HostSample:
    return HostSample(10.0, memory, 150.0, 2.0, disk, 0, 0)


@pytest_asyncio.fixture
async def monitor(tmp_path: Path) -> AsyncIterator[Monitor]:
    clock = FakeClock(NOW)
    store = SQLiteStore(tmp_path / "m.db", clock=clock, busy_timeout_ms=50)
    mon = Monitor(Config(db_path=tmp_path / "m.db"), clock=clock, store=store)
    await mon.start(background=False)
    mon.system.last = _host()
    yield mon
    await mon.stop()


def _by_name(results: list) -> dict:  # type: ignore[type-arg]
    return {r.name: r for r in results}


async def test_all_healthy(monitor: Monitor) -> None:
    report = await run_health(monitor, shards=[ShardState(0, 42.0)], now=NOW + 1)
    results = _by_name(list(report.results))
    assert [r.status for r in report.results] == [H] * 5
    assert report.status is H
    assert results["gateway shard 0"].reason == "latency 42.0 ms"
    assert results["database"].reason.startswith("writable, flush lag 1.0 s")
    assert "bot uses 150 MB" in results["memory"].reason


async def test_gateway_per_shard(monitor: Monitor) -> None:
    shards = [
        ShardState(0, 40.0),
        ShardState(1, 600.0),
        ShardState(2, 2500.0),
        ShardState(3, None),
        ShardState(4, math.nan),
        ShardState(5, 40.0, connected=False),
    ]
    results = _by_name(await builtin_checks(monitor, shards=shards, now=NOW))
    statuses = [results[f"gateway shard {i}"].status for i in range(6)]
    assert statuses == [H, D, U, D, D, U]
    assert results["gateway shard 5"].reason == "disconnected"
    assert "warning at 500" in results["gateway shard 1"].reason


async def test_many_shards_are_summarised(monitor: Monitor) -> None:
    shards = [ShardState(i, 40.0 + i) for i in range(40)] + [ShardState(40, 5000.0)]
    results = await builtin_checks(monitor, shards=shards, now=NOW)
    gateway = [r for r in results if r.name.startswith("gateway")]
    assert len(gateway) <= MAX_SHARD_LINES
    assert gateway[0].reason == "40 of 41 shards healthy, latency 40-79 ms"
    assert gateway[1].name == "gateway shard 40" and gateway[1].status is U


async def test_database_flush_lag_and_failures(monitor: Monitor, tmp_path: Path) -> None:
    warn = monitor.config.flush_lag_warning_seconds
    lagging = _by_name(await builtin_checks(monitor, shards=[], now=NOW + warn + 1))
    assert lagging["database"].status is D
    dead = _by_name(await builtin_checks(monitor, shards=[], now=NOW + warn * 10 + 1))
    assert dead["database"].status is U
    locker = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    monitor.recorder.inc("something")
    try:
        assert not await monitor.flusher.flush(now=NOW + 5, force=True)
        failing = _by_name(await builtin_checks(monitor, shards=[], now=NOW + 6))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert failing["database"].status is D
    assert failing["database"].reason.startswith("not writable: the last 1 flushes failed")
    await monitor.store.close()
    closed = _by_name(await builtin_checks(monitor, shards=[], now=NOW))
    assert closed["database"].status is U and closed["database"].reason.startswith("not open")


async def test_loop_lag_memory_and_disk_thresholds(monitor: Monitor) -> None:
    monitor.loop_lag.last_lag_ms = 150.0
    monitor.system.last = _host(memory=90.0, disk=96.0)
    results = _by_name(await builtin_checks(monitor, shards=[], now=NOW))
    assert results["event loop"].status is D
    assert results["memory"].status is D  # warning 85, unhealthy from 92.5
    assert results["disk"].status is U  # warning 90, unhealthy from 95
    monitor.system.last = None
    results = _by_name(await builtin_checks(monitor, shards=[], now=NOW))
    assert results["memory"].status is D and "no host memory reading" in results["memory"].reason


async def test_custom_checks_join_the_report_with_timeouts(monitor: Monitor) -> None:
    async def llm() -> tuple[bool, str]:
        return False, "LLM API returned 503"

    async def slow() -> bool:
        await asyncio.sleep(5)
        return True

    async def cache() -> bool:
        return True

    monitor.add_check("llm", llm)
    monitor.add_check("slow", slow, timeout=0.05, critical=False)
    monitor.add_check("cache", cache)
    report = await run_health(monitor, shards=[ShardState(0, 40.0)], now=NOW + 1)
    results = _by_name(list(report.results))
    assert results["llm"].status is U and results["llm"].reason == "LLM API returned 503"
    assert results["slow"].status is D and "no answer within" in results["slow"].reason
    assert results["cache"].status is H
    assert report.status is U
