"""User actions a test can trigger: messages, slash commands, buttons, modals, joins, voice."""

from __future__ import annotations

import logging
from typing import Any

from . import events
from .gateway import Gateway
from .models import InteractionRecord, Member, StoredMessage
from .world import World

__all__ = ["UserActions"]

log = logging.getLogger(__name__)


class UserActions:
    """Mixin for :class:`~sandbox.emulator.DiscordEmulator`: send gateway events to the bot as if
    users did something in Discord."""

    world: World
    gateway: Gateway

    @property
    def base_url(self) -> str:  # provided by DiscordEmulator
        raise NotImplementedError

    def _record(self, interaction: int | InteractionRecord) -> InteractionRecord:
        ident = interaction.id if isinstance(interaction, InteractionRecord) else interaction
        return self.world.interactions[ident]

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        *,
        guild_id: int | None = None,
        shard_id: int | None = None,
    ) -> int:
        """Send any DISPATCH event to the shard(s) responsible for ``guild_id``."""
        return await self.gateway.dispatch(event, data, guild_id=guild_id, shard_id=shard_id)

    async def send_message(
        self, channel_id: int, author_id: int, content: str, **extra: Any
    ) -> StoredMessage:
        """A user writes in a channel: MESSAGE_CREATE (``extra`` adds e.g. ``embeds``)."""
        message = events.build_user_message(self.world, channel_id, author_id, content, **extra)
        payload = events.user_message_payload(self.world, message, self.base_url)
        await self.gateway.dispatch("MESSAGE_CREATE", payload, guild_id=message.guild_id)
        return message

    async def slash_command(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """A user runs ``/name`` (``"group sub"`` for subcommands): INTERACTION_CREATE type 2.

        Options are typed from the synced command definition when there is one.
        """
        record = events.build_slash_command(
            self.world,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            name=name,
            options=options,
            base_url=self.base_url,
            locale=locale,
        )
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload, guild_id=guild_id)
        return record

    async def autocomplete(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        focused: str,
        options: dict[str, Any] | None = None,
    ) -> InteractionRecord:
        """A user types into option ``focused`` (value from ``options``, default ""):
        INTERACTION_CREATE type 4. The bot's choices end up in ``record.response_data``."""
        record = events.build_slash_command(
            self.world,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            name=name,
            options=options,
            base_url=self.base_url,
            focused=focused,
        )
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload, guild_id=guild_id)
        return record

    async def press_button(
        self,
        message_id: int,
        custom_id: str,
        user_id: int,
        *,
        component_type: int | None = None,
        values: list[str] | None = None,
    ) -> InteractionRecord:
        """A user clicks a button (or picks ``values`` in a select) on a stored message."""
        message = self.world.messages_by_id[message_id]
        record = events.build_component_interaction(
            self.world,
            message,
            custom_id=custom_id,
            user_id=user_id,
            base_url=self.base_url,
            component_type=component_type,
            values=values,
        )
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload, guild_id=message.guild_id)
        return record

    async def select_menu(
        self, message_id: int, custom_id: str, user_id: int, values: list[str]
    ) -> InteractionRecord:
        return await self.press_button(message_id, custom_id, user_id, values=values)

    async def submit_modal(
        self, opened_by: int | InteractionRecord, values: dict[str, Any]
    ) -> InteractionRecord:
        """The user fills in the modal the bot opened (callback type 9) and submits it."""
        record = events.build_modal_submit(
            self.world, self._record(opened_by), values, base_url=self.base_url
        )
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload, guild_id=record.guild_id)
        return record

    async def voice_state_update(
        self,
        guild_id: int,
        user_id: int,
        channel_id: int | None,
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
        self_video: bool = False,
        self_stream: bool = False,
    ) -> None:
        """A member joins (``channel_id``), moves, or leaves (``None``) a voice channel."""
        guild = self.world.guilds[guild_id]
        data = {
            "guild_id": str(guild_id),
            "channel_id": str(channel_id) if channel_id is not None else None,
            "user_id": str(user_id),
            "member": self.world.member_payload(guild, user_id),
            "session_id": f"voice-{user_id}",
            "deaf": False,
            "mute": False,
            "self_deaf": self_deaf,
            "self_mute": self_mute,
            "self_video": self_video,
            "self_stream": self_stream,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }
        await self.gateway.dispatch("VOICE_STATE_UPDATE", data, guild_id=guild_id)

    async def member_add(
        self, guild_id: int, user_id: int | None = None, *, username: str = "newcomer"
    ) -> int:
        """A user joins a guild (a new user is created unless ``user_id`` is given): GUILD_MEMBER_ADD."""
        guild = self.world.guilds[guild_id]
        if user_id is None:
            user_id = self.world.add_user(username, username.title()).id
        member = Member(user_id)
        guild.members[user_id] = member
        await self.gateway.dispatch(
            "GUILD_MEMBER_ADD",
            events.member_add_payload(self.world, guild, member),
            guild_id=guild_id,
        )
        return user_id
