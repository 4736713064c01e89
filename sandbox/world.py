"""The emulated world: seeded users and guilds, stored messages, interactions, commands."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import mimetypes
from typing import Any

from .command_registry import CommandRegistry
from .models import (
    DEFAULT_PERMISSIONS,
    DISCORD_EPOCH_MS,
    MANAGER_PERMISSIONS,
    Channel,
    Guild,
    InteractionRecord,
    Member,
    MessageFlag,
    RecordedFile,
    Role,
    SnowflakeFactory,
    StoredAttachment,
    StoredMessage,
    User,
    iso_timestamp,
)

__all__ = ["World", "seed_id"]

log = logging.getLogger(__name__)

_SEED_MS = 1_577_836_800_000 - DISCORD_EPOCH_MS  # 2020-01-01, an even number of ms
_BOT_PERMISSIONS = DEFAULT_PERMISSIONS | (1 << 13)  # + manage messages


def seed_id(n: int) -> int:
    """Deterministic snowflake for seeded objects; ``(seed_id(n) >> 22) % k == n % k``."""
    return ((_SEED_MS + n) << 22) | (n & 0xFFF)


class World:
    """All state of the emulated Discord: users, guilds, messages, interactions, commands."""

    def __init__(self, *, guild_count: int = 3, bot_name: str = "Sandbox Bot") -> None:
        self.snowflakes = SnowflakeFactory()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.dm_channels: dict[int, Channel] = {}  # recipient user id -> DM channel
        self.messages_by_id: dict[int, StoredMessage] = {}
        self.channel_messages: dict[int, list[StoredMessage]] = {}
        self.interactions: dict[int, InteractionRecord] = {}

        self.bot_user = self._add_user(seed_id(1), "sandbox-bot", bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.commands = CommandRegistry(self.snowflakes, self.application_id)
        self.app_owner = self._add_user(seed_id(2), "ada", "Ada (app owner)")
        self.guild_owner = self._add_user(seed_id(3), "olivia", "Olivia Owner")
        self.member_user = self._add_user(seed_id(4), "max", "Max Member")
        names = ["Sandbox HQ", "Sandbox Lab", "Sandbox Ops", "Sandbox Extra"]
        for index in range(guild_count):
            name = names[index] if index < len(names) else f"Sandbox {index}"
            self._seed_guild(index, name)

    # -- seeding -----------------------------------------------------------------

    def _add_user(
        self, user_id: int, username: str, global_name: str | None, *, bot: bool = False
    ) -> User:
        user = User(id=user_id, username=username, global_name=global_name, bot=bot)
        self.users[user_id] = user
        return user

    def _seed_guild(self, index: int, name: str) -> Guild:
        gid = (_SEED_MS + index) << 22  # (gid >> 22) % shard_count == index % shard_count
        base = 100 + index * 100
        guild = Guild(id=gid, name=name, owner_id=self.guild_owner.id)
        everyone = Role(id=gid, name="@everyone", permissions=DEFAULT_PERMISSIONS, position=0)
        manager = Role(
            id=seed_id(base + 1),
            name="Manager",
            permissions=MANAGER_PERMISSIONS,
            position=2,
            color=0xE67E22,
        )
        bot_role = Role(
            id=seed_id(base + 2),
            name=self.bot_user.display_name,
            permissions=_BOT_PERMISSIONS,
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        for role in (everyone, manager, bot_role):
            guild.roles[role.id] = role
        category = Channel(id=seed_id(base + 10), name="Text Channels", type=4, guild_id=gid)
        channels = [
            category,
            Channel(
                id=seed_id(base + 11),
                name="general",
                guild_id=gid,
                position=0,
                parent_id=category.id,
            ),
            Channel(
                id=seed_id(base + 12),
                name="alerts",
                guild_id=gid,
                position=1,
                parent_id=category.id,
            ),
            Channel(
                id=seed_id(base + 13),
                name="reports",
                guild_id=gid,
                position=2,
                parent_id=category.id,
            ),
            Channel(id=seed_id(base + 14), name="Voice", type=2, guild_id=gid, position=3),
        ]
        for channel in channels:
            guild.channels[channel.id] = channel
        guild.members[self.guild_owner.id] = Member(self.guild_owner.id, roles=[manager.id])
        guild.members[self.member_user.id] = Member(self.member_user.id)
        guild.members[self.bot_user.id] = Member(self.bot_user.id, roles=[bot_role.id])
        if index == 0:
            guild.members[self.app_owner.id] = Member(self.app_owner.id)
        self.guilds[gid] = guild
        return guild

    # -- lookups -------------------------------------------------------------------

    def channel(self, channel_id: int) -> Channel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        for channel in self.dm_channels.values():
            if channel.id == channel_id:
                return channel
        return None

    def guild_of_channel(self, channel_id: int) -> Guild | None:
        channel = self.channel(channel_id)
        if channel is None or channel.guild_id is None:
            return None
        return self.guilds.get(channel.guild_id)

    def dm_channel(self, user_id: int) -> Channel:
        channel = self.dm_channels.get(user_id)
        if channel is None:
            channel = Channel(id=self.snowflakes.next(), name="", type=1, recipient_ids=[user_id])
            self.dm_channels[user_id] = channel
        return channel

    def add_user(self, username: str, global_name: str | None = None, *, bot: bool = False) -> User:
        return self._add_user(self.snowflakes.next(), username, global_name, bot=bot)

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        for record in self.interactions.values():
            if record.token == token:
                return record
        return None

    # -- payloads --------------------------------------------------------------------

    def member_payload(
        self, guild: Guild, user_id: int, *, with_user: bool = True
    ) -> dict[str, Any]:
        member = guild.members.get(user_id) or Member(user_id)
        return member.payload(self.users[user_id] if with_user else None)

    def guild_payload(self, guild: Guild, *, members: bool = True) -> dict[str, Any]:
        member_ids = list(guild.members) if members else [self.bot_user.id]
        system = guild.text_channels[0].id if guild.text_channels else None
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "application_id": None,
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": str(system) if system else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "joined_at": iso_timestamp(dt.datetime(2021, 1, 1, tzinfo=dt.UTC)),
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(guild.members),
            "members": [self.member_payload(guild, uid) for uid in member_ids],
            "channels": [c.payload(include_guild_id=False) for c in guild.channels.values()],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def channel_payload(self, channel: Channel) -> dict[str, Any]:
        data = channel.payload()
        if channel.type == 1:
            data["recipients"] = [
                self.users[uid].payload() for uid in channel.recipient_ids if uid in self.users
            ]
        return data

    def attachment_payload(self, attachment: StoredAttachment, base_url: str) -> dict[str, Any]:
        url = f"{base_url}/sandbox/attachments/{attachment.id}/{attachment.filename}"
        data: dict[str, Any] = {
            "id": str(attachment.id),
            "filename": attachment.filename,
            "size": attachment.size,
            "url": url,
            "proxy_url": url,
            "content_type": attachment.content_type,
        }
        if attachment.description:
            data["description"] = attachment.description
        return data

    def resolve_embed(
        self, embed: dict[str, Any], message: StoredMessage, base_url: str
    ) -> dict[str, Any]:
        """Copy of ``embed`` with ``attachment://name`` urls replaced by attachment urls."""
        result = copy.deepcopy(embed)
        result.setdefault("type", "rich")
        targets = [
            result.get("image"),
            result.get("thumbnail"),
            result.get("author"),
            result.get("footer"),
        ]
        for target in targets:
            if not isinstance(target, dict):
                continue
            for key in ("url", "icon_url"):
                value = target.get(key)
                if isinstance(value, str) and value.startswith("attachment://"):
                    name = value[len("attachment://") :]
                    try:
                        attachment = message.attachment(name)
                    except KeyError:
                        continue
                    url = f"{base_url}/sandbox/attachments/{attachment.id}/{attachment.filename}"
                    target[key] = url
                    target["proxy_url" if key == "url" else "proxy_icon_url"] = url
        return result

    def message_payload(
        self, message: StoredMessage, base_url: str, *, gateway: bool = False
    ) -> dict[str, Any]:
        author = self.users.get(message.author_id) or User(message.author_id, "unknown")
        data: dict[str, Any] = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": author.payload(),
            "content": message.content,
            "timestamp": iso_timestamp(message.created_at),
            "edited_timestamp": iso_timestamp(message.edited_at) if message.edited_at else None,
            "tts": message.tts,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [self.attachment_payload(a, base_url) for a in message.attachments],
            "embeds": [self.resolve_embed(e, message, base_url) for e in message.embeds],
            "pinned": False,
            "type": message.type,
            "flags": message.flags,
            "components": copy.deepcopy(message.components),
        }
        if message.reactions:
            counts: dict[str, int] = {}
            for emoji in message.reactions:
                counts[emoji] = counts.get(emoji, 0) + 1
            data["reactions"] = [
                {
                    "emoji": {"id": None, "name": name},
                    "count": n,
                    "me": True,
                    "burst_count": 0,
                    "me_burst": False,
                }
                for name, n in counts.items()
            ]
        if message.webhook_id is not None:
            data["webhook_id"] = str(message.webhook_id)
            data["application_id"] = str(self.application_id)
        record = self.interactions.get(message.interaction_id or 0)
        if record is not None:
            user = self.users[record.user_id].payload()
            data["interaction_metadata"] = {
                "id": str(record.id),
                "type": record.type,
                "user": user,
                "authorizing_integration_owners": {"0": str(record.guild_id or 0)},
            }
            data["interaction"] = {
                "id": str(record.id),
                "type": record.type,
                "name": record.name,
                "user": user,
            }
        if gateway and message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
            guild = self.guilds.get(message.guild_id)
            if guild is not None and message.author_id in guild.members:
                data["member"] = self.member_payload(guild, message.author_id, with_user=False)
        return data

    # -- messages --------------------------------------------------------------------

    def create_message(
        self,
        channel_id: int,
        author_id: int,
        body: dict[str, Any] | None,
        files: list[RecordedFile] | None = None,
        *,
        message_type: int = 0,
        webhook_id: int | None = None,
        interaction_id: int | None = None,
        extra_flags: int = 0,
    ) -> StoredMessage:
        channel = self.channel(channel_id)
        body = body or {}
        message = StoredMessage(
            id=self.snowflakes.next(),
            channel_id=channel_id,
            guild_id=channel.guild_id if channel else None,
            author_id=author_id,
            type=message_type,
            webhook_id=webhook_id,
            interaction_id=interaction_id,
            tts=bool(body.get("tts")),
            flags=(int(body.get("flags") or 0) | extra_flags),
        )
        self._apply_body(message, body, files or [], creating=True)
        self.messages_by_id[message.id] = message
        self.channel_messages.setdefault(channel_id, []).append(message)
        return message

    def edit_message(
        self, message: StoredMessage, body: dict[str, Any] | None, files: list[RecordedFile]
    ) -> None:
        message.history.append(message.snapshot())
        self._apply_body(message, body or {}, files, creating=False)
        message.edited_at = dt.datetime.now(dt.UTC)

    def _apply_body(
        self,
        message: StoredMessage,
        body: dict[str, Any],
        files: list[RecordedFile],
        *,
        creating: bool,
    ) -> None:
        if "content" in body:
            message.content = body["content"] or ""
        if "embeds" in body:
            message.embeds = [dict(e) for e in body["embeds"] or []]
        elif body.get("embed"):
            message.embeds = [dict(body["embed"])]
        if "components" in body:
            message.components = list(body["components"] or [])
        if not creating and body.get("flags") is not None:
            keep = message.flags & ~MessageFlag.SUPPRESS_EMBEDS & ~MessageFlag.LOADING
            message.flags = keep | (int(body["flags"]) & MessageFlag.SUPPRESS_EMBEDS)
        uploads = {f.index: f for f in files if f.index is not None}
        extras = [f for f in files if f.index is None and f.filename]
        if "attachments" in body and body["attachments"] is not None:
            existing = {a.id: a for a in message.attachments}
            result: list[StoredAttachment] = []
            for item in body["attachments"]:
                ident = int(item.get("id", -1))
                if ident in existing:
                    result.append(existing[ident])
                elif ident in uploads:
                    result.append(self._attachment(uploads.pop(ident), item))
            message.attachments = result + [self._attachment(f, {}) for f in uploads.values()]
        elif files:
            new = [self._attachment(f, {}) for f in list(uploads.values()) + extras]
            message.attachments = (message.attachments if not creating else []) + new

    def _attachment(self, upload: RecordedFile, meta: dict[str, Any]) -> StoredAttachment:
        filename = meta.get("filename") or upload.filename
        content_type = upload.content_type or "application/octet-stream"
        if content_type == "application/octet-stream":
            # discord.py always uploads as octet-stream; Discord derives the type from the name
            content_type = mimetypes.guess_type(filename)[0] or content_type
        return StoredAttachment(
            id=self.snowflakes.next(),
            filename=filename,
            data=upload.data,
            content_type=content_type,
            description=meta.get("description"),
        )

    def attachment(self, attachment_id: int) -> StoredAttachment | None:
        for message in self.messages_by_id.values():
            for attachment in message.attachments:
                if attachment.id == attachment_id:
                    return attachment
        return None
