"""The per-metric parts of :func:`monitoring.analysis.stats_summary`: which rollups each metric
reads, its key numbers and its chart panels. Private to :mod:`monitoring.analysis`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable

from .analysis import KeyNumber, Line, Panel
from .store.base import Aggregate, Change, SeriesPoint, Store

__all__ = ["BUILDERS", "Built", "Query"]

log = logging.getLogger(__name__)


def _pts(points: Iterable[SeriesPoint], field: str) -> tuple[tuple[int, float], ...]:
    out: list[tuple[int, float]] = []
    for p in points:
        value = p.mean if field == "mean" else getattr(p, field)
        if value is not None:
            out.append((p.ts, float(value)))
    return tuple(out)


def _step_name(step: int) -> str:
    if step % 86400 == 0:
        n, unit = step // 86400, "day"
    elif step % 3600 == 0:
        n, unit = step // 3600, "hour"
    else:
        n, unit = step // 60, "minute"
    return unit if n == 1 else f"{n} {unit}s"


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """The query context shared by the per-metric builders."""

    store: Store
    start: float
    end: float
    step: int
    guild: int | None

    @property
    def span(self) -> float:
        return self.end - self.start

    async def agg(self, metric: str, *, previous: bool = False, **kw: object) -> Aggregate:
        lo, hi = (self.start - self.span, self.start) if previous else (self.start, self.end)
        return await self.store.aggregate(metric, lo, hi, guild=self.guild, **kw)  # type: ignore[arg-type]

    async def series(self, metric: str, **kw: object) -> list[SeriesPoint]:
        return await self.store.series(
            metric,
            self.start,
            self.end,
            step=self.step,
            guild=self.guild,
            **kw,  # type: ignore[arg-type]
        )


Built = tuple[
    tuple[KeyNumber, ...],  # totals
    Aggregate | None,  # the distribution behind p50/p95/p99
    str,  # what that distribution is
    Change | None,
    str,  # change label
    tuple[Panel, ...],
    bool,  # has data
]


# -- per-metric builders ----------------------------------------------------------------------


async def _messages(q: Query) -> Built:
    cur, own, prev, pts, own_pts, users = await asyncio.gather(
        q.agg("messages"),
        q.agg("messages_own"),
        q.agg("messages", previous=True),
        q.series("messages"),
        q.series("messages_own"),
        q.store.distinct_users(q.start, q.end, guild=q.guild),
    )
    hours = q.span / 3600
    totals = (
        KeyNumber("Messages", cur.sum),
        KeyNumber("Per hour", cur.sum / hours, "/h"),
        KeyNumber("Bot's own messages", own.sum),
        KeyNumber("Active users", float(users)),
    )
    panel = Panel(
        "Messages",
        f"per {_step_name(q.step)}",
        (Line("members", _pts(pts, "sum"), "area"), Line("bot", _pts(own_pts, "sum"))),
    )
    has = bool(cur.count or own.count)
    return totals, None, "", Change(cur.sum, prev.sum), "messages", (panel,), has


async def _commands(q: Query) -> Built:
    lat, prev, errs, pts, err_pts = await asyncio.gather(
        q.agg("command_latency_ms"),
        q.agg("command_latency_ms", previous=True),
        q.agg("command_errors"),
        q.series("command_latency_ms"),
        q.series("command_errors"),
    )
    totals = (
        KeyNumber("Commands", float(lat.count)),
        KeyNumber("Per hour", lat.count / (q.span / 3600), "/h"),
        KeyNumber("Failed", errs.sum),
    )
    unit = f"per {_step_name(q.step)}"
    panels = (
        Panel(
            "Commands",
            unit,
            (
                Line("runs", _pts(pts, "count"), "area"),
                Line("errors", _pts(err_pts, "sum"), "bars"),
            ),
        ),
        Panel(
            "Command latency",
            "ms",
            (Line("p50", _pts(pts, "p50")), Line("p95", _pts(pts, "p95"))),
        ),
    )
    change = Change(float(lat.count), float(prev.count))
    return totals, lat, "command latency", change, "commands", panels, bool(lat.count)


async def _latency(q: Query) -> Built:
    bot_wide = q.guild is None
    lat, prev, first, missed, pts, first_pts = await asyncio.gather(
        q.agg("command_latency_ms"),
        q.agg("command_latency_ms", previous=True),
        q.agg("interaction_first_response_ms"),
        q.agg("interaction_deadline_missed"),
        q.series("command_latency_ms"),
        q.series("interaction_first_response_ms"),
    )
    totals = [
        KeyNumber("Mean command latency", lat.mean, "ms"),
        KeyNumber("p95 first response", first.p95, "ms"),
        KeyNumber("Missed 3 s deadlines", missed.sum),
    ]
    panels = [
        Panel(
            "Command latency",
            "ms",
            (
                Line("p50", _pts(pts, "p50")),
                Line("p95", _pts(pts, "p95")),
                Line("first response p95", _pts(first_pts, "p95")),
            ),
            threshold=3000.0 if first.count else None,
            threshold_label="3 s deadline",
        )
    ]
    has = bool(lat.count or first.count)
    if bot_wide:
        gw, gw_pts = await asyncio.gather(
            q.store.aggregate("gateway_latency_ms", q.start, q.end),
            q.store.series("gateway_latency_ms", q.start, q.end, step=q.step),
        )
        totals.insert(0, KeyNumber("Gateway latency p95", gw.p95, "ms"))
        panels.append(
            Panel(
                "Gateway latency (all shards)",
                "ms",
                (Line("p50", _pts(gw_pts, "p50")), Line("max", _pts(gw_pts, "max"))),
            )
        )
        has = has or bool(gw.count)
    change = Change(lat.p95 or 0.0, prev.p95 or 0.0) if lat.count and prev.count else None
    return tuple(totals), lat, "command latency", change, "p95 command latency", tuple(panels), has


async def _errors(q: Query) -> Built:
    cmd, prev_cmd, events, prev_events, runs, missed = await asyncio.gather(
        q.agg("command_errors"),
        q.agg("command_errors", previous=True),
        q.agg("event_errors"),
        q.agg("event_errors", previous=True),
        q.agg("command_latency_ms"),
        q.agg("interaction_deadline_missed"),
    )
    cmd_pts, ev_pts = await asyncio.gather(q.series("command_errors"), q.series("event_errors"))
    totals = (
        KeyNumber("Command errors", cmd.sum),
        KeyNumber("Event handler errors", events.sum),
        KeyNumber("Commands run", float(runs.count)),
        KeyNumber("Missed 3 s deadlines", missed.sum),
    )
    panel = Panel(
        "Errors",
        f"per {_step_name(q.step)}",
        (
            Line("command errors", _pts(cmd_pts, "sum"), "bars"),
            Line("event errors", _pts(ev_pts, "sum")),
        ),
    )
    change = Change(cmd.sum + events.sum, prev_cmd.sum + prev_events.sum)
    has = bool(cmd.count or events.count or runs.count)
    return totals, None, "", change, "errors", (panel,), has


async def _users(q: Query) -> Built:
    store, g = q.store, q.guild
    cur, prev, joins, leaves, join_pts, leave_pts = await asyncio.gather(
        store.distinct_users(q.start, q.end, guild=g),
        store.distinct_users(q.start - q.span, q.start, guild=g),
        q.agg("member_joins"),
        q.agg("member_leaves"),
        q.series("member_joins"),
        q.series("member_leaves"),
    )
    active: tuple[tuple[int, float], ...]
    if q.span <= 3600:
        active = _pts(await q.series("users"), "sum")
        active_label, active_step = "active users per minute", q.step
    elif q.span <= 86400:
        active = _pts(await store.series("users", q.start, q.end, step=3600, guild=g), "sum")
        active_label, active_step = "active users per hour", 3600
    else:
        days = list(range(int(q.start // 86400) * 86400, int(q.end), 86400))
        counts = await asyncio.gather(*(store.distinct_users(d, d + 86400, guild=g) for d in days))
        active = tuple((d, float(c)) for d, c in zip(days, counts, strict=True) if c)
        active_label, active_step = "active users per day", 86400
    totals = [
        KeyNumber("Distinct users", float(cur)),
        KeyNumber("Members joined", joins.sum),
        KeyNumber("Members left", leaves.sum),
    ]
    if g is None:
        gj, gl = await asyncio.gather(q.agg("guild_joins"), q.agg("guild_leaves"))
        totals += [KeyNumber("Servers joined", gj.sum), KeyNumber("Servers left", gl.sum)]
    panels = (
        Panel("Active users", "users", (Line(active_label, active, "area", active_step),)),
        Panel(
            "Members",
            f"per {_step_name(q.step)}",
            (
                Line("joined", _pts(join_pts, "sum"), "bars"),
                Line("left", _pts(leave_pts, "sum"), "bars"),
            ),
        ),
    )
    has = bool(cur or joins.count or leaves.count or active)
    return tuple(totals), None, "", Change(float(cur), float(prev)), "distinct users", panels, has


async def _voice(q: Query) -> Built:
    minutes, prev, sessions, active, pts, active_pts = await asyncio.gather(
        q.agg("voice_minutes"),
        q.agg("voice_minutes", previous=True),
        q.agg("voice_sessions"),
        q.agg("voice_active"),
        q.series("voice_minutes"),
        q.series("voice_active"),
    )
    totals = (
        KeyNumber("Voice time", minutes.sum, "min"),
        KeyNumber("Sessions", sessions.sum),
        KeyNumber("Mean session", minutes.sum / sessions.sum if sessions.sum else None, "min"),
        KeyNumber("Most in voice at once", active.max),
    )
    panels = (
        Panel(
            "Voice minutes",
            f"per {_step_name(q.step)}",
            (Line("minutes", _pts(pts, "sum"), "area"),),
        ),
        Panel("In voice", "members", (Line("max at once", _pts(active_pts, "max")),)),
    )
    has = bool(minutes.count or sessions.count or active.count)
    return totals, None, "", Change(minutes.sum, prev.sum), "voice minutes", panels, has


async def _system(q: Query) -> Built:
    names = ("cpu_percent", "memory_percent", "process_rss_mb", "disk_percent", "loop_lag_ms")
    cpu, mem, rss, disk, lag, sent, recv, prev_cpu = await asyncio.gather(
        *(q.agg(name) for name in (*names, "net_sent_bytes", "net_recv_bytes")),
        q.agg("cpu_percent", previous=True),
    )
    cpu_pts, mem_pts, lag_pts = await asyncio.gather(
        *(q.series(name) for name in ("cpu_percent", "memory_percent", "loop_lag_ms"))
    )
    totals = (
        KeyNumber("Mean CPU", cpu.mean, "%"),
        KeyNumber("Peak CPU", cpu.max, "%"),
        KeyNumber("Mean memory", mem.mean, "%"),
        KeyNumber("Bot process peak", rss.max, "MB"),
        KeyNumber("Disk used", disk.max, "%"),
        KeyNumber("Network sent", sent.sum / 1_048_576 if sent.count else None, "MB"),
        KeyNumber("Network received", recv.sum / 1_048_576 if recv.count else None, "MB"),
    )
    panels = (
        Panel(
            "Host", "%", (Line("CPU", _pts(cpu_pts, "mean")), Line("memory", _pts(mem_pts, "mean")))
        ),
        Panel(
            "Event-loop lag",
            "ms",
            (Line("p95", _pts(lag_pts, "p95")), Line("max", _pts(lag_pts, "max"))),
        ),
    )
    change = Change(cpu.mean or 0.0, prev_cpu.mean or 0.0) if cpu.count and prev_cpu.count else None
    has = bool(cpu.count or lag.count)
    return totals, lag, "event-loop lag", change, "mean CPU", panels, has


BUILDERS = {
    "messages": _messages,
    "commands": _commands,
    "latency": _latency,
    "errors": _errors,
    "users": _users,
    "voice": _voice,
    "system": _system,
}
