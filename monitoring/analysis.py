"""Stats summaries for one period, metric and scope, computed from the store's queries.

:func:`stats_summary` is the single place that decides what "the commands over the last 24 hours"
means: which rollups are read, which key numbers are shown, which series are charted. ``/stats``,
the dashboard and the insights reuse it. The result is a frozen :class:`StatsSummary` of plain
numbers; formatting (embeds, JSON) belongs to the adapters, drawing to :mod:`monitoring.charts`.

The per-metric queries, key numbers and panels live in :mod:`monitoring.summaries`. Metric names
read there are the ones the Discord cog records (see ``cogs/monitoring/listeners.py``):
``messages``/``messages_own`` (per guild), ``command_latency_ms`` and ``command_errors`` (per
command), ``interaction_first_response_ms``/``interaction_deadline_missed``, ``event_errors``,
``gateway_latency_ms`` (per shard), ``gateway_identify``/``gateway_resume``/``gateway_disconnect``,
``guild_joins``/``guild_leaves``, ``member_joins``/``member_leaves``, ``voice_minutes``,
``voice_sessions``, ``voice_active``, and the core's ``loop_lag_ms`` and host gauges.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

from .errors import ErrorGroup, ErrorTracker
from .store.base import Change, CommandStat, Store, TopItem, choose_step

__all__ = [
    "METRICS",
    "PERIODS",
    "KeyNumber",
    "Line",
    "Panel",
    "StatsSummary",
    "period_seconds",
    "stats_summary",
    "step_for",
]

log = logging.getLogger(__name__)

PERIODS: dict[str, int] = {"1h": 3600, "24h": 86400, "7d": 604800, "30d": 2592000}
"""Period name -> length in seconds."""

METRICS: tuple[str, ...] = ("messages", "commands", "latency", "errors", "users", "voice", "system")
"""What /stats can summarise."""

BOT_WIDE_METRICS: frozenset[str] = frozenset({"system"})
"""Metrics that describe the whole bot process, never one guild."""

MAX_POINTS = 180
TOP_N = 5

LineStyle = Literal["line", "area", "bars"]


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    """One drawn series: ``(ts, value)`` points, oldest first (empty steps are absent)."""

    label: str
    points: tuple[tuple[int, float], ...]
    style: LineStyle = "line"
    step: int = 0
    """Seconds between points when coarser than the chart's step (0: the chart's)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Panel:
    """One chart panel: lines sharing a unit; ``threshold`` draws a dashed reference line."""

    title: str
    unit: str
    lines: tuple[Line, ...]
    threshold: float | None = None
    threshold_label: str = ""

    @property
    def has_data(self) -> bool:
        return any(line.points for line in self.lines)


@dataclasses.dataclass(frozen=True, slots=True)
class KeyNumber:
    """One headline number. ``unit`` is one of "", "ms", "%", "min", "MB", "/h"."""

    label: str
    value: float | None
    unit: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class StatsSummary:
    """Everything /stats shows for one metric over one period and scope.

    ``guild`` is None for all guilds. ``p50``/``p95``/``p99`` describe ``percentile_label``
    (command latency, loop lag...) and are None when the metric has no distribution.
    ``change`` compares the period with the one just before it (``change_label`` says what).
    """

    metric: str
    period: str
    start: float
    end: float
    guild: int | None
    step: int
    totals: tuple[KeyNumber, ...]
    p50: float | None
    p95: float | None
    p99: float | None
    percentile_label: str
    error_rate: float | None
    change: Change | None
    change_label: str
    top_commands: tuple[CommandStat, ...]
    top_guilds: tuple[TopItem, ...]
    top_errors: tuple[ErrorGroup, ...]
    panels: tuple[Panel, ...]
    has_data: bool

    @property
    def series(self) -> tuple[Panel, ...]:
        """The chart's panels (alias)."""
        return self.panels


def period_seconds(period: str) -> int:
    """Seconds in a period name; ValueError naming the allowed names otherwise."""
    try:
        return PERIODS[period]
    except KeyError:
        raise ValueError(f"period {period!r}: expected one of {', '.join(PERIODS)}") from None


# -- helpers ----------------------------------------------------------------------------------


def _series_step(seconds: int) -> int:
    return choose_step(seconds, MAX_POINTS)


def step_for(period: str) -> int:
    """The series resolution (seconds) used for a period."""
    return _series_step(period_seconds(period))


async def stats_summary(
    store: Store,
    *,
    metric: str,
    period: str,
    now: float,
    guild: int | None = None,
    errors: ErrorTracker | None = None,
) -> StatsSummary:
    """Summarise ``metric`` over the ``period`` ending at ``now`` for one guild (or all: None).

    ``errors`` (the monitor's :class:`ErrorTracker`) adds the most frequent error groups.
    Raises ValueError for an unknown metric or period, or a bot-wide metric asked for one guild.
    Store failures propagate as :class:`~monitoring.store.base.StoreError`.
    """
    seconds = period_seconds(period)
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r}: expected one of {', '.join(METRICS)}")
    if guild is not None and metric in BOT_WIDE_METRICS:
        raise ValueError(f"metric {metric!r} describes the whole bot, not one guild")
    if guild == 0:
        guild = None
    start = now - seconds
    from .summaries import BUILDERS, Query  # the per-metric builders (they import this module)

    q = Query(store, start, now, _series_step(seconds), guild)
    totals, dist, dist_label, change, change_label, panels, has = await BUILDERS[metric](q)

    top_commands: tuple[CommandStat, ...] = ()
    error_rate: float | None = None
    if metric in ("commands", "latency", "errors"):
        stats = await store.command_stats(start, now, guild=guild, limit=50)
        runs = sum(s.count for s in stats)
        error_rate = sum(s.errors for s in stats) / runs if runs else None
        if metric == "errors":
            ranked = sorted((s for s in stats if s.errors), key=lambda s: (-s.errors, s.command))
        elif metric == "latency":
            ranked = sorted(stats, key=lambda s: (-(s.p95 or 0.0), s.command))
        else:
            ranked = list(stats)
        top_commands = tuple(ranked[:TOP_N])
    top_guilds: tuple[TopItem, ...] = ()
    if guild is None and metric == "messages" and has:
        top_guilds = tuple(await store.top("messages", start, now, by="guild", n=TOP_N))
    top_errors: tuple[ErrorGroup, ...] = ()
    if errors is not None and metric == "errors":
        groups = errors.top(n=50, since=start)
        top_errors = tuple(g for g in groups if guild is None or g.guild == guild)[:3]
        has = has or bool(top_errors)

    dist = dist if dist is not None and dist.count else None
    return StatsSummary(
        metric=metric,
        period=period,
        start=start,
        end=now,
        guild=guild,
        step=q.step,
        totals=totals,
        p50=dist.p50 if dist else None,
        p95=dist.p95 if dist else None,
        p99=dist.p99 if dist else None,
        percentile_label=dist_label if dist else "",
        error_rate=error_rate,
        change=change if has else None,
        change_label=change_label,
        top_commands=top_commands,
        top_guilds=top_guilds,
        top_errors=top_errors,
        panels=panels,
        has_data=has,
    )
