"""The dashboard feature cog: hosts the web app and answers ``/dashboard`` with a sign-in link.

When ``ANALYTICS_DASHBOARD_ENABLED`` is true, ``cog_load`` serves :func:`web.create_app` with an
``AppRunner``/``TCPSite`` on ``ANALYTICS_DASHBOARD_HOST``:``ANALYTICS_DASHBOARD_PORT`` (it refuses
a non-loopback address without ``ANALYTICS_API_KEY``); ``cog_unload`` stops it, closing every
WebSocket with GOING_AWAY. ``/dashboard`` (server managers and the bot owner, ephemeral) replies
with a one-time link valid five minutes: the owner's session sees every guild, a manager's
session only the guild the command was used in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import discord
from aiohttp import web as aioweb
from discord import app_commands
from discord.ext import commands

from monitoring import Monitor
from web import DASHBOARD, UnsafeBindError, create_app, start_site
from web.sessions import LOGIN_TTL_SECONDS
from web.static import AssetsMissingError

__all__ = ["DashboardCog"]

log = logging.getLogger(__name__)


class DashboardCog(commands.Cog, name="Dashboard"):
    """Serves the web dashboard and hands out sign-in links."""

    def __init__(self, bot: commands.Bot, monitor: Monitor) -> None:
        self.bot = bot
        self.monitor = monitor
        self.app: aioweb.Application | None = None
        self.runner: aioweb.AppRunner | None = None
        self.problem: str | None = None
        """Why the dashboard is not running (None while it runs)."""

    # -- lifecycle ----------------------------------------------------------------------------

    async def cog_load(self) -> None:
        config = self.monitor.config
        if not config.dashboard_enabled:
            self.problem = "it is turned off (ANALYTICS_DASHBOARD_ENABLED=false)"
            log.info("web dashboard disabled by ANALYTICS_DASHBOARD_ENABLED")
            return
        try:
            app = create_app(
                self.monitor,
                guild_names=self._guild_names,
                shards=self._shards,
                authorize=self._still_manages,
            )
        except AssetsMissingError as exc:
            self.problem = "its page files are missing from the installation"
            log.error("web dashboard not started: %s", exc)
            return
        try:
            self.runner = await start_site(
                app,
                config.dashboard_host,
                config.dashboard_port,
                api_key=config.api_key,
                public_url=config.dashboard_url,
            )
        except UnsafeBindError as exc:
            self.problem = "it refused to listen on a public address without an API key"
            log.error("web dashboard not started: %s", exc)
            return
        except OSError as exc:
            self.problem = f"it could not listen on {config.dashboard_host}:{config.dashboard_port}"
            log.error("web dashboard not started: cannot listen: %s", exc)
            return
        self.app = app
        self.problem = None

    async def cog_unload(self) -> None:
        runner, self.runner, self.app = self.runner, None, None
        if runner is not None:
            await runner.cleanup()
            log.info("web dashboard stopped")

    # -- what the web app asks of Discord -------------------------------------------------------

    async def _still_manages(self, user_id: int, guild_id: int) -> bool | None:
        """Does this user still have Manage Server there (None: Discord could not say now)?"""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return False  # the bot left the guild
        member = guild.get_member(user_id)
        if member is None:
            try:
                member = await guild.fetch_member(user_id)
            except discord.NotFound:
                return False  # no longer a member
            except discord.HTTPException as exc:
                log.warning("could not re-check dashboard rights of %d: %s", user_id, exc)
                return None
        perms = member.guild_permissions
        return perms.manage_guild or perms.administrator

    def _guild_names(self) -> dict[int, str]:
        return {g.id: g.name for g in self.bot.guilds}

    def _shards(self) -> Sequence[Any]:
        main = self.bot.get_cog("Monitoring")
        states = getattr(main, "shard_states", None)
        return states() if callable(states) else ()

    async def _scope(self, interaction: discord.Interaction) -> tuple[bool, int | None]:
        """(allowed, guild): the owner sees every guild (None), a manager their guild."""
        user = interaction.user
        if await self.bot.is_owner(user):
            return True, None
        if interaction.guild is not None and isinstance(user, discord.Member):
            perms = user.guild_permissions
            if perms.manage_guild or perms.administrator:
                return True, interaction.guild.id
        return False, None

    # -- /dashboard ---------------------------------------------------------------------------

    @app_commands.command(
        name="dashboard", description="Get a one-time sign-in link to the web dashboard"
    )
    @app_commands.default_permissions(manage_guild=True)
    async def dashboard(self, interaction: discord.Interaction) -> None:
        allowed, guild = await self._scope(interaction)
        if not allowed:
            await interaction.response.send_message(
                "The dashboard is for server managers (**Manage Server**) and the bot owner.",
                ephemeral=True,
            )
            return
        if self.app is None:
            await interaction.response.send_message(
                f"The web dashboard is not running: {self.problem or 'it is not started'}.",
                ephemeral=True,
            )
            return
        who = f"{interaction.user.name} ({interaction.user.id})"
        link = await self.app[DASHBOARD].issue_login(who, guild, interaction.user.id)
        scope = "every guild" if guild is None else "this server only"
        minutes = LOGIN_TTL_SECONDS // 60
        await interaction.response.send_message(
            f"Your sign-in link to the monitoring dashboard ({scope}). It works once and "
            f"expires in {minutes} minutes; do not share it.\n<{link}>",
            ephemeral=True,
        )
        log.info("dashboard sign-in link issued to %s (%s)", who, scope)
