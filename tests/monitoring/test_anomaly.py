"""Anomaly detection: hour-of-week baselines (median/MAD), the fallback, words, and the alert."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitoring import FakeClock
from monitoring.alerts import Rule
from monitoring.anomaly import AnomalyDetector, Baseline, describe, robust_baseline
from monitoring.recorder import Batch
from monitoring.store.base import SeriesPoint
from tests.monitoring.alert_helpers import FakeDestination, minute_rows, open_monitor, service_with

UTC = ZoneInfo("UTC")
THU_14 = dt.datetime(2026, 1, 15, 14, 0, tzinfo=dt.UTC).timestamp()  # a Thursday


def hourly(ts: float, per_minute: float) -> SeriesPoint:
    return SeriesPoint(int(ts), int(per_minute * 60), per_minute * 60, 1.0, 1.0)


def test_median_and_mad() -> None:
    b = robust_baseline([20, 22, 18, 21, 100], "hour_of_week", "Thursday 14:00")
    assert b is not None
    assert b.median == 21 and b.mad == 1
    assert b.scale == pytest.approx(2.1)  # 10 % of the median beats 1.4826 * MAD here
    assert b.deviation(63) == pytest.approx(20.0)
    assert robust_baseline([], "recent_hours", "x") is None


def test_describe_in_words() -> None:
    b = Baseline(20.0, 1.0, 4, "hour_of_week", "Tuesday 14:00")
    assert describe("messages/min", 60.0, b) == "messages/min at 3x the usual for Tuesday 14:00"
    assert describe("messages/min", 4.0, b) == "messages/min at 20% of the usual for Tuesday 14:00"
    assert describe("messages/min", 25.0, b) == "messages/min at 25 (usually 20 for Tuesday 14:00)"
    quiet = Baseline(0.0, 0.0, 4, "recent_hours", "the last 24 hours")
    assert (
        describe("errors/min", 7.5, quiet) == "errors/min at 7.5 (usually 0 of the last 24 hours)"
    )


def test_baseline_uses_the_same_hour_of_previous_weeks() -> None:
    det = AnomalyDetector(None, UTC)
    week = 7 * 86400
    points = [hourly(THU_14 - w * week, v) for w, v in ((1, 20), (2, 22), (3, 18), (4, 21))]
    points += [hourly(THU_14 - 3600 * h, 500) for h in range(1, 24)]  # other hours do not count
    b = det.baseline_from(points, "sum", int(THU_14))
    assert b is not None and b.source == "hour_of_week" and b.slot == "Thursday 14:00"
    assert b.median == pytest.approx(20.5) and b.samples == 4


def test_missing_hours_in_known_history_count_as_zero() -> None:
    det = AnomalyDetector(None, UTC)
    week = 7 * 86400
    points = [hourly(THU_14 - 4 * week - 3600, 5), hourly(THU_14 - week, 30)]
    b = det.baseline_from(points, "sum", int(THU_14))
    assert b is not None and b.median == 0.0  # weeks 2-4 were quiet, not unknown


def test_falls_back_to_recent_hours_while_history_is_short() -> None:
    det = AnomalyDetector(None, UTC)
    points = [hourly(THU_14 - 3600 * h, 10 + h % 3) for h in range(1, 30)]
    b = det.baseline_from(points, "sum", int(THU_14))
    assert b is not None and b.source == "recent_hours" and b.slot == "the last 24 hours"
    assert b.median == 11 and b.samples == 24
    assert det.baseline_from(points[:3], "sum", int(THU_14)) is None  # too little to judge


def test_hour_of_week_follows_the_wall_clock_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    det = AnomalyDetector(None, berlin, min_weeks=1, weeks=1)
    # Monday 30 March 2026 14:00 CEST is 12:00 UTC; a week before, 14:00 CET was 13:00 UTC
    now_hour = int(dt.datetime(2026, 3, 30, 14, tzinfo=berlin).timestamp())
    before = dt.datetime(2026, 3, 23, 13, tzinfo=dt.UTC).timestamp()
    points = [hourly(before, 60.0), hourly(before - 3600, 1.0), hourly(before + 3600, 1.0)]
    b = det.baseline_from(points, "sum", now_hour)
    assert b is not None and b.median == 60.0 and b.slot == "Monday 14:00"


async def test_baselines_are_cached_per_hour(db_path: Path, clock: FakeClock) -> None:
    async with open_monitor(db_path, clock) as monitor:
        det = AnomalyDetector(monitor.store, UTC)
        calls = 0
        original = monitor.store.series

        async def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            return await original(*args, **kwargs)

        monitor.store.series = counting  # type: ignore[method-assign]
        await det.baseline("messages", "rate", THU_14 + 60)
        await det.baseline("messages", "rate", THU_14 + 3000)
        assert calls == 1
        await det.baseline("messages", "rate", THU_14 + 3660)
        assert calls == 2


def _history(start: float, end: float, per_minute: float) -> Batch:
    rows = tuple(
        ("messages", 0, "", -1, "", int(ts), int(per_minute * 60), per_minute * 60, 1.0, 1.0, None)
        for ts in range(int(start), int(end), 3600)
    )
    return Batch(hour_rows=rows)


@pytest.mark.parametrize(
    ("level", "words"), [(60.0, "at 3x the usual"), (0.0, "at 0% of the usual")]
)
async def test_anomaly_alert_fires_after_m_minutes_and_says_why(
    db_path: Path, level: float, words: str
) -> None:
    spike = THU_14 + 5 * 60
    clock = FakeClock(spike)
    rule = Rule(
        name="messages_anomaly", metric="messages", kind="anomaly", stat="rate",
        comparison=">", threshold=4, for_seconds=15 * 60, window_seconds=600,
        severity="info", unit="/min", description="messages/min",
    )  # fmt: skip
    dest = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        await monitor.store.write(_history(THU_14 - 29 * 86400, THU_14, 20.0))
        await monitor.store.write(minute_rows("messages", THU_14 - 3600, [20.0] * 65))
        await monitor.store.write(minute_rows("messages", spike, [level] * 40))
        service = await service_with(monitor, [rule], dest, {}, group_wait=0)
        fired_at = None
        for minute in range(35):
            clock.set(spike + minute * 60)
            for t in await service.evaluate(clock()):
                if t.kind == "firing":
                    fired_at = minute
        assert fired_at is not None and 15 <= fired_at <= 22
        await service.deliver(clock())
        card = dest.sent[0][1].cards[0]
        assert card.description == f"messages/min {words} for Thursday 14:00"
        assert card.title.startswith("🔵 INFO · messages_anomaly")
