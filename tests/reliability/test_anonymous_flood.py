"""10,000 anonymous requests against a running dashboard: the database grows by under 1 MB and no
metrics flush is held up by more than its interval.

One address sends them (unauthenticated API calls, wrong API keys, random sign-in tokens,
WebSocket upgrades without credentials) over 50 connections, while the bot records traffic and
the flusher writes every 0.5 s on the same event loop. The rate limit answers most of them with
429 before any database work; a failed sign-in writes nothing; the audit log keeps one row per
address and minute with a count.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from monitoring import Config, Monitor
from web import DASHBOARD, create_app

pytestmark = pytest.mark.slow

REQUESTS = 10_000
INTERVAL = 0.5
API_KEY = "flood-test-key-0123456789"


async def _db_bytes(monitor: Monitor) -> int:
    rows = await monitor.store.fetchall(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
    )
    return int(rows[0][0])


def _requests(session: aiohttp.ClientSession, base: str) -> list[Callable[[], Awaitable[int]]]:
    async def api() -> int:
        async with session.get(f"{base}/api/metrics/realtime") as resp:
            return resp.status

    async def wrong_key() -> int:
        headers = {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"}
        async with session.get(f"{base}/api/commands?hours=24", headers=headers) as resp:
            return resp.status

    async def sign_in() -> int:
        data = {"token": secrets.token_urlsafe(32)}
        async with session.post(f"{base}/login", data=data, allow_redirects=False) as resp:
            return resp.status

    async def socket() -> int:
        try:
            async with session.ws_connect(f"{base}/ws"):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status

    return [api, wrong_key, sign_in, socket]


async def test_ten_thousand_anonymous_requests(tmp_path: Path) -> None:
    config = Config(db_path=tmp_path / "m.db", api_key=API_KEY, flush_interval_seconds=INTERVAL)
    monitor = Monitor(config)
    await monitor.start()
    app = create_app(monitor)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    worst_lag = 0.0
    statuses: dict[int, int] = {}

    async def traffic() -> None:
        for i in range(10**9):
            monitor.recorder.message(900 + i % 7, i % 50)
            await asyncio.sleep(0.002)

    async def watch() -> None:
        nonlocal worst_lag
        while True:
            lag = monitor.flusher.stats.lag(time.time())
            worst_lag = max(worst_lag, lag or 0.0)
            await asyncio.sleep(0.02)

    try:
        await asyncio.sleep(2 * INTERVAL)  # the first flushes
        before = await _db_bytes(monitor)
        tasks = [asyncio.create_task(traffic()), asyncio.create_task(watch())]
        connector = aiohttp.TCPConnector(limit=50)
        async with aiohttp.ClientSession(connector=connector) as session:
            kinds = _requests(session, base)
            queue = iter(range(REQUESTS))

            async def worker() -> None:
                for n in queue:
                    status = await kinds[n % len(kinds)]()
                    statuses[status] = statuses.get(status, 0) + 1

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(50)))
            took = time.perf_counter() - started
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await app[DASHBOARD].audit.flush()  # what the audit loop writes every 2 s
        await asyncio.sleep(2 * INTERVAL)  # and the metrics flushes
        grew = await _db_bytes(monitor) - before
        audit = await monitor.store.fetchall("SELECT COUNT(*), SUM(count) FROM web_audit")
        logins = await monitor.store.fetchall("SELECT COUNT(*) FROM web_login_tokens")
    finally:
        await server.close()
        await monitor.stop()
    assert sum(statuses.values()) == REQUESTS
    assert statuses.get(429, 0) > REQUESTS * 0.9, statuses  # most refused by the rate limit
    assert set(statuses) <= {401, 429}, statuses
    assert grew < 1_000_000, f"the database grew by {grew} bytes"
    rows, counted = audit[0]
    assert rows <= 10 and counted >= REQUESTS * 0.99, (rows, counted)  # one row a minute
    assert logins == [(0,)]
    assert worst_lag <= 2 * INTERVAL + 0.25, (
        f"a flush waited {worst_lag:.2f} s (interval {INTERVAL} s) during {took:.1f} s of flood"
    )
