"""REST side: channel messages, headers, rate limits, fault injection, recording."""

from __future__ import annotations

import io
import time

import aiohttp
import discord
import pytest

from sandbox import DiscordEmulator
from tests.sandbox.sandbox_helpers import tiny_png


async def test_channel_send_with_embed_edit_and_history(emulator, make_bot):
    async with emulator.run_bot(make_bot()) as bot:
        channel = bot.get_channel(emulator.channel_id("alerts"))
        embed = discord.Embed(title="Disk", description="90% used", color=discord.Color.red())
        embed.add_field(name="Host", value="db-1", inline=True)
        embed.add_field(name="Mount", value="/var", inline=True)
        embed.set_footer(text="monitoring")
        embed.timestamp = discord.utils.utcnow()
        sent = await channel.send("alert!", embed=embed)
        assert isinstance(sent, discord.Message) and sent.embeds[0].title == "Disk"
        await sent.edit(content="alert (resolved)")
        await sent.add_reaction("✅")
        history = [m async for m in channel.history(limit=10)]
        assert [m.id for m in history] == [sent.id]
        fetched = await channel.fetch_message(sent.id)
        assert fetched.content == "alert (resolved)" and fetched.edited_at is not None

    stored = emulator.messages(channel.id)
    assert len(stored) == 1
    message = stored[0]
    assert message.content == "alert (resolved)" and message.edit_count == 1
    assert message.history[0]["content"] == "alert!"
    assert message.embeds[0]["color"] == discord.Color.red().value
    assert [f["name"] for f in message.embeds[0]["fields"]] == ["Host", "Mount"]
    assert message.reactions == ["✅"]
    assert emulator.validation_errors() == []


async def test_channel_send_multipart_attachments_and_dm(emulator, make_bot):
    async with emulator.run_bot(make_bot()) as bot:
        channel = bot.get_channel(emulator.channel_id("reports"))
        embed = discord.Embed(title="Daily report").set_image(url="attachment://daily.png")
        files = [
            discord.File(io.BytesIO(tiny_png()), filename="daily.png"),
            discord.File(io.BytesIO(b"a,b\n1,2\n"), filename="data.csv"),
        ]
        sent = await channel.send(embed=embed, files=files)
        assert [a.filename for a in sent.attachments] == ["daily.png", "data.csv"]
        assert await sent.attachments[1].read() == b"a,b\n1,2\n"  # served by the emulator
        owner = await bot.fetch_user(emulator.app_owner.id)
        await owner.send("bot restarted")
    message = emulator.messages(channel.id)[0]
    assert message.attachment("daily.png").data == tiny_png()
    assert message.attachment("data.csv").content_type == "text/csv"
    request = emulator.requests_matching("/messages", method="POST")[0]
    assert request.multipart and [f.field for f in request.files] == ["files[0]", "files[1]"]
    assert request.json["attachments"][0]["id"] == 0  # discord.py's integer ids, as recorded
    assert [m.content for m in emulator.dm_messages(emulator.app_owner.id)] == ["bot restarted"]
    assert emulator.validation_errors() == []


async def test_injected_429_delays_but_does_not_lose_the_post(emulator, make_bot):
    async with emulator.run_bot(make_bot()) as bot:
        channel = bot.get_channel(emulator.channel_id("alerts"))
        emulator.inject_429("POST /channels/", count=2, retry_after=0.2)
        started = time.monotonic()
        await channel.send("important")
        elapsed = time.monotonic() - started
    assert elapsed >= 0.4
    posts = emulator.requests_matching("/messages", method="POST")
    assert [r.status for r in posts] == [429, 429, 200]
    assert all(r.injected for r in posts[:2])
    assert [m.content for m in emulator.messages(channel.id)] == ["important"]


async def test_injected_5xx_is_retried(emulator, make_bot):
    async with emulator.run_bot(make_bot()) as bot:
        channel = bot.get_channel(emulator.channel_id("alerts"))
        emulator.inject_5xx("/messages", count=1)
        await channel.send("after a 502")
    posts = emulator.requests_matching("/messages", method="POST")
    assert [r.status for r in posts] == [502, 200]
    assert [m.content for m in emulator.messages(channel.id)] == ["after a 502"]


async def test_exhausted_bucket_answers_429_with_headers():
    async with DiscordEmulator(rate_limit=2, rate_limit_window=30) as emu:
        url = f"{emu.api_base}/channels/{emu.channel_id()}/messages"
        headers = {"Authorization": "Bot x"}
        async with aiohttp.ClientSession() as session:
            statuses, remaining = [], []
            for _ in range(3):
                async with session.post(url, json={"content": "hi"}, headers=headers) as resp:
                    statuses.append(resp.status)
                    remaining.append(resp.headers["X-RateLimit-Remaining"])
                    last = resp
                    body = await resp.json()
    assert statuses == [200, 200, 429]
    assert remaining == ["1", "0", "0"]
    assert last.headers["Content-Type"] == "application/json"
    assert last.headers["Via"] and float(last.headers["Retry-After"]) >= 1
    assert body["global"] is False and body["retry_after"] > 0


async def test_headers_auth_unknown_routes_and_recording(emulator):
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": "Bot token"}
        async with session.get(f"{emulator.api_base}/users/@me", headers=auth) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"  # no charset
            for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert resp.headers[f"X-RateLimit-{name}"]
            assert (await resp.json())["id"] == str(emulator.bot_user.id)
        async with session.get(f"{emulator.api_base}/users/@me") as resp:
            assert resp.status == 401
        async with session.post(
            f"{emulator.api_base}/nope/123", json={"a": 1}, headers=auth
        ) as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "404: Not Found", "code": 0}
        async with session.get(f"{emulator.api_base}/gateway/bot", headers=auth) as resp:
            data = await resp.json()
            assert data["url"] == emulator.gateway_url and data["shards"] == 1
    recorded = emulator.requests[-2]
    assert (recorded.method, recorded.path, recorded.json, recorded.status) == (
        "POST",
        "/nope/123",
        {"a": 1},
        404,
    )


async def test_invalid_payload_is_reported_or_rejected(make_bot):
    long_title = "x" * 300
    async with DiscordEmulator() as emu:
        async with emu.run_bot(make_bot()) as bot:
            await bot.get_channel(emu.channel_id()).send(embed=discord.Embed(title=long_title))
        errors = emu.validation_errors()
        assert len(errors) == 1
        assert "create_message" in errors[0] and "embeds/0/title" in errors[0]
        assert "length 300 exceeds maxLength 256" in errors[0]

    async with DiscordEmulator(reject_invalid=True) as emu:
        async with emu.run_bot(make_bot()) as bot:
            with pytest.raises(discord.HTTPException) as info:
                await bot.get_channel(emu.channel_id()).send(embed=discord.Embed(title=long_title))
        assert info.value.status == 400 and info.value.code == 50035
        assert emu.messages(emu.channel_id()) == []
