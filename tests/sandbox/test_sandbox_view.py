"""The sandbox view (``GET /``) and its JSON API."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import aiohttp
import discord
import pytest

from sandbox import DiscordEmulator
from tests.sandbox.sandbox_helpers import tiny_png

VIEW_DIR = Path(__file__).resolve().parents[2] / "sandbox" / "view"


class Ack(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(discord.ui.Button(label="Acknowledge", custom_id="ack"))


async def post_sample(emu: DiscordEmulator, make_bot) -> int:
    """The bot posts an embed with an attached chart and a button, then edits it."""
    async with emu.run_bot(make_bot()) as bot:
        channel = bot.get_channel(emu.channel_id("alerts"))
        embed = discord.Embed(title="CPU high", description="**94%** on db-1", color=0xE74C3C)
        embed.add_field(name="Host", value="db-1", inline=True)
        embed.add_field(name="Load", value="94%", inline=True)
        embed.set_footer(text="monitoring")
        embed.timestamp = discord.utils.utcnow()
        embed.set_image(url="attachment://chart.png")
        chart = discord.File(io.BytesIO(tiny_png(40, 20)), filename="chart.png")
        message = await channel.send(embed=embed, file=chart, view=Ack())
        await message.edit(content="resolved")
        await channel.send(
            file=discord.File(io.BytesIO(b"<svg onload=alert(1)>"), filename="x.svg")
        )
    return channel.id


async def test_page_assets_and_security_headers(emulator):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{emulator.base_url}/") as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            csp = resp.headers["Content-Security-Policy"]
            html = await resp.text()
        for name in ("app.js", "style.css"):
            async with session.get(f"{emulator.base_url}/sandbox/static/{name}") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Security-Policy"] == csp
        async with session.get(f"{emulator.base_url}/sandbox/static/..%2Fviewer.py") as resp:
            assert resp.status == 404
    assert "default-src 'self'" in csp and "img-src 'self' data: blob:" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert not re.search(r"""(src|href)=["']https?://""", html)  # no CDN
    assert "<script>" not in html and "style=" not in html


def test_view_javascript_builds_dom_safely():
    source = (VIEW_DIR / "app.js").read_text()
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert forbidden not in source
    assert "createElement" in source and "textContent" in source
    assert "setInterval" in source or "setTimeout(tick, POLL_MS)" in source
    assert "const POLL_MS = 2000" in source
    node = shutil.which("node")
    if node:
        import subprocess

        subprocess.run([node, "--check", str(VIEW_DIR / "app.js")], check=True)


async def test_json_api_and_attachments(emulator, make_bot):
    channel_id = await post_sample(emulator, make_bot)
    base = emulator.base_url
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/sandbox/api/channels") as resp:
            meta = await resp.json()
        async with session.get(
            f"{base}/sandbox/api/messages", params={"channel": str(channel_id)}
        ) as resp:
            data = await resp.json()
        message = data["messages"][0]
        image_url = message["embeds"][0]["image"]["url"]
        async with session.get(f"{base}{image_url}") as resp:
            assert resp.status == 200 and resp.content_type == "image/png"
            assert await resp.read() == tiny_png(40, 20)
        svg = data["messages"][1]["attachments"][0]
        async with session.get(f"{base}{svg['url']}") as resp:
            assert resp.content_type == "application/octet-stream"  # never rendered inline
            assert resp.headers["Content-Disposition"].startswith("attachment;")
        async with session.get(f"{base}/sandbox/api/messages", params={"channel": "1"}) as resp:
            assert resp.status == 404

    alerts = next(c for c in meta["guilds"][0]["channels"] if c["name"] == "alerts")
    assert alerts["message_count"] == 2 and meta["bot"]["name"] == emulator.bot_user.display_name
    assert data["channel"]["name"] == "alerts"
    assert message["content"] == "resolved" and message["edit_count"] == 1
    assert message["edited_timestamp"] is not None and message["author"]["bot"] is True
    assert re.fullmatch(r"/sandbox/attachments/\d+/chart\.png", image_url)
    assert message["attachments"] == []  # shown inside the embed, not twice
    assert message["embeds"][0]["color"] == 0xE74C3C
    assert [f["inline"] for f in message["embeds"][0]["fields"]] == [True, True]
    assert message["components"][0]["components"][0]["label"] == "Acknowledge"


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("CHROMIUM_PATH"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.mark.browser
async def test_page_renders_in_chromium(emulator, make_bot):
    from playwright import async_api as playwright_api

    executable = _chromium()
    assert executable, "headless Chromium is missing: `make test` installs Debian's chromium"
    channel_id = await post_sample(emulator, make_bot)
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=executable,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = await browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on(
                "console", lambda msg: problems.append(msg.text) if msg.type == "error" else None
            )
            await page.goto(f"{emulator.base_url}/#channel={channel_id}")
            await page.wait_for_selector(".embed-title", timeout=5000)
            assert await page.inner_text(".embed-title") == "CPU high"
            assert await page.inner_text(".embed-description strong") == "94%"
            assert await page.inner_text(".btn") == "Acknowledge"
            assert "(edited)" in await page.inner_text(".message .content")
            bar = await page.eval_on_selector(".embed", "e => getComputedStyle(e).borderLeftColor")
            assert bar == "rgb(231, 76, 60)"
            width = await page.eval_on_selector(".embed-image img", "img => img.naturalWidth")
            assert width == 40  # the uploaded chart really loads
            columns = await page.eval_on_selector_all(
                ".embed-field", "els => els.map(e => e.style.gridColumn)"
            )
            assert columns == ["1 / 7", "7 / 13"]
            assert problems == []
        finally:
            await browser.close()
