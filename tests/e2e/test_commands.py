"""/stats, /health and the dashboard, over a day of backfilled history and live commands."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import ClientSession

from sandbox import DiscordEmulator
from sandbox.simulator import backfill
from sandbox.traffic import TrafficModel
from tests.e2e.conftest import SMALL, running

PNG = b"\x89PNG\r\n\x1a\n"


async def test_stats_health_and_dashboard(tmp_path: Path, http: ClientSession) -> None:
    async def history(emu: DiscordEmulator, members: dict[int, list[int]]) -> None:
        await backfill(tmp_path / "monitoring.db", TrafficModel(members, scale=SMALL), days=1)

    async with running(tmp_path, before=history) as stack:
        for _ in range(3):  # live commands on top of the history
            ping = await stack.command("ping", channel="chat")
            assert ping.original is not None and ping.original.content == "🏓 Pong!"
        stats = await stack.command("stats", {"period": "24h"})
        message = stats.original
        assert message is not None and message.ephemeral
        assert message.embeds[0]["title"] == "📊 Messages — last 24 hours"
        png = [a for a in message.attachments if a.content_type == "image/png"]
        assert len(png) == 1 and png[0].data.startswith(PNG) and png[0].size > 10_000
        assert message.embeds[0]["image"]["url"] == f"attachment://{png[0].filename}"
        numbers = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
        assert int(numbers["Messages"].strip("*").replace(",", "")) > 1000  # the backfilled day

        health = await stack.command("health")
        assert health.original is not None
        embed = health.original.embeds[0]
        assert embed["title"].startswith("🩺 Health")
        assert re.search(r"gateway shard 0\*\* — latency [\d.]+ ms", embed["description"])
        assert "**database** — writable" in embed["description"]

        # the dashboard the cog serves: liveness, a one-time sign-in, the JSON API
        base = stack.dashboard_url
        assert base.startswith("http://127.0.0.1:")
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200 and (await response.json()) == {"status": "ok"}
        async with http.get(f"{base}/api/metrics/realtime") as response:
            assert response.status == 401
        token = (await stack.login_link()).split("token=", 1)[1]
        async with http.post(f"{base}/login", data={"token": token}, allow_redirects=False) as r:
            assert r.status == 303
        async with http.get(f"{base}/api/metrics/realtime") as response:
            assert response.status == 200
            live = await response.json()
        assert live["mode"] == "live" and live["metrics"]
        async with http.post(f"{base}/login", data={"token": token}) as response:
            assert response.status == 401  # the link works once
