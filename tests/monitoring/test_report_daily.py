"""The daily report's content and chart, from synthetic data with known differences."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitoring import FakeClock
from monitoring.alerts.cards import CardStyle, card_length
from monitoring.recorder import Batch
from monitoring.reports.daily import CHART_NAME, build_daily_report, report_cards
from monitoring.reports.sample_data import synthetic_batch
from monitoring.reports.schedule import DueReport, day_bounds
from tests.monitoring.alert_helpers import open_monitor

UTC = ZoneInfo("UTC")
DAY = dt.date(2026, 2, 10)  # a Tuesday; the report posted that morning covers Monday the 9th


def _extra(metric: str, ts: float, value: float, shard: int = -1) -> Batch:
    row = (metric, 0, "", shard, "", int(ts), int(value), float(value), 1.0, 1.0, None)
    return Batch(minute_rows=(row,), hour_rows=((*row[:5], int(ts) // 3600 * 3600, *row[6:]),))


async def test_daily_report_content(db_path: Path) -> None:
    posted = dt.datetime.combine(DAY, dt.time(9), tzinfo=UTC).timestamp()
    clock = FakeClock(posted)
    start, end = day_bounds(DAY - dt.timedelta(days=1), UTC)
    async with open_monitor(db_path, clock) as monitor:
        await monitor.store.write(synthetic_batch(posted, days=9))
        await monitor.store.write(_extra("messages", start + 3600, 5000))  # a busy hour
        await monitor.store.write(_extra("gateway_disconnect", start + 7200, 2, shard=0))
        await monitor.store.write(_extra("gateway_resume", start + 7260, 2, shard=0))
        clock.set(start + 5000)  # an error during the reported day
        try:
            raise KeyError("missing")
        except KeyError as exc:
            monitor.errors.record(exc, command="rank")
        clock.set(posted)
        report = await build_daily_report(monitor, DueReport(DAY, posted, late=False), now=posted)
    assert (report.start, report.end) == (start, end)
    messages = next(t for t in report.totals if t.label == "Messages")
    assert messages.value > messages.before[0] + 4000  # the extra 5,000 show against Sunday
    assert messages.change(0) is not None and messages.change(1) is not None
    assert report.reconnects == 2 and report.resumes == 2
    assert report.peak_hours[0][0] == 1  # 01:00, the busy hour
    assert report.uptime == pytest.approx(1.0, abs=0.01)
    assert report.slowest_commands[0].command == "play"
    assert report.top_errors[0].type == "KeyError"
    assert report.distinct_users.value > 0
    assert report.insights is not None and report.insights.days == 1

    (card,) = report_cards(report, CardStyle(tz=UTC))
    assert card.title == "📊 Daily report · Mon 09 Feb 2026"
    assert card.image == CHART_NAME
    names = [f.name for f in card.fields]
    for expected in ("Messages", "Commands", "Distinct users", "Uptime", "Shard reconnects",
                     "Top commands", "Slowest (p95)", "Top errors", "Peak hours"):  # fmt: skip
        assert expected in names
    assert "d/d" in card.fields[0].value and "w/w" in card.fields[0].value
    assert card_length(card) <= 6000 and len(card.fields) <= 25
    assert all(len(f.value) <= 1024 for f in card.fields)


async def test_daily_chart_is_a_png(db_path: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from monitoring.reports.chart import render_report_chart

    posted = dt.datetime.combine(DAY, dt.time(9), tzinfo=UTC).timestamp()
    async with open_monitor(db_path, FakeClock(posted)) as monitor:
        await monitor.store.write(synthetic_batch(posted, days=9))
        report = await build_daily_report(monitor, DueReport(DAY, posted, late=True), now=posted)
    png = render_report_chart(report)
    assert png.startswith(b"\x89PNG") and 10_000 < len(png) < 400_000
    (tmp_path / "daily.png").write_bytes(png)
    (card,) = report_cards(report, CardStyle(tz=UTC))
    assert card.description.startswith("⏰ Posted late")
