"""The traffic simulator against the real bot: live events reach the extension, and the
backfill writes history the core can read back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from monitoring.store.sqlite import SQLiteStore
from sandbox.demo_bot import DemoCommands
from sandbox.simulator import LiveTraffic, backfill, populate, trim_channel
from sandbox.traffic import Scale, TrafficModel, activity
from sandbox.world import World
from tests.e2e.conftest import SMALL, running

BUSY = Scale(
    messages_per_minute=900,
    commands_per_minute=600,
    voice_sessions_per_hour=36_000,
    voice_minutes_mean=0.01,
    member_joins_per_day=432_000,
    reconnects_per_day=0,
)
"""Everything a few seconds of live traffic should show: at activity 1.0, three seconds bring
about 90 messages, 30 commands, 30 voice joins, 25 leaves and 30 member joins, so none of the
counts below is short by chance (a Poisson count of mean 30 is 0 with probability 1e-13)."""


def flat(ts: float) -> float:
    """Activity 1.0 at any hour: the test sees the same rates whenever it runs."""
    return 1.0


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll ``check`` until it holds or ``within`` seconds have passed (the assertions that
    follow say what is missing): a wait for the work to be done, not for a fixed time."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


async def test_live_traffic_reaches_the_bot(tmp_path: Path) -> None:
    async with running(tmp_path) as stack:
        model = TrafficModel(stack.members, seed=3, scale=BUSY, rhythm=flat)
        await stack.bot.remove_cog("Demo commands")
        await stack.bot.add_cog(DemoCommands(model.outcome))  # latency/errors from the model
        traffic = LiveTraffic(
            stack.emu,
            model,
            chat=stack.chat,
            voice=stack.voice,
            incident_every=600.0,  # one cycle, however late a loaded machine stops it
            errors_at=0.0,
            latency_at=1.5,
            incident_length=1.5,
        )
        begun: list[str] = []
        traffic.on_incident.append(lambda incident: begun.append(incident.kind))
        stats, store = traffic.stats, stack.monitor.store
        started = time.time()

        async def count(metric: str) -> int:
            return (await store.aggregate(metric, started - 60, time.time() + 60)).count

        async def cycle_done() -> bool:  # the reconnect begins 2.25 s in and the bot resumes
            return len(begun) == 3 and stack.emu.resume_count >= 1

        async def caught_up() -> bool:
            await stack.flush()
            return (
                await count("messages") >= stats.messages
                and await count("member_joins") >= stats.member_joins
                and await count("gateway_resume") >= 1
                and await count("command_latency_ms") >= 5
            )

        traffic.start()
        await asyncio.sleep(4.0)
        await until(cycle_done)  # the driver and the bot run late on a loaded machine
        await traffic.stop()
        await until(caught_up)  # answers still on their way

        assert stats.messages > 20 and stats.commands > 5
        assert stats.voice_joins > 0 and stats.voice_leaves > 0 and stats.member_joins > 0
        assert begun == ["errors", "latency", "reconnect"]
        assert stats.reconnects >= 1 and stack.emu.resume_count >= 1
        assert stack.emu.gateway.latency_for(0) == 0.0  # restored on stop

        assert await count("messages") >= stats.messages * 0.9
        assert await count("command_latency_ms") >= 5
        assert await count("voice_sessions") >= 1
        assert await count("member_joins") >= 1
        assert await count("gateway_resume") >= 1


async def test_backfill_writes_a_readable_history(tmp_path: Path) -> None:
    members = {1000 + g: list(range(g * 100, g * 100 + 30)) for g in range(3)}
    model = TrafficModel(members, seed=11, shards=2, scale=SMALL)
    end = 1_767_225_600.0  # 2026-01-01 00:00 UTC
    result = await backfill(tmp_path / "history.db", model, days=3, now=end)
    assert result.end == end and result.start == end - 3 * 86400
    assert result.messages > 20_000 and result.commands > 8000 and result.errors > 0

    store = SQLiteStore(tmp_path / "history.db", clock=lambda: end)
    await store.open()
    try:
        week = await store.aggregate("messages", end - 3 * 86400, end)
        assert week.count == result.messages
        latency = await store.aggregate("command_latency_ms", end - 3 * 86400, end)
        assert latency.count == result.commands and 20 < (latency.p50 or 0) < 400
        assert await store.shards("gateway_latency_ms", end - 86400, end) == [0, 1]
        hourly = await store.series("messages", end - 86400, end, step=3600)
        by_hour = {int(p.ts) % 86400 // 3600: p.count for p in hourly}
        assert by_hour[21] > 2 * by_hour[5]  # evening peak, night trough
        assert await store.distinct_users(end - 86400, end) > 30
    finally:
        await store.close()


def test_rhythm_averages_one_and_peaks_in_the_evening() -> None:
    week = [activity(1_767_225_600.0 + h * 900) for h in range(7 * 96)]
    assert sum(week) / len(week) == pytest.approx(1.0, abs=0.01)
    monday_5am, saturday_9pm = 1_767_571_200.0 + 5 * 3600, 1_767_398_400.0 + 21 * 3600
    assert activity(saturday_9pm) > 5 * activity(monday_5am)


def test_the_model_is_seeded() -> None:
    members = {1: [10, 11, 12], 2: [20, 21]}
    plans = [TrafficModel(members, seed=5).plan(1_767_225_600.0, 600) for _ in range(2)]
    assert plans[0].messages == plans[1].messages and plans[0].commands == plans[1].commands


def test_a_flat_rhythm_plans_alike_at_any_hour() -> None:
    members = {1: [10, 11, 12], 2: [20, 21]}
    monday_5am, saturday_9pm = 1_767_571_200.0 + 5 * 3600, 1_767_398_400.0 + 21 * 3600
    night, evening = (
        TrafficModel(members, seed=5, rhythm=flat).plan(ts, 600)
        for ts in (monday_5am, saturday_9pm)
    )
    assert len(night.messages) == len(evening.messages) > 0
    assert len(night.commands) == len(evening.commands) > 0


def test_long_runs_forget_old_chat_messages() -> None:
    world = World(guild_count=1)
    _members, chat, _voice = populate(world, per_guild=3)
    channel = next(iter(chat.values()))
    sent = [
        world.create_message(channel, world.member_user.id, {"content": "hi"}) for _ in range(8)
    ]
    assert trim_channel(world, channel, keep=5, older_than=time.time() - 60) == 0  # all recent
    assert trim_channel(world, channel, keep=5, older_than=time.time() + 1) == 3
    assert world.channel_messages[channel] == sent[3:]
    assert sent[0].id not in world.messages_by_id and sent[3].id in world.messages_by_id
