"""What the monitoring cog adds to dispatching one message event (``on_message_overhead_us``).

One dpytest bot (``commands.Bot``, no network) and one message. Runs alternate between the bare
bot (the cog's listeners detached) and the bot with the monitoring cog's listeners, in the same
process and event loop; each run dispatches ``N`` messages the way the gateway does
(``bot.dispatch("message", msg)``) and lets the loop run every listener to completion. The
overhead is the median over runs of (cog run - bare run) / N. Prints one JSON object last.

    python -m benchmarks.listener
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import discord
import discord.ext.test as dpytest
from discord.ext import commands

from cogs.monitoring.cog import MonitoringCog
from monitoring import Config, Monitor

N = 20_000
BATCH = 50
"""Messages dispatched between two loop iterations (a gateway read delivers several events)."""
RUNS = 7
TARGET_US = 5.0


async def _dispatch_many(bot: commands.Bot, message: discord.Message, n: int) -> float:
    """Seconds to dispatch ``n`` messages and run every listener task they scheduled."""
    started = time.perf_counter()
    for i in range(n):
        bot.dispatch("message", message)
        if i % BATCH == BATCH - 1:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
    for _ in range(4):
        await asyncio.sleep(0)
    return time.perf_counter() - started


async def main() -> dict[str, float | int | bool]:
    logging.basicConfig(level=logging.WARNING)
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.all())
    await bot._async_setup_hook()
    dpytest.configure(bot, guilds=1, text_channels=1, members=2)
    guild = dpytest.get_config().guilds[0]
    member = next(m for m in guild.members if not m.bot)
    message = await dpytest.message("hello", channel=guild.text_channels[0], member=member)
    await dpytest.empty_queue()

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(db_path=Path(tmp) / "bench.db", dashboard_enabled=False)
        monitor = Monitor(config, system_interval=3600)
        cog = MonitoringCog(bot, monitor)
        await bot.add_cog(cog)
        listeners = [(name, getattr(cog, method.__name__)) for name, method in cog.get_listeners()]
        message_listeners = [(n, fn) for n, fn in listeners if n == "on_message"]

        def detach() -> None:
            for name, fn in message_listeners:
                bot.remove_listener(fn, name)

        def attach() -> None:
            for name, fn in message_listeners:
                bot.add_listener(fn, name)

        await _dispatch_many(bot, message, N // 4)  # warm up both paths
        bare: list[float] = []
        monitored: list[float] = []
        for _ in range(RUNS):
            detach()
            bare.append(await _dispatch_many(bot, message, N))
            attach()
            monitored.append(await _dispatch_many(bot, message, N))
        await bot.remove_cog(cog.qualified_name)  # stops the monitor: the last flush
        counted = int(monitor.recorder.totals.get("messages", 0))
    await dpytest.empty_queue()

    diffs = [(m - b) / N * 1e6 for b, m in zip(bare, monitored, strict=True)]
    result: dict[str, float | int | bool] = {
        "on_message_overhead_us": round(statistics.median(diffs), 2),
        "bare_dispatch_us": round(statistics.median(bare) / N * 1e6, 2),
        "monitored_dispatch_us": round(statistics.median(monitored) / N * 1e6, 2),
        "messages_per_run": N,
        "runs": RUNS,
        "messages_recorded": counted,
        "messages_expected": RUNS * N + N // 4,
        "target_us": TARGET_US,
        "meets_target": statistics.median(diffs) <= TARGET_US,
    }
    return result


if __name__ == "__main__":
    out = asyncio.run(main())
    sys.stdout.write(json.dumps(out) + "\n")
