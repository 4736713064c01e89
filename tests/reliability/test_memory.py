"""One million events through the recorder, flusher and exposition: memory stays flat.

A busy bot's mix (messages from 5,000 users with a home guild each among 200 guilds, commands,
gateway and loop-lag samples, gauges, the host bot's own counters) goes through the real
:class:`~monitoring.Monitor` with a fake clock: 25 flushes to a real SQLite file, two simulated
hours apart (two day boundaries, so every per-minute, per-hour and per-day set turns over),
``/metrics`` rendered after each. Memory after the first fifth is compared with the end: the
process's resident memory and the interpreter's allocated blocks must not grow with the number of
events. (``tracemalloc`` would be more precise but makes the run four times slower.)

Resident memory is read after ``malloc_trim(0)`` where glibc provides it. Aggregation runs in a
worker thread and the writes in aiosqlite's thread; glibc gives each thread its own malloc arena
and keeps freed pages there, so without the trim the RSS swings by about 8 MB between flushes
depending on which arena last held a window's temporaries (measured: 208.5, 216.5, 216.5, 208.9,
216.7 MB on successive flushes with flat allocated blocks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import random
import sys
from pathlib import Path

import psutil
import pytest

from monitoring import Config, FakeClock, Monitor
from monitoring.exposition import cumulative_for
from web.prometheus import render_exposition

EVENTS = 1_000_000
PER_FLUSH = 40_000
GUILDS = [811111111111111111 + i for i in range(200)]
USERS = 5000
COMMANDS = [f"cmd{i}" for i in range(30)]
T0 = 1_767_225_600.0
RSS_GROWTH_LIMIT = 8_000_000
"""Bytes. A leak of 10 bytes an event would add 8 MB; the working set is steady once warm."""
BLOCKS_GROWTH_LIMIT = 20_000


def _trim_malloc() -> None:
    """Give freed heap pages of every glibc arena back to the OS, so RSS is the live memory."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _burst(monitor: Monitor, rng: random.Random, n: int) -> None:
    rec = monitor.recorder
    message = rec.message
    for _ in range(n * 8 // 10):
        user = rng.randrange(USERS)
        message(GUILDS[user % len(GUILDS)], 10_000 + user)
    for _ in range(n // 10):
        user = rng.randrange(USERS)
        rec.command(
            COMMANDS[min(int(rng.expovariate(0.3)), len(COMMANDS) - 1)],
            "slash",
            GUILDS[user % len(GUILDS)],
            10_000 + user,
            rng.lognormvariate(4, 0.8),
            rng.random() > 0.02,
            first_response_ms=rng.lognormvariate(5, 0.5),
        )
    for i in range(n // 10):
        if i % 4 == 0:
            rec.observe("gateway_latency_ms", rng.uniform(30, 90), shard=i % 4)
        elif i % 4 == 1:
            monitor.loop_lag.sample(rng.expovariate(500))
        elif i % 4 == 2:
            rec.gauge("guilds", float(len(GUILDS)))
        else:
            monitor.inc("jobs_done")


@pytest.mark.slow
async def test_a_million_events_keep_memory_flat(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    monitor = Monitor(Config(db_path=tmp_path / "bot.db"), clock=clock, system_interval=3600)
    cumulative_for(monitor.recorder, per_guild=True)
    await monitor.start(background=False)
    rng = random.Random(3)
    process = psutil.Process(os.getpid())
    samples: list[tuple[int, int]] = []
    try:
        for _ in range(EVENTS // PER_FLUSH):
            _burst(monitor, rng, PER_FLUSH)
            clock.advance(7200)
            monitor.recorder.tick()
            assert await monitor.flusher.flush()
            assert "discord_messages_total" in render_exposition(monitor, per_guild=True)
            gc.collect()
            _trim_malloc()
            samples.append((process.memory_info().rss, sys.getallocatedblocks()))
    finally:
        await monitor.stop()
    (warm_rss, warm_blocks), (end_rss, end_blocks) = samples[4], samples[-1]  # 200k, 1M events
    sys.stderr.write(
        f"memory over {EVENTS:,} events: RSS {warm_rss / 1e6:.1f} MB after 200k, "
        f"{end_rss / 1e6:.1f} MB at the end ({(end_rss - warm_rss) / 1e3:+.0f} kB); allocated "
        f"blocks {warm_blocks} -> {end_blocks} ({end_blocks - warm_blocks:+d})\n"
    )
    assert end_rss - warm_rss < RSS_GROWTH_LIMIT, samples
    assert end_blocks - warm_blocks < BLOCKS_GROWTH_LIMIT, samples
    assert monitor.recorder.totals["messages"] == EVENTS * 8 // 10
