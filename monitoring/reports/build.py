"""Report content: totals with comparisons, top and slowest commands, errors, peak hours, uptime.

One builder serves the daily report (one local day against the day and the week before) and the
CLI report (N days against the N days before). Everything comes from the store's queries (run in
its thread) and :func:`monitoring.insights.compute_insights`; nothing is formatted here.

Distinct users come from the daily user sets, which are kept per UTC day: for a time zone other
than UTC, a local day's count includes the users of both UTC days it touches.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import ErrorGroup
from ..insights import Insights, compute_insights
from ..store.base import CommandStat

__all__ = ["Comparison", "Report", "Series", "Total", "build_report", "chart_request"]

log = logging.getLogger(__name__)

TOTALS: tuple[tuple[str, str, str], ...] = (
    ("messages", "Messages", "sum"),
    ("command_latency_ms", "Commands", "count"),
    ("command_errors", "Command errors", "sum"),
    ("voice_minutes", "Voice minutes", "sum"),
    ("member_joins", "Members joined", "sum"),
    ("guild_joins", "Servers joined", "sum"),
)
MIN_CALLS_FOR_SLOWEST = 5


@dataclasses.dataclass(frozen=True, slots=True)
class Comparison:
    label: str
    """``"day before"``, ``"week before"`` or ``"previous 7 days"``."""
    start: float
    end: float


@dataclasses.dataclass(frozen=True, slots=True)
class Total:
    label: str
    value: float
    before: tuple[float, ...]
    """The same total over each comparison period, in order."""

    def change(self, index: int) -> float | None:
        """value / before - 1 (None when there was nothing before)."""
        previous = self.before[index] if index < len(self.before) else 0.0
        return self.value / previous - 1.0 if previous else None


@dataclasses.dataclass(frozen=True, slots=True)
class Series:
    """Hourly values for a chart: ``points`` are (ts, value) aligned on the report's period."""

    label: str
    points: tuple[tuple[int, float], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    title: str
    start: float
    end: float
    timezone: str
    generated_at: float
    comparisons: tuple[Comparison, ...]
    totals: tuple[Total, ...]
    distinct_users: Total
    top_commands: tuple[CommandStat, ...]
    slowest_commands: tuple[CommandStat, ...]
    top_errors: tuple[ErrorGroup, ...]
    peak_hours: tuple[tuple[int, int], ...]
    """(local hour, messages + commands), busiest first."""
    uptime: float | None
    """Share (0-1) of the period's minutes in which the bot was running."""
    reconnects: int
    resumes: int
    identifies: int
    activity: tuple[Series, ...]
    """Messages per hour: this period, then each comparison shifted onto this period."""
    latency: tuple[Series, ...]
    """p95 command latency per hour (ms)."""
    insights: Insights | None
    late: bool = False

    @property
    def has_data(self) -> bool:
        return (
            any(t.value for t in self.totals)
            or bool(self.distinct_users.value)
            or bool(self.activity and self.activity[0].points)
        )

    @property
    def commands(self) -> int:
        return int(next((t.value for t in self.totals if t.label == "Commands"), 0))


async def _total(store: Any, metric: str, stat: str, start: float, end: float) -> float:
    agg = await store.aggregate(metric, start, end)
    return float(agg.count if stat == "count" else agg.sum)


async def _uptime(store: Any, start: float, end: float, now: float) -> float | None:
    rows = await store.fetchall(
        "SELECT MIN(ts) FROM rollup_hour WHERE metric = 'loop_lag_ms' AND guild = 0 "
        "AND command = ''"
    )
    first = rows[0][0] if rows and rows[0][0] is not None else None
    if first is None:
        return None
    lo, hi = max(start, float(first)), min(end, now)
    if hi - lo < 60:
        return None
    minute_floor = now - getattr(store, "minute_retention_days", 7) * 86400
    step = 60 if lo >= minute_floor else 3600
    points = await store.series("loop_lag_ms", lo, hi, step=step)
    covered = sum(1 for p in points if p.count) * step
    return min(1.0, covered / (hi - lo))


def _hourly(points: Sequence[Any], field: str, shift: float = 0.0) -> tuple[tuple[int, float], ...]:
    out = []
    for p in points:
        value = p.sum if field == "sum" else (p.count if field == "count" else p.p95)
        if value is not None:
            out.append((int(p.ts + shift), float(value)))
    return tuple(out)


def _peak_hours(
    messages: Sequence[Any], commands: Sequence[Any], tz: dt.tzinfo
) -> tuple[tuple[int, int], ...]:
    hours = [0] * 24
    for p in messages:
        hours[dt.datetime.fromtimestamp(p.ts, tz).hour] += int(p.sum)
    for p in commands:
        hours[dt.datetime.fromtimestamp(p.ts, tz).hour] += int(p.count)
    ranked = sorted(range(24), key=lambda h: (-hours[h], h))
    return tuple((h, hours[h]) for h in ranked[:3] if hours[h])


async def build_report(
    monitor: Any,
    *,
    title: str,
    start: float,
    end: float,
    comparisons: Sequence[Comparison],
    now: float,
    late: bool = False,
    with_insights: bool = True,
    label: str = "this period",
) -> Report:
    """Gather a report over [start, end) with ``comparisons`` (store errors propagate)."""
    store, config = monitor.store, monitor.config
    tz = config.tz
    periods = [(start, end), *((c.start, c.end) for c in comparisons)]
    totals_raw = await asyncio.gather(
        *(_total(store, m, stat, s, e) for m, _label, stat in TOTALS for s, e in periods)
    )
    width = len(periods)
    totals = tuple(
        Total(label, totals_raw[i * width], tuple(totals_raw[i * width + 1 : (i + 1) * width]))
        for i, (_m, label, _stat) in enumerate(TOTALS)
    )
    users = await asyncio.gather(*(store.distinct_users(s, e) for s, e in periods))
    stats = await store.command_stats(start, end, limit=100)
    msg_series = await asyncio.gather(
        *(store.series("messages", s, e, step=3600) for s, e in periods)
    )
    cmd_points = await store.series("command_latency_ms", start, end, step=3600)
    reconnects, resumes, identifies = await asyncio.gather(
        store.aggregate("gateway_disconnect", start, end),
        store.aggregate("gateway_resume", start, end),
        store.aggregate("gateway_identify", start, end),
    )
    uptime = await _uptime(store, start, end, now)
    errors = getattr(monitor, "errors", None)
    top_errors = tuple(
        g
        for g in (errors.top(n=50, since=start) if errors is not None else [])
        if g.first_seen < end
    )[:5]
    insights = None
    if with_insights:
        days = max(1, min(90, round((end - start) / 86400)))
        insights = await compute_insights(monitor, now=end, days=days)
    activity = [Series(label, _hourly(msg_series[0], "sum"))]
    for comparison, points in zip(comparisons, msg_series[1:], strict=True):
        activity.append(Series(comparison.label, _hourly(points, "sum", start - comparison.start)))
    slowest = sorted(
        (c for c in stats if c.count >= MIN_CALLS_FOR_SLOWEST and c.p95 is not None),
        key=lambda c: -(c.p95 or 0.0),
    )
    return Report(
        title=title,
        start=start,
        end=end,
        timezone=config.timezone,
        generated_at=now,
        comparisons=tuple(comparisons),
        totals=totals,
        distinct_users=Total("Distinct users", float(users[0]), tuple(float(u) for u in users[1:])),
        top_commands=tuple(stats[:5]),
        slowest_commands=tuple(slowest[:5]),
        top_errors=top_errors,
        peak_hours=_peak_hours(msg_series[0], cmd_points, tz),
        uptime=uptime,
        reconnects=int(reconnects.sum),
        resumes=int(resumes.sum),
        identifies=int(identifies.sum),
        activity=tuple(activity),
        latency=(Series("p95 latency", _hourly(cmd_points, "p95")),),
        insights=insights,
        late=late,
    )


def chart_request(report: Report, *, theme: str = "discord") -> tuple[list[Any], dict[str, Any]]:
    """``(panels, keyword arguments)`` for :func:`monitoring.charts.render_timeseries`.

    Plain data (no matplotlib import), so the chart can be drawn in the ``/stats`` worker process
    (``ChartRenderer.render("render_timeseries", panels, **kwargs)``) or in a thread.
    """
    from ..analysis import Line, Panel

    activity = tuple(
        Line(s.label, s.points, "area" if i == 0 else "line") for i, s in enumerate(report.activity)
    )
    panels = [Panel("Messages per hour", "", activity)]
    latency = report.latency[0].points if report.latency else ()
    if latency:
        panels.append(Panel("Command latency p95", "ms", (Line("p95", latency, "line"),)))
    tz = ZoneInfo(report.timezone)
    start = dt.datetime.fromtimestamp(report.start, tz)
    last = dt.datetime.fromtimestamp(report.end - 1, tz)
    same_day = start.date() == last.date()
    span = f"{start:%A %d %B %Y}" if same_day else f"{start:%d %b} to {last:%d %b %Y}"
    subtitle = f"{span} · {report.timezone}" + (" · posted late" if report.late else "")
    kwargs = {
        "title": report.title,
        "subtitle": subtitle,
        "theme": theme,
        "start": report.start,
        "end": report.end,
        "step": 3600,
        "tz": report.timezone,
    }
    return panels, kwargs
