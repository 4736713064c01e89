"""JSON payloads of the API, read from the core (store queries, recorder, samplers).

No SQL for metrics and no statistics here: percentiles, means and distinct counts come from the
store; this module picks the queries, lines series up on a time grid for the charts and names
the fields (the reference design's names where it had them).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from monitoring.core import Monitor
from monitoring.store.base import SeriesPoint, choose_step

__all__ = [
    "REALTIME_WINDOW_SECONDS",
    "VOICE_METRIC",
    "commands_payload",
    "effective_step",
    "finite",
    "guilds_payload",
    "historical_payload",
    "iso",
    "realtime_metrics",
    "system_payload",
]

log = logging.getLogger(__name__)

REALTIME_WINDOW_SECONDS = 3600
"""The live cards (messages, response times, error rate, users) cover the last hour."""
VOICE_METRIC = "voice_minutes"
"""Counter of voice minutes recorded by the cog (sum per step = minutes)."""
LATENCY_METRIC = "command_latency_ms"
ERRORS_METRIC = "command_errors"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def finite(value: float | None, digits: int = 1) -> float | None:
    """Public alias of the JSON-safe rounding used for every number the API sends."""
    return _r(value, digits)


def _r(value: float | None, digits: int = 1) -> float | None:
    """Rounded for JSON; None for a missing or non-finite value (JSON has no NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def _gid(guild: int | None) -> str | None:
    """Guild ids travel as strings: snowflakes do not fit a JavaScript number."""
    return None if guild is None else str(guild)


async def realtime_metrics(monitor: Monitor, *, now: float, guild: int | None) -> dict[str, Any]:
    """The live cards over the last hour, from the store."""
    store = monitor.store
    start = now - REALTIME_WINDOW_SECONDS
    messages = await store.aggregate("messages", start, now, guild=guild)
    latency = await store.aggregate(LATENCY_METRIC, start, now, guild=guild)
    errors = await store.aggregate(ERRORS_METRIC, start, now, guild=guild)
    users = await store.distinct_users(start, now, guild=guild)
    return {
        "window_seconds": REALTIME_WINDOW_SECONDS,
        "messages_processed": messages.count,
        "commands": latency.count,
        "errors": int(errors.sum),
        "average_response_time": _r(latency.mean),
        "p50_response_time": _r(latency.p50),
        "p95_response_time": _r(latency.p95),
        "error_rate": round(errors.sum / latency.count, 4) if latency.count else None,
        "active_users": users,
    }


def system_payload(monitor: Monitor, *, now: float, live: bool) -> dict[str, Any] | None:
    """Host and process readings of the running bot (None when viewing a file read-only, and
    for a one-guild view: they are bot-wide)."""
    if not live:
        return None
    sample = monitor.system.last
    stats = monitor.flusher.stats
    out: dict[str, Any] = {
        "uptime_seconds": round(now - monitor.started_at),
        "loop_lag_ms": _r(monitor.loop_lag.last_lag_ms, 2),
        "memory_usage": _r(sample.process_rss_mb) if sample else None,
        "cpu_percent": _r(sample.cpu_percent) if sample else None,
        "memory_percent": _r(sample.memory_percent) if sample else None,
        "disk_percent": _r(sample.disk_percent) if sample else None,
        "process_cpu_percent": _r(sample.process_cpu_percent) if sample else None,
        "network_sent": sample.net_sent_bytes if sample else None,
        "network_recv": sample.net_recv_bytes if sample else None,
        "storage": {
            "last_flush": iso(stats.last_ok),
            "flush_lag_seconds": _r(stats.lag(now)),
            "pending_rows": stats.pending_rows,
            "dropped_rows": stats.dropped_rows,
            "last_error": stats.last_error,
        },
    }
    return out


def effective_step(monitor: Monitor, *, now: float, hours: int, step: int | None) -> int:
    """The step the store will use: as asked (or chosen for ~300 points), rounded up to whole
    hours when the range reaches past the retention of minute rows."""
    seconds = hours * 3600
    chosen = step or choose_step(seconds)
    minute_floor = now - monitor.config.minute_retention_days * 86400
    if now - seconds < minute_floor and chosen % 3600:
        chosen = -(-chosen // 3600) * 3600
    return chosen


def _grid(start: float, end: float, step: int) -> list[int]:
    first = int(start // step) * step
    return list(range(first, int(end), step))


def _align(
    grid: Sequence[int],
    points: Iterable[SeriesPoint],
    pick: Callable[[SeriesPoint], float | None],
    empty: float | None,
) -> list[float | None]:
    index = {ts: i for i, ts in enumerate(grid)}
    out: list[float | None] = [empty] * len(grid)
    for p in points:
        i = index.get(p.ts)
        if i is not None:
            out[i] = pick(p)
    return out


async def historical_payload(
    monitor: Monitor, *, now: float, hours: int, step: int | None, guild: int | None
) -> dict[str, Any]:
    """Charts and totals over the last ``hours`` (reference: ``/api/metrics/historical``)."""
    store = monitor.store
    end = now
    start = now - hours * 3600
    step = effective_step(monitor, now=now, hours=hours, step=step)
    # Charts stop at the last complete step: a step still filling would look like a drop.
    series_end = int(end // step) * step
    grid = _grid(start, series_end, step)

    async def series(metric: str) -> list[SeriesPoint]:
        return await store.series(metric, start, series_end, step=step, guild=guild)

    messages = await series("messages")
    latency = await series(LATENCY_METRIC)
    errors = await series(ERRORS_METRIC)
    users = await series("users")
    voice = await series(VOICE_METRIC)

    messages_total = await store.aggregate("messages", start, end, guild=guild)
    latency_total = await store.aggregate(LATENCY_METRIC, start, end, guild=guild)
    errors_total = await store.aggregate(ERRORS_METRIC, start, end, guild=guild)
    voice_total = await store.aggregate(VOICE_METRIC, start, end, guild=guild)
    distinct = await store.distinct_users(start, end, guild=guild)

    # The store keeps exact distinct users per minute (per hour on hourly steps); over a wider
    # step their sum would count a user once per minute, so the chart shows the average.
    per_step = step / (3600 if step % 3600 == 0 else 60)
    users_col = _align(grid, users, lambda p: _r(p.sum / per_step, 1), 0)
    commands = latency_total.count
    error_count = int(errors_total.sum)
    error_rate = round(error_count / commands, 4) if commands else None
    peak_users = int(max((u or 0 for u in users_col), default=0))
    timeline = {
        "messages_over_time": {
            "total": messages_total.count,
            "series": {"ts": grid, "count": _align(grid, messages, lambda p: p.count, 0)},
        },
        "response_times": {
            "average": _r(latency_total.mean),
            "p50": _r(latency_total.p50),
            "p95": _r(latency_total.p95),
            "p99": _r(latency_total.p99),
            "series": {
                "ts": grid,
                "p50": _align(grid, latency, lambda p: _r(p.p50), None),
                "p95": _align(grid, latency, lambda p: _r(p.p95), None),
                "mean": _align(grid, latency, lambda p: _r(p.mean), None),
            },
        },
        "error_rates": {
            "current": error_rate,
            "errors": error_count,
            "commands": commands,
            "series": {
                "ts": grid,
                "errors": _align(grid, errors, lambda p: p.sum, 0),
                "commands": _align(grid, latency, lambda p: p.count, 0),
            },
        },
        "active_users": {
            "peak": peak_users,
            "distinct": distinct,
            "per": "hour" if step % 3600 == 0 else "minute",
            "series": {"ts": grid, "users": users_col},
        },
        "voice_usage": {
            "total_minutes": _r(voice_total.sum),
            "series": {"ts": grid, "minutes": _align(grid, voice, lambda p: _r(p.sum, 2), 0)},
        },
    }
    return {
        "period": f"{hours}h",
        "hours": hours,
        "step": step,
        "guild": _gid(guild),
        "start_time": iso(start),
        "end_time": iso(end),
        "series_end_time": iso(series_end),
        "timeline": timeline,
        "aggregates": {
            "total_messages": messages_total.count,
            "avg_response_time": _r(latency_total.mean),
            "p95_response_time": _r(latency_total.p95),
            "error_rate": error_rate,
            "commands": commands,
            "peak_users": peak_users,
            "distinct_users": distinct,
            "total_voice_minutes": _r(voice_total.sum),
        },
    }


async def commands_payload(
    monitor: Monitor, *, now: float, hours: int, guild: int | None, limit: int
) -> dict[str, Any]:
    """Per-command invocations, errors, error rate and p50/p95/p99 latency (ms)."""
    start = now - hours * 3600
    stats = await monitor.store.command_stats(start, now, guild=guild, limit=limit)
    return {
        "hours": hours,
        "guild": _gid(guild),
        "start_time": iso(start),
        "end_time": iso(now),
        "commands": [
            {
                "command": s.command,
                "count": s.count,
                "errors": s.errors,
                "error_rate": round(s.error_rate, 4),
                "mean_ms": _r(s.mean),
                "p50_ms": _r(s.p50),
                "p95_ms": _r(s.p95),
                "p99_ms": _r(s.p99),
            }
            for s in stats
        ],
    }


async def guilds_payload(
    monitor: Monitor,
    *,
    now: float,
    visible: int | None,
    names: Callable[[], dict[int, str]] | None,
) -> dict[str, Any]:
    """Guilds the caller may pick: their own, or (all-guild callers) every guild with data
    in the retention period plus every guild the bot is in. Names only when the bot is live."""
    known = dict(names()) if names is not None else {}
    if visible is not None:
        ids = [visible]
    else:
        start = now - monitor.config.retention_days * 86400
        top = await monitor.store.top("messages", start, now, by="guild", n=500)
        ids = sorted({int(item.label) for item in top} | set(known))
    guilds = [{"id": str(g), "name": known.get(g)} for g in ids]
    guilds.sort(key=lambda g: ((g["name"] or "").casefold(), g["id"]))
    return {"guilds": guilds, "names_known": names is not None}
