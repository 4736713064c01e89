"""Warm ``/stats`` end to end: queries, chart render, message payload built.

A temporary database gets 30 days of a mid-sized bot's history (12 guilds, 15 commands, one
message every few seconds, gateway/loop-lag/host samples; the last 7 days at minute resolution,
older days hourly, as retention keeps them). Then ``/stats`` requests (the seven metrics over 24 h
plus commands over 1 h, 7 d and 30 d: ten, back to back) run exactly as the cog runs them
(:func:`cogs.monitoring.replies.build_stats` + :func:`~cogs.monitoring.replies.stats_message` +
``Embed.to_dict``), while a 1 ms ticker records how late the event loop wakes up.

Both chart executors are measured in the same run, alternating rounds: ``process`` (the default)
and ``thread`` (its peer). Prints one JSON object last:

- ``stats_p50_ms`` - median end-to-end time of a warm /stats with the default executor;
- ``render_ms`` - median time of the chart function alone (in this process);
- ``stats_loop_lag_max_ms`` - worst loop lag while ten requests run back to back (default
  executor; the median over rounds of each round's worst);
- ``thread_*`` - the same with the thread executor; ``idle_loop_lag_max_ms`` - the ticker alone.

    python -m benchmarks.stats_command
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cogs.monitoring.replies import build_stats, stats_message
from monitoring import Batch, Config, FakeClock, Monitor, Recorder
from monitoring.chart_pool import ChartRenderer
from monitoring.store.sqlite import SQLiteStore

ROUNDS = 5
REQUESTS: tuple[tuple[str, str], ...] = (
    *(
        (m, "24h")
        for m in ("messages", "commands", "latency", "errors", "users", "voice", "system")
    ),
    ("commands", "1h"),
    ("commands", "7d"),
    ("commands", "30d"),
)
GUILDS = [10**17 + i for i in range(12)]
COMMANDS = [f"cmd{i}" for i in range(15)]
TARGET_P50_MS = 150.0
TARGET_LAG_MS = 5.0


def _minute(rec: Recorder, rnd: random.Random, ts: float, scale: int) -> None:
    """One minute (``scale`` minutes squeezed into one window for hourly history)."""
    daily = 1 + 0.6 * math.sin(ts / 86400 * 2 * math.pi)
    for _ in range(int(12 * daily * scale)):
        guild = rnd.choice(GUILDS)
        rec.message(guild, rnd.randrange(5000))
    for _ in range(max(1, int(2 * daily * scale))):
        cmd = rnd.choice(COMMANDS)
        slow = 8.0 if cmd == "cmd3" else 1.0
        latency = rnd.lognormvariate(4.0, 0.6) * slow
        ok = rnd.random() > (0.2 if cmd == "cmd7" else 0.01)
        rec.command(
            cmd,
            "slash",
            rnd.choice(GUILDS),
            rnd.randrange(5000),
            latency,
            ok,
            ts=ts,
            error_type="" if ok else "KeyError",
            first_response_ms=latency + 30,
        )
    for _ in range(min(scale, 12)):
        rec.observe("gateway_latency_ms", rnd.gauss(45, 5), shard=0)
        rec.observe("loop_lag_ms", abs(rnd.gauss(1.5, 1.0)))
    rec.gauge("cpu_percent", 20 + 10 * daily + rnd.random() * 5)
    rec.gauge("memory_percent", 40 + rnd.random() * 3)
    rec.gauge("process_rss_mb", 180 + rnd.random() * 20)
    rec.gauge("disk_percent", 55.0)
    rec.inc("voice_minutes", 3.0 * scale * daily, guild=rnd.choice(GUILDS))
    rec.inc("net_sent_bytes", 20_000.0 * scale)


async def populate(path: Path, now: float) -> None:
    """30 days of history ending at ``now``."""
    clock = FakeClock(now - 30 * 86400)
    store = SQLiteStore(path, clock=clock)
    await store.open()
    rec = Recorder(salt=store.salt, clock=clock)
    rnd = random.Random(7)
    minute_from = now - 7 * 86400
    ts = clock.now // 3600 * 3600
    while ts < minute_from:  # older days: hourly rows only (what retention leaves)
        clock.set(ts)
        rec.tick(ts)
        _minute(rec, rnd, ts, 60)
        batch = rec.drain(ts + 1)
        await store.write(Batch(hour_rows=batch.hour_rows, user_days=batch.user_days))
        ts += 3600
    while ts < now:
        clock.set(ts)
        rec.tick(ts)
        _minute(rec, rnd, ts, 1)
        ts += 60
        if int(ts) % 3600 == 0:
            await store.write(rec.drain(ts - 1))
    await store.write(rec.drain(now - 1))
    await store.close()


async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - started - 0.001) * 1000)


async def _one(monitor: Monitor, renderer: ChartRenderer, metric: str, period: str) -> float:
    started = time.perf_counter()
    reply = await build_stats(
        monitor,
        renderer,
        metric=metric,
        period=period,
        now=monitor.clock(),
        guild=None,
        scope="All servers",
    )
    kwargs = stats_message(reply, scope="All servers (12)")
    payload = [e.to_dict() for e in kwargs.get("embeds", [])]
    assert payload and reply.png, f"/stats {metric} {period} produced no chart"
    return (time.perf_counter() - started) * 1000


async def _round(monitor: Monitor, renderer: ChartRenderer) -> tuple[list[float], float]:
    stop = asyncio.Event()
    lags: list[float] = []
    ticker = asyncio.create_task(_ticker(stop, lags))
    await asyncio.sleep(0.05)
    times = [await _one(monitor, renderer, m, p) for m, p in REQUESTS]
    stop.set()
    await ticker
    return times, max(lags)


async def _idle_lag(seconds: float) -> float:
    stop = asyncio.Event()
    lags: list[float] = []
    ticker = asyncio.create_task(_ticker(stop, lags))
    await asyncio.sleep(seconds)
    stop.set()
    await ticker
    return max(lags)


def _render_ms(panels: Any, reply_start: float, reply_end: float, step: int) -> float:
    from monitoring.charts import render_timeseries

    times = []
    for _ in range(5):
        started = time.perf_counter()
        render_timeseries(panels, title="bench", start=reply_start, end=reply_end, step=step)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main() -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    now = float(int(time.time()) // 60 * 60 + 30)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        started = time.perf_counter()
        await populate(db, now)
        populate_s = time.perf_counter() - started
        config = Config(db_path=db, dashboard_enabled=False)
        monitor = Monitor(config, clock=FakeClock(now), system_interval=3600)
        await monitor.start()
        renderers = {kind: ChartRenderer(kind) for kind in ("process", "thread")}
        try:
            for renderer in renderers.values():
                await renderer.start(warm_up=False)
                for metric, period in REQUESTS:  # warm: imports, font cache, SQLite page cache
                    await _one(monitor, renderer, metric, period)
            idle = await _idle_lag(1.0)
            times: dict[str, list[float]] = {k: [] for k in renderers}
            lags: dict[str, list[float]] = {k: [] for k in renderers}
            for _ in range(ROUNDS):
                for kind, renderer in renderers.items():
                    t, lag = await _round(monitor, renderer)
                    times[kind] += t
                    lags[kind].append(lag)
            sample = await build_stats(
                monitor,
                renderers["thread"],
                metric="commands",
                period="24h",
                now=now,
                guild=None,
                scope="All servers",
            )
            render = _render_ms(sample.summary.panels, now - 86400, now, sample.summary.step)
        finally:
            for renderer in renderers.values():
                await renderer.close()
            await monitor.stop()

    p50 = statistics.median(times["process"])
    lag = statistics.median(lags["process"])
    return {
        "stats_p50_ms": round(p50, 1),
        "render_ms": round(render, 1),
        "stats_loop_lag_max_ms": round(lag, 2),
        "stats_p95_ms": round(statistics.quantiles(times["process"], n=20)[-1], 1),
        "thread_stats_p50_ms": round(statistics.median(times["thread"]), 1),
        "thread_loop_lag_max_ms": round(statistics.median(lags["thread"]), 2),
        "idle_loop_lag_max_ms": round(idle, 2),
        "executor": "process",
        "requests_per_round": len(REQUESTS),
        "rounds": ROUNDS,
        "populate_s": round(populate_s, 1),
        "meets_target": p50 <= TARGET_P50_MS and lag <= TARGET_LAG_MS,
    }


if __name__ == "__main__":
    out = asyncio.run(main())
    sys.stdout.write(json.dumps(out) + "\n")
