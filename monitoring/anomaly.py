"""Anomaly detection: a metric against its usual level for this hour of the week.

The baseline for "now" is the median and MAD (median absolute deviation) of the metric's per-minute
rate in the same local hour of the week over the last :attr:`AnomalyDetector.weeks` weeks (hourly
rollups, time zone ``MONITOR_TIMEZONE``). While fewer than ``min_weeks`` of those hours exist, it
falls back to the last ``recent_hours`` complete hours. The deviation of a value is
``(value - median) / scale`` with ``scale = max(1.4826 * MAD, 10 % of the median, min_scale)``,
so a flat history does not turn every wobble into an anomaly. The alert rule (``kind =
"anomaly"``) then requires ``|deviation| > k`` for ``M`` minutes, and says it in words:
"messages/min at 3x the usual for Tuesday 14:00".

Baselines are computed from one hourly series query per metric and cached for the hour.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import statistics
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["AnomalyDetector", "Baseline", "describe", "robust_baseline", "slot_name"]

log = logging.getLogger(__name__)

MAD_TO_SIGMA = 1.4826


@dataclasses.dataclass(frozen=True, slots=True)
class Baseline:
    """The usual level of a metric for one hour-of-week slot (per-minute rates)."""

    median: float
    mad: float
    samples: int
    source: str
    """``"hour_of_week"`` or ``"recent_hours"`` (the fallback while history is short)."""
    slot: str
    """Words for the comparison, such as ``"Tuesday 14:00"`` or ``"the last 24 hours"``."""
    min_scale: float = 1.0

    @property
    def scale(self) -> float:
        return max(MAD_TO_SIGMA * self.mad, 0.1 * abs(self.median), self.min_scale)

    def deviation(self, value: float) -> float:
        """Signed distance from the median in robust standard deviations."""
        return (value - self.median) / self.scale


def robust_baseline(
    values: Sequence[float], source: str, slot: str, min_scale: float = 1.0
) -> Baseline | None:
    """Median and MAD of ``values`` (None when there are none)."""
    if not values:
        return None
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    return Baseline(median, mad, len(values), source, slot, min_scale)


def slot_name(when: dt.datetime) -> str:
    return f"{when.strftime('%A')} {when.hour:02d}:00"


def _number(value: float) -> str:
    text = f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
    return text[:-2] if text.endswith(".0") else text


def describe(label: str, value: float, baseline: Baseline) -> str:
    """The anomaly in words: ``"messages/min at 3x the usual for Tuesday 14:00"``."""
    where = f"for {baseline.slot}" if baseline.source == "hour_of_week" else f"of {baseline.slot}"
    if baseline.median <= 0:
        return f"{label} at {_number(value)} (usually 0 {where})"
    ratio = value / baseline.median
    if ratio >= 1.5:
        return f"{label} at {_number(ratio)}x the usual {where}"
    if ratio <= 0.67:
        return f"{label} at {ratio:.0%} of the usual {where}"
    return f"{label} at {_number(value)} (usually {_number(baseline.median)} {where})"


class AnomalyDetector:
    """Hour-of-week baselines from the store's hourly rollups, cached per metric and hour."""

    def __init__(
        self,
        store: Any,
        tz: ZoneInfo,
        *,
        weeks: int = 4,
        min_weeks: int = 3,
        recent_hours: int = 24,
        min_scale: float = 1.0,
    ) -> None:
        if not 1 <= min_weeks <= weeks:
            raise ValueError(f"min_weeks={min_weeks}: expected 1 to weeks ({weeks})")
        self.store = store
        self.tz = tz
        self.weeks = weeks
        self.min_weeks = min_weeks
        self.recent_hours = recent_hours
        self.min_scale = min_scale
        self._cache: dict[tuple[str, str, int, str, int], Baseline | None] = {}

    async def baseline(
        self, metric: str, stat: str, now: float, *, guild: int = 0, command: str = ""
    ) -> Baseline | None:
        """The baseline of ``metric`` for the hour of the week containing ``now``."""
        hour = int(now // 3600) * 3600
        key = (metric, stat, guild, command, hour)
        if key in self._cache:
            return self._cache[key]
        if len(self._cache) > 256:
            self._cache = {k: v for k, v in self._cache.items() if k[4] == hour}
        start = hour - self.weeks * 7 * 86400 - 7200
        points = await self.store.series(
            metric, start, hour, step=3600, guild=guild or None, command=command or None
        )
        result = self.baseline_from(points, stat, hour)
        self._cache[key] = result
        return result

    def baseline_from(self, points: Sequence[Any], stat: str, hour: int) -> Baseline | None:
        """The baseline from hourly :class:`~monitoring.SeriesPoint` s (pure; for tests)."""
        per_minute = {int(p.ts): (p.count if stat == "count" else p.sum) / 60.0 for p in points}
        if not per_minute:
            return None
        first = min(per_minute)
        local = dt.datetime.fromtimestamp(hour, self.tz)
        same_slot: list[float] = []
        for week in range(1, self.weeks + 1):
            then = (local - dt.timedelta(weeks=week)).astimezone(dt.UTC)
            ts = int(then.timestamp()) // 3600 * 3600
            if ts >= first:
                same_slot.append(per_minute.get(ts, 0.0))
        if len(same_slot) >= self.min_weeks:
            return robust_baseline(same_slot, "hour_of_week", slot_name(local), self.min_scale)
        recent = [
            per_minute.get(ts, 0.0)
            for ts in range(hour - self.recent_hours * 3600, hour, 3600)
            if ts >= first
        ]
        if len(recent) < min(6, self.recent_hours):
            return None
        slot = f"the last {self.recent_hours} hours"
        return robust_baseline(recent, "recent_hours", slot, self.min_scale)
