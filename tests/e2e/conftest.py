"""The whole stack for one test: emulator + real bot (``bot.make_bot``) + extension + dashboard.

Real sockets throughout; nothing of ours is mocked. The bot also carries the demo's slash
commands (:class:`sandbox.demo_bot.DemoCommands`), whose latency and failures a test controls
through :class:`Workload`. At teardown every request the bot made must be valid against
Discord's OpenAPI spec.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from discord.ext import commands

import bot as bot_module
from monitoring import Clock, Config, FakeClock, Monitor, system_clock
from sandbox import DiscordEmulator, InteractionRecord, StoredMessage
from sandbox.demo_bot import DemoCommands
from sandbox.simulator import populate
from sandbox.traffic import Scale
from web import DASHBOARD

SMALL = Scale(messages_per_minute=6, commands_per_minute=3)
"""A small bot: a backfilled day takes well under a second."""

T0 = float(int(time.time()) // 3600 * 3600 + 1830)
"""A fake "now" near the real time (interaction snowflakes carry the real time): 30 s into the
current hour's 31st minute."""


@dataclasses.dataclass
class Workload:
    """What the demo commands do: ``latency_ms`` each, and fail with ``error`` when set."""

    latency_ms: float = 5.0
    error: str = ""

    def __call__(self, command: str, now: float) -> tuple[float, str]:
        return self.latency_ms, self.error


@dataclasses.dataclass
class Stack:
    emu: DiscordEmulator
    bot: commands.Bot
    monitor: Monitor
    workload: Workload
    members: dict[int, list[int]]
    """The simulated members of each guild (:func:`sandbox.simulator.populate`)."""
    chat: dict[int, int]
    voice: dict[int, int]

    @property
    def guild_id(self) -> int:
        return self.emu.guild(0).id

    def cog(self, name: str) -> Any:
        cog = self.bot.get_cog(name)
        assert cog is not None, f"cog {name!r} not loaded"
        return cog

    @property
    def dashboard_url(self) -> str:
        return str(self.cog("Dashboard").app[DASHBOARD].base_url)

    async def login_link(self) -> str:
        return str(await self.cog("Dashboard").app[DASHBOARD].issue_login("e2e owner", None))

    async def command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: int | None = None,
        channel: str = "general",
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> InteractionRecord:
        """Run ``/name`` as the guild owner (or ``user``) and wait for the complete answer."""
        record = await self.emu.slash_command(
            self.guild_id,
            self.emu.channel_id(channel),
            user or self.emu.guild_owner.id,
            name,
            options,
        )
        return await self.emu.wait_for_response(record, timeout=timeout)

    def posts(self, channel: str, title: str = "") -> list[StoredMessage]:
        """The bot's messages in ``channel`` whose first embed title contains ``title``."""
        return [
            m
            for m in self.emu.messages(self.emu.channel_id(channel))
            if m.embeds and title in m.embeds[0].get("title", "")
        ]

    async def flush(self) -> None:
        assert await self.monitor.flusher.flush(force=True)


def make_config(tmp_path: Path, emu: DiscordEmulator, **changes: Any) -> Config:
    base = Config(
        db_path=tmp_path / "monitoring.db",
        dashboard_host="127.0.0.1",
        dashboard_port=0,
        chart_executor="thread",
        alert_channel_id=emu.channel_id("alerts"),
        report_channel_id=emu.channel_id("reports"),
    )
    return base.replace(**changes)


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path,
    *,
    shards: int = 1,
    guilds: int = 3,
    clock: Clock = system_clock,
    before: Callable[[DiscordEmulator, dict[int, list[int]]], Awaitable[None]] | None = None,
    emulator: dict[str, Any] | None = None,
    **config: Any,
) -> AsyncIterator[Stack]:
    """Start everything. The guilds get simulated members and a ``#chat`` channel;
    ``before(emu, members)`` runs before the bot connects (backfills, faults)."""
    async with DiscordEmulator(shard_count=shards, guild_count=guilds, **(emulator or {})) as emu:
        members, chat, voice = populate(emu.world, per_guild=10)
        if before is not None:
            await before(emu, members)
        bot = bot_module.make_bot(sharded=shards > 1)
        monitor = Monitor(make_config(tmp_path, emu, **config), clock=clock)
        bot.monitor = monitor  # type: ignore[attr-defined]
        workload = Workload()
        await bot.add_cog(DemoCommands(workload, clock=clock))
        async with emu.run_bot(bot, timeout=30):
            yield Stack(emu, bot, monitor, workload, members, chat, voice)
        assert not monitor.running, "the extension left its loops running"
        assert emu.validation_errors() == []


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    """A client keeping cookies from 127.0.0.1 (aiohttp's default jar ignores IP hosts)."""
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        yield session
