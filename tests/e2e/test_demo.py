"""``python bot.py --demo``: the offline demo comes up, answers, and shuts down cleanly."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession

ROOT = Path(__file__).resolve().parents[2]


async def _line(stream: asyncio.StreamReader, seen: list[str], pattern: str) -> re.Match[str]:
    """Read lines until one matches ``pattern`` (all are kept in ``seen``)."""
    while True:
        raw = await stream.readline()
        if not raw:
            raise AssertionError("the demo exited early:\n" + "".join(seen))
        seen.append(raw.decode())
        match = re.search(pattern, seen[-1])
        if match:
            return match


@pytest.mark.slow
async def test_demo_comes_up_offline_and_stops_cleanly(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bot.py"),
        "--demo",
        "--demo-seconds",
        "20",
        "--db",
        str(tmp_path / "demo.db"),
        "--port",
        "0",
        "--sandbox-port",
        "0",
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,  # one pipe, read as it comes: it never fills up
    )
    assert process.stdout is not None
    out: list[str] = []
    try:
        async with asyncio.timeout(120):
            dashboard = (
                await _line(process.stdout, out, r"Dashboard: +(http://127\.0\.0\.1:\d+)/")
            )[1]
            login = (
                await _line(process.stdout, out, r"Sign in .*: (http://\S+/login\?token=\S+)")
            )[1]
            sandbox = (
                await _line(process.stdout, out, r"Sandbox view: +(http://127\.0\.0\.1:\d+)/")
            )[1]
            await _line(process.stdout, out, r"^Ready in [\d.]+ s")
            assert login.startswith(dashboard + "/login?token=")

            async with ClientSession() as http:
                async with http.get(f"{dashboard}/healthz") as response:
                    assert response.status == 200 and await response.json() == {"status": "ok"}
                async with http.get(f"{sandbox}/sandbox/api/channels") as response:
                    world = await response.json()
                general = next(
                    c["id"] for c in world["guilds"][0]["channels"] if c["name"] == "general"
                )
                async with http.get(f"{sandbox}/sandbox/api/messages?channel={general}") as r:
                    messages = (await r.json())["messages"]
                [stats] = [m for m in messages if (m["interaction"] or {}).get("name") == "stats"]
                assert stats["embeds"][0]["title"].startswith("📊")
                chart = stats["embeds"][0]["image"]["url"]
                async with http.get(f"{sandbox}{chart}") as response:
                    assert response.content_type == "image/png"
                    assert (await response.read()).startswith(b"\x89PNG\r\n\x1a\n")
                assert any((m["interaction"] or {}).get("name") == "health" for m in messages)

            rest = await process.stdout.read()
            out.append(rest.decode())
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = "".join(out)
    assert "/stats answered: embed" in text and ".png" in text
    assert "/health answered: embed" in text
    assert re.search(r"Spec violations: 0\. Stopped cleanly\.", text), text
    assert "Traceback" not in text, text
