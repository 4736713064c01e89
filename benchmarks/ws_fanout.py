"""Benchmark: server CPU to push live dashboard updates to 200 WebSocket clients at 1 Hz.

The server is this process: a running :class:`~monitoring.Monitor` (its flush, loop-lag and host
loops included, so the flusher invalidates the live cards every 2 s as in a real bot) over a
database with 8 days of activity, and the dashboard app on 127.0.0.1 with
``ANALYTICS_WEBSOCKET_UPDATE_INTERVAL=1``. The 200 clients run in a separate process (this module
with ``--clients``), so their CPU is not counted. CPU is this process's user + system time (all
its threads: aiosqlite's too) over wall time, in percent of one core; the median of several
windows. Prints one JSON object last:

- ``ws_cpu_percent_200`` - server CPU with 200 clients connected (target <= 2 %);
- ``ws_cpu_percent_idle`` - the same server with no client (what the monitor costs anyway);
- ``update_bytes`` - one serialized update; ``messages_per_client_s`` - what each client got.

    python -m benchmarks.ws_fanout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks._common import emit, machine
from monitoring import Config, Monitor
from tests.web.seed import NAMES, seed_store
from web import DASHBOARD, create_app, start_site

CLIENTS = 200
WINDOWS = 5
WINDOW_SECONDS = 8.0
WARMUP_SECONDS = 3.0
TARGET_CPU_PERCENT = 2.0
API_KEY = "benchmark-api-key-0123456789"


async def _clients(url: str, n: int) -> None:
    """Client process: connect ``n`` sockets, read everything, report when stdin closes."""
    received = [0] * n
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = [
            await session.ws_connect(url, headers={"X-API-Key": API_KEY}, max_msg_size=0)
            for _ in range(n)
        ]

        async def read(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    received[i] += 1

        readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
        sys.stdout.write("connected\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the server closes our stdin
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    sys.stdout.write(json.dumps({"received": sum(received), "clients": n}) + "\n")


async def _cpu_percent(seconds: float) -> float:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100


async def _measure(windows: int) -> list[float]:
    return [await _cpu_percent(WINDOW_SECONDS) for _ in range(windows)]


async def _server(clients: int, windows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            db_path=Path(tmp) / "monitoring.db",
            api_key=API_KEY,
            websocket_update_interval=1.0,
            websocket_max_per_client=clients,  # one API key and one address, many sockets
        )
        monitor = Monitor(config)
        await monitor.start(background=False)
        await seed_store(monitor.store, time.time())
        await monitor.stop()
        monitor = Monitor(config)
        await monitor.start()  # flush, loop-lag and host loops, as in a bot
        app = create_app(monitor, guild_names=lambda: dict(NAMES))
        runner = await start_site(app, "127.0.0.1", 0, api_key=API_KEY)
        feed = app[DASHBOARD].feed
        try:
            await asyncio.sleep(WARMUP_SECONDS)
            idle = await _measure(max(2, windows // 2))
            url = app[DASHBOARD].base_url.replace("http", "ws", 1) + "/ws"
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.ws_fanout",
                "--clients",
                str(clients),
                "--url",
                url,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert proc.stdout is not None and proc.stdin is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 120)
            if line.strip() != b"connected":
                raise RuntimeError(f"client process failed: {line!r}")
            await asyncio.sleep(WARMUP_SECONDS)
            if feed.stats.clients != clients:
                raise RuntimeError(f"{feed.stats.clients} of {clients} clients connected")
            sent0, t0 = feed.stats.sent, time.perf_counter()
            busy = await _measure(windows)
            per_client_s = (feed.stats.sent - sent0) / (time.perf_counter() - t0) / clients
            proc.stdin.close()
            report = json.loads((await asyncio.wait_for(proc.stdout.read(), 60)).splitlines()[-1])
            await proc.wait()
        finally:
            await runner.cleanup()
            await monitor.stop()
    return {
        "ws_cpu_percent_200": round(statistics.median(busy), 2),
        "ws_cpu_percent_idle": round(statistics.median(idle), 2),
        "ws_cpu_percent_runs": [round(x, 2) for x in busy],
        "update_bytes": feed.stats.last_update_bytes,
        "messages_per_client_s": round(per_client_s, 3),
        "client_messages_received": report["received"],
        "clients": clients,
        "dropped_slow_clients": feed.stats.dropped_slow,
        "target_cpu_percent": TARGET_CPU_PERCENT,
        "window_seconds": WINDOW_SECONDS,
        **machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ws_fanout", description=__doc__)
    parser.add_argument("--clients", type=int, default=CLIENTS, help="WebSocket clients")
    parser.add_argument("--windows", type=int, default=WINDOWS, help="measurement windows")
    parser.add_argument("--url", help=argparse.SUPPRESS)  # set in the client process
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.url:
        asyncio.run(_clients(args.url, args.clients))
        return 0
    result = asyncio.run(_server(args.clients, args.windows))
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
