"""The Prometheus exposition: rendering ``/metrics`` and feeding it at each flush.

- ``render_us``: :func:`web.prometheus.render_exposition` for a busy bot (100 commands x 2 kinds
  with latency histograms, 16 shards, 20 of the bot's own metrics, host and monitor gauges,
  per-guild series for 50 guilds), median of 50 renders; peer ``prom_client_render_us``:
  ``prometheus_client.generate_latest`` of a registry holding the same series with the same
  buckets. Target: render_us <= 1.0 x the peer.
- ``feed_us``: the exposition's ``on_drain`` hook (:meth:`Cumulative.feed`) for one busy minute's
  batch; peer ``drain_us``: the recorder's drain of that minute, which the hook rides on.
  Target: feed_us <= 0.1 x drain_us.
- ``exposition_bytes`` and ``series``: the size of that answer.

    python -m benchmarks.exposition
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

import prometheus_client

from monitoring import Config, FakeClock, Monitor, Recorder
from monitoring.exposition import Cumulative, cumulative_for
from monitoring.histogram import BOUNDS
from monitoring.promcatalog import LATENCY_EDGES
from web.prometheus import render_exposition

from ._common import emit, machine

T0 = 1_767_225_600.0
COMMANDS = [f"cmd{i}" for i in range(100)]
GUILDS = [811111111111111111 + i for i in range(200)]


def busy_minute(rec: Recorder, rng: random.Random) -> None:
    for guild in GUILDS:
        rec.messages_bulk(guild, 50, (rng.randrange(20_000) for _ in range(10)))
    for i in range(600):
        rec.command(COMMANDS[i % 100], ("slash", "prefix")[i % 2], rng.choice(GUILDS),
                    rng.randrange(20_000), rng.lognormvariate(4, 0.8), rng.random() > 0.02)  # fmt: skip
    for shard in range(16):
        rec.observe("gateway_latency_ms", rng.uniform(30, 90), shard=shard)
        rec.inc("gateway_identify", shard=shard)
    for i in range(20):
        rec.inc(f"own_counter_{i}", 3)
    rec.gauge("guilds", float(len(GUILDS)))
    rec.observe("loop_lag_ms", 1.5)


def peer_registry() -> prometheus_client.CollectorRegistry:
    reg = prometheus_client.CollectorRegistry()
    buckets = [BOUNDS[i] / 1000 for i in LATENCY_EDGES]
    kw = {"registry": reg}
    lat = prometheus_client.Histogram("discord_command_latency_seconds", "h",
                                      ["command", "kind", "cluster"], buckets=buckets, **kw)  # fmt: skip
    runs = prometheus_client.Counter("discord_commands", "c", ["command", "kind", "cluster"], **kw)
    errs = prometheus_client.Counter("discord_command_errors", "c",
                                     ["command", "kind", "cluster"], **kw)  # fmt: skip
    for i, cmd in enumerate(COMMANDS):
        for kind in ("slash", "prefix"):
            lat.labels(cmd, kind, "eu").observe(0.05 + i / 1000)
            runs.labels(cmd, kind, "eu").inc(3)
            errs.labels(cmd, kind, "eu").inc()
    gw = prometheus_client.Gauge("discord_gateway_latency_seconds", "g", ["shard", "cluster"], **kw)
    ident = prometheus_client.Counter("discord_gateway_identifies", "c", ["shard", "cluster"], **kw)
    for shard in range(16):
        gw.labels(str(shard), "eu").set(0.05)
        ident.labels(str(shard), "eu").inc()
    for i in range(20):
        prometheus_client.Counter(f"discord_custom_own_counter_{i}", "c", ["cluster"],
                                  **kw).labels("eu").inc(3)  # fmt: skip
    guild_msgs = prometheus_client.Counter(
        "discord_guild_messages", "c", ["guild", "cluster"], **kw
    )
    for guild in GUILDS[:50]:
        guild_msgs.labels(str(guild), "eu").inc(50)
    for name in ("discord_messages", "discord_bot_messages", "discord_event_errors"):
        prometheus_client.Counter(name, "c", ["cluster"], **kw).labels("eu").inc()
    prometheus_client.Histogram("discord_event_loop_lag_seconds", "h", ["cluster"],
                                buckets=buckets, **kw).labels("eu").observe(0.0015)  # fmt: skip
    for i in range(14):
        prometheus_client.Gauge(f"discord_monitor_gauge_{i}", "g", ["cluster"], **kw).labels(
            "eu"
        ).set(i)
    return reg


def median_us(fn: object, runs: int = 50) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


def main() -> None:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(T0)
        monitor = Monitor(Config(db_path=Path(tmp) / "b.db", cluster="eu"), clock=clock)
        monitor.recorder.set_salt(b"s" * 16)
        cumulative_for(monitor.recorder, per_guild=True)
        for _ in range(3):
            busy_minute(monitor.recorder, rng)
            clock.advance(60)
            monitor.recorder.tick()
            monitor.recorder.drain()

        drains, feeds = [], []
        for _ in range(15):
            rec = Recorder(salt=b"s" * 16, clock=clock)
            busy_minute(rec, rng)
            started = time.perf_counter()
            batch = rec.drain()
            drains.append((time.perf_counter() - started) * 1e6)
            cum = Cumulative(rec, per_guild=True)
            started = time.perf_counter()
            cum.feed(batch)
            feeds.append((time.perf_counter() - started) * 1e6)

        text = render_exposition(monitor, per_guild=True)
        render_us = median_us(lambda: render_exposition(monitor, per_guild=True))
        registry = peer_registry()
        peer_us = median_us(lambda: prometheus_client.generate_latest(registry))
    result = {
        "render_us": round(render_us, 1),
        "prom_client_render_us": round(peer_us, 1),
        "render_vs_prom_client": round(render_us / peer_us, 3),
        "feed_us": round(statistics.median(feeds), 1),
        "drain_us": round(statistics.median(drains), 1),
        "feed_vs_drain": round(statistics.median(feeds) / statistics.median(drains), 3),
        "exposition_bytes": len(text.encode()),
        "series": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
        "prom_client_bytes": len(prometheus_client.generate_latest(registry)),
        "machine": machine(),
    }
    result["targets_met"] = (
        result["render_vs_prom_client"] <= 1.0 and result["feed_vs_drain"] <= 0.1
    )
    emit(result)


if __name__ == "__main__":
    main()
