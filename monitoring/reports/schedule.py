"""When the daily report is due: pure functions of now, the report time and the time zone.

The report posted on local date ``D`` at ``MONITOR_REPORT_TIME`` covers the local day before
(``D - 1``, 00:00 to 24:00, which is 23 or 25 hours long on daylight-saving days). The day ``D``
is the key that makes it exactly once: the scheduler records it in ``report_runs`` before
posting and marks it sent after, so a restart, a second scheduler tick or a repeated wall-clock
hour (autumn) never posts it twice. A report time that does not exist on a spring-forward day
(02:30 in Europe/Berlin) is taken as the same instant one hour later (03:30 summer time).

A report missed while the bot was down is posted at start-up and marked late; only the most
recent missed day is posted (older ones are logged), and never a day scheduled before the
scheduler first ran.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from zoneinfo import ZoneInfo

__all__ = [
    "LATE_AFTER",
    "DueReport",
    "day_bounds",
    "due_report",
    "scheduled_at",
    "seconds_until_next",
]

log = logging.getLogger(__name__)

LATE_AFTER = 600.0
"""Seconds after the scheduled time from which a report is marked late."""


@dataclasses.dataclass(frozen=True, slots=True)
class DueReport:
    day: dt.date
    """The local date the report is posted for (it covers the day before)."""
    scheduled: float
    late: bool

    @property
    def key(self) -> str:
        return self.day.isoformat()

    @property
    def covers(self) -> dt.date:
        return self.day - dt.timedelta(days=1)


def scheduled_at(day: dt.date, at: dt.time, tz: ZoneInfo) -> float:
    """Epoch seconds of local ``day`` at ``at`` (first occurrence if the hour repeats)."""
    local = dt.datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)
    # A time in the spring-forward gap: zoneinfo applies the offset from before the jump, which
    # lands one hour after the wall-clock reading, the conventional choice.
    return local.timestamp()


def day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[float, float]:
    """Epoch seconds of local ``day`` 00:00 and the next day's 00:00."""
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=tz)
    return start.timestamp(), end.timestamp()


def due_report(
    now: float,
    at: dt.time,
    tz: ZoneInfo,
    *,
    last_sent: dt.date | None,
    first_run: float,
    late_after: float = LATE_AFTER,
) -> DueReport | None:
    """The report to post now, or None (already sent, or nothing scheduled since first run)."""
    today = dt.datetime.fromtimestamp(now, tz).date()
    for day in (today, today - dt.timedelta(days=1)):
        when = scheduled_at(day, at, tz)
        if when <= now:
            break
    else:  # pragma: no cover - yesterday's time is always in the past
        return None
    if last_sent is not None and last_sent >= day:
        return None
    if when < first_run:
        return None
    if last_sent is not None and (day - last_sent).days > 1:
        log.warning(
            "daily reports for %s to %s were missed while the bot was down; posting %s only",
            last_sent + dt.timedelta(days=1),
            day - dt.timedelta(days=1),
            day,
        )
    return DueReport(day, when, now - when > late_after)


def seconds_until_next(now: float, at: dt.time, tz: ZoneInfo) -> float:
    """Seconds until the next scheduled report time after ``now``."""
    today = dt.datetime.fromtimestamp(now, tz).date()
    for offset in range(3):
        when = scheduled_at(today + dt.timedelta(days=offset), at, tz)
        if when > now:
            return when - now
    return 86400.0  # pragma: no cover
