"""What ``GET /metrics`` shows: cumulative counters and histograms, live gauges, bounded labels.

The recorder drains its windows at every flush, so the exposition keeps its own running totals: a
:class:`Cumulative` is fed every drained :class:`~monitoring.recorder.Batch` (the recorder's
``on_drain`` hook; a few microseconds a flush) and :func:`collect` turns it, with the live
readings (last gauges, the flusher, the host, the gateway shards), into :class:`Family` values.
``web/prometheus.py`` formats them as text. No HTTP or database import here.

Cardinality is bounded: no user ids ever; ``command`` labels for the first
:data:`MAX_COMMAND_LABELS` command names (later ones are ``(other)``); per-guild series only when
asked for, and then only for the busiest guilds; at most :data:`MAX_CUSTOM` of the host bot's own
metrics. Histograms keep every 8th of the core's log-spaced bounds (each twice the previous one:
powers of two microseconds), so a latency histogram has 17 buckets.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

from . import histogram
from .promcatalog import (
    COMMANDS_TOTAL,
    COUNTERS,
    GATEWAY,
    GAUGES,
    GENERIC_EDGES,
    HISTOGRAMS,
    HOST_METRICS,
    LATENCY_EDGES,
    LIVE_METRICS,
    MAX_COMMAND_LABELS,
    MAX_CUSTOM,
    OTHER,
    Family,
    Labels,
    Sample,
    Spec,
    custom_name,
)
from .recorder import Batch, Recorder

__all__ = ["MAX_COMMAND_LABELS", "MAX_CUSTOM", "Cumulative", "Family", "collect", "cumulative_for"]

log = logging.getLogger(__name__)


class _Hist:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self, n: int) -> None:
        self.count = 0
        self.sum = 0.0
        self.buckets = [0] * (n + 1)


class Cumulative:
    """Running totals since this process started, fed with every drained batch."""

    def __init__(self, recorder: Recorder | None = None, *, per_guild: bool = False) -> None:
        self.recorder = recorder
        self.per_guild = per_guild
        self.lock = threading.Lock()
        """Held while a batch is fed (worker thread) and while the loop reads the totals."""
        self.counters: dict[tuple[Spec, Labels], float] = {
            (spec, ()): 0.0 for spec in COUNTERS.values() if not spec.labels
        }
        self.hists: dict[tuple[Spec, Labels], _Hist] = {}
        self.gateway: dict[int, float] = {}
        """Mean gateway latency (s) per shard in the latest drained window."""
        self.guilds: dict[int, list[float]] = {}
        """guild -> [messages, commands, command errors] (only with ``per_guild``)."""
        self.users_minute: dict[int, int] = {}
        self.users_day: dict[int, int] = {}
        self.custom: dict[str, Spec] = {}
        self._commands: set[str] = set()

    # -- feeding (at drain time, off the hot path) ---------------------------------------------

    def _command(self, name: str) -> str:
        if name in self._commands:
            return name
        if len(self._commands) < MAX_COMMAND_LABELS:
            self._commands.add(name)
            return name
        return OTHER

    def _labels(self, spec: Spec, command: str, shard: int, kind: str) -> Labels:
        out: list[tuple[str, str]] = []
        for name in spec.labels:
            if name == "command":
                out.append(("command", self._command(command)))
            elif name == "kind":
                out.append(("kind", kind))
            elif name == "shard":
                out.append(("shard", str(shard) if shard >= 0 else ""))
        return tuple(out)

    def _custom_spec(self, metric: str, has_buckets: bool) -> Spec | None:
        spec = self.custom.get(metric)
        if spec is not None or metric in LIVE_METRICS or metric in HOST_METRICS or metric in GAUGES:
            return spec
        if len(self.custom) >= MAX_CUSTOM:
            return None
        gauges = self.recorder.last_gauges if self.recorder is not None else {}
        if has_buckets:
            kind = "histogram"
        elif any(key[0] == metric for key in list(gauges)):  # written by the loop
            kind = "gauge"
        else:
            kind = "counter"
        name, scale = custom_name(metric, kind)
        edges = (LATENCY_EDGES if scale != 1.0 else GENERIC_EDGES) if kind == "histogram" else ()
        spec = Spec(name, kind, f"The bot's own metric {metric!r}.", ("shard", "kind"), False,
                    scale, edges)  # fmt: skip
        self.custom[metric] = spec
        return spec

    def feed(self, batch: Batch) -> None:
        """Add one drained batch (the recorder's ``on_drain`` hook).

        Runs in the flusher's worker thread; readers on the loop take :attr:`lock` too.
        """
        with self.lock:
            self._feed(batch)

    def _feed(self, batch: Batch) -> None:
        for (
            metric,
            guild,
            command,
            shard,
            kind,
            ts,
            count,
            total,
            _lo,
            _hi,
            blob,
        ) in batch.minute_rows:
            if guild:
                if self.per_guild and not command:
                    self._feed_guild(metric, guild, count, total)
                continue
            if metric == "users":
                if not command:
                    self.users_minute[ts] = self.users_minute.get(ts, 0) + count
                continue
            if metric == "gateway_latency_ms":
                if count:
                    self.gateway[shard] = total / count * 1e-3
                continue
            spec = COUNTERS.get(metric) or HISTOGRAMS.get(metric)
            if spec is None:
                spec = self._custom_spec(metric, blob is not None)
                if spec is None or spec.type == "gauge":
                    continue
            if spec.per_command != bool(command):
                continue
            labels = self._labels(spec, command, shard, kind)
            if spec.type == "counter":
                key = (spec, labels)
                self.counters[key] = self.counters.get(key, 0.0) + total * spec.scale
                continue
            self._feed_hist(spec, labels, count, total, blob)
            if spec is HISTOGRAMS["command_latency_ms"]:
                key = (COMMANDS_TOTAL, labels)
                self.counters[key] = self.counters.get(key, 0.0) + count
        for metric, guild, command, _shard, _kind, ts, count, *_ in batch.day_rows:
            if metric == "users" and not guild and not command:
                self.users_day[ts] = self.users_day.get(ts, 0) + count
        for stale in (self.users_minute, self.users_day):
            while len(stale) > 3:
                del stale[min(stale)]

    def _feed_hist(
        self, spec: Spec, labels: Labels, count: int, total: float, blob: bytes | None
    ) -> None:
        h = self.hists.get((spec, labels))
        if h is None:
            h = self.hists[(spec, labels)] = _Hist(len(spec.edges))
        h.count += count
        h.sum += total * spec.scale
        edges, buckets = spec.edges, h.buckets
        for index, n in histogram.decode(blob).items():
            buckets[bisect_left(edges, index)] += n

    def _feed_guild(self, metric: str, guild: int, count: int, total: float) -> None:
        column = {"messages": 0, "command_latency_ms": 1, "command_errors": 2}.get(metric)
        if column is None:
            return
        row = self.guilds.get(guild)
        if row is None:
            if len(self.guilds) >= 20_000:  # bound memory: forget the quieter half
                ranked = sorted(self.guilds, key=lambda g: sum(self.guilds[g]))
                for quiet in ranked[: len(ranked) // 2]:
                    del self.guilds[quiet]
            row = self.guilds[guild] = [0.0, 0.0, 0.0]
        row[column] += count if column == 1 else total

    # -- reading ------------------------------------------------------------------------------

    def families(self) -> list[Family]:
        """The recorded counters and histograms (sorted by name)."""
        with self.lock:
            return self._families()

    def _families(self) -> list[Family]:
        grouped: dict[Spec, list[Sample]] = {}
        for (spec, labels), value in self.counters.items():
            grouped.setdefault(spec, []).append(Sample("", labels, value))
        for (spec, labels), h in self.hists.items():
            out = grouped.setdefault(spec, [])
            running = 0
            for bound, n in zip(spec.bounds(), h.buckets, strict=False):
                running += n
                out.append(Sample("_bucket", (*labels, ("le", f"{bound:.6g}")), running))
            out.append(Sample("_bucket", (*labels, ("le", "+Inf")), h.count))
            out.append(Sample("_sum", labels, h.sum))
            out.append(Sample("_count", labels, h.count))
        return [
            Family(spec.name, spec.type, spec.help, tuple(samples))
            for spec, samples in sorted(grouped.items(), key=lambda kv: kv[0].name)
        ]

    def top_guilds(self, n: int) -> list[tuple[int, list[float]]]:
        with self.lock:
            ranked = sorted(self.guilds.items(), key=lambda kv: (-kv[1][0] - kv[1][1], kv[0]))
        return ranked[:n]


_ATTACHED: weakref.WeakKeyDictionary[Recorder, Cumulative] = weakref.WeakKeyDictionary()


def cumulative_for(recorder: Recorder, *, per_guild: bool = False) -> Cumulative:
    """The recorder's :class:`Cumulative`, attached to its drains on first use."""
    cum = _ATTACHED.get(recorder)
    if cum is None:
        cum = _ATTACHED[recorder] = Cumulative(recorder, per_guild=per_guild)
        recorder.on_drain.append(cum.feed)
    elif per_guild:
        cum.per_guild = True
    return cum


def _gauge(name: str, help_: str, value: float | None, labels: Labels = ()) -> Family | None:
    if value is None or not math.isfinite(value):
        return None
    return Family(name, "gauge", help_, (Sample("", labels, value),))


def _shard_families(cum: Cumulative, shards: Sequence[Any]) -> list[Family]:
    with cum.lock:
        latency = {s: v for s, v in cum.gateway.items() if s >= 0}
    up: list[Sample] = []
    for state in shards:
        sid = int(state.shard_id)
        up.append(Sample("", (("shard", str(sid)),), 1.0 if state.connected else 0.0))
        ms = state.latency_ms
        if ms is not None and math.isfinite(ms):
            latency[sid] = ms * 1e-3
    out = [
        Family(GATEWAY.name, "gauge", GATEWAY.help,
               tuple(Sample("", (("shard", str(s)),), v) for s, v in sorted(latency.items())))
    ]  # fmt: skip
    if up:
        out.append(Family("discord_shard_up", "gauge", "1 while a gateway shard is connected.",
                          tuple(up)))  # fmt: skip
    return out


def _live_gauges(recorder: Recorder, cum: Cumulative) -> list[Family]:
    out: list[Family] = []
    grouped: dict[Spec, list[Sample]] = {}
    for (metric, guild, command, shard, kind), value in list(recorder.last_gauges.items()):
        if guild or command:
            continue
        spec = GAUGES.get(metric)
        if spec is None:
            custom = cum.custom.get(metric)
            if custom is None or custom.type != "gauge":
                continue
            spec = custom
        labels = () if spec in GAUGES.values() else cum._labels(spec, "", shard, kind)
        grouped.setdefault(spec, []).append(Sample("", labels, value * spec.scale))
    for spec, samples in sorted(grouped.items(), key=lambda kv: kv[0].name):
        out.append(Family(spec.name, "gauge", spec.help, tuple(samples)))
    return out


def _host(monitor: Any) -> list[Family]:
    system = getattr(monitor, "system", None)
    s = getattr(system, "last", None)
    if s is None:
        return []
    parts = [
        _gauge("discord_host_cpu_percent", "Host CPU use, percent.", s.cpu_percent),
        _gauge("discord_host_memory_percent", "Host memory use, percent.", s.memory_percent),
        _gauge("discord_host_disk_percent", "Disk use of the bot's folder, percent.",
               s.disk_percent),
        _gauge("discord_process_cpu_percent", "The bot process's CPU use, percent of one core.",
               s.process_cpu_percent),
        _gauge("discord_process_resident_memory_bytes", "The bot process's resident memory.",
               s.process_rss_mb * 1_048_576),
        Family("discord_host_network_receive_bytes_total", "counter",
               "Bytes received by the host since boot.", (Sample("", (), s.net_recv_bytes),)),
        Family("discord_host_network_transmit_bytes_total", "counter",
               "Bytes sent by the host since boot.", (Sample("", (), s.net_sent_bytes),)),
    ]  # fmt: skip
    return [f for f in parts if f is not None]


def _monitor_families(monitor: Any, now: float) -> list[Family]:
    stats = monitor.flusher.stats
    lag = stats.lag(now)
    if lag is None:
        lag = max(0.0, now - monitor.started_at)
    dropped = (
        Sample("", (("reason", "buffer_full"),), stats.dropped_rows),
        Sample("", (("reason", "metric_cap"),), monitor.recorder.dropped_labels),
    )
    parts = [
        _gauge("discord_monitor_start_time_seconds", "When monitoring started (Unix time).",
               monitor.started_at),
        _gauge("discord_monitor_flush_lag_seconds",
               "Seconds since metrics were last written to the database.", lag),
        _gauge("discord_monitor_last_flush_timestamp_seconds",
               "When metrics were last written to the database (Unix time).", stats.last_ok),
        _gauge("discord_monitor_pending_rows", "Rows waiting in memory for the database.",
               stats.pending_rows),
        _gauge("discord_monitor_flush_failures", "Failed database writes in a row.",
               stats.consecutive_failures),
        _gauge("discord_monitor_store_open", "1 while the metrics database is open.",
               1.0 if stats.store_open else 0.0),
        Family("discord_monitor_flushed_rows_total", "counter",
               "Rows written to the metrics database.", (Sample("", (), stats.flushed_rows),)),
        Family("discord_monitor_dropped_samples_total", "counter",
               "Samples dropped: the write buffer was full, or too many metric names.", dropped),
    ]  # fmt: skip
    return [f for f in parts if f is not None]


def _guild_families(cum: Cumulative, max_guilds: int) -> list[Family]:
    top = cum.top_guilds(max_guilds)
    names = (
        ("discord_guild_messages_total", "Messages per guild (the busiest guilds only)."),
        ("discord_guild_commands_total", "Commands per guild (the busiest guilds only)."),
        ("discord_guild_command_errors_total", "Failed commands per guild (busiest only)."),
    )
    return [
        Family(name, "counter", help_,
               tuple(Sample("", (("guild", str(g)),), row[i]) for g, row in top))
        for i, (name, help_) in enumerate(names)
    ]  # fmt: skip


def collect(
    monitor: Any,
    *,
    per_guild: bool = False,
    max_guilds: int = 50,
    shards: Callable[[], Sequence[Any]] | None = None,
    now: float | None = None,
) -> list[Family]:
    """Every family of the exposition for ``monitor`` (a :class:`~monitoring.Monitor`).

    ``shards`` returns the gateway shards (``shard_id``, ``latency_ms``, ``connected``) when the
    bot is running; without it, gateway latency comes from the latest recorded samples.
    """
    now = monitor.clock() if now is None else now
    recorder: Recorder = monitor.recorder
    cum = cumulative_for(recorder, per_guild=per_guild)
    families = cum.families()
    families += _shard_families(cum, shards() if shards is not None else ())
    families += _live_gauges(recorder, cum)
    families += _host(monitor)
    families += _monitor_families(monitor, now)
    minute = int(now // 60) * 60
    users = (
        Sample("", (("window", "minute"),), cum.users_minute.get(minute - 60, 0)),
        Sample("", (("window", "day"),), cum.users_day.get(int(now // 86400) * 86400, 0)),
    )
    families.append(
        Family("discord_active_users", "gauge",
               "Distinct users active in the last whole minute, and so far today (UTC) in this "
               "process.", users)
    )  # fmt: skip
    if per_guild:
        families += _guild_families(cum, max_guilds)
    return families
