"""Store throughput, loop lag, query latency and size, with plain sqlite3 as the peer.

- ``flush_rows_per_s`` vs ``sqlite3_rows_per_s``: the same rollup rows written by our flush path
  (aiosqlite, upsert with histogram merge) and by plain ``sqlite3.executemany`` into the same
  schema (a plain INSERT, one transaction). Target: ratio >= 0.5.
- ``flush_loop_lag_ms_max``: worst event-loop lag, sampled every millisecond, while flushing a
  busy bot's batches. Target <= 5 ms.
- ``query_30d_ms``: 30 days of per-minute count, mean and p95 for one metric, from rollups
  (target <= 30 ms); ``query_24h_raw_ms``: the same for 24 h from raw rows, as the contrast.
- ``db_bytes_30d``: the database after 30 simulated days of a busy bot (50 messages/s,
  5 commands/s, 50 guilds with 30 active each minute, 20 commands, 20,000 users with a home
  guild, host gauges, two shards), retention applied daily. Target <= 100 MB.

The 30 days go through the real Recorder and store with a fake clock: messages in per-minute
bulk (``Recorder.messages_bulk``), every command invocation one by one, drained hourly.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from monitoring import FakeClock, Recorder
from monitoring.store.schema import MIGRATIONS
from monitoring.store.sqlite import SQLiteStore

from ._common import emit, machine

DAYS = 30
MSG_PER_MIN = 50 * 60
CMD_PER_MIN = 5 * 60
GUILDS = [800_000_000_000_000_000 + i for i in range(50)]
COMMANDS = [f"cmd{i}" for i in range(20)]
USERS = 20_000
T0 = 1_767_225_600.0


def simulate_minute(rec: Recorder, rng: random.Random, minute_of_day: int) -> None:
    # daily rhythm: twice as busy in the evening as at night
    rhythm = 0.6 + 0.8 * (minute_of_day / 1440)
    msgs = int(MSG_PER_MIN * rhythm)
    active = rng.sample(GUILDS, 30)
    per_guild = msgs // len(active)
    for g in active:
        # users have a home guild: user u talks in guild u % 50
        home = GUILDS.index(g)
        rec.messages_bulk(g, per_guild, (rng.randrange(USERS // 50) * 50 + home for _ in range(8)))
    for _ in range(int(CMD_PER_MIN * rhythm)):
        cmd = COMMANDS[min(int(rng.expovariate(0.25)), 19)]
        guild = rng.choice(active)
        rec.command(
            cmd,
            "slash" if cmd < "cmd10" else "prefix",
            guild,
            rng.randrange(USERS // 50) * 50 + GUILDS.index(guild),
            rng.lognormvariate(4, 0.8),
            rng.random() > 0.02,
        )
    rec.gauge("cpu_percent", rng.uniform(5, 40))
    rec.gauge("memory_percent", rng.uniform(30, 50))
    rec.observe("loop_lag_ms", rng.expovariate(1.0))
    for shard in (0, 1):
        rec.gauge("gateway_latency_ms", rng.uniform(40, 90), shard=shard)


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes per table and index, and the free pages, from SQLite's dbstat."""
    conn = sqlite3.connect(path)
    try:
        sizes = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        sizes["(free pages)"] = conn.execute("PRAGMA freelist_count").fetchone()[0] * page
    finally:
        conn.close()
    return {k: v for k, v in sorted(sizes.items(), key=lambda kv: -kv[1]) if v >= 100_000}


async def build_30_days(path: Path) -> tuple[SQLiteStore, FakeClock, float]:
    clock = FakeClock(T0)
    store = SQLiteStore(path, clock=clock)
    await store.open()
    rec = Recorder(salt=store.salt, clock=clock)
    rng = random.Random(42)
    started = time.perf_counter()
    for _day in range(DAYS):
        for minute in range(1440):
            simulate_minute(rec, rng, minute)
            clock.advance(60)
            rec.tick()
            if minute % 60 == 59:
                await store.write(rec.drain())
                await store.apply_retention(clock())  # hourly, as the flusher does
    await store.write(rec.drain())
    await store.checkpoint()
    return store, clock, time.perf_counter() - started


