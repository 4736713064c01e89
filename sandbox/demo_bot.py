"""The demo bot's own slash commands: the workload the monitoring extension watches in the demo.

Each command takes as long, and fails as often, as the traffic model says for that moment
(``outcome(command, now) -> (latency_ms, error_type)``): normally fast with rare failures,
slow during a latency incident, failing during an error burst. A command expected to take more
than a second defers first, as a well-behaved bot does, so the 3-second deadline is met.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import discord
from discord import app_commands
from discord.ext import commands

from .simulator import DEFER_AFTER_MS
from .traffic import COMMANDS, SimulatedFailure, failure

__all__ = ["DemoCommands", "Outcome"]

log = logging.getLogger(__name__)

Outcome = Callable[[str, float], tuple[float, str]]
"""``(command, now) -> (latency in ms, error type or "")``."""

_ABOUT = {c.name: c.description for c in COMMANDS}


class DemoCommands(commands.Cog, name="Demo commands"):
    """/play, /rank, /weather, /quote, /help, /ping, /poll and /imagine, simulated."""

    def __init__(self, outcome: Outcome, *, clock: Callable[[], float] = time.time) -> None:
        self.outcome = outcome
        self.clock = clock
        self._running: set[asyncio.Task[object]] = set()

    async def cog_unload(self) -> None:
        """Stop the commands still "working" (the demo is shutting down)."""
        for task in list(self._running):
            task.cancel()
        self._running.clear()

    async def _run(self, interaction: discord.Interaction, name: str, reply: str) -> None:
        latency_ms, error = self.outcome(name, self.clock())
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            deferred = latency_ms > DEFER_AFTER_MS
            if deferred:
                await interaction.response.defer(thinking=True)
            await asyncio.sleep(latency_ms / 1000)
            if error:
                raise failure(error, name)
            if deferred:
                await interaction.followup.send(reply)
            else:
                await interaction.response.send_message(reply)
        finally:
            if task is not None:
                self._running.discard(task)

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        if not isinstance(original, SimulatedFailure):
            return  # not ours to explain; discord.py's handler logs it
        text = f"⚠️ That did not work: {original}. Please try again later."
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="play", description=_ABOUT["play"])
    @app_commands.describe(query="Song, artist or playlist")
    async def play(self, interaction: discord.Interaction, query: str) -> None:
        text = discord.utils.escape_markdown(query[:80])
        await self._run(interaction, "play", f"🎵 Now playing **{text}**")

    @app_commands.command(name="rank", description=_ABOUT["rank"])
    async def rank(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "rank", "🏅 You are level 12 (3,410 XP)")

    @app_commands.command(name="weather", description=_ABOUT["weather"])
    @app_commands.describe(city="City name")
    async def weather(self, interaction: discord.Interaction, city: str) -> None:
        text = discord.utils.escape_markdown(city[:60])
        await self._run(interaction, "weather", f"⛅ {text}: 18 °C, light clouds")

    @app_commands.command(name="quote", description=_ABOUT["quote"])
    async def quote(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "quote", "💬 “Ship it on a Friday,” they said.")

    @app_commands.command(name="help", description=_ABOUT["help"])
    async def help(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "help", "Try /play, /rank, /weather, /poll or /imagine.")

    @app_commands.command(name="ping", description=_ABOUT["ping"])
    async def ping(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "ping", "🏓 Pong!")

    @app_commands.command(name="poll", description=_ABOUT["poll"])
    @app_commands.describe(question="What to ask")
    async def poll(self, interaction: discord.Interaction, question: str) -> None:
        text = discord.utils.escape_markdown(question[:100])
        await self._run(interaction, "poll", f"📊 Poll: **{text}** (vote below)")

    @app_commands.command(name="imagine", description=_ABOUT["imagine"])
    @app_commands.describe(prompt="What to draw")
    async def imagine(self, interaction: discord.Interaction, prompt: str) -> None:
        text = discord.utils.escape_markdown(prompt[:100])
        await self._run(interaction, "imagine", f"🎨 Here is **{text}** (imagine a picture)")
