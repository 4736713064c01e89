"""The database turns read-only, then locked by another process, while the bot runs.

A running :class:`~monitoring.Monitor` (its flush loop every 0.1 s, a buffer of 1,000 rows) takes
traffic over 300 guilds (hundreds of rows a flush) and serves ``/metrics``. For about a second the
database refuses writes (``PRAGMA query_only`` on the writer: what a read-only remount looks like
to SQLite), then for about a second another process holds ``BEGIN EXCLUSIVE``. Throughout, the
event loop keeps answering (lag and ``/metrics`` latency stay small), the buffer stays within its
bound, the rows that did not fit are dropped and counted; each time, writing resumes by itself.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from monitoring import Config, Monitor
from monitoring.store.sqlite import SQLiteStore
from web.prometheus import create_metrics_app

from .tools import wait_for

GUILDS = [811111111111111111 + i for i in range(300)]
MAX_ROWS = 1000
BLOCKER = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)\n"
    "c.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"  # holds the lock until the test closes its stdin
    "c.execute('ROLLBACK')\n"
)

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


def _own_ms() -> float:
    """A millisecond clock that stops while this thread waits for a CPU another process holds
    (Linux ``schedstat`` run-queue time; elsewhere the plain clock). Lag and scrape times on it
    are what the monitor causes, not how busy the machine is."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as stat:
            waited_ns = int(stat.read().split()[1])
    except (OSError, IndexError, ValueError):
        waited_ns = 0
    return time.perf_counter() * 1e3 - waited_ns / 1e6


class Bot:
    """Traffic, a responsiveness probe and scrapes, all on the monitor's event loop."""

    def __init__(self, monitor: Monitor, client: TestClient[Any, Any]) -> None:
        self.monitor = monitor
        self.client = client
        self.sent = 0
        self.max_lag_ms = 0.0
        self.max_scrape_ms = 0.0
        self.max_pending = 0
        self.scrapes = 0

    async def traffic(self) -> None:
        rec = self.monitor.recorder
        while True:
            for guild in GUILDS:
                rec.message(guild, guild % 1000)
            rec.command("ping", "slash", GUILDS[self.sent % 300], 7, 12.0, True)
            self.sent += len(GUILDS)
            self.max_pending = max(self.max_pending, self.monitor.flusher.stats.pending_rows)
            await asyncio.sleep(0.005)

    async def probe(self) -> None:
        while True:
            started = _own_ms()
            await asyncio.sleep(0.01)
            self.max_lag_ms = max(self.max_lag_ms, _own_ms() - started - 10)

    async def scrape(self) -> dict[str, float]:
        started = _own_ms()
        resp = await self.client.get("/metrics")
        assert resp.status == 200
        text = await resp.text()
        self.max_scrape_ms = max(self.max_scrape_ms, _own_ms() - started)
        self.scrapes += 1
        return {
            s.name + "".join(f"|{v}" for v in s.labels.values() if v): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }

    async def outage(self, seconds: float) -> dict[str, float]:
        """Scrape through an outage; the last scrape's samples."""
        deadline = time.monotonic() + seconds
        samples: dict[str, float] = {}
        while time.monotonic() < deadline:
            samples = await self.scrape()
            await asyncio.sleep(0.1)
        return samples

    async def recovered(self) -> None:
        flusher = self.monitor.flusher

        async def ok() -> bool:
            s = flusher.stats
            return s.consecutive_failures == 0 and s.last_error is None and s.store_open

        await wait_for(ok, within=15, what="writes to resume", every=0.05)


@pytest.mark.slow
async def test_read_only_then_locked(aiohttp_client: ClientFactory, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    config = Config(db_path=db, flush_interval_seconds=0.1, buffer_max_rows=MAX_ROWS)
    store = SQLiteStore(db, busy_timeout_ms=50)
    monitor = Monitor(config, store=store, system_interval=3600, loop_lag_interval=0.05)
    app = create_metrics_app(monitor)
    await monitor.start()
    bot = Bot(monitor, await aiohttp_client(app))
    tasks = [asyncio.create_task(bot.traffic()), asyncio.create_task(bot.probe())]
    try:
        await asyncio.sleep(0.5)
        assert monitor.flusher.stats.consecutive_failures == 0

        # 1. read-only
        assert store._w is not None
        await store._w.execute("PRAGMA query_only = 1")
        during = await bot.outage(1.2)
        stats = monitor.flusher.stats
        assert stats.consecutive_failures > 0 and "read-only" in (stats.last_error or "")
        assert during["discord_monitor_flush_failures"] > 0
        assert during["discord_monitor_dropped_samples_total|buffer_full"] > 0
        await store._w.execute("PRAGMA query_only = 0")
        await bot.recovered()

        # 2. locked by another process
        blocker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            BLOCKER,
            str(db),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert blocker.stdin is not None and blocker.stdout is not None
        assert (await asyncio.wait_for(blocker.stdout.readline(), 10)).strip() == b"locked"
        dropped_before = monitor.flusher.stats.dropped_rows
        await bot.outage(1.0)
        stats = monitor.flusher.stats
        assert stats.consecutive_failures > 0 and "locked" in (stats.last_error or "")
        assert stats.dropped_rows > dropped_before
        blocker.stdin.close()  # the lock is released now, not after a fixed time
        assert await blocker.wait() == 0
        await bot.recovered()

        sent_before = bot.sent
        await asyncio.sleep(0.3)
        assert bot.sent > sent_before  # traffic never stopped
        final = await bot.scrape()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await monitor.stop()

    stats = monitor.flusher.stats
    sys.stderr.write(
        f"outage: max pending {bot.max_pending} rows (limit {MAX_ROWS}), dropped "
        f"{stats.dropped_rows}, max loop lag {bot.max_lag_ms:.1f} ms, max scrape "
        f"{bot.max_scrape_ms:.1f} ms over {bot.scrapes} scrapes\n"
    )
    # bounded: the buffer never held more than its limit plus the batch being added
    assert bot.max_pending <= 2 * MAX_ROWS, bot.max_pending
    assert stats.pending_rows == 0
    # the bot kept answering: no event-loop stall, every scrape quick
    assert bot.max_lag_ms < 150, bot.max_lag_ms
    assert bot.max_scrape_ms < 500 and bot.scrapes >= 10, (bot.max_scrape_ms, bot.scrapes)
    # drops are counted, on /metrics and in the database once it is writable again
    assert final["discord_monitor_dropped_samples_total|buffer_full"] > 0
    with sqlite3.connect(db) as conn:
        (recorded,) = conn.execute(
            "SELECT SUM(sum) FROM rollup_minute WHERE metric = 'monitor_dropped_rows' AND guild = 0"
        ).fetchone()
        (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()
    assert recorded == stats.dropped_rows and integrity == "ok"
