"""Discord side of alerts: cards as embeds, the channel destination, buttons, ``/alerts list``.

:class:`ChannelDestination` is the Discord implementation of
:class:`monitoring.alerts.delivery.Destination`: it checks the channel and the bot's permissions,
maps Discord's errors to transient (retry soon) or permanent (the operator must act) failures,
and keeps recently sent messages so that edits need no extra request.
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from monitoring.alerts.cards import CardStyle, duration_words, format_value
from monitoring.alerts.delivery import Card, DeliveryError, OutgoingMessage
from monitoring.alerts.engine import Silence
from monitoring.alerts.state import Incident

if TYPE_CHECKING:
    from .alerts import AlertsCog

__all__ = ["AlertView", "ChannelDestination", "alerts_overview", "to_embed"]

log = logging.getLogger(__name__)

_ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
_KEEP_MESSAGES = 200


def to_embed(card: Card) -> discord.Embed:
    """One card as an embed (the card already respects Discord's limits)."""
    embed = discord.Embed(
        title=card.title, description=card.description or None, colour=card.colour
    )
    for field in card.fields:
        embed.add_field(name=field.name, value=field.value or "-", inline=field.inline)
    if card.footer:
        embed.set_footer(text=card.footer)
    if card.timestamp is not None:
        embed.timestamp = dt.datetime.fromtimestamp(card.timestamp, dt.UTC)
    if card.image:
        embed.set_image(url=f"attachment://{card.image}")
    return embed


class AlertView(discord.ui.View):
    """Acknowledge / Silence 1h / Mute until resolved, with fixed custom ids (persistent)."""

    def __init__(self, cog: AlertsCog, actions: Sequence[str] = ("ack", "silence", "mute")) -> None:
        super().__init__(timeout=None)
        self.cog = cog
        for item in list(self.children):
            custom_id = getattr(item, "custom_id", "") or ""
            if custom_id.rsplit(":", 1)[-1] not in actions:
                self.remove_item(item)

    @discord.ui.button(
        label="Acknowledge", emoji="👀", style=discord.ButtonStyle.primary,
        custom_id="monitoring:alert:ack",
    )  # fmt: skip
    async def ack(self, interaction: discord.Interaction, _button: discord.ui.Button[Any]) -> None:
        await self.cog.on_button(interaction, "ack")

    @discord.ui.button(
        label="Silence 1h", emoji="🔕", style=discord.ButtonStyle.secondary,
        custom_id="monitoring:alert:silence",
    )  # fmt: skip
    async def silence(
        self, interaction: discord.Interaction, _button: discord.ui.Button[Any]
    ) -> None:
        await self.cog.on_button(interaction, "silence")

    @discord.ui.button(
        label="Mute until resolved", emoji="🔇", style=discord.ButtonStyle.secondary,
        custom_id="monitoring:alert:mute",
    )  # fmt: skip
    async def mute(self, interaction: discord.Interaction, _button: discord.ui.Button[Any]) -> None:
        await self.cog.on_button(interaction, "mute")


def _http_error(exc: discord.HTTPException, where: str) -> DeliveryError:
    code = getattr(exc, "code", 0)
    if isinstance(exc, discord.Forbidden):
        return DeliveryError(f"no permission to post in {where}: {exc.text}", transient=False)
    if isinstance(exc, discord.NotFound):
        if code == 10008:
            return DeliveryError("the message was deleted", transient=False, gone=True)
        return DeliveryError(f"{where} does not exist or the bot cannot see it", transient=False)
    if exc.status == 429 or exc.status >= 500:
        retry = getattr(exc, "retry_after", None)
        return DeliveryError(f"Discord answered {exc.status}", transient=True, retry_after=retry)
    return DeliveryError(f"Discord rejected the message: {exc.text}", transient=False, gone=True)


class ChannelDestination:
    """A Discord channel (``MONITOR_ALERT_CHANNEL_ID`` or ``MONITOR_REPORT_CHANNEL_ID``)."""

    def __init__(
        self, bot: discord.Client, channel_id: int, setting: str, cog: Any, *, files: bool = False
    ) -> None:
        self.bot = bot
        self.channel_id = channel_id
        self.setting = setting
        self.cog = cog
        self.files = files
        self._messages: collections.OrderedDict[int, discord.Message] = collections.OrderedDict()
        self._views: collections.deque[discord.ui.View] = collections.deque(maxlen=_KEEP_MESSAGES)

    @property
    def name(self) -> str:
        channel = self.bot.get_channel(self.channel_id)
        label = f"#{channel}" if channel is not None else f"channel {self.channel_id}"
        return f"{label} ({self.setting})"

    async def _resolve(self) -> Any:
        channel: Any = self.bot.get_channel(self.channel_id)
        if channel is None:
            if self.bot.user is None:  # not logged in yet: nothing can be asked of Discord
                raise DeliveryError("not connected to Discord yet", transient=True, retry_after=15)
            try:
                channel = await self.bot.fetch_channel(self.channel_id)
            except discord.HTTPException as exc:
                raise _http_error(exc, f"channel {self.channel_id} ({self.setting})") from exc
        if not isinstance(channel, discord.abc.Messageable) or isinstance(
            channel, discord.abc.User
        ):
            raise DeliveryError(
                f"channel {self.channel_id} ({self.setting}) is not a text channel",
                transient=False,
            )
        return channel

    def _missing(self, channel: Any) -> list[str]:
        guild = getattr(channel, "guild", None)
        if guild is None or guild.me is None:
            return []
        perms = channel.permissions_for(guild.me)
        send = (
            "send_messages_in_threads" if isinstance(channel, discord.Thread) else "send_messages"
        )
        need = [
            ("view_channel", "View Channel"),
            (send, "Send Messages"),
            ("embed_links", "Embed Links"),
            ("read_message_history", "Read Message History"),
        ]
        if self.files:
            need.append(("attach_files", "Attach Files"))
        return [label for attr, label in need if not getattr(perms, attr)]

    async def check(self) -> str | None:
        try:
            channel = await self._resolve()
        except DeliveryError as exc:
            return None if exc.transient else exc.reason
        missing = self._missing(channel)
        if missing:
            return f"missing permission in #{channel} ({self.setting}): {', '.join(missing)}"
        return None

    def embeds(self, message: OutgoingMessage) -> list[discord.Embed]:
        return [to_embed(card) for card in message.cards]

    def view_for(self, message: OutgoingMessage) -> discord.ui.View | None:
        if not message.actions:
            return None
        view = AlertView(self.cog, message.actions)
        self._views.append(view)
        return view

    def close(self) -> None:
        """Stop the views attached to sent messages (the persistent view takes over)."""
        for view in self._views:
            view.stop()
        self._views.clear()

    def _remember(self, message: discord.Message) -> None:
        self._messages[message.id] = message
        self._messages.move_to_end(message.id)
        while len(self._messages) > _KEEP_MESSAGES:
            self._messages.popitem(last=False)

    async def send(self, message: OutgoingMessage) -> int:
        channel = await self._resolve()
        missing = self._missing(channel)
        if missing:
            raise DeliveryError(
                f"missing permission in #{channel} ({self.setting}): {', '.join(missing)}",
                transient=False,
            )
        kwargs: dict[str, Any] = {"embeds": self.embeds(message)}
        if message.content:
            kwargs["content"] = message.content
        if message.files:
            kwargs["files"] = [
                discord.File(io.BytesIO(data), filename=n) for n, data in message.files
            ]
        view = self.view_for(message)
        if view is not None:
            kwargs["view"] = view
        try:
            sent = await channel.send(**kwargs)
        except discord.HTTPException as exc:
            raise _http_error(exc, f"#{channel} ({self.setting})") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"network error: {exc}", transient=True) from exc
        self._remember(sent)
        return int(sent.id)

    async def edit(self, message_id: int, message: OutgoingMessage) -> None:
        channel = await self._resolve()
        try:
            target = self._messages.get(message_id) or await channel.fetch_message(message_id)
            edited = await target.edit(embeds=self.embeds(message), view=self.view_for(message))
        except discord.HTTPException as exc:
            raise _http_error(exc, f"#{channel} ({self.setting})") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"network error: {exc}", transient=True) from exc
        self._remember(edited if isinstance(edited, discord.Message) else target)


