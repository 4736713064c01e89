"""Plain data model of the emulated Discord world (users, guilds, messages, requests)."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_PERMISSIONS",
    "DISCORD_EPOCH_MS",
    "MANAGER_PERMISSIONS",
    "Channel",
    "Guild",
    "InteractionRecord",
    "Member",
    "MessageFlag",
    "RecordedFile",
    "RecordedRequest",
    "Role",
    "SnowflakeFactory",
    "StoredAttachment",
    "StoredMessage",
    "User",
    "iso_timestamp",
    "snowflake_time",
]

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000

# permission bits (https://discord.com/developers/docs/topics/permissions)
ALL_PERMISSIONS = (1 << 53) - 1
DEFAULT_PERMISSIONS = (
    (1 << 0)  # create instant invite
    | (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 14)  # embed links
    | (1 << 15)  # attach files
    | (1 << 16)  # read message history
    | (1 << 18)  # use external emojis
    | (1 << 20)  # connect
    | (1 << 21)  # speak
    | (1 << 26)  # change nickname
    | (1 << 31)  # use application commands
    | (1 << 38)  # send messages in threads
)
MANAGER_PERMISSIONS = (
    DEFAULT_PERMISSIONS
    | (1 << 1)  # kick members
    | (1 << 2)  # ban members
    | (1 << 4)  # manage channels
    | (1 << 5)  # manage guild
    | (1 << 7)  # view audit log
    | (1 << 13)  # manage messages
    | (1 << 28)  # manage roles
    | (1 << 40)  # moderate members
)


class MessageFlag:
    """Message flag bits used by the emulator."""

    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12


def iso_timestamp(when: dt.datetime) -> str:
    """Discord-style ISO 8601 timestamp."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def snowflake_time(snowflake: int) -> dt.datetime:
    """Creation time encoded in a snowflake."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


class SnowflakeFactory:
    """Generates unique, time-ordered snowflakes like Discord does."""

    def __init__(self, worker: int = 1) -> None:
        self._worker = worker & 0x1F
        self._last = 0
        self._increment = itertools.count()

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (self._worker << 17) | (next(self._increment) & 0xFFF)
        if value <= self._last:
            value = self._last + 1
        self._last = value
        return value


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if self.bot:
            data["bot"] = True
        return data

    @property
    def display_name(self) -> str:
        return self.global_name or self.username


@dataclass
class Role:
    id: int
    name: str
    permissions: int = DEFAULT_PERMISSIONS
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    bot_id: int | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Channel:
    id: int
    name: str
    type: int = 0  # 0 text, 1 DM, 2 voice, 4 category
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    recipient_ids: list[int] = field(default_factory=list)

    @property
    def is_text(self) -> bool:
        return self.type in (0, 1, 2, 5)

    def payload(self, *, include_guild_id: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "flags": 0,
            "last_message_id": None,
        }
        if self.type == 1:
            data["recipients"] = []
            return data
        data.update(
            {
                "name": self.name,
                "position": self.position,
                "permission_overwrites": [],
                "parent_id": str(self.parent_id) if self.parent_id else None,
                "nsfw": False,
            }
        )
        if include_guild_id and self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.type in (0, 5):
            data.update({"topic": self.topic, "rate_limit_per_user": 0})
        elif self.type == 2:
            data.update(
                {"bitrate": 64000, "user_limit": 0, "rtc_region": None, "rate_limit_per_user": 0}
            )
        return data


@dataclass
class Member:
    user_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: dt.datetime = field(default_factory=lambda: dt.datetime(2021, 1, 1, tzinfo=dt.UTC))

    def payload(self, user: User | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso_timestamp(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if user is not None:
            data["user"] = user.payload()
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)

    def channel_named(self, name: str) -> Channel:
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"guild {self.id} has no channel named {name!r}")

    def role_named(self, name: str) -> Role:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"guild {self.id} has no role named {name!r}")

    @property
    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.type in (0, 5)]

    def permissions_for(self, user_id: int) -> int:
        """Guild-level permissions of a member (owner and administrators get everything)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        value = self.roles[self.id].permissions if self.id in self.roles else 0
        if member is not None:
            for role_id in member.roles:
                role = self.roles.get(role_id)
                if role is not None:
                    value |= role.permissions
        if value & (1 << 3):  # administrator
            return ALL_PERMISSIONS
        return value


@dataclass
class StoredAttachment:
    id: int
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass
class StoredMessage:
    """A message as the emulator keeps it; edits are applied in place."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    tts: bool = False
    type: int = 0
    webhook_id: int | None = None
    interaction_id: int | None = None
    edited_at: dt.datetime | None = None
    deleted: bool = False
    reactions: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    """Snapshots (content/embeds/components/attachment names) taken before each edit."""

    @property
    def created_at(self) -> dt.datetime:
        return snowflake_time(self.id)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def edit_count(self) -> int:
        return len(self.history)

    def attachment(self, filename: str) -> StoredAttachment:
        for attachment in self.attachments:
            if attachment.filename == filename:
                return attachment
        raise KeyError(filename)

    def snapshot(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": [dict(e) for e in self.embeds],
            "components": list(self.components),
            "attachments": [a.filename for a in self.attachments],
            "flags": self.flags,
        }


@dataclass
class InteractionRecord:
    """Everything the bot did in answer to one interaction."""

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    name: str
    payload: dict[str, Any]
    created_at: float = field(default_factory=time.monotonic)
    source_message_id: int | None = None
    response_type: int | None = None
    response_data: dict[str, Any] | None = None
    original: StoredMessage | None = None
    followups: list[StoredMessage] = field(default_factory=list)
    history: list[tuple[str, Any]] = field(default_factory=list)
    """Chronological ``(action, body)`` pairs: callback, edit_original, followup, edit_message, delete_..."""
    expired: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        return self.response_type in (5, 6)

    @property
    def messages(self) -> list[StoredMessage]:
        result = [self.original] if self.original is not None else []
        result.extend(m for m in self.followups if m not in result)
        return result


@dataclass
class RecordedFile:
    field: str
    filename: str
    content_type: str
    data: bytes

    @property
    def index(self) -> int | None:
        if self.field.startswith("files[") and self.field.endswith("]"):
            try:
                return int(self.field[6:-1])
            except ValueError:
                return None
        return None


@dataclass
class RecordedRequest:
    method: str
    path: str
    json: Any = None
    files: list[RecordedFile] = field(default_factory=list)
    status: int = 0
    query: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    injected: bool = False
    time: float = field(default_factory=time.time)

    @property
    def multipart(self) -> bool:
        return self.content_type.startswith("multipart/")

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"
