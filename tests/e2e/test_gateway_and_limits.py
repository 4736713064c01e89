"""Two shards with their own latency, and Discord's rate limits: 429s delay but lose nothing."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import discord
from aiohttp import ClientSession

from monitoring import FakeClock
from sandbox import DiscordEmulator
from tests.e2e.conftest import running
from tests.e2e.test_alerts import FAST_ERROR_RULE, burst, deliver


def shard_latency(description: str, shard: int) -> float:
    match = re.search(rf"gateway shard {shard}\*\* — latency ([\d.]+) ms", description)
    assert match, description
    return float(match.group(1))


async def test_two_shards_show_their_own_latency(tmp_path: Path, http: ClientSession) -> None:
    async def slow_shard_1(emu: DiscordEmulator, _members: object) -> None:
        emu.set_gateway_latency(0.15, shard_id=1)  # heartbeats on shard 1 answered 150 ms late

    async with running(
        tmp_path,
        shards=2,
        guilds=4,
        before=slow_shard_1,
        emulator={"heartbeat_interval": 0.3},
    ) as stack:
        bot = stack.bot
        assert isinstance(bot, discord.AutoShardedClient) and set(bot.shards) == {0, 1}
        assert {g.shard_id for g in bot.guilds} == {0, 1}

        def measured() -> bool:  # a heartbeat or two after start-up (which may delay the first)
            latency = dict(bot.latencies)
            return latency.get(0, 1) < 0.1 and latency.get(1, 0) > 0.14

        await stack.emu.wait_for(measured, timeout=10)
        health = await stack.command("health")
        assert health.original is not None
        description = health.original.embeds[0]["description"]
        assert shard_latency(description, 0) < 100 <= shard_latency(description, 1)

        token = (await stack.login_link()).split("token=", 1)[1]
        async with http.post(f"{stack.dashboard_url}/login", data={"token": token}) as response:
            assert response.status == 200
        # the verdicts are reused for one update interval: the first ones may predate the shards
        deadline = (
            asyncio.get_running_loop().time()
            + 2 * stack.monitor.config.websocket_update_interval
            + 5
        )
        while True:
            async with http.get(f"{stack.dashboard_url}/api/health/status") as response:
                assert response.status == 200
                text = await response.text()
            if "gateway shard 0" in text or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
        assert "gateway shard 0" in text and "gateway shard 1" in text


async def test_rate_limits_delay_answers_and_posts_but_lose_none(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    async with running(
        tmp_path, clock=fake_clock, alert_rules=(FAST_ERROR_RULE,), error_spike_window_seconds=60
    ) as stack:
        emu = stack.emu
        chat = emu.channel_id("chat")
        # three interaction answers are refused with 429 first; discord.py waits and retries
        emu.inject_429("/callback", count=3, retry_after=0.3)
        records = await asyncio.gather(
            *(emu.slash_command(stack.guild_id, chat, emu.member_user.id, "ping") for _ in range(8))
        )
        for record in records:
            await emu.wait_for_response(record)
            assert record.original is not None and record.original.content == "🏓 Pong!"
        statuses = [r.status for r in emu.requests_matching("/callback", "POST")]
        assert statuses.count(429) == 3 and statuses.count(200) == 8

        # an alert post meets two 429s from the alerts channel: it arrives late, once
        alerts_channel = emu.channel_id("alerts")
        route = f"/channels/{alerts_channel}/messages"
        await burst(stack, 12, error="DatabaseTimeout")
        await stack.cog("Alerts").service.evaluate(fake_clock())
        fake_clock.advance(11)
        emu.inject_429(route, count=2, retry_after=0.4)
        started = time.perf_counter()
        await deliver(stack, fake_clock())
        took = time.perf_counter() - started
        posted = [r for r in emu.requests_matching(route, "POST")]
        assert [r.status for r in posted][:3] == [429, 429, 200]
        assert took >= 0.8
        assert len(stack.posts("alerts", "error_rate")) == 1
