"""Gateway behaviour of the emulator with real discord.py bots over real sockets."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord.ext import commands

from sandbox import DiscordEmulator
from tests.sandbox.sandbox_helpers import bot_intents, collector


async def test_bot_gets_ready_with_guilds_channels_roles_members(emulator, make_bot):
    async with emulator.run_bot(make_bot()) as bot:
        assert bot.user is not None and bot.user.id == emulator.bot_user.id
        assert bot.application_id == emulator.application_id
        assert {g.id for g in bot.guilds} == {g.id for g in emulator.guilds}
        guild = bot.get_guild(emulator.guild(0).id)
        assert guild is not None
        assert {c.name for c in guild.text_channels} == {"general", "alerts", "reports"}
        assert guild.voice_channels and guild.voice_channels[0].name == "Voice"
        owner = guild.get_member(emulator.guild_owner.id)
        assert owner is not None and guild.owner_id == owner.id
        assert [r.name for r in owner.roles if not r.is_default()] == ["Manager"]
        assert owner.guild_permissions.manage_guild
        ordinary = guild.get_member(emulator.member_user.id)
        assert ordinary is not None and not ordinary.guild_permissions.manage_guild
        app = await bot.application_info()
        assert app.owner.id == emulator.app_owner.id
    assert emulator.identify_count == 1


async def test_on_message_sees_message_create(emulator, make_bot):
    bot = make_bot()
    seen: list[discord.Message] = []

    @bot.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    async with emulator.run_bot(bot):
        channel_id = emulator.channel_id("general")
        await emulator.send_message(channel_id, emulator.member_user.id, "hello **bot**")
        await emulator.wait_for(lambda: seen)
    message = seen[0]
    assert message.content == "hello **bot**"
    assert message.channel.id == channel_id
    assert isinstance(message.author, discord.Member)
    assert message.author.id == emulator.member_user.id


async def test_message_content_intent_is_enforced(emulator, make_bot):
    bot = make_bot(intents=bot_intents(message_content=False))
    seen: list[discord.Message] = []
    bot.add_listener(collector(seen), "on_message")
    async with emulator.run_bot(bot):
        channel_id = emulator.channel_id("general")
        await emulator.send_message(channel_id, emulator.member_user.id, "secret")
        await emulator.send_message(
            channel_id, emulator.member_user.id, f"<@{emulator.bot_user.id}> hi"
        )
        await emulator.wait_for(lambda: len(seen) == 2)
    assert seen[0].content == ""  # no MESSAGE_CONTENT intent, as on Discord
    assert seen[1].content.endswith("hi")  # mentions of the bot keep their content


async def test_member_join_and_voice_state_events(emulator, make_bot):
    bot = make_bot()
    joined: list[discord.Member] = []
    voice: list[tuple[discord.Member, discord.VoiceState]] = []

    @bot.event
    async def on_member_join(member: discord.Member) -> None:
        joined.append(member)

    @bot.event
    async def on_voice_state_update(member, before, after) -> None:
        voice.append((member, after))

    async with emulator.run_bot(bot):
        guild = emulator.guild(0)
        user_id = await emulator.member_add(guild.id, username="newbie")
        voice_channel = guild.channel_named("Voice")
        await emulator.voice_state_update(guild.id, emulator.member_user.id, voice_channel.id)
        await emulator.wait_for(lambda: joined and voice)
        assert joined[0].id == user_id and joined[0].name == "newbie"
        assert bot.get_guild(guild.id).get_member(user_id) is not None
        member, after = voice[0]
        assert member.id == emulator.member_user.id and after.channel.id == voice_channel.id


async def test_auto_sharded_bot_connects_two_shards():
    async with DiscordEmulator(shard_count=2) as emu:
        bot = commands.AutoShardedBot(
            command_prefix="!", intents=bot_intents(), guild_ready_timeout=0.05
        )
        async with emu.run_bot(bot):
            assert bot.shard_count == 2
            assert len(bot.latencies) == 2
            assert {shard for shard, _ in bot.latencies} == {0, 1}
            await emu.wait_for(lambda: all(lat < 1 for _, lat in bot.latencies))
            assert len(emu.gateway.live_sessions()) == 2
            assert {g.id for g in bot.guilds} == {g.id for g in emu.guilds}
            for guild in bot.guilds:
                assert guild.shard_id == (guild.id >> 22) % 2
            identifies = [p["d"]["shard"] for _, p in emu.gateway.received if p["op"] == 2]
            assert sorted(identifies) == [[0, 2], [1, 2]]
            # events reach the shard owning the guild
            seen: list[discord.Message] = []
            bot.add_listener(collector(seen), "on_message")
            second = emu.guild(1)
            await emu.send_message(
                second.channel_named("general").id, emu.member_user.id, "to shard 1"
            )
            await emu.wait_for(lambda: seen)
            assert seen[0].guild.shard_id == 1
        assert emu.requests_matching("GET /gateway/bot")


@pytest.mark.parametrize("mode", ["reconnect", "close"])
async def test_forced_reconnect_resumes_and_replays_missed_events(emulator, make_bot, mode):
    bot = make_bot()
    resumed = asyncio.Event()
    seen: list[str] = []

    @bot.event
    async def on_resumed() -> None:
        resumed.set()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    async with emulator.run_bot(bot):
        assert await emulator.force_reconnect(mode=mode) == 1
        # dispatched while the bot is between sockets: buffered, replayed on RESUME
        await emulator.send_message(emulator.channel_id(), emulator.member_user.id, "missed?")
        await asyncio.wait_for(resumed.wait(), 5)
        await emulator.wait_for(lambda: seen)
        assert seen == ["missed?"]
        assert emulator.resume_count == 1
        assert emulator.identify_count == 1
        assert emulator.connect_count == 2
        live = emulator.gateway.live_sessions()
        assert len(live) == 1 and live[0].connection.path == "/gateway-resume"
        await emulator.send_message(emulator.channel_id(), emulator.member_user.id, "after")
        await emulator.wait_for(lambda: len(seen) == 2)


async def test_invalidated_session_identifies_again(emulator, make_bot):
    async with emulator.run_bot(make_bot()) as bot:
        await emulator.force_reconnect(mode="invalidate")
        await emulator.wait_for(lambda: emulator.identify_count == 2, timeout=10)
        await emulator.wait_for(lambda: bot.is_ready() and len(bot.guilds) == 3)
    assert emulator.resume_count == 0