def _lines(lines: Sequence[str], limit: int = 1024) -> str:
    out: list[str] = []
    used = 0
    for n, line in enumerate(lines):
        if used + len(line) + 1 > limit - 20:
            out.append(f"… and {len(lines) - n} more")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out) or "-"


def alerts_overview(
    active: Sequence[Incident],
    history: Sequence[Incident],
    silences: Mapping[str, Silence],
    style: CardStyle,
    now: float,
    *,
    rules: int,
) -> discord.Embed:
    """``/alerts list``: what is firing, what is silenced, what happened lately."""
    live = {k: s for k, s in silences.items() if s.until > now}
    embed = discord.Embed(
        title="Alerts",
        description=f"{len(active)} firing · {len(live)} silenced · {rules} rules",
        colour=0xE74C3C if active else 0x2ECC71,
    )
    firing = []
    for i in active:
        key = f" ({i.key})" if i.key else ""
        line = f"{_ICONS.get(i.severity, '⚪')} **{i.rule}**{key} {format_value(i.value, i.unit)}"
        line += f" since <t:{int(i.started)}:R>"
        if i.acked_by is not None:
            line += f" · {'muted' if i.muted else 'acknowledged'} by {style.who(i.acked_by)}"
        firing.append(line)
    embed.add_field(
        name="Firing", value=_lines(firing) if firing else "Nothing is firing.", inline=False
    )
    if live:
        lines = [
            f"**{s.rule}** until <t:{int(s.until)}:R>" + (f" by {style.who(s.by)}" if s.by else "")
            for s in sorted(live.values(), key=lambda s: s.until)
        ]
        embed.add_field(name="Silenced", value=_lines(lines), inline=False)
    recent = []
    for i in history:
        key = f" ({i.key})" if i.key else ""
        if i.resolved is None:
            state = "firing"
            mark = _ICONS.get(i.severity, "⚪")
        else:
            state = f"lasted {duration_words(i.resolved - i.started)}"
            mark = "✅"
        recent.append(f"{mark} #{i.id} **{i.rule}**{key} <t:{int(i.fired)}:f> · {state}")
    embed.add_field(
        name="Recent", value=_lines(recent) if recent else "No alerts yet.", inline=False
    )
    return embed
