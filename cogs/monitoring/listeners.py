"""Event listeners: each turns one Discord event into a call on the core's recorder.

Nothing here reads message content, and user ids go only to the recorder, which keeps them in
memory for a few seconds and stores salted hashes. Voice sessions keep member ids in memory while
the member is in a voice channel (to credit their minutes), never on disk.

Metric names recorded (read back by :mod:`monitoring.analysis`): ``messages``/``messages_own``,
``command_latency_ms``/``command_errors`` (through ``Recorder.command``),
``command_user_errors``, ``interaction_first_response_ms``/``interaction_deadline_missed``,
``event_errors``, ``gateway_latency_ms``, ``gateway_identify``/``gateway_resume``/
``gateway_disconnect``, ``guilds``, ``guild_joins``/``guild_leaves``, ``member_joins``/
``member_leaves``, ``voice_minutes``/``voice_sessions``/``voice_active``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from monitoring import Monitor

from .hooks import first_response_at, time_first_response

__all__ = ["USER_ERRORS", "Listeners"]

log = logging.getLogger(__name__)

USER_ERRORS: tuple[type[Exception], ...] = (
    commands.UserInputError,
    commands.CheckFailure,
    commands.CommandOnCooldown,
    commands.MaxConcurrencyReached,
    commands.DisabledCommand,
    app_commands.CheckFailure,
    app_commands.TransformerError,
    app_commands.CommandOnCooldown,
)
"""Errors caused by the user (bad input, missing permission, cooldown): counted apart, and not as
command failures, since the bot did nothing wrong."""

STALE_SECONDS = 900.0


def _unwrap(error: BaseException) -> BaseException:
    while isinstance(
        error,
        commands.CommandInvokeError | commands.HybridCommandError | app_commands.CommandInvokeError,
    ):
        inner = getattr(error, "original", None)
        if inner is None:
            break
        error = inner
    return error


def _is_afk(channel: Any) -> bool:
    guild = getattr(channel, "guild", None)
    return channel is not None and guild is not None and channel == guild.afk_channel


class Listeners:
    """Mixed into :class:`~cogs.monitoring.cog.MonitoringCog` (needs ``bot`` and ``monitor``)."""

    bot: commands.Bot | commands.AutoShardedBot
    monitor: Monitor

    def _init_listeners(self) -> None:
        rec = self.monitor.recorder
        self._message = rec.message
        self._own_message = rec.own_message
        self._me_id = self.bot.user.id if self.bot.user else -1
        self._slash_started: dict[int, float] = {}
        self._voice: dict[tuple[int, int], list[float]] = {}
        """(guild, member) -> [joined_at, credited_until] (monitor clock)."""
        self._voice_guilds: set[int] = set()

    # -- messages (the hot path: keep it tiny) ------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        guild = message.guild
        author_id = message.author.id
        if author_id == self._me_id:
            self._own_message(guild.id if guild is not None else 0)
        else:
            self._message(guild.id if guild is not None else 0, author_id)

    # -- prefix commands ----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_command(self, ctx: commands.Context[Any]) -> None:
        if ctx.interaction is None:  # a hybrid command run as slash is timed by the app path
            ctx._monitoring_t0 = time.perf_counter()  # type: ignore[attr-defined]

    def _prefix_done(self, ctx: commands.Context[Any], ok: bool, error_type: str = "") -> None:
        started = getattr(ctx, "_monitoring_t0", None)
        if started is None or ctx.command is None:
            return
        self.monitor.recorder.command(
            ctx.command.qualified_name,
            "prefix",
            ctx.guild.id if ctx.guild else 0,
            ctx.author.id,
            (time.perf_counter() - started) * 1000,
            ok,
            error_type=error_type,
        )

    @commands.Cog.listener()
    async def on_command_completion(self, ctx: commands.Context[Any]) -> None:
        self._prefix_done(ctx, True)

    @commands.Cog.listener()
    async def on_command_error(self, ctx: commands.Context[Any], error: Exception) -> None:
        if ctx.command is None or ctx.interaction is not None:
            return  # unknown command, or the slash path records it
        name = ctx.command.qualified_name
        guild = ctx.guild.id if ctx.guild else 0
        if isinstance(error, USER_ERRORS):
            self.monitor.recorder.inc(
                "command_user_errors", guild=guild, command=name, kind="prefix"
            )
            return
        original = _unwrap(error)
        self._prefix_done(ctx, False, type(original).__name__)
        self.monitor.errors.record(
            original, where=f"prefix command {name}", guild=guild, command=name
        )

    # -- application commands (via the hooks) -------------------------------------------------

    def _app_started(self, interaction: discord.Interaction) -> None:
        self._slash_started[interaction.id] = time.perf_counter()
        time_first_response(interaction)

    def _app_done(
        self, interaction: discord.Interaction, command: Any, ok: bool, error: BaseException | None
    ) -> None:
        started = self._slash_started.pop(interaction.id, None)
        if command is None:
            return
        name = command.qualified_name
        kind = "context_menu" if isinstance(command, app_commands.ContextMenu) else "slash"
        guild = interaction.guild_id or 0
        rec = self.monitor.recorder
        if error is not None and isinstance(error, USER_ERRORS):
            rec.inc("command_user_errors", guild=guild, command=name, kind=kind)
            return
        latency = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        first_at = first_response_at(interaction)
        first_ms: float | None = None
        if first_at is not None:
            first_ms = max(0.0, (first_at - interaction.created_at.timestamp()) * 1000)
        elif started is not None and not interaction.response.is_done():
            rec.inc("interaction_deadline_missed", guild=guild, command=name)  # never answered
        error_type = type(error).__name__ if error is not None else ""
        rec.command(
            name,
            kind,
            guild,
            interaction.user.id,
            latency,
            ok,
            error_type=error_type,
            first_response_ms=first_ms,
        )
        if error is not None:
            self.monitor.errors.record(error, where=f"/{name}", guild=guild, command=name)

    def _app_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self._app_done(interaction, interaction.command, False, _unwrap(error))

    @commands.Cog.listener()
    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: Any
    ) -> None:
        self._app_done(interaction, command, True, None)

    def _event_error(self, event_method: str, exc: BaseException) -> None:
        self.monitor.recorder.inc("event_errors")
        self.monitor.errors.record(exc, where=f"event {event_method}")

    # -- guilds and members -------------------------------------------------------------------

    def _guild_count(self) -> None:
        """Guilds and members, recounted when the guild list changes (O(guilds))."""
        guilds = self.bot.guilds
        self.monitor.recorder.gauge("guilds", float(len(guilds)))
        self._members = sum(g.member_count or 0 for g in guilds)
        self.monitor.recorder.gauge("members", float(self._members))

    def _member_delta(self, delta: int) -> None:
        """Member joins and leaves move the total without a recount (O(1))."""
        self._members = max(0, getattr(self, "_members", 0) + delta)
        self.monitor.recorder.gauge("members", float(self._members))

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.monitor.recorder.inc("guild_joins", guild=guild.id)
        self._guild_count()

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.monitor.recorder.inc("guild_leaves", guild=guild.id)
        self._guild_count()

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self.monitor.recorder.inc("member_joins", guild=member.guild.id)
        self._member_delta(1)

    @commands.Cog.listener()
    async def on_member_remove(self, member: discord.Member) -> None:
        self.monitor.recorder.inc("member_leaves", guild=member.guild.id)
        self._member_delta(-1)

    # -- voice --------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if member.bot:
            return
        was_in = before.channel is not None and not _is_afk(before.channel)
        now_in = after.channel is not None and not _is_afk(after.channel)
        if was_in == now_in:
            return
        key = (member.guild.id, member.id)
        if now_in:
            self._voice_join(key)
        else:
            self._voice_leave(key)

    def _voice_join(self, key: tuple[int, int]) -> None:
        if key in self._voice:
            return
        now = self.monitor.clock()
        self._voice[key] = [now, now]
        self.monitor.recorder.inc("voice_sessions", guild=key[0])
        self.monitor.recorder.user_seen(key[0], key[1])

    def _voice_leave(self, key: tuple[int, int]) -> None:
        session = self._voice.pop(key, None)
        if session is not None:
            self._credit_voice(key[0], session, self.monitor.clock())

    def _credit_voice(self, guild: int, session: list[float], now: float) -> None:
        minutes = max(0.0, now - session[1]) / 60
        session[1] = now
        if minutes > 0:
            self.monitor.recorder.inc("voice_minutes", minutes, guild=guild)

    def _seed_voice(self) -> None:
        """Match sessions to who is in voice now (at start, and after a reconnect's READY:
        members who left while the bot was disconnected are closed, present ones opened)."""
        present: set[tuple[int, int]] = set()
        for guild in self.bot.guilds:
            for channel in (*guild.voice_channels, *guild.stage_channels):
                if channel != guild.afk_channel:
                    present.update((guild.id, m.id) for m in channel.members if not m.bot)
        for key in [k for k in self._voice if k not in present]:
            self._voice_leave(key)
        for key in present:
            self._voice_join(key)

    def _flush_voice(self, *, closing: bool = False) -> None:
        """Credit open sessions up to now and sample how many members are in voice."""
        now = self.monitor.clock()
        per_guild: dict[int, int] = {}
        for (guild, _member), session in self._voice.items():
            self._credit_voice(guild, session, now)
            per_guild[guild] = per_guild.get(guild, 0) + 1
        if closing:
            self._voice.clear()
            return
        rec = self.monitor.recorder
        for guild in self._voice_guilds - per_guild.keys():
            rec.gauge("voice_active", 0.0, guild=guild)
        for guild, n in per_guild.items():
            rec.gauge("voice_active", float(n), guild=guild)
        if per_guild or self._voice_guilds:
            rec.gauge("voice_active", float(sum(per_guild.values())))
        self._voice_guilds = set(per_guild)

    # -- gateway ------------------------------------------------------------------------------

    def _sharded(self) -> bool:
        return isinstance(self.bot, discord.AutoShardedClient)

    def _shard(self) -> int:
        return self.bot.shard_id or 0

    def latencies(self) -> list[tuple[int, float]]:
        """(shard id, latency in ms) of every shard; NaN/inf before the first heartbeat."""
        if isinstance(self.bot, discord.AutoShardedClient):
            return [(sid, lat * 1000) for sid, lat in self.bot.latencies]
        return [(self._shard(), self.bot.latency * 1000)]

    def _sample_gateway(self) -> None:
        rec = self.monitor.recorder
        for shard, latency in self.latencies():
            if math.isfinite(latency):
                rec.observe("gateway_latency_ms", latency, shard=shard)

    def _sweep(self) -> None:
        """Forget interactions that never completed (their error path never ran)."""
        cutoff = time.perf_counter() - STALE_SECONDS
        for key in [k for k, t in self._slash_started.items() if t < cutoff]:
            del self._slash_started[key]

    @commands.Cog.listener()
    async def on_connect(self) -> None:
        self._me_id = self.bot.user.id if self.bot.user else -1
        if not self._sharded():  # READY after IDENTIFY (AutoSharded: counted per shard below)
            self.monitor.recorder.inc("gateway_identify", shard=self._shard())

    @commands.Cog.listener()
    async def on_shard_connect(self, shard_id: int) -> None:
        self.monitor.recorder.inc("gateway_identify", shard=shard_id)

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        if not self._sharded():
            self.monitor.recorder.inc("gateway_resume", shard=self._shard())

    @commands.Cog.listener()
    async def on_shard_resumed(self, shard_id: int) -> None:
        self.monitor.recorder.inc("gateway_resume", shard=shard_id)

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        if not self._sharded():
            self.monitor.recorder.inc("gateway_disconnect", shard=self._shard())

    @commands.Cog.listener()
    async def on_shard_disconnect(self, shard_id: int) -> None:
        self.monitor.recorder.inc("gateway_disconnect", shard=shard_id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self._me_id = self.bot.user.id if self.bot.user else -1
        self._guild_count()
        self._seed_voice()
