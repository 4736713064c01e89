"""The main monitoring cog: lifecycle, listeners (:mod:`.listeners`), ``/stats`` and ``/health``.

A thin adapter: listeners call the core's recorder, commands format the core's answers
(:mod:`monitoring.analysis`, :mod:`monitoring.recommendations`, :mod:`monitoring.healthchecks`).
``cog_load`` starts the monitor, the chart worker, the hooks and the gateway sampler;
``cog_unload`` removes the feature cogs, then stops all of that in reverse and flushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from monitoring import Monitor
from monitoring.chart_pool import ChartRenderer
from monitoring.healthchecks import ShardState, run_health
from monitoring.store.base import StoreError

from . import embeds
from .hooks import Hooks
from .listeners import Listeners
from .replies import COLLECTION_OFF, build_stats, stats_message

__all__ = ["DEFER_AFTER", "GATEWAY_INTERVAL", "MonitoringCog", "NotAllowed"]

log = logging.getLogger(__name__)

T = TypeVar("T")
AnyBot = commands.Bot | commands.AutoShardedBot

GATEWAY_INTERVAL = 5.0
"""Seconds between gateway latency samples (and voice-minute credits)."""
DEFER_AFTER = 1.5
"""An answer not ready this many seconds after the command started is deferred first."""


class NotAllowed(app_commands.CheckFailure):
    """The user may not see these numbers; the message says why."""


async def _manager_or_owner(interaction: discord.Interaction) -> bool:
    """Runtime twin of ``default_permissions(manage_guild=True)``: server managers or the owner."""
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    client = interaction.client
    if isinstance(client, AnyBot) and await client.is_owner(interaction.user):
        return True
    raise NotAllowed("You need the **Manage Server** permission to use this command.")


class MonitoringCog(Listeners, commands.Cog, name="Monitoring"):
    """Collects the bot's metrics and answers ``/stats`` and ``/health``.

    ``bot.monitor`` is set to ``monitor`` so the host bot can use its API
    (``bot.monitor.timer("llm_response_ms")``, ``bot.monitor.add_check(...)``).
    ``feature_cogs`` lists the sub-cogs added by the extension's ``setup``; they are removed
    first on unload.
    """

    def __init__(self, bot: AnyBot, monitor: Monitor) -> None:
        self.bot = bot
        self.monitor = monitor
        self.feature_cogs: list[str] = []
        self.renderer = ChartRenderer(monitor.config.chart_executor)  # type: ignore[arg-type]
        self.hooks = Hooks(
            bot,
            getattr(bot, "tree", None),
            on_app_start=self._app_started,
            on_app_error=self._app_error,
            on_event_error=self._event_error,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._init_listeners()
        bot.monitor = monitor  # type: ignore[union-attr]

    # -- lifecycle ----------------------------------------------------------------------------

    async def cog_load(self) -> None:
        token = getattr(self.bot.http, "token", None)
        self.monitor.errors.add_secrets(token if isinstance(token, str) else None)
        await self.monitor.start()
        await self.renderer.start()
        if not self.monitor.config.metrics_enabled:
            # collection off: no listener is registered (discord.py adds this cog's listeners
            # after cog_load, from this list)
            self.__cog_listeners__ = []
            log.warning("metrics collection is off (METRICS_ENABLED=false): /stats, /health and "
                        "the dashboard show what was stored before")  # fmt: skip
            return
        self.hooks.install()
        if self.bot.is_ready():
            self._guild_count()
            self._seed_voice()
        self._tasks.append(asyncio.create_task(self._gateway_loop(), name="monitoring-gateway"))
        log.info("monitoring started (database %s)", self.monitor.config.db_path)

    async def cog_unload(self) -> None:
        for name in reversed(self.feature_cogs):
            await self.bot.remove_cog(name)
        self.feature_cogs.clear()
        self.hooks.uninstall()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._flush_voice(closing=True)
        await self.renderer.close()
        await self.monitor.stop()
        log.info("monitoring stopped")

    async def _gateway_loop(self) -> None:
        ticks = 0
        while True:
            self._sample_gateway()
            if ticks % 12 == 0:  # once a minute
                self._flush_voice()
                self._guild_count()
                self._sweep()
            ticks += 1
            await asyncio.sleep(GATEWAY_INTERVAL)

    # -- helpers ------------------------------------------------------------------------------

    def shard_states(self) -> list[ShardState]:
        """Every shard's latency and connection state, for /health."""
        if isinstance(self.bot, discord.AutoShardedClient):
            return [
                ShardState(sid, _ms(info.latency), not info.is_closed())
                for sid, info in self.bot.shards.items()
            ]
        connected = self.bot.ws is not None and not self.bot.is_closed()
        return [ShardState(self._shard(), _ms(self.bot.latency), connected)]

    async def _answer(self, interaction: discord.Interaction, work: Awaitable[T]) -> T:
        """Await ``work``; defer first if it is not done within :data:`DEFER_AFTER` seconds."""
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER)
            if not done and not interaction.response.is_done():
                await interaction.response.defer(ephemeral=True, thinking=True)
            return await task
        finally:
            if not task.done():
                task.cancel()

    async def _send(self, interaction: discord.Interaction, **kwargs: Any) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(ephemeral=True, **kwargs)

    def _guild_name(self, guild_id: int) -> str | None:
        guild = self.bot.get_guild(guild_id)
        return guild.name if guild else None

    # -- commands -----------------------------------------------------------------------------

    @app_commands.command(name="stats", description="Bot statistics: activity, commands, latency")
    @app_commands.describe(
        period="Time window (default: 24 hours)",
        metric="What to show (default: messages)",
        scope="Bot owner only: this server or all servers",
    )
    @app_commands.choices(
        period=[
            Choice(name="last hour", value="1h"),
            Choice(name="last 24 hours", value="24h"),
            Choice(name="last 7 days", value="7d"),
            Choice(name="last 30 days", value="30d"),
        ],
        metric=[Choice(name=label, value=key) for key, label in embeds.METRIC_LABEL.items()],
        scope=[Choice(name="this server", value="guild"), Choice(name="all servers", value="all")],
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.check(_manager_or_owner)
    async def stats(
        self,
        interaction: discord.Interaction,
        period: str = "24h",
        metric: str = "messages",
        scope: str = "guild",
    ) -> None:
        """``/stats``: key numbers, a chart and recommendations, ephemeral."""
        owner = await self.bot.is_owner(interaction.user)
        if (scope == "all" or metric == "system") and not owner:
            what = "System metrics describe the whole bot" if metric == "system" else "All servers"
            raise NotAllowed(f"{what}: only the bot's owner can see them.")
        guild = None if scope == "all" or metric == "system" else interaction.guild_id
        if guild is None:
            label = f"All servers ({len(self.bot.guilds):,})"
        else:
            label = f"This server ({embeds._safe(interaction.guild.name, 60)})"  # type: ignore[union-attr]
        perms = interaction.app_permissions
        try:
            reply = await self._answer(
                interaction,
                build_stats(
                    self.monitor,
                    self.renderer,
                    metric=metric,
                    period=period,
                    now=self.monitor.clock(),
                    guild=guild,
                    scope="All servers" if guild is None else "This server",
                    shards=self.bot.shard_count,
                ),
            )
        except StoreError as exc:
            log.warning("/stats: monitoring database unavailable: %s", exc)
            await self._send(
                interaction,
                embed=embeds.error_embed(
                    "Statistics unavailable",
                    "The monitoring database cannot be read right now (the reason is in the "
                    "bot's log).\nMetrics are still collected in memory; try again in a minute.",
                ),
            )
            return
        message = stats_message(
            reply,
            scope=label,
            can_embed=perms.embed_links,
            can_attach=perms.attach_files,
            guild_name=self._guild_name if guild is None else lambda _gid: None,
        )
        if not self.monitor.config.metrics_enabled:
            message["content"] = "\n".join(filter(None, [COLLECTION_OFF, message.get("content")]))
        await self._send(interaction, **message)

    @app_commands.command(name="health", description="Health of the bot: gateway, database, host")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.check(_manager_or_owner)
    async def health(self, interaction: discord.Interaction) -> None:
        """``/health``: every check with its verdict and reason, coloured by the worst."""
        report = await self._answer(
            interaction,
            run_health(self.monitor, shards=self.shard_states(), now=self.monitor.clock()),
        )
        if interaction.app_permissions.embed_links:
            await self._send(interaction, embed=embeds.health_embed(report))
        else:
            note = "I can't show embeds here: I need the **Embed Links** permission.\n\n"
            await self._send(interaction, content=note + embeds.health_text(report))

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Answer every failure of this cog's commands: never a silent "interaction failed"."""
        if isinstance(error, app_commands.CheckFailure):
            text = str(error) if isinstance(error, NotAllowed) else "You can't use this here."
            embed = embeds.error_embed("Not allowed", text)
        else:
            original = getattr(error, "original", error)
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("/%s failed", name, exc_info=original)
            embed = embeds.error_embed(
                "Something went wrong",
                f"/{name} failed with `{type(original).__name__}`. The error was logged for the "
                "bot's owner; please try again later.",
            )
        try:
            await self._send(interaction, embed=embed)
        except discord.HTTPException as exc:
            log.warning("could not report the error to the user: %s", exc)


def _ms(seconds: float) -> float | None:
    return seconds * 1000 if math.isfinite(seconds) else None
