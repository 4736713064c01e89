"""The insights' frozen values and their JSON form (the ``/api/analytics/insights`` structure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DayCount",
    "Insights",
    "PerformanceInsight",
    "Retention",
    "SystemHealthInsight",
    "UserBehaviour",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class PerformanceInsight:
    trend: str
    response_time_status: str
    error_rate_status: str
    efficiency_score: float | None
    bottlenecks: tuple[str, ...]
    commands: int
    errors: int
    error_rate: float | None
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    previous_p95_ms: float | None
    """p95 before the last 24 hours (the trend's baseline)."""
    recent_p95_ms: float | None
    """p95 over the last 24 hours."""
    deadline_missed: int
    loop_lag_p95_ms: float | None


@dataclasses.dataclass(frozen=True, slots=True)
class Retention:
    d1: float | None
    d7: float | None
    d1_cohort: int
    """Users in the cohorts D1 was measured on."""
    d7_cohort: int


@dataclasses.dataclass(frozen=True, slots=True)
class DayCount:
    day: dt.date
    users: int


@dataclasses.dataclass(frozen=True, slots=True)
class UserBehaviour:
    active_users: int
    messages: int
    peak_hours: tuple[int, ...]
    """Local hours (0-23, in the configured time zone) with the most activity, busiest first."""
    hourly_activity: tuple[int, ...]
    """Messages + commands per local hour of day, 24 values."""
    popular_features: tuple[tuple[str, int], ...]
    """(command, invocations), most used first."""
    user_retention: str
    retention: Retention
    engagement_score: float | None
    daily_active_users: tuple[DayCount, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class SystemHealthInsight:
    cpu_percent: float | None
    memory_percent: float | None
    disk_percent: float | None
    warnings: tuple[str, ...]

    @property
    def status(self) -> str:
        return "warning" if self.warnings else "healthy"


@dataclasses.dataclass(frozen=True, slots=True)
class Insights:
    generated_at: float
    start: float
    end: float
    days: int
    guild: int | None
    timezone: str
    performance: PerformanceInsight
    user_behavior: UserBehaviour
    system_health: SystemHealthInsight
    recommendations: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``/api/analytics/insights`` JSON structure (plain types only)."""
        p, u, h = self.performance, self.user_behavior, self.system_health
        return {
            "generated_at": _iso(self.generated_at),
            "period": {
                "start": _iso(self.start),
                "end": _iso(self.end),
                "days": self.days,
                "guild": None if self.guild is None else str(self.guild),
                "timezone": self.timezone,
            },
            "performance": {
                "trend": p.trend,
                "response_time_status": p.response_time_status,
                "error_rate_status": p.error_rate_status,
                "efficiency_score": _round(p.efficiency_score, 1),
                "bottlenecks": list(p.bottlenecks),
                "commands": p.commands,
                "errors": p.errors,
                "error_rate": _round(p.error_rate, 4),
                "mean_ms": _round(p.mean_ms, 1),
                "p50_ms": _round(p.p50_ms, 1),
                "p95_ms": _round(p.p95_ms, 1),
                "recent_p95_ms": _round(p.recent_p95_ms, 1),
                "previous_p95_ms": _round(p.previous_p95_ms, 1),
                "deadline_missed": p.deadline_missed,
                "loop_lag_p95_ms": _round(p.loop_lag_p95_ms, 1),
            },
            "user_behavior": {
                "active_users": u.active_users,
                "messages": u.messages,
                "peak_hours": list(u.peak_hours),
                "hourly_activity": list(u.hourly_activity),
                "popular_features": dict(u.popular_features),
                "user_retention": u.user_retention,
                "retention": {
                    "d1": _round(u.retention.d1, 4),
                    "d7": _round(u.retention.d7, 4),
                    "d1_cohort": u.retention.d1_cohort,
                    "d7_cohort": u.retention.d7_cohort,
                },
                "engagement_score": _round(u.engagement_score, 1),
                "daily_active_users": [
                    {"day": d.day.isoformat(), "users": d.users} for d in u.daily_active_users
                ],
            },
            "system_health": {
                "status": h.status,
                "cpu_percent": _round(h.cpu_percent, 1),
                "memory_percent": _round(h.memory_percent, 1),
                "disk_percent": _round(h.disk_percent, 1),
                "warnings": list(h.warnings),
            },
            "recommendations": [_plain(r) for r in self.recommendations],
        }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _plain(value: Any) -> Any:
    """A recommendation as plain JSON types (dataclass, ``to_dict()`` or mapping)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