async def measure_flush(path: Path) -> tuple[float, float, float]:
    """(our rows/s, sqlite3 rows/s, worst loop lag ms) over the same batches."""
    clock = FakeClock(T0)
    store = SQLiteStore(path, clock=clock)
    await store.open()
    rec = Recorder(salt=store.salt, clock=clock)
    rng = random.Random(1)
    batches = []
    for minute in range(120):
        simulate_minute(rec, rng, minute)
        clock.advance(60)
        rec.tick()
        batches.append(rec.drain())
    rows = sum(len(b) for b in batches)

    lags: list[float] = []
    stop = asyncio.Event()

    async def sampler() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - t - 0.001) * 1000)

    task = asyncio.create_task(sampler())
    await asyncio.sleep(0.01)
    lags.clear()
    started = time.perf_counter()
    for b in batches:
        await store.write(b)
    ours = rows / (time.perf_counter() - started)
    stop.set()
    await task
    await store.close()

    # the peer: plain sqlite3, same schema, same rows, one transaction per batch
    peer_path = path.with_name("peer.db")
    conn = sqlite3.connect(peer_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(MIGRATIONS["core"][0])
    # the same upsert, minus the histogram merge (plain sqlite3 has no such function)
    sql_roll = (
        "INSERT INTO {t} (metric, guild, command, shard, kind, ts, count, sum, min, max, buckets,"
        " cluster) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '') ON CONFLICT (metric, guild,"
        " command, ts, shard, kind, cluster) DO UPDATE SET count = count + excluded.count,"
        " sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max),"
        " buckets = excluded.buckets"
    )
    started = time.perf_counter()
    for b in batches:
        conn.execute("BEGIN")
        conn.executemany(sql_roll.format(t="rollup_minute"), b.minute_rows)
        conn.executemany(sql_roll.format(t="rollup_hour"), b.hour_rows)
        conn.executemany("INSERT INTO command_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, '')", b.commands)
        conn.executemany("INSERT OR IGNORE INTO user_days VALUES (?, ?, ?)", b.user_days)
        conn.execute("COMMIT")
    peer = rows / (time.perf_counter() - started)
    conn.close()
    return ours, peer, max(lags) if lags else 0.0


async def timed(coro_fn, runs: int = 7) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await coro_fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        flush_runs = [await measure_flush(Path(tmp) / f"flush{i}.db") for i in range(3)]
        ours = statistics.median(r[0] for r in flush_runs)
        peer = statistics.median(r[1] for r in flush_runs)
        lag = statistics.median(r[2] for r in flush_runs)

        store, clock, build_s = await build_30_days(Path(tmp) / "month.db")
        now = clock()
        size = await store.db_size_bytes()

        async def q30() -> None:
            pts = await store.series("command_latency_ms", now - 30 * 86400, now)
            assert len(pts) > 200 and pts[-1].p95 is not None

        async def q24raw() -> None:
            pts = await store.raw_command_series(now - 86400, now, step=300)
            assert len(pts) > 200

        query_30d = await timed(q30)
        query_24h_raw = await timed(q24raw, runs=3)
        await store.close()
        breakdown = table_bytes(Path(tmp) / "month.db")

    result = {
        "flush_rows_per_s": round(ours),
        "sqlite3_rows_per_s": round(peer),
        "flush_vs_sqlite3": round(ours / peer, 3),
        "flush_loop_lag_ms_max": round(lag, 3),
        "query_30d_ms": round(query_30d, 2),
        "query_24h_raw_ms": round(query_24h_raw, 2),
        "db_bytes_30d": size,
        "simulate_30d_s": round(build_s, 1),
        "db_bytes_by_table": breakdown,
        "targets_met": ours / peer >= 0.5 and lag <= 5 and query_30d <= 30 and size <= 100e6,
        "machine": machine(),
    }
    emit(result)


if __name__ == "__main__":
    asyncio.run(main())
