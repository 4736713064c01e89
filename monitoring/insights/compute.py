"""compute_insights: the store's queries (run in its thread) turned into :class:`Insights`."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..config import Config
from ..store.base import Aggregate, Store, TopItem
from .model import (
    DayCount,
    Insights,
    PerformanceInsight,
    Retention,
    SystemHealthInsight,
    UserBehaviour,
)
from .verdicts import (
    CONCERNING_ERROR_RATE,
    LOOP_LAG_BOTTLENECK_MS,
    SLOW_P95_MS,
    clamp,
    efficiency_score,
    error_rate_status,
    peak_hours,
    performance_trend,
    response_time_status,
    retention_trend,
)

__all__ = ["InsightsSource", "compute_insights"]

log = logging.getLogger(__name__)

DAY = 86400
_RESOURCES = (("cpu_percent", "CPU"), ("memory_percent", "Memory"), ("disk_percent", "Disk"))


class InsightsSource(Protocol):
    """What insights need: a :class:`~monitoring.Monitor` or anything with a store and config."""

    store: Store
    config: Config


def _rate(errors: float, commands: int) -> float | None:
    return errors / commands if commands else None


async def _cohorts(
    store: Any, guild: int, first: int, last: int, lag_days: int
) -> list[tuple[int, int]]:
    """(cohort size, returned) per cohort day d in [first, last), return day d + lag."""
    rows = await store.fetchall(
        "SELECT a.day, COUNT(*), COUNT(b.user_hash) FROM user_days a "
        "LEFT JOIN user_days b ON b.guild = a.guild AND b.user_hash = a.user_hash "
        "AND b.day = a.day + ? WHERE a.guild = ? AND a.day >= ? AND a.day < ? "
        "GROUP BY a.day ORDER BY a.day",
        (lag_days * DAY, guild, first, last),
    )
    return [(int(r[1]), int(r[2])) for r in rows]


def _ratio(cohorts: Sequence[tuple[int, int]]) -> tuple[float | None, int]:
    size = sum(s for s, _ in cohorts)
    return (sum(b for _, b in cohorts) / size if size else None), size


def _local_hours(points: Sequence[Any], tz: dt.tzinfo) -> list[int]:
    hourly = [0] * 24
    for p in points:
        hour = dt.datetime.fromtimestamp(p.ts, tz).hour
        hourly[hour] += int(p.sum if p.count else 0)
    return hourly


def _command_hours(points: Sequence[Any], tz: dt.tzinfo) -> list[int]:
    hourly = [0] * 24
    for p in points:
        hourly[dt.datetime.fromtimestamp(p.ts, tz).hour] += int(p.count)
    return hourly


def _latest_gauge(source: Any, metric: str) -> float | None:
    recorder = getattr(source, "recorder", None)
    gauges = getattr(recorder, "last_gauges", None) or {}
    return gauges.get((metric, 0, "", -1, ""))


async def compute_insights(
    monitor: InsightsSource, *, now: float, guild: int | None = None, days: int = 7
) -> Insights:
    """Insights over the ``days`` before ``now`` (all guilds when ``guild`` is None).

    Raises :class:`ValueError` for ``days`` outside 1..90 and the store's errors
    (:class:`~monitoring.StoreError`) when the database cannot be read.
    """
    if not 1 <= days <= 90:
        raise ValueError(f"days={days!r}: expected a whole number of days from 1 to 90")
    store, config = monitor.store, monitor.config
    tz = config.tz
    end = float(now)
    start = end - days * DAY
    split = end - DAY
    g = guild or 0
    today = int(end // DAY) * DAY
    first_return = today - days * DAY

    aggregates = await asyncio.gather(
        store.aggregate("command_latency_ms", start, end, guild=guild),
        store.aggregate("command_errors", start, end, guild=guild),
        store.aggregate("command_latency_ms", split, end, guild=guild),
        store.aggregate("command_errors", split, end, guild=guild),
        store.aggregate("command_latency_ms", start, split, guild=guild),
        store.aggregate("command_errors", start, split, guild=guild),
        store.aggregate("interaction_deadline_missed", start, end, guild=guild),
        store.aggregate("loop_lag_ms", max(start, end - 3600), end),
        store.aggregate("messages", start, end, guild=guild),
    )
    latency, errors, recent, recent_errors, before, before_errors, missed, lag, messages = (
        aggregates
    )
    msg_points, cmd_points = await asyncio.gather(
        store.series("messages", start, end, step=3600, guild=guild),
        store.series("command_latency_ms", start, end, step=3600, guild=guild),
    )
    top = await store.top("command_latency_ms", start, end, guild=guild, n=5)
    active = await store.distinct_users(start, end, guild=guild)
    dau_rows, d1_cohorts, d7_cohorts = await asyncio.gather(
        _fetch_dau(store, g, int(start // DAY) * DAY, end),
        _cohorts(store, g, first_return - DAY, today - DAY, 1),
        _cohorts(store, g, first_return - 7 * DAY, today - 7 * DAY, 7),
    )
    gauges: dict[str, float | None] = {}
    for metric, _label in _RESOURCES:
        value = _latest_gauge(monitor, metric)
        if value is None:
            agg = await store.aggregate(metric, end - 900, end)
            value = agg.mean
        gauges[metric] = value

    performance = _performance(
        latency, errors.sum, recent, recent_errors.sum, before, before_errors.sum, missed, lag, top
    )
    performance = dataclasses.replace(
        performance,
        bottlenecks=performance.bottlenecks + _resource_warnings(gauges, config),
    )
    hourly = [
        m + c
        for m, c in zip(_local_hours(msg_points, tz), _command_hours(cmd_points, tz), strict=True)
    ]
    d1, d1_size = _ratio(d1_cohorts)
    d7, d7_size = _ratio(d7_cohorts)
    dau = tuple(DayCount(dt.datetime.fromtimestamp(day, dt.UTC).date(), n) for day, n in dau_rows)
    with_users = [d.users for d in dau if d.users]
    engagement = (
        clamp(100 * (sum(with_users) / len(with_users)) / active) if active and with_users else None
    )
    behaviour = UserBehaviour(
        active_users=active,
        messages=int(messages.sum),
        peak_hours=peak_hours(hourly),
        hourly_activity=tuple(hourly),
        popular_features=tuple((t.label, t.aggregate.count) for t in top),
        user_retention=retention_trend(d1_cohorts),
        retention=Retention(d1, d7, d1_size, d7_size),
        engagement_score=engagement,
        daily_active_users=dau,
    )
    health = SystemHealthInsight(
        cpu_percent=gauges["cpu_percent"],
        memory_percent=gauges["memory_percent"],
        disk_percent=gauges["disk_percent"],
        warnings=_resource_warnings(gauges, config),
    )
    insights = Insights(
        generated_at=end,
        start=start,
        end=end,
        days=days,
        guild=guild,
        timezone=config.timezone,
        performance=performance,
        user_behavior=behaviour,
        system_health=health,
    )
    recs = await _recommendations(monitor, now=end, guild=guild, days=days, config=config)
    return dataclasses.replace(insights, recommendations=recs)


async def _fetch_dau(store: Any, guild: int, first: int, end: float) -> list[tuple[int, int]]:
    rows = await store.fetchall(
        "SELECT day, COUNT(*) FROM user_days WHERE guild = ? AND day >= ? AND day < ? "
        "GROUP BY day ORDER BY day",
        (guild, first, math.ceil(end)),  # int() would drop today's row in its first second
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def _performance(
    latency: Aggregate,
    errors: float,
    recent: Aggregate,
    recent_errors: float,
    before: Aggregate,
    before_errors: float,
    missed: Aggregate,
    lag: Aggregate,
    top: Sequence[TopItem],
) -> PerformanceInsight:
    rate = _rate(errors, latency.count)
    bottlenecks: list[str] = []
    if latency.p95 is not None and latency.p95 > SLOW_P95_MS:
        bottlenecks.append(f"Command response time (p95 {latency.p95 / 1000:.1f} s)")
    for item in top:
        p95 = item.aggregate.p95
        if p95 is not None and p95 > SLOW_P95_MS and item.aggregate.count >= 5:
            bottlenecks.append(f"Slow command /{item.label} (p95 {p95 / 1000:.1f} s)")
    if rate is not None and rate > CONCERNING_ERROR_RATE:
        bottlenecks.append(f"High error rate ({rate:.1%})")
    if missed.sum:
        bottlenecks.append(f"{int(missed.sum)} interactions missed Discord's 3 s deadline")
    if lag.p95 is not None and lag.p95 > LOOP_LAG_BOTTLENECK_MS:
        bottlenecks.append(f"Event loop lag (p95 {lag.p95:.0f} ms)")
    return PerformanceInsight(
        trend=performance_trend(recent, recent_errors, before, before_errors),
        response_time_status=response_time_status(latency.p95),
        error_rate_status=error_rate_status(rate),
        efficiency_score=efficiency_score(latency.p95, rate),
        bottlenecks=tuple(bottlenecks),
        commands=latency.count,
        errors=int(errors),
        error_rate=rate,
        mean_ms=latency.mean,
        p50_ms=latency.p50,
        p95_ms=latency.p95,
        previous_p95_ms=before.p95,
        recent_p95_ms=recent.p95,
        deadline_missed=int(missed.sum),
        loop_lag_p95_ms=lag.p95,
    )


def _resource_warnings(gauges: Mapping[str, float | None], config: Config) -> tuple[str, ...]:
    limits = {
        "cpu_percent": config.cpu_warning_threshold,
        "memory_percent": config.memory_warning_threshold,
        "disk_percent": config.disk_warning_threshold,
    }
    out = []
    for metric, label in _RESOURCES:
        value = gauges.get(metric)
        if value is not None and value >= limits[metric]:
            out.append(f"{label} {value:.0f}% (warning at {limits[metric]:g}%)")
    return tuple(out)


async def _recommendations(
    monitor: Any, *, now: float, guild: int | None, days: int, config: Config
) -> tuple[Any, ...]:
    """:func:`monitoring.recommendations.recommend` over the same period (needs a Monitor-like
    source with ``errors``, ``system`` and ``flusher``; skipped for a bare store and config)."""
    try:
        from .. import recommendations
    except ImportError:
        return ()
    if not all(hasattr(monitor, a) for a in ("errors", "system", "flusher")):
        return ()
    facts = await recommendations.gather_facts(monitor, now=now, guild=guild, period=days * DAY)
    return tuple(recommendations.recommend(facts, config))
