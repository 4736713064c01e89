"""The insights' verdicts and scores: pure functions, and the only place their thresholds live."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..store.base import Aggregate

__all__ = [
    "CONCERNING_ERROR_RATE",
    "EXCELLENT_ERROR_RATE",
    "FAST_P95_MS",
    "LOOP_LAG_BOTTLENECK_MS",
    "SLOW_P95_MS",
    "TREND_MIN_COMMANDS",
    "clamp",
    "efficiency_score",
    "error_rate_status",
    "peak_hours",
    "performance_trend",
    "response_time_status",
    "retention_trend",
]

log = logging.getLogger(__name__)

FAST_P95_MS = 1000.0
SLOW_P95_MS = 3000.0
EXCELLENT_ERROR_RATE = 0.01
CONCERNING_ERROR_RATE = 0.05
LOOP_LAG_BOTTLENECK_MS = 100.0
TREND_MIN_COMMANDS = 20


def clamp(value: float) -> float:
    return max(0.0, min(100.0, value))


def response_time_status(p95_ms: float | None) -> str:
    if p95_ms is None:
        return "unknown"
    if p95_ms < FAST_P95_MS:
        return "fast"
    return "slow" if p95_ms > SLOW_P95_MS else "normal"


def error_rate_status(rate: float | None) -> str:
    if rate is None:
        return "unknown"
    if rate < EXCELLENT_ERROR_RATE:
        return "excellent"
    return "concerning" if rate > CONCERNING_ERROR_RATE else "healthy"


def efficiency_score(p95_ms: float | None, rate: float | None) -> float | None:
    if p95_ms is None or rate is None:
        return None
    return (clamp(100 - p95_ms / 100) + clamp(100 - rate * 1000)) / 2


def performance_trend(
    recent: Aggregate, recent_errors: float, before: Aggregate, before_errors: float
) -> str:
    """Last 24 hours against the rest of the window (see the module docstring)."""
    if recent.count < TREND_MIN_COMMANDS or before.count < TREND_MIN_COMMANDS:
        return "unknown"
    r_rate = recent_errors / recent.count
    b_rate = before_errors / before.count
    ratio = (recent.p95 or 0.0) / before.p95 if before.p95 else 1.0
    if ratio >= 1.25 or r_rate - b_rate >= 0.02:
        return "degrading"
    if ratio <= 0.8 or b_rate - r_rate >= 0.02:
        return "improving"
    return "stable"


def retention_trend(cohorts: Sequence[tuple[int, int]]) -> str:
    """D1 of the newer half of cohorts against the older half: improving/declining/stable."""
    usable = [(size, back) for size, back in cohorts if size]
    if len(usable) < 2:
        return "unknown"
    half = len(usable) // 2
    older, newer = usable[:half], usable[half:]

    def rate(part: Sequence[tuple[int, int]]) -> float:
        return sum(b for _, b in part) / sum(s for s, _ in part)

    diff = rate(newer) - rate(older)
    if diff >= 0.05:
        return "improving"
    return "declining" if diff <= -0.05 else "stable"


def peak_hours(hourly: Sequence[int], n: int = 3) -> tuple[int, ...]:
    ranked = sorted(range(24), key=lambda h: (-hourly[h], h))
    return tuple(h for h in ranked[:n] if hourly[h] > 0)


# -- queries ------------------------------------------------------------------------------------
