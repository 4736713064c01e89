"""A host bot as users have one: its own ``cogs/`` and ``utils/``, and the monitoring extension
from the installed wheel. It loads both extensions (no Discord login is needed for that), uses
``bot.monitor``, asks the dashboard for its pages, unloads, and prints a JSON report."""

import asyncio
import json
import sys
import time
import urllib.request

import discord
from discord.ext import commands


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


async def main() -> dict:
    report: dict = {}
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default())
    async with bot:
        await bot.load_extension("cogs.music")
        await bot.load_extension("cogs.monitoring")
        report["extensions"] = sorted(bot.extensions)
        import cogs
        import monitoring
        import utils
        import web

        report["paths"] = {
            "cogs": [str(p) for p in cogs.__path__],
            "monitoring": monitoring.__file__,
            "web": web.__file__,
            "utils": utils.__file__,
        }
        report["reply"] = bot.get_cog("Music").play("Song 2", guild_id=42)

        dashboard = bot.get_cog("Dashboard")
        report["dashboard_problem"] = dashboard.problem
        host, port = dashboard.runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        pages = {}
        for path in ("/healthz", "/", "/assets/app.js", "/assets/vendor/uPlot.iife.min.js"):
            status, body = await asyncio.to_thread(get, base + path)
            pages[path] = [status, len(body), body[:200].decode("utf-8", "replace")]
        report["pages"] = pages
        deadline = time.monotonic() + 20
        metrics = ""
        while time.monotonic() < deadline:  # the first flush (every 2 s) feeds /metrics
            metrics = (await asyncio.to_thread(get, base + "/metrics"))[1].decode()
            if "discord_custom_songs_played_total" in metrics:
                break
            await asyncio.sleep(0.2)
        report["metrics_lines"] = [
            line for line in metrics.splitlines() if line.startswith("discord_custom_songs")
        ]
        await bot.unload_extension("cogs.monitoring")
        await bot.unload_extension("cogs.music")
        report["extensions_after"] = sorted(bot.extensions)
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
    sys.exit(0)
