"""Big bots: loop blocking, flush cost, storage and queries at 1,000 to 100,000 guilds.

Traffic: ``benchmarks._traffic`` (Zipf-like guilds and users, 5 % slash commands with lognormal
latency, 10 % of guilds with voice, two shards per 2,500 guilds). Cells (guilds @ events/s):
1,000 @ 200, 10,000 @ 200, 100,000 @ 1,000. Per cell:

- ``loop_block_max_ms``, ``loop_block_p99_ms``, ``blocks_over_5ms_per_min``: the real ``Monitor``
  (recorder, flusher, samplers, SQLite in a temporary folder) fed event by event in real time
  for ``--realtime-seconds`` (120), the loop's lateness sampled every millisecond.
- ``drain_loop_ms_max``: the real ``Flusher`` every 2 s of a fake clock across ``--day-hours``
  (24) starting at 23:30 UTC (minute, hour and day boundaries, hourly retention runs); each
  flush's coroutine is stepped by hand and the time of every step (the time it holds the loop)
  is summed per flush. ``drain_loop_step_ms_max`` is the longest single step.
  ``write_ms_p99``: wall time of a whole flush (mostly off the loop).
- ``rss_mb``: resident memory growth over the simulated day.
- ``db_bytes_30d``: the database after ``--month-days`` (30) simulated days with the default
  retention, fed in hourly slices (every message counted, up to 8 users per guild and hour plus
  the day's distinct users), the last 24 h in minute slices with every command; older hours
  carry at most ``--cmd-sample`` commands each (raw invocations are kept 24 h anyway).
- ``stats_query_ms_guild`` / ``stats_query_ms_all``: the queries behind ``/stats`` over 30
  days (series and aggregate of messages and command latency, top commands), for the busiest
  guild and for all guilds; median of 5.

Targets: loop_block_max_ms <= 5, drain_loop_ms_max <= 1, write_ms_p99 <= 500, db_bytes_30d <=
250 MB at 10,000 guilds and <= 1.5 GB at 100,000, rss_mb <= 200 at 100,000, 30-day queries
<= 30 ms. The last line is one JSON object.

    python -m benchmarks.scale [--cells 1000:200 10000:200 100000:1000] [--realtime-seconds 120]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import numpy as np

from monitoring import Config, FakeClock, Monitor, Recorder
from monitoring.flusher import Flusher
from monitoring.store.sqlite import SQLiteStore

from ._common import emit, machine
from ._traffic import COMMANDS, Traffic

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
DEFAULT_CELLS = ("1000:200", "10000:200", "100000:1000")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 1e6


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


async def stepped(coro: Coroutine[Any, Any, Any]) -> tuple[Any, list[float]]:
    """Run ``coro`` stepping it by hand: the seconds of each step (time holding the loop)."""
    steps: list[float] = []
    value: Any = None
    while True:
        t = time.perf_counter()
        try:
            yielded = coro.send(value)
        except StopIteration as stop:
            steps.append(time.perf_counter() - t)
            return stop.value, steps
        steps.append(time.perf_counter() - t)
        if yielded is None:
            await asyncio.sleep(0)
        else:
            yielded._asyncio_future_blocking = False  # as a Task does before waiting on it
            # the inner coroutine reads the outcome (result or exception) itself
            with contextlib.suppress(BaseException):
                await yielded
        value = None


# -- real time ------------------------------------------------------------------------------


async def realtime(traffic: Traffic, seconds: float, tmp: Path) -> dict[str, float]:
    config = Config(db_path=tmp / "rt.db", dashboard_enabled=False)
    monitor = Monitor(config)
    await monitor.start()
    lates: list[float] = []
    stop = asyncio.Event()

    async def sampler() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lates.append((time.perf_counter() - t - 0.001) * 1000)

    async def feeder() -> None:
        rec = monitor.recorder
        last = time.perf_counter()
        gauges_at = last
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            traffic.feed(rec, traffic.draw(now - last), bulk=False)
            last = now
            if now - gauges_at >= 5:
                gauges_at = now
                for shard in range(traffic.shards):
                    rec.gauge("gateway_latency_ms", 60.0, shard=shard)

    tasks = [asyncio.create_task(sampler()), asyncio.create_task(feeder())]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    await monitor.stop()
    over = sum(1 for x in lates if x > 5.0)
    return {
        "loop_block_max_ms": round(max(lates), 2),
        "loop_block_p99_ms": round(pct(lates, 0.99), 3),
        "blocks_over_5ms_per_min": round(over / (seconds / 60), 2),
        "realtime_seconds": seconds,
    }


# -- a simulated day at the real cadence ----------------------------------------------------


async def simulated_day(traffic: Traffic, hours: float, tmp: Path) -> dict[str, float]:
    clock = FakeClock(T0 - 1800)
    store = SQLiteStore(tmp / "day.db", clock=clock)
    rec = Recorder(clock=clock)
    flusher = Flusher(rec, store, interval=2.0, clock=clock)
    await flusher.flush(force=True)
    gc.collect()
    rss0 = rss_mb()
    loop_ms: list[float] = []
    step_max = 0.0
    wall_ms: list[float] = []
    for i in range(int(hours * 1800)):
        hour_of_day = ((clock() - T0) % 86400) / 3600
        rhythm = 0.6 + 0.8 * math.sin(math.pi * hour_of_day / 24)
        traffic.feed(rec, traffic.draw(2.0, rhythm), bulk=True, ts=clock())
        if i % 5 == 0:
            traffic.gauges(rec)
        clock.advance(2.0)
        rec.tick()
        t = time.perf_counter()
        _, steps = await stepped(flusher._flush(clock(), False))
        wall_ms.append((time.perf_counter() - t) * 1000)
        loop_ms.append(sum(steps) * 1000)
        step_max = max(step_max, max(steps) * 1000)
    await flusher.close()
    grown = rss_mb() - rss0
    await store.close()
    return {
        "drain_loop_ms_max": round(max(loop_ms), 3),
        "drain_loop_ms_p99": round(pct(loop_ms, 0.99), 3),
        "drain_loop_step_ms_max": round(step_max, 3),
        "write_ms_p99": round(pct(wall_ms, 0.99), 1),
        "write_ms_max": round(max(wall_ms), 1),
        "rss_mb": round(grown, 1),
        "day_hours": hours,
    }


# -- thirty days ----------------------------------------------------------------------------


def _feed_counts(traffic: Traffic, rec: Recorder, seconds: float, rhythm: float) -> None:
    """Messages of ``seconds`` as per-guild counts (every message counted, few users each)."""
    rng = traffic.rng
    n = int(rng.poisson(traffic.msg_per_s * seconds * rhythm * 0.95))
    p = np.diff(traffic._guild_cdf, prepend=0.0)
    counts = rng.multinomial(n, p)
    active = np.nonzero(counts)[0]
    c = counts[active]
    k = np.minimum(c, 8)
    users = np.searchsorted(traffic._user_cdf, rng.random(int(k.sum()))) + 300_000_000_000_000_000
    bounds = np.concatenate(([0], np.cumsum(k)))
    ids = traffic.guild_ids[active].tolist()
    ul = users.tolist()
    cl = c.tolist()
    bl = bounds.tolist()
    for j, g in enumerate(ids):
        rec.messages_bulk(g, cl[j], ul[bl[j] : bl[j + 1]])


def _feed_commands(traffic: Traffic, rec: Recorder, n: int, ts: float, span: float) -> None:
    rng = traffic.rng
    gi = np.searchsorted(traffic._guild_cdf, rng.random(n))
    ci = np.searchsorted(traffic._cmd_cdf, rng.random(n))
    us = np.searchsorted(traffic._user_cdf, rng.random(n)) + 300_000_000_000_000_000
    lat = rng.lognormal(math.log(80.0), 0.8, n)
    ok = rng.random(n) > 0.02
    when = ts + rng.random(n) * span
    for g, c, u, la, o, w in zip(
        traffic.guild_ids[gi].tolist(),
        ci.tolist(),
        us.tolist(),
        lat.tolist(),
        ok.tolist(),
        when.tolist(),
        strict=True,
    ):
        rec.command(COMMANDS[c], "slash", g, u, la, o, first_response_ms=la * 0.6, ts=w)


async def month(
    traffic: Traffic, days: int, cmd_sample: int, tmp: Path
) -> tuple[SQLiteStore, FakeClock, int]:
    clock = FakeClock(T0 - days * 86400)
    store = SQLiteStore(tmp / "month.db", clock=clock)
    await store.open()
    rec = Recorder(salt=store.salt, clock=clock)
    total_hours = days * 24
    for hour in range(total_hours):
        rhythm = 0.6 + 0.8 * math.sin(math.pi * (hour % 24) / 24)
        recent = hour >= total_hours - 24
        if hour % 24 == 0:
            # the day's distinct users (guild 0: counted for "all guilds" only)
            n_day = int(traffic.msg_per_s * 86400)
            drawn = np.searchsorted(traffic._user_cdf, traffic.rng.random(min(n_day, 3_000_000)))
            for u in np.unique(drawn).tolist():
                rec.user_seen(0, u + 300_000_000_000_000_000)
        n_cmd = int(traffic.msg_per_s * 3600 * rhythm * 0.05)
        if recent:
            for _minute in range(60):
                _feed_counts(traffic, rec, 60, rhythm)
                _feed_commands(traffic, rec, n_cmd // 60, clock(), 60)
                traffic.gauges(rec)
                clock.advance(60)
                rec.tick()
        else:
            _feed_counts(traffic, rec, 3600, rhythm)
            _feed_commands(traffic, rec, min(n_cmd, cmd_sample), clock(), 3600)
            traffic.gauges(rec)
            clock.advance(3600)
            rec.tick()
        await store.write(rec.drain())
        await store.apply_retention(clock())
    await store.write(rec.drain(final=True))
    await store.checkpoint()
    return store, clock, await store.db_size_bytes()


async def stats_queries(store: SQLiteStore, now: float, guild: int | None) -> float:
    start = now - 30 * 86400

    async def once() -> None:
        await store.series("messages", start, now, guild=guild)
        await store.series("command_latency_ms", start, now, guild=guild)
        await store.aggregate("messages", start, now, guild=guild)
        await store.aggregate("command_latency_ms", start, now, guild=guild)
        await store.top("command_latency_ms", start, now, guild=guild, n=10)

    times = []
    for _ in range(5):
        t = time.perf_counter()
        await once()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


# -- cells ----------------------------------------------------------------------------------


async def cell(guilds: int, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    traffic = Traffic(guilds, rate)
    out: dict[str, Any] = {"guilds": guilds, "events_per_s": rate, "shards": traffic.shards}
    with tempfile.TemporaryDirectory() as tmp:
        if args.realtime_seconds > 0:
            out.update(await realtime(traffic, args.realtime_seconds, Path(tmp)))
            log.info("%s: realtime %s", guilds, out)
        if args.day_hours > 0:
            out.update(await simulated_day(traffic, args.day_hours, Path(tmp)))
            log.info("%s: day %s", guilds, out)
        if args.month_days > 0:
            t = time.perf_counter()
            store, clock, size = await month(traffic, args.month_days, args.cmd_sample, Path(tmp))
            out["db_bytes_30d"] = size
            out["simulate_30d_s"] = round(time.perf_counter() - t, 1)
            out["stats_query_ms_guild"] = round(
                await stats_queries(store, clock(), int(traffic.guild_ids[0])), 2
            )
            out["stats_query_ms_all"] = round(await stats_queries(store, clock(), None), 2)
            await store.close()
    out["targets_met"] = targets_met(out)
    return out


def targets_met(r: dict[str, Any]) -> bool:
    ok = True
    if "loop_block_max_ms" in r:
        ok &= r["loop_block_max_ms"] <= 5
    if "drain_loop_ms_max" in r:
        ok &= r["drain_loop_ms_max"] <= 1 and r["write_ms_p99"] <= 500
        if r["guilds"] >= 100_000:
            ok &= r["rss_mb"] <= 200
    if "db_bytes_30d" in r:
        limit = 1.5e9 if r["guilds"] >= 100_000 else 250e6
        ok &= r["db_bytes_30d"] <= limit
        ok &= r["stats_query_ms_guild"] <= 30 and r["stats_query_ms_all"] <= 30
    return bool(ok)


log = logging.getLogger("benchmarks.scale")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=list(DEFAULT_CELLS))
    parser.add_argument("--realtime-seconds", type=float, default=120.0)
    parser.add_argument("--day-hours", type=float, default=24.0)
    parser.add_argument("--month-days", type=int, default=30)
    parser.add_argument("--cmd-sample", type=int, default=20_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    logging.getLogger("monitoring").setLevel(logging.WARNING)
    cells = []
    for spec in args.cells:
        g, r = spec.split(":")
        result = await cell(int(g), float(r), args)
        sys.stdout.write(f"{result}\n")
        sys.stdout.flush()
        cells.append(result)
    flat: dict[str, Any] = {}
    for c in cells:  # top-level figures per cell, for make bench's table
        for key, value in c.items():
            if key not in ("guilds", "events_per_s") and isinstance(value, int | float):
                flat[f"{key}_{c['guilds']}"] = value
    emit(
        {
            **flat,
            "cells": cells,
            "targets_met": all(c["targets_met"] for c in cells),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
