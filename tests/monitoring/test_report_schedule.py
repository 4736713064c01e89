"""The daily report is posted exactly once a day: across restarts, DST changes and downtime."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitoring import FakeClock
from monitoring.alerts import DeliveryError
from monitoring.reports.daily import DailyReportScheduler
from monitoring.reports.schedule import day_bounds, due_report, scheduled_at, seconds_until_next
from tests.monitoring.alert_helpers import FakeDestination, open_monitor

BERLIN = ZoneInfo("Europe/Berlin")


def local(*args: int) -> float:
    return dt.datetime(*args, tzinfo=BERLIN).timestamp()


def test_scheduled_time_across_dst() -> None:
    nine = dt.time(9, 0)
    assert scheduled_at(dt.date(2026, 3, 29), nine, BERLIN) == local(2026, 3, 29, 9)
    # 02:30 does not exist on 29 March 2026 in Berlin: it is taken as 03:30 CEST
    gap = scheduled_at(dt.date(2026, 3, 29), dt.time(2, 30), BERLIN)
    assert dt.datetime.fromtimestamp(gap, BERLIN).strftime("%H:%M %Z") == "03:30 CEST"
    # 02:30 happens twice on 25 October 2026: the first one counts
    twice = scheduled_at(dt.date(2026, 10, 25), dt.time(2, 30), BERLIN)
    assert dt.datetime.fromtimestamp(twice, BERLIN).strftime("%H:%M %Z") == "02:30 CEST"
    start, end = day_bounds(dt.date(2026, 3, 29), BERLIN)
    assert end - start == 23 * 3600
    start, end = day_bounds(dt.date(2026, 10, 25), BERLIN)
    assert end - start == 25 * 3600


def test_due_report_rules() -> None:
    nine = dt.time(9, 0)
    first = local(2026, 5, 1, 8)
    now = local(2026, 5, 3, 8, 59)
    due = due_report(now, nine, BERLIN, last_sent=None, first_run=first)
    assert due is not None and due.day == dt.date(2026, 5, 2) and due.late
    assert due.covers == dt.date(2026, 5, 1)
    assert due_report(now, nine, BERLIN, last_sent=dt.date(2026, 5, 2), first_run=first) is None
    on_time = due_report(
        local(2026, 5, 3, 9, 1), nine, BERLIN, last_sent=dt.date(2026, 5, 2), first_run=first
    )
    assert on_time is not None and not on_time.late and on_time.day == dt.date(2026, 5, 3)
    # nothing is "missed" from before the scheduler first ran
    assert (
        due_report(
            local(2026, 5, 1, 10), nine, BERLIN, last_sent=None, first_run=local(2026, 5, 1, 9, 30)
        )
        is None
    )
    assert seconds_until_next(local(2026, 5, 3, 8, 0), nine, BERLIN) == 3600


async def _run_days(
    scheduler: DailyReportScheduler, clock: FakeClock, until: float, step: float = 60.0
) -> None:
    while clock() < until:
        await scheduler.run_once(clock())
        clock.advance(step)


@pytest.mark.parametrize(
    ("report_time", "start", "days"),
    [
        (dt.time(9, 0), (2026, 3, 27, 12), 4),  # across the spring-forward night
        (dt.time(2, 30), (2026, 3, 27, 12), 4),  # report time inside the skipped hour
        (dt.time(2, 30), (2026, 10, 23, 12), 4),  # report time inside the repeated hour
    ],
)
async def test_exactly_once_a_day_across_dst(
    db_path: Path, report_time: dt.time, start: tuple[int, ...], days: int
) -> None:
    clock = FakeClock(local(*start))
    dest = FakeDestination()
    async with open_monitor(
        db_path, clock, timezone="Europe/Berlin", report_time=report_time
    ) as monitor:
        scheduler = DailyReportScheduler(monitor, dest)
        await _run_days(scheduler, clock, clock() + days * 86400)
    posted = [m.cards[0].title for _, m in dest.sent]
    assert len(posted) == days, posted
    assert len(set(posted)) == days
    assert not any("late" in m.cards[0].description.lower() for _, m in dest.sent)


async def test_restart_does_not_repost_and_a_missed_report_is_posted_late(
    db_path: Path,
) -> None:
    clock = FakeClock(local(2026, 6, 1, 8))
    dest = FakeDestination()
    async with open_monitor(db_path, clock, timezone="Europe/Berlin") as monitor:
        scheduler = DailyReportScheduler(monitor, dest)
        await _run_days(scheduler, clock, local(2026, 6, 1, 9, 5))
    assert len(dest.sent) == 1
    # restart ten minutes later: the same day is not posted again
    async with open_monitor(db_path, clock, timezone="Europe/Berlin") as monitor:
        scheduler = DailyReportScheduler(monitor, dest)
        await _run_days(scheduler, clock, local(2026, 6, 1, 9, 30))
    assert len(dest.sent) == 1
    # down from 1 June 9:30 until 4 June 11:00: only 4 June's report, marked late
    clock.set(local(2026, 6, 4, 11))
    async with open_monitor(db_path, clock, timezone="Europe/Berlin") as monitor:
        scheduler = DailyReportScheduler(monitor, dest)
        await scheduler.run_once(clock())
        await scheduler.run_once(clock() + 60)
        runs = await scheduler.db.report_runs()
    assert len(dest.sent) == 2
    late = dest.sent[1][1].cards[0]
    assert "Posted late" in late.description and "Wed 03 Jun 2026" in late.title
    assert [(r.day, r.status, r.late) for r in runs] == [
        ("2026-06-04", "sent", True),
        ("2026-06-01", "sent", False),
    ]


async def test_failed_post_is_retried_not_lost(db_path: Path) -> None:
    clock = FakeClock(local(2026, 6, 1, 8, 59))
    dest = FakeDestination()
    dest.fail = DeliveryError("no permission to post in #reports", transient=False)
    async with open_monitor(db_path, clock, timezone="Europe/Berlin") as monitor:
        scheduler = DailyReportScheduler(monitor, dest)
        await scheduler.run_once(clock())
        clock.set(local(2026, 6, 1, 9, 0, 30))
        assert await scheduler.run_once(clock()) == 300
        status, reason = scheduler.health()
        assert status.name == "UNHEALTHY" and "no permission" in reason
        dest.fail = None
        clock.advance(300)
        await scheduler.run_once(clock())
        assert len(dest.sent) == 1 and scheduler.health()[0].name == "HEALTHY"
        (run,) = await scheduler.db.report_runs()
        assert run.status == "sent" and not run.late
