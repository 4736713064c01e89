"""Analytics insights: one implementation behind /stats, the daily report and the dashboard.

:func:`compute_insights` reads the store (every query runs in the database thread) and returns a
frozen :class:`Insights`; :meth:`Insights.to_dict` gives the reference design's
``/api/analytics/insights`` structure (``performance``, ``user_behavior``, ``system_health``,
``recommendations``) with a few extra, clearly named numbers beside each verdict.

Verdicts and their thresholds (all in this module, nowhere else):

- ``response_time_status`` from the p95 command latency: ``fast`` under 1 s, ``slow`` over 3 s
  (Discord's interaction deadline), else ``normal``.
- ``error_rate_status``: ``excellent`` under 1 %, ``concerning`` over 5 %, else ``healthy``.
- ``efficiency_score`` (0-100): the mean of ``100 - p95_ms / 100`` and ``100 - error_rate * 1000``,
  each clamped to 0..100 (the reference design's formula, on p95 rather than the mean).
- ``trend``: the last 24 hours against the rest of the window: ``degrading`` when p95 rose by
  25 % or more or the error rate by 2 points, ``improving`` when p95 fell by 20 % or the error
  rate by 2 points, else ``stable``; ``unknown`` with fewer than 20 commands on either side.
- Retention: D1/D7 are exact, from the salted ``user_days`` sets: of the users active on day d,
  the share active again on day d + 1 (d + 7), over the window's complete return days (UTC).
- ``engagement_score``: mean daily active users over distinct users in the window, x 100 (how much
  of the window's audience shows up on a typical day).
"""

from __future__ import annotations

from .compute import InsightsSource, compute_insights
from .model import (
    DayCount,
    Insights,
    PerformanceInsight,
    Retention,
    SystemHealthInsight,
    UserBehaviour,
)
from .verdicts import (
    efficiency_score,
    error_rate_status,
    peak_hours,
    performance_trend,
    response_time_status,
    retention_trend,
)

__all__ = [
    "DayCount",
    "Insights",
    "InsightsSource",
    "PerformanceInsight",
    "Retention",
    "SystemHealthInsight",
    "UserBehaviour",
    "compute_insights",
    "efficiency_score",
    "error_rate_status",
    "peak_hours",
    "performance_trend",
    "response_time_status",
    "retention_trend",
]
