"""Alerts in Discord: the evaluation, delivery and daily-report loops, buttons and ``/alerts``.

A thin adapter over :class:`monitoring.alerts.AlertService` and
:class:`monitoring.reports.daily.DailyReportScheduler`: it turns their cards into embeds
(:mod:`.alert_embeds`), sends them to ``MONITOR_ALERT_CHANNEL_ID`` / ``MONITOR_REPORT_CHANNEL_ID``
and forwards button presses. Buttons are a persistent view (fixed custom ids, registered with
``bot.add_view``), so they work on posts made before a restart; only server managers may press.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping

import discord
from discord import app_commands
from discord.ext import commands

from monitoring import Monitor
from monitoring.alerts import AlertService, LogDestination
from monitoring.alerts.cards import CardStyle, duration_words
from monitoring.alerts.rules import parse_duration
from monitoring.health import HealthResult, HealthStatus, worst
from monitoring.reports.build import Report, chart_request
from monitoring.reports.daily import DailyReportScheduler, thread_chart
from monitoring.store.base import StoreError

from .alert_embeds import AlertView, ChannelDestination, alerts_overview

__all__ = ["EVALUATE_INTERVAL", "AlertsCog"]

log = logging.getLogger(__name__)

EVALUATE_INTERVAL = 15.0
"""Seconds between alert evaluations."""


class NotManager(app_commands.CheckFailure):
    """Only server managers may use /alerts."""


def _is_manager(interaction: discord.Interaction) -> bool:
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


class AlertsCog(commands.Cog, name="Alerts"):
    """Alert evaluation and delivery, error-group posts, the daily report and ``/alerts``."""

    alerts = app_commands.Group(
        name="alerts",
        description="Active alerts, recent history and silences",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(
        self,
        bot: commands.Bot,
        monitor: Monitor,
        *,
        interval: float = EVALUATE_INTERVAL,
        loops: bool = True,
    ) -> None:
        self.bot = bot
        self.monitor = monitor
        self.interval = interval
        self.loops = loops
        """False: no background loops (tests drive evaluate/deliver/run_once themselves)."""
        config = monitor.config
        self.style = CardStyle(
            tz=config.tz, mention=lambda uid: f"<@{uid}>", when=lambda ts: f"<t:{int(ts)}:f>"
        )
        token = getattr(bot.http, "token", None)
        alert_dest = (
            ChannelDestination(bot, config.alert_channel_id, "MONITOR_ALERT_CHANNEL_ID", self)
            if config.alert_channel_id
            else LogDestination()
        )
        self.service = AlertService(
            monitor,
            destination=alert_dest,
            style=self.style,
            interval=interval,
            secrets=(token,) if isinstance(token, str) else (),
        )
        self.reports: DailyReportScheduler | None = None
        if config.report_channel_id:
            self.reports = DailyReportScheduler(
                monitor,
                ChannelDestination(
                    bot, config.report_channel_id, "MONITOR_REPORT_CHANNEL_ID", self, files=True
                ),
                style=self.style,
                render_chart=self._render_chart,
            )
        self.view = AlertView(self)
        self._wake = asyncio.Event()
        self._down_since: dict[int, float] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ----------------------------------------------------------------------------

    async def cog_load(self) -> None:
        self.service.wake = self._wake.set
        self.service.signals.register("shard_disconnected", self._shard_disconnected)
        self.service.signals.register("gateway_latency_ms", self._gateway_latency)
        self.monitor.errors.on_new.append(self.service.on_error_new)
        self.monitor.errors.on_repeat.append(self.service.on_error_repeat)
        self.monitor.add_check("alert delivery", self._health, critical=False)
        self.bot.add_view(self.view)
        await self._start_service()
        if not self.loops:
            return
        for name, loop in (
            ("evaluate", self._evaluate_loop),
            ("deliver", self._deliver_loop),
            ("report", self._report_loop),
        ):
            if name == "report" and self.reports is None:
                continue
            self._tasks.append(asyncio.create_task(loop(), name=f"monitoring-alerts-{name}"))

    async def cog_unload(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for hooks, fn in (
            (self.monitor.errors.on_new, self.service.on_error_new),
            (self.monitor.errors.on_repeat, self.service.on_error_repeat),
        ):
            with contextlib.suppress(ValueError):
                hooks.remove(fn)
        self.monitor.remove_check("alert delivery")
        self.view.stop()
        for dest in (self.service.destination, getattr(self.reports, "destination", None)):
            if isinstance(dest, ChannelDestination):
                dest.close()
        self.service.wake = None

    async def _start_service(self) -> bool:
        if self.service.started:
            return True
        try:
            await self.service.start(self.monitor.clock())
        except StoreError as exc:
            log.warning("alerts waiting for the database: %s", exc)
            return False
        return True

    async def _guarded(
        self, what: str, work: Callable[[], Awaitable[float]], retry: float
    ) -> float:
        """Run one loop step; store trouble waits, a bug is recorded as an error group."""
        try:
            return await work()
        except StoreError as exc:
            log.warning("alerts %s: database unavailable: %s", what, exc)
            return retry
        except Exception as exc:  # a background task must survive, and report the bug
            log.exception("alerts %s failed", what)
            self.monitor.errors.record(exc, where=f"alerts {what} loop")
            return retry

    async def _evaluate_loop(self) -> None:
        while True:
            delay = await self._guarded("evaluation", self._evaluate_once, self.interval)
            await asyncio.sleep(delay)

    async def _evaluate_once(self) -> float:
        if await self._start_service():
            await self.service.evaluate(self.monitor.clock())
        return self.interval

    async def _deliver_loop(self) -> None:
        while True:
            delay = await self._guarded(
                "delivery", lambda: self.service.deliver(self.monitor.clock()), 30.0
            )
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(delay, 30.0))

    async def _report_loop(self) -> None:
        assert self.reports is not None
        reports = self.reports
        while True:
            delay = await self._guarded(
                "daily report", lambda: reports.run_once(self.monitor.clock()), 120.0
            )
            await asyncio.sleep(max(1.0, min(delay, 60.0)))

    async def _render_chart(self, report: Report) -> bytes:
        """The report chart in the main cog's chart worker (off this process) when there is one."""
        renderer = getattr(self.bot.get_cog("Monitoring"), "renderer", None)
        if renderer is None:
            return await thread_chart(report)
        panels, kwargs = chart_request(report)
        return bytes(await renderer.render("render_timeseries", panels, **kwargs))

    # -- signals and health -------------------------------------------------------------------

    def _gateway_latency(self, now: float) -> Mapping[str, float | None]:
        """Each shard's latest heartbeat latency in ms (None before the first heartbeat)."""
        bot = self.bot
        if not bot.is_ready():
            return {}
        if isinstance(bot, discord.AutoShardedClient):
            pairs = list(bot.latencies)
        else:
            pairs = [(bot.shard_id or 0, bot.latency)]
        return {
            f"shard={sid}": (latency * 1000 if math.isfinite(latency) else None)
            for sid, latency in pairs
        }

    def _shard_disconnected(self, now: float) -> Mapping[str, float | None]:
        """Seconds each shard has been disconnected (0 while connected)."""
        bot = self.bot
        if isinstance(bot, discord.AutoShardedClient):
            states = {sid: not info.is_closed() for sid, info in bot.shards.items()}
        else:
            states = {bot.shard_id or 0: bot.ws is not None and not bot.is_closed()}
        if not bot.is_ready():
            return {}
        out: dict[str, float | None] = {}
        for sid, connected in states.items():
            if connected:
                self._down_since.pop(sid, None)
                out[f"shard={sid}"] = 0.0
            else:
                out[f"shard={sid}"] = now - self._down_since.setdefault(sid, now)
        return out

    async def _health(self) -> HealthResult:
        result = await self.service.health()
        if self.reports is None:
            return result
        problem = await self.reports.destination.check()
        status, reason = (HealthStatus.UNHEALTHY, problem) if problem else self.reports.health()
        return HealthResult(
            "alert delivery",
            worst([result, HealthResult("report", status, reason)]),
            f"{result.reason}; {reason}",
            result.value,
        )

    # -- buttons ------------------------------------------------------------------------------

    async def on_button(self, interaction: discord.Interaction, action: str) -> None:
        """A press on Acknowledge / Silence 1h / Mute until resolved (managers only)."""
        message = interaction.message
        if message is None:
            return
        if not _is_manager(interaction):
            await interaction.response.send_message(
                "Only members with **Manage Server** can handle alerts.", ephemeral=True
            )
            return
        now = self.monitor.clock()
        try:
            result = await self.service.act(action, message.id, interaction.user.id, now)
        except StoreError as exc:
            log.warning("alert %s not saved: %s", action, exc)
            await interaction.response.send_message(
                "The monitoring database is unavailable right now; try again in a minute.",
                ephemeral=True,
            )
            return
        dest = self.service.destination
        rendered = await self.service.render_message(message.id) if result.ok else None
        if rendered is None or not isinstance(dest, ChannelDestination):
            await interaction.response.send_message(result.message, ephemeral=True)
            return
        # show the change at once (the interaction's own response, outside our post budget)
        await interaction.response.edit_message(
            embeds=dest.embeds(rendered), view=dest.view_for(rendered)
        )
        self.service.outbox.edits.pop(message.id, None)
        await interaction.followup.send(result.message, ephemeral=True)

    # -- /alerts ------------------------------------------------------------------------------

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not _is_manager(interaction):
            raise NotManager("You need the **Manage Server** permission to manage alerts.")
        return True

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, NotManager):
            text = str(error)
        else:
            original = getattr(error, "original", error)
            if isinstance(original, StoreError):
                text = "The monitoring database is unavailable right now; try again in a minute."
            else:
                raise error
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    @alerts.command(name="list", description="Active alerts, silences and recent history")
    async def alerts_list(self, interaction: discord.Interaction) -> None:
        now = self.monitor.clock()
        history = await self.service.history(10)
        embed = alerts_overview(
            self.service.active(), history, self.service.state.silences, self.style, now,
            rules=len(self.service.rules),
        )  # fmt: skip
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @alerts.command(name="silence", description="Stop posts for one alert rule for a while")
    @app_commands.describe(rule="The alert rule", duration="How long, such as 30m, 2h or 1d")
    async def alerts_silence(
        self, interaction: discord.Interaction, rule: str, duration: str = "1h"
    ) -> None:
        now = self.monitor.clock()
        try:
            seconds = parse_duration(duration)
            until = await self.service.silence_rule(rule, seconds, interaction.user.id, now)
        except ValueError as exc:
            await interaction.response.send_message(f"Not silenced: {exc}.", ephemeral=True)
            return
        await interaction.response.send_message(
            f"Silenced **{rule}** for {duration_words(until - now)} (until <t:{int(until)}:f>). "
            "It still changes state and resolves; nothing is posted until then.",
            ephemeral=True,
        )

    @alerts.command(name="unsilence", description="Let an alert rule post again")
    @app_commands.describe(rule="The alert rule")
    async def alerts_unsilence(self, interaction: discord.Interaction, rule: str) -> None:
        try:
            lifted = await self.service.unsilence_rule(rule)
        except ValueError as exc:
            await interaction.response.send_message(f"Not changed: {exc}.", ephemeral=True)
            return
        text = f"**{rule}** may post again." if lifted else f"**{rule}** was not silenced."
        await interaction.response.send_message(text, ephemeral=True)

    @alerts_silence.autocomplete("rule")
    @alerts_unsilence.autocomplete("rule")
    async def _rule_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = sorted(self.service.rules_by_name)
        if interaction.command is not None and interaction.command.name == "unsilence":
            names = sorted(self.service.state.silences) or names
        picked = [n for n in names if current.lower() in n.lower()][:25]
        return [app_commands.Choice(name=n, value=n) for n in picked]
