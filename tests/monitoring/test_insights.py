"""Insights: the reference design's structure, exact retention, verdicts, empty databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitoring import Config, FakeClock
from monitoring.insights import (
    compute_insights,
    efficiency_score,
    error_rate_status,
    peak_hours,
    performance_trend,
    response_time_status,
    retention_trend,
)
from monitoring.recorder import Batch
from monitoring.reports.sample_data import synthetic_batch
from monitoring.store.base import Aggregate
from tests.monitoring.alert_helpers import open_monitor

DAY = 86400
DAY0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def test_verdicts() -> None:
    assert [response_time_status(v) for v in (None, 300, 1500, 4000)] == [
        "unknown", "fast", "normal", "slow",
    ]  # fmt: skip
    assert [error_rate_status(v) for v in (None, 0.001, 0.03, 0.2)] == [
        "unknown", "excellent", "healthy", "concerning",
    ]  # fmt: skip
    assert efficiency_score(None, 0.0) is None
    assert efficiency_score(500, 0.0) == pytest.approx(97.5)
    assert efficiency_score(20_000, 0.5) == 0.0
    assert peak_hours([0] * 20 + [5, 9, 9, 1]) == (21, 22, 20)
    assert peak_hours([0] * 24) == ()


def test_trends() -> None:
    def agg(count: int, p95: float) -> Aggregate:
        return Aggregate(count, 0.0, 1.0, p95, None, p95, None)

    assert performance_trend(agg(5, 100), 0, agg(100, 100), 0) == "unknown"
    assert performance_trend(agg(100, 300), 0, agg(100, 200), 0) == "degrading"
    assert performance_trend(agg(100, 150), 0, agg(100, 200), 0) == "improving"
    assert performance_trend(agg(100, 200), 6, agg(100, 200), 1) == "degrading"
    assert performance_trend(agg(100, 210), 1, agg(100, 200), 1) == "stable"
    assert retention_trend([(10, 2), (10, 2), (10, 8), (10, 8)]) == "improving"
    assert retention_trend([(10, 8), (10, 2)]) == "declining"
    assert retention_trend([(10, 5)]) == "unknown"


def _users(day: int, hashes: set[int]) -> list[tuple[int, int, int]]:
    return [(DAY0 + day * DAY, g, h) for h in hashes for g in (0, 77)]


async def test_retention_is_exact(db_path: Path) -> None:
    clock = FakeClock(DAY0 + 8 * DAY + 12 * 3600)
    rows = (
        _users(0, set(range(1, 11)))
        + _users(1, set(range(1, 6)) | set(range(11, 16)))
        + _users(2, {11, 12})
        + _users(7, {1, 2, 3, 11})
    )
    async with open_monitor(db_path, clock) as monitor:
        await monitor.store.write(Batch(user_days=tuple(rows)))
        ins = await compute_insights(monitor, now=clock(), days=7)
        r = ins.user_behavior.retention
        # D1 cohorts day 0..6: day0 10 users (5 back), day1 10 (2 back), day2 2 (0 back)
        assert r.d1 == pytest.approx(7 / 22) and r.d1_cohort == 22
        # D7: of day 0's 10 users, 3 came back on day 7
        assert r.d7 == pytest.approx(0.3) and r.d7_cohort == 10
        assert ins.user_behavior.active_users == 10  # days 1, 2 and 7
        assert ins.user_behavior.user_retention == "declining"
        dau = {d.day.day: d.users for d in ins.user_behavior.daily_active_users}
        assert dau == {2: 10, 3: 2, 8: 4}
        assert ins.user_behavior.engagement_score == pytest.approx(100 * (16 / 3) / 10)
        per_guild = await compute_insights(monitor, now=clock(), days=7, guild=77)
        assert per_guild.user_behavior.retention == r


async def test_structure_matches_the_reference_design(db_path: Path) -> None:
    now = float(DAY0 + 20 * DAY)
    clock = FakeClock(now)
    async with open_monitor(db_path, clock, timezone="Europe/Berlin") as monitor:
        await monitor.store.write(synthetic_batch(now, days=9, error_rate=0.1))
        data = (await compute_insights(monitor, now=now, days=7)).to_dict()
    json.dumps(data)  # plain types only
    assert set(data) >= {"performance", "user_behavior", "system_health", "recommendations"}
    perf = data["performance"]
    assert {
        "trend",
        "response_time_status",
        "error_rate_status",
        "efficiency_score",
        "bottlenecks",
    } <= set(perf)
    assert perf["error_rate_status"] == "concerning"
    assert any("High error rate" in b for b in perf["bottlenecks"])
    assert 0 <= perf["efficiency_score"] <= 100
    ub = data["user_behavior"]
    assert {
        "active_users",
        "peak_hours",
        "popular_features",
        "user_retention",
        "engagement_score",
    } <= set(ub)
    assert len(ub["hourly_activity"]) == 24 and len(ub["peak_hours"]) == 3
    assert set(ub["popular_features"]) == {"ping", "stats", "play", "help", "rank"}
    assert 0 < ub["retention"]["d1"] < 1
    assert data["period"]["timezone"] == "Europe/Berlin"
    for rec in data["recommendations"]:
        assert {"type", "priority", "title", "description", "action"} <= set(rec)


async def test_peak_hours_are_local(db_path: Path) -> None:
    now = float(DAY0 + 3 * DAY)
    rows = tuple(
        ("messages", 0, "", -1, "", DAY0 + d * DAY + 10 * 3600, 50, 50.0, 1.0, 1.0, None)
        for d in range(3)
    )
    async with open_monitor(db_path, FakeClock(now), timezone="Asia/Tokyo") as monitor:
        await monitor.store.write(Batch(hour_rows=rows))
        ins = await compute_insights(monitor, now=now, days=3)
    assert ins.user_behavior.peak_hours == (19,)  # 10:00 UTC is 19:00 in Tokyo
    assert ins.user_behavior.messages == 150


async def test_empty_database(db_path: Path, clock: FakeClock) -> None:
    async with open_monitor(db_path, clock) as monitor:
        ins = await compute_insights(monitor, now=clock(), days=7)
    p, u = ins.performance, ins.user_behavior
    assert (p.trend, p.response_time_status, p.error_rate_status) == ("unknown",) * 3
    assert p.efficiency_score is None and p.commands == 0
    assert u.active_users == 0 and u.peak_hours == () and u.retention.d1 is None
    assert ins.to_dict()["performance"]["efficiency_score"] is None


async def test_days_are_validated(db_path: Path, clock: FakeClock) -> None:
    async with open_monitor(db_path, clock) as monitor:
        with pytest.raises(
            ValueError, match="days=0: expected a whole number of days from 1 to 90"
        ):
            await compute_insights(monitor, now=clock(), days=0)


async def test_works_without_a_monitor(db_path: Path, clock: FakeClock) -> None:
    """A bare store and config (the CLI, tools): no live gauges, no recommendations."""

    async with open_monitor(db_path, clock) as monitor:

        class Source:
            store = monitor.store
            config = Config()

        ins = await compute_insights(Source(), now=clock(), days=1)
        assert ins.recommendations == ()


async def test_todays_users_count_from_the_first_second_of_the_day(db_path: Path) -> None:
    clock = FakeClock(DAY0 + 3 * DAY + 0.4)  # 0.4 s into day 3
    async with open_monitor(db_path, clock) as monitor:
        await monitor.store.write(Batch(user_days=tuple(_users(3, {1, 2, 3}))))
        ins = await compute_insights(monitor, now=clock(), days=2)
        dau = {d.day.day: d.users for d in ins.user_behavior.daily_active_users}
        assert dau == {4: 3}  # 2026-01-04, whose row is stamped at its first second
