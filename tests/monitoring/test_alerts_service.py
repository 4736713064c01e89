"""The alert service end to end on a real database with a fake clock and a fake channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring import FakeClock, HealthStatus
from monitoring.alerts import DeliveryError, Rule
from monitoring.alerts.cards import MAX_CARDS, MAX_TOTAL, card_length
from tests.monitoring.alert_helpers import FakeDestination, Value, open_monitor, service_with

CPU = Rule(
    name="cpu",
    metric="test_cpu",
    comparison=">=",
    threshold=80,
    resolve_threshold=70,
    for_seconds=60,
    repeat_seconds=3600,
    unit="%",
)


async def settle(service, clock: FakeClock, seconds: float = 0) -> None:  # type: ignore[no-untyped-def]
    """Let the outbox send everything due within ``seconds`` of fake time."""
    end = clock() + seconds
    while True:
        delay = await service.deliver(clock())
        if delay > 0:
            if clock() + delay > end:
                return
            clock.advance(delay)


def field(message, name: str) -> str:  # type: ignore[no-untyped-def]
    return next(f.value for f in message.cards[0].fields if f.name == name)


async def test_fire_post_and_resolve_edits_the_same_message(
    db_path: Path, clock: FakeClock
) -> None:
    dest, value = FakeDestination(), Value(90)
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], dest, {"test_cpu": value})
        await service.evaluate(clock())
        clock.advance(60)
        (fired,) = await service.evaluate(clock())
        assert fired.kind == "firing"
        assert await service.deliver(clock()) > 0  # grouping wait: nothing yet
        await settle(service, clock, 10)
        (message_id, message), *_ = dest.sent
        assert len(dest.sent) == 1
        card = message.cards[0]
        assert card.title.startswith("🟠 WARNING · cpu")
        assert field(message, "Value") == "90.0%"
        assert field(message, "Threshold") == ">= 80.0% (resolves ≤ 70.0%)"
        assert message.actions == ("ack", "silence", "mute")

        value.value = 75  # between thresholds: hysteresis keeps it firing
        clock.advance(15)
        assert await service.evaluate(clock()) == ()
        value.value = 50
        clock.advance(15)
        (resolved,) = await service.evaluate(clock())
        assert resolved.kind == "resolved"
        await settle(service, clock)
        assert len(dest.sent) == 1 and dest.edits[-1][0] == message_id
        edited = dest.last_for(message_id)
        assert edited.cards[0].title.startswith("✅ RESOLVED · cpu")
        assert field(edited, "Lasted").startswith("1 min")
        assert field(edited, "Peak") == "90.0%"
        assert edited.actions == ()  # buttons removed
        (incident,) = await service.history()
        assert incident.resolved == clock() and incident.duration == 100


async def test_restart_mid_incident_posts_nothing_new_and_resolves_later(
    db_path: Path, clock: FakeClock
) -> None:
    value = Value(95)
    first = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], first, {"test_cpu": value})
        await service.evaluate(clock())
        clock.advance(60)
        await service.evaluate(clock())
        await settle(service, clock, 10)
        (message_id, _), *_ = first.sent
    clock.advance(30)  # restart
    second = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], second, {"test_cpu": value})
        assert await service.evaluate(clock()) == ()
        await settle(service, clock, 60)
        assert second.sent == [] and second.edits == []
        assert [i.rule for i in service.active()] == ["cpu"]
        value.value = 20
        clock.advance(15)
        await service.evaluate(clock())
        await settle(service, clock)
        assert second.sent == []
        assert second.edits[-1][0] == message_id  # the message posted before the restart
        assert second.last_for(message_id).cards[0].title.startswith("✅ RESOLVED")


async def test_resolved_while_the_bot_was_down(db_path: Path, clock: FakeClock) -> None:
    value = Value(95)
    first = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], first, {"test_cpu": value})
        await service.evaluate(clock())
        clock.advance(60)
        await service.evaluate(clock())
        await settle(service, clock, 10)
        (message_id, _), *_ = first.sent
    clock.advance(2 * 3600)
    value.value = 30
    second = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], second, {"test_cpu": value})
        (resolved,) = await service.evaluate(clock())
        assert resolved.kind == "resolved" and resolved.note == "while offline"
        await settle(service, clock)
        assert "offline" in field(second.last_for(message_id), "Lasted")
        assert service.active() == []


async def test_unposted_alert_is_posted_after_a_restart(db_path: Path, clock: FakeClock) -> None:
    value = Value(95)
    down = FakeDestination()
    down.fail = DeliveryError("Discord answered 503", transient=True)
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], down, {"test_cpu": value})
        await service.evaluate(clock())
        clock.advance(60)
        await service.evaluate(clock())
        await settle(service, clock, 30)
        assert down.sent == []
    up = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], up, {"test_cpu": value})
        await settle(service, clock, 30)
        assert len(up.sent) == 1 and "cpu" in up.sent[0][1].cards[0].title


async def test_alert_storm_becomes_a_handful_of_posts(db_path: Path, clock: FakeClock) -> None:
    """1,000 threshold crossings within one minute (1,000 shards, evaluated every second)."""
    rule = Rule(name="gw", metric="test_gw", comparison=">", threshold=500, per_shard=True)
    keys = [f"shard={i}" for i in range(1000)]
    state = dict.fromkeys(keys, 100.0)
    dest = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [rule], dest, {})
        service.signals.register("test_gw", lambda now: dict(state))
        for second in range(60):
            for key in keys[second::60]:
                state[key] = 900.0  # ~17 shards cross every second
            await service.evaluate(clock())
            await service.deliver(clock())
            clock.advance(1)
        in_first_minute = len(dest.sent)
        await settle(service, clock, 600)
        assert in_first_minute <= 4
        assert len(dest.sent) <= 6, [len(service.messages[mid].items) for mid, _ in dest.sent]
        shown = {i for mid, _ in dest.sent for i in service.messages[mid].items}
        assert len(shown) == 1000
        for _, message in dest.sent:
            assert len(message.cards) <= MAX_CARDS
            assert sum(card_length(c) for c in message.cards) <= MAX_TOTAL


async def test_flapping_value_posts_at_most_three_times(db_path: Path, clock: FakeClock) -> None:
    rule = Rule(name="lag", metric="test_lag", comparison=">", threshold=100)
    value = Value(0)
    dest = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [rule], dest, {"test_lag": value}, group_wait=0)
        for step in range(240):  # an hour of 15-second evaluations, flipping every time
            value.value = 150 if step % 2 == 0 else 50
            await service.evaluate(clock())
            await service.deliver(clock())
            clock.advance(15)
        assert len(dest.sent) == 3
        assert "Flapping" in [f.name for f in dest.sent[-1][1].cards[0].fields]


async def test_transient_failures_are_retried(db_path: Path, clock: FakeClock) -> None:
    value, dest = Value(95), FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], dest, {"test_cpu": value})
        dest.fail = DeliveryError("Discord answered 503", transient=True)
        await service.evaluate(clock())
        clock.advance(60)
        await service.evaluate(clock())
        clock.advance(10)
        assert await service.deliver(clock()) == pytest.approx(2.0)
        health = await service.health()
        assert health.status is HealthStatus.DEGRADED and "503" in health.reason
        dest.fail = None
        await settle(service, clock, 5)
        assert len(dest.sent) == 1
        assert (await service.health()).status is HealthStatus.HEALTHY


async def test_permanent_failure_shows_in_health_and_keeps_the_alert(
    db_path: Path, clock: FakeClock
) -> None:
    value, dest = Value(95), FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], dest, {"test_cpu": value})
        dest.fail = DeliveryError("no permission to post in #alerts", transient=False)
        await service.evaluate(clock())
        clock.advance(60)
        await service.evaluate(clock())
        await settle(service, clock, 60)
        health = await service.health()
        assert health.status is HealthStatus.UNHEALTHY
        assert "no permission" in health.reason and "1 waiting" in health.reason
        dest.problem = "missing permission in #alerts: Embed Links"
        assert "Embed Links" in (await service.health()).reason
        dest.fail, dest.problem = None, None
        await settle(service, clock, 300)
        assert len(dest.sent) == 1


async def test_acknowledge_stops_repeats_and_survives_restart(
    db_path: Path, clock: FakeClock
) -> None:
    value, dest = Value(95), FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], dest, {"test_cpu": value})
        await service.evaluate(clock())
        clock.advance(60)
        await service.evaluate(clock())
        await settle(service, clock, 10)
        (mid, _), *_ = dest.sent
        result = await service.act("ack", mid, 7, clock())
        assert result.ok and "Acknowledged 1" in result.message
        await settle(service, clock)
        assert field(dest.last_for(mid), "Handled") == "Acknowledged by user 7"
    clock.advance(15)
    dest2 = FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], dest2, {"test_cpu": value})
        for _ in range(300):  # 75 minutes: past the repeat interval
            clock.advance(15)
            await service.evaluate(clock())
            await service.deliver(clock())
        assert dest2.sent == []  # acknowledged: no reminder
        result = await service.act("mute", mid, 8, clock())  # the old message still works
        assert result.ok and "Muted" in result.message
        assert (await service.act("ack", 12345, 8, clock())).ok is False  # not an alert post


async def test_repeat_reminds_while_unacknowledged(db_path: Path, clock: FakeClock) -> None:
    value, dest = Value(95), FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], dest, {"test_cpu": value})
        for _ in range(int(3700 / 15) + 6):
            await service.evaluate(clock())
            await service.deliver(clock())
            clock.advance(15)
        assert len(dest.sent) == 2
        assert dest.sent[1][1].cards[0].title.startswith("🟠 STILL FIRING · cpu")


async def test_silence_button_and_command(db_path: Path, clock: FakeClock) -> None:
    value, dest = Value(95), FakeDestination()
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [CPU], dest, {"test_cpu": value})
        await service.evaluate(clock())
        clock.advance(60)
        await service.evaluate(clock())
        await settle(service, clock, 10)
        (mid, _), *_ = dest.sent
        result = await service.act("silence", mid, 9, clock())
        assert result.ok and "Silenced cpu for 1 h" in result.message
        await settle(service, clock)
        assert "silenced until" in field(dest.last_for(mid), "Silenced")
        assert await service.unsilence_rule("cpu") is True
        assert await service.unsilence_rule("cpu") is False
        with pytest.raises(ValueError, match="no alert rule named 'nope'; rules: cpu"):
            await service.silence_rule("nope", 3600, None, clock())
        with pytest.raises(ValueError, match="1 minute to 30 days"):
            await service.silence_rule("cpu", 10, None, clock())
        until = await service.silence_rule("cpu", 7200, 9, clock())
        assert service.state.silences["cpu"].until == until


async def test_error_groups_are_posted_redacted_and_counted(
    db_path: Path, clock: FakeClock
) -> None:
    dest = FakeDestination()
    token = "MTAxMjM0NTY3ODkwMTIzNDU2Nzg5.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
    async with open_monitor(db_path, clock) as monitor:
        service = await service_with(monitor, [], dest, {})
        monitor.errors.on_new.append(service.on_error_new)
        monitor.errors.on_repeat.append(service.on_error_repeat)

        def fail() -> None:
            raise RuntimeError(f"login failed with token={token} and {token}")

        for _ in range(2):
            try:
                fail()
            except RuntimeError as exc:
                monitor.errors.record(exc, where="/play", command="play", guild=1)
        await settle(service, clock, 10)
        (mid, message), *_ = dest.sent
        card = message.cards[0]
        assert card.title == "🐞 RuntimeError in /play"
        assert token not in card.description and "redacted" in card.description
        assert "```py" in card.description and "fail" in card.description
        assert field(message, "Count") == "2"  # the second one arrived before the post
        try:
            fail()
        except RuntimeError as exc:
            monitor.errors.record(exc, command="play")
        await settle(service, clock, 30)
        assert dest.edits == []  # counts are updated at most once a minute
        await settle(service, clock, 60)
        assert dest.edits[-1][0] == mid and field(dest.last_for(mid), "Count") == "3"
