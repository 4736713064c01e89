"""stats_summary: every metric over a temporary database with a fake clock."""

from __future__ import annotations

import pytest

from monitoring import FakeClock, Recorder
from monitoring.analysis import METRICS, PERIODS, stats_summary, step_for
from monitoring.errors import ErrorTracker
from monitoring.store.sqlite import SQLiteStore

G1, G2 = 111111111111111111, 222222222222222222


async def _write(store: SQLiteStore, rec: Recorder, now: float) -> None:
    await store.write(rec.drain(now))


async def _activity(store: SQLiteStore, rec: Recorder, clock: FakeClock) -> float:
    """Two hours of activity ending 30 s into a minute; returns "now"."""
    start = clock.now
    for minute in range(120):
        ts = start + minute * 60
        clock.set(ts)
        rec.tick(ts)
        for user in range(3):
            rec.message(G1, user)
        rec.message(G2, 99)
        rec.own_message(G1)
        rec.command("ping", "slash", G1, 1, 40.0 + minute % 5, True, first_response_ms=60.0)
        rec.command("play", "slash", G1, 2, 900.0, minute % 10 != 0, error_type="KeyError")
        rec.command("ping", "prefix", G2, 99, 20.0, True)
        rec.observe("gateway_latency_ms", 45.0, shard=0)
        rec.observe("loop_lag_ms", 2.0)
        rec.gauge("cpu_percent", 30.0)
        rec.gauge("memory_percent", 50.0)
        rec.inc("voice_minutes", 2.0, guild=G1)
        if minute % 30 == 0:
            rec.inc("voice_sessions", guild=G1)
            rec.inc("member_joins", guild=G1)
        rec.gauge("voice_active", 2.0, guild=G1)
        if minute % 20 == 0:
            await _write(store, rec, ts + 1)
    now = start + 120 * 60 + 30
    clock.set(now)
    await _write(store, rec, now)
    return now


@pytest.mark.parametrize("metric", METRICS)
async def test_empty_store_has_no_data(store: SQLiteStore, clock: FakeClock, metric: str) -> None:
    guild = None if metric == "system" else G1
    s = await stats_summary(store, metric=metric, period="24h", now=clock.now + 30, guild=guild)
    assert not s.has_data
    assert s.change is None
    assert s.p95 is None


async def test_bad_input_is_rejected_with_the_allowed_values(
    store: SQLiteStore, clock: FakeClock
) -> None:
    with pytest.raises(ValueError, match="1h, 24h, 7d, 30d"):
        await stats_summary(store, metric="messages", period="2w", now=clock.now)
    with pytest.raises(ValueError, match="messages, commands"):
        await stats_summary(store, metric="bogus", period="24h", now=clock.now)
    with pytest.raises(ValueError, match="whole bot"):
        await stats_summary(store, metric="system", period="24h", now=clock.now, guild=G1)


async def test_messages_per_guild_and_bot_apart(
    store: SQLiteStore, recorder: Recorder, clock: FakeClock
) -> None:
    now = await _activity(store, recorder, clock)
    one = await stats_summary(store, metric="messages", period="24h", now=now, guild=G1)
    totals = {n.label: n.value for n in one.totals}
    assert totals["Messages"] == 360
    assert totals["Bot's own messages"] == 120
    assert totals["Active users"] == 3
    assert one.change is not None and one.change.current == 360 and one.change.previous == 0
    assert one.top_guilds == ()  # a guild's view never lists other guilds
    everyone = await stats_summary(store, metric="messages", period="24h", now=now)
    assert {n.label: n.value for n in everyone.totals}["Messages"] == 480
    assert [t.label for t in everyone.top_guilds] == [str(G1), str(G2)]
    panel = everyone.panels[0]
    assert sum(v for _, v in panel.lines[0].points) == 480
    assert all(now - 86400 <= ts < now for line in panel.lines for ts, _ in line.points)


async def test_commands_percentiles_error_rate_and_top(
    store: SQLiteStore, recorder: Recorder, clock: FakeClock
) -> None:
    now = await _activity(store, recorder, clock)
    s = await stats_summary(store, metric="commands", period="24h", now=now, guild=G1)
    totals = {n.label: n.value for n in s.totals}
    assert totals["Commands"] == 240
    assert totals["Failed"] == 12
    assert s.error_rate == pytest.approx(12 / 240)
    assert s.p50 is not None and 36 <= s.p50 <= 48  # within a histogram bucket of 40-44
    assert s.p99 is not None and 800 <= s.p99 <= 1000
    assert [c.command for c in s.top_commands] == ["ping", "play"] or [
        c.command for c in s.top_commands
    ] == ["play", "ping"]
    assert s.percentile_label == "command latency"


async def test_latency_orders_commands_by_p95_and_shows_gateway_only_bot_wide(
    store: SQLiteStore, recorder: Recorder, clock: FakeClock
) -> None:
    now = await _activity(store, recorder, clock)
    guild = await stats_summary(store, metric="latency", period="24h", now=now, guild=G1)
    assert guild.top_commands[0].command == "play"
    assert [p.title for p in guild.panels] == ["Command latency"]
    bot = await stats_summary(store, metric="latency", period="24h", now=now)
    assert bot.panels[1].title.startswith("Gateway latency")
    gateway = {n.label: n.value for n in bot.totals}["Gateway latency p95"]
    assert gateway is not None and 40 <= gateway <= 50


async def test_errors_include_the_most_frequent_groups_of_the_guild(
    store: SQLiteStore, recorder: Recorder, clock: FakeClock
) -> None:
    now = await _activity(store, recorder, clock)
    tracker = ErrorTracker(clock=clock)
    for _ in range(3):
        try:
            {}["missing"]
        except KeyError as exc:
            tracker.record(exc, guild=G1, command="play")
    try:
        raise RuntimeError("other guild")
    except RuntimeError as exc:
        tracker.record(exc, guild=G2, command="ping")
    s = await stats_summary(store, metric="errors", period="24h", now=now, guild=G1, errors=tracker)
    assert [g.type for g in s.top_errors] == ["KeyError"]
    assert [c.command for c in s.top_commands] == ["play"]
    assert {n.label: n.value for n in s.totals}["Command errors"] == 12


async def test_users_voice_and_system(
    store: SQLiteStore, recorder: Recorder, clock: FakeClock
) -> None:
    now = await _activity(store, recorder, clock)
    users = await stats_summary(store, metric="users", period="7d", now=now, guild=G1)
    totals = {n.label: n.value for n in users.totals}
    assert totals["Distinct users"] == 3
    assert totals["Members joined"] == 4
    assert users.panels[0].lines[0].step == 86400
    voice = await stats_summary(store, metric="voice", period="24h", now=now, guild=G1)
    totals = {n.label: n.value for n in voice.totals}
    assert totals["Voice time"] == 240
    assert totals["Mean session"] == 60
    assert totals["Most in voice at once"] == 2
    system = await stats_summary(store, metric="system", period="1h", now=now)
    totals = {n.label: n.value for n in system.totals}
    assert totals["Mean CPU"] == 30
    assert system.percentile_label == "event-loop lag"


def test_step_keeps_charts_readable() -> None:
    for period, seconds in PERIODS.items():
        assert seconds / step_for(period) <= 180
