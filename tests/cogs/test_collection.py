"""Collection from bot events: messages, commands, errors, voice, gateway, guilds and members."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord import app_commands
from discord.ext import commands

from cogs.monitoring import hooks
from cogs.monitoring.cog import MonitoringCog
from monitoring import FakeClock, Monitor
from tests.cogs.conftest import flush
from tests.helpers.fixtures import DpyEnv


async def total(monitor: Monitor, metric: str, *, field: str = "sum", **labels: Any) -> float:
    """Flush, then the metric over the last hour (``field``: sum, count, p95...)."""
    await flush(monitor)
    now = monitor.clock()
    agg = await monitor.store.aggregate(metric, now - 3600, now + 60, **labels)
    value = getattr(agg, field)
    return 0.0 if value is None else float(value)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Toy(commands.Cog):
    """Host-bot commands the monitoring cog must observe."""

    @commands.command()
    async def ping(self, ctx: commands.Context[Any]) -> None:
        await ctx.send("pong")

    @commands.command()
    async def boom(self, ctx: commands.Context[Any]) -> None:
        raise RuntimeError("prefix exploded")

    @commands.command()
    async def double(self, ctx: commands.Context[Any], n: int) -> None:
        await ctx.send(str(n * 2))

    @app_commands.command(name="echo", description="Echo")
    async def echo(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text)

    @app_commands.command(name="slowish", description="Defers then answers")
    async def slowish(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("done")

    @app_commands.command(name="explode", description="Raises")
    async def explode(self, interaction: discord.Interaction) -> None:
        raise KeyError("queue")

    @app_commands.command(name="mute", description="Never answers")
    async def mute(self, interaction: discord.Interaction) -> None:
        return None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.content == "trigger event error":
            raise ValueError("listener exploded")


@pytest.fixture
async def toy(dpy_bot: commands.Bot, cog: MonitoringCog) -> Toy:
    toy = Toy()
    await dpy_bot.add_cog(toy)
    return toy


async def test_messages_are_counted_per_guild_and_never_stored(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    secret = "my password is hunter2"
    await dpytest.message(secret, channel=dpy_env.channel, member=dpy_env.member)
    await dpytest.message("hello", channel=dpy_env.channel, member=dpy_env.owner)
    await dpy_env.channel.send("the bot speaks")
    await settle()
    gid = dpy_env.guild.id
    assert await total(monitor, "messages", guild=gid) == 2
    assert await total(monitor, "messages_own", guild=gid) == 1
    assert await total(monitor, "messages") == 2  # all guilds
    raw = monitor.config.db_path.read_bytes()
    for path in monitor.config.db_path.parent.glob("monitoring.db*"):
        raw += path.read_bytes()
    assert b"hunter2" not in raw
    for member in (dpy_env.member, dpy_env.owner):
        assert str(member.id).encode() not in raw
        assert member.id.to_bytes(8, "little") not in raw


async def test_prefix_commands_latency_errors_and_user_errors(
    toy: Toy, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    channel, member = dpy_env.channel, dpy_env.member
    await dpytest.message("!ping", channel=channel, member=member)
    with pytest.raises(commands.CommandInvokeError):  # dpytest re-raises command errors
        await dpytest.message("!boom", channel=channel, member=member)
    with pytest.raises(commands.BadArgument):
        await dpytest.message("!double notanumber", channel=channel, member=member)
    with pytest.raises(commands.CommandNotFound):
        await dpytest.message("!nosuchcommand", channel=channel, member=member)
    await settle()
    assert await total(monitor, "command_latency_ms", field="count", command="ping") == 1
    assert await total(monitor, "command_errors", command="boom") == 1
    assert await total(monitor, "command_latency_ms", field="count") == 2
    assert await total(monitor, "command_user_errors", command="double") == 1
    (group,) = monitor.errors.groups.values()
    assert group.type == "RuntimeError" and group.command == "boom"
    assert group.guild == dpy_env.guild.id
    rows = await monitor.store.recent_commands(10)  # type: ignore[attr-defined]
    assert {(r[2], r[3], r[5]) for r in rows} == {
        ("ping", "prefix", True),
        ("boom", "prefix", False),
    }


async def test_slash_commands_first_response_and_errors(
    toy: Toy, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    result = await dpy_env.slash("echo", options={"text": "hi"})
    assert result.content == "hi"
    await dpy_env.slash("slowish")
    await dpy_env.slash("explode")
    await dpy_env.slash("mute")
    assert await total(monitor, "command_latency_ms", field="count") == 4
    assert (
        await total(monitor, "command_latency_ms", field="count", command="echo", kind="slash") == 1
    )
    assert await total(monitor, "interaction_first_response_ms", field="count") == 2
    first = await total(monitor, "interaction_first_response_ms", field="max")
    assert 0 <= first < 3000
    assert await total(monitor, "command_errors", command="explode") == 1
    assert await total(monitor, "interaction_deadline_missed", command="mute") == 1
    (group,) = monitor.errors.groups.values()
    assert group.type == "KeyError" and group.command == "explode"
    assert group.location == "/explode"


async def test_a_late_first_response_counts_as_a_missed_deadline(
    toy: Toy, dpy_env: DpyEnv, monitor: Monitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = hooks.wall_clock
    monkeypatch.setattr(hooks, "wall_clock", lambda: real() + 4.0)
    await dpy_env.slash("echo", options={"text": "late"})
    assert await total(monitor, "interaction_deadline_missed", command="echo") == 1
    assert await total(monitor, "interaction_first_response_ms", field="min") >= 4000


async def test_event_handler_errors_are_grouped(
    toy: Toy, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    for _ in range(2):
        await dpytest.message("trigger event error", channel=dpy_env.channel)
    await settle()
    assert await total(monitor, "event_errors") == 2
    (group,) = monitor.errors.groups.values()
    assert group.type == "ValueError" and group.count == 2
    assert group.location == "event on_message"


async def test_voice_minutes_from_voice_state_updates(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor, clock: FakeClock
) -> None:
    channel = dpy_env.guild.voice_channels[0]
    out, inside = types.SimpleNamespace(channel=None), types.SimpleNamespace(channel=channel)
    member = dpy_env.member
    dpy_env.bot.dispatch("voice_state_update", member, out, inside)
    dpy_env.bot.dispatch("voice_state_update", dpy_env.owner, out, inside)
    await settle()
    clock.advance(90)
    cog._flush_voice()  # the periodic credit of open sessions
    clock.advance(60)
    dpy_env.bot.dispatch("voice_state_update", member, inside, inside)  # mute/unmute: no change
    dpy_env.bot.dispatch("voice_state_update", member, inside, out)
    await settle()
    gid = dpy_env.guild.id
    assert await total(monitor, "voice_sessions", guild=gid) == 2
    assert await total(monitor, "voice_minutes", guild=gid) == pytest.approx(1.5 * 2 + 1.0)
    assert await total(monitor, "voice_active", field="max") == 2
    assert list(cog._voice) == [(gid, dpy_env.owner.id)]
    clock.advance(120)
    cog._seed_voice()  # READY after a reconnect: nobody is in a voice channel any more
    assert cog._voice == {}
    # the owner, in voice since the credit at 90 s, is closed at 270 s: 3 more minutes
    assert await total(monitor, "voice_minutes", guild=gid) == pytest.approx(4.0 + 3.0)


async def test_gateway_identify_resume_disconnect_and_latency(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = dpy_env.bot
    for event in ("connect", "resumed", "resumed", "disconnect", "connect"):
        bot.dispatch(event)
    await settle()
    monkeypatch.setattr(type(bot), "latency", property(lambda self: 0.042))
    cog._sample_gateway()
    assert await total(monitor, "gateway_identify", shard=0) == 2
    assert await total(monitor, "gateway_resume") == 2
    assert await total(monitor, "gateway_disconnect") == 1
    assert await total(monitor, "gateway_latency_ms", field="max", shard=0) == pytest.approx(42)


async def test_auto_sharded_bots_count_identifies_per_shard(monitor: Monitor) -> None:
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=discord.Intents.default(), shard_count=2
    )
    await bot._async_setup_hook()
    cog = MonitoringCog(bot, monitor)
    await bot.add_cog(cog)
    try:
        for event, *args in (
            ("connect",),
            ("shard_connect", 0),
            ("connect",),
            ("shard_connect", 1),
        ):
            bot.dispatch(event, *args)
        bot.dispatch("shard_resumed", 1)
        bot.dispatch("resumed")
        await settle()
        assert await total(monitor, "gateway_identify") == 2
        assert await total(monitor, "gateway_identify", shard=1) == 1
        assert await total(monitor, "gateway_resume") == 1
        assert cog.latencies() == [] and cog.shard_states() == []
    finally:
        await bot.remove_cog(cog.qualified_name)


async def test_guild_and_member_events(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    bot = dpy_env.bot
    bot.dispatch("guild_join", dpy_env.guild)
    bot.dispatch("guild_remove", dpy_env.guild)
    bot.dispatch("member_join", dpy_env.member)
    bot.dispatch("member_join", dpy_env.owner)
    bot.dispatch("member_remove", dpy_env.member)
    await settle()
    gid = dpy_env.guild.id
    assert await total(monitor, "guild_joins") == 1
    assert await total(monitor, "guild_leaves") == 1
    assert await total(monitor, "member_joins", guild=gid) == 2
    assert await total(monitor, "member_leaves", guild=gid) == 1
    assert await total(monitor, "guilds", field="max") == len(bot.guilds)
    members = sum(g.member_count or 0 for g in bot.guilds)
    # recounted on guild_remove, then +2 joins and -1 leave without a recount
    assert monitor.recorder.last_gauges[("members", 0, "", -1, "")] == members + 1


async def test_hooks_wrap_the_host_bots_handlers_and_are_restored(
    dpy_bot: commands.Bot, monitor: Monitor
) -> None:
    seen: list[str] = []

    @dpy_bot.tree.error
    async def host_tree_error(interaction: discord.Interaction, error: Exception) -> None:
        seen.append(type(error).__name__)

    before_tree, before_bot = dict(vars(dpy_bot.tree)), dict(vars(dpy_bot))
    cog = MonitoringCog(dpy_bot, monitor)
    await dpy_bot.add_cog(cog)
    assert dpy_bot.monitor is monitor  # type: ignore[attr-defined]
    await dpy_bot.add_cog(Toy())
    await dpytest.empty_queue()
    member = dpytest.get_config().guilds[0].members[0]
    guild = dpytest.get_config().guilds[0]
    from tests.helpers.slash import invoke_slash

    await invoke_slash(
        dpy_bot, "explode", guild=guild, channel=guild.text_channels[0], member=member
    )
    assert seen == ["CommandInvokeError"]  # the host's handler still runs
    assert len(monitor.errors.groups) == 1  # and the cog recorded it
    await dpy_bot.remove_cog(cog.qualified_name)
    assert vars(dpy_bot.tree).get("on_error") is before_tree.get("on_error")
    assert "interaction_check" not in vars(dpy_bot.tree)
    assert vars(dpy_bot).get("on_error") is before_bot.get("on_error")
    await dpy_bot.remove_cog("Toy")
