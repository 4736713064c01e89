"""Builders for gateway event payloads sent by the emulator's dispatch helpers."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from typing import Any

from .models import Guild, InteractionRecord, Member, StoredMessage
from .world import World

__all__ = [
    "build_component_interaction",
    "build_modal_submit",
    "build_slash_command",
    "build_user_message",
    "find_component",
    "member_add_payload",
    "user_message_payload",
]

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@!?(\d+)>")
_SNOWFLAKE_TYPES = (6, 7, 8, 9, 11)


def _snowflake(value: Any) -> int:
    return int(getattr(value, "id", value))


def build_user_message(
    world: World, channel_id: int, author_id: int, content: str, **extra: Any
) -> StoredMessage:
    """Store a message written by a (non-bot) user; the caller dispatches MESSAGE_CREATE."""
    body: dict[str, Any] = {"content": content}
    body.update(extra)
    return world.create_message(channel_id, author_id, body)


def user_message_payload(world: World, message: StoredMessage, base_url: str) -> dict[str, Any]:
    data = world.message_payload(message, base_url, gateway=True)
    mentions = []
    for match in _MENTION.finditer(message.content):
        user = world.users.get(int(match.group(1)))
        if user is not None:
            mentions.append(user.payload())
    data["mentions"] = mentions
    return data


# -- interactions -------------------------------------------------------------------------


def _base_interaction(
    world: World, record: InteractionRecord, guild: Guild | None, base_url: str, locale: str
) -> dict[str, Any]:
    channel = world.channel(record.channel_id)
    if channel is None:
        raise ValueError(f"unknown channel {record.channel_id}")
    payload: dict[str, Any] = {
        "id": str(record.id),
        "application_id": str(world.application_id),
        "type": record.type,
        "token": record.token,
        "version": 1,
        "channel_id": str(channel.id),
        "locale": locale,
        "entitlements": [],
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if guild is not None:
        if record.user_id not in guild.members:
            raise ValueError(f"user {record.user_id} is not a member of guild {guild.id}")
        member = world.member_payload(guild, record.user_id)
        member["permissions"] = str(guild.permissions_for(record.user_id))
        channel_data = world.channel_payload(channel)
        channel_data["permissions"] = member["permissions"]
        payload.update(
            {
                "guild_id": str(guild.id),
                "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
                "guild_locale": "en-US",
                "member": member,
                "channel": channel_data,
                "app_permissions": str(guild.permissions_for(world.bot_user.id)),
                "authorizing_integration_owners": {"0": str(guild.id)},
                "context": 0,
            }
        )
    else:
        payload.update(
            {
                "user": world.users[record.user_id].payload(),
                "channel": world.channel_payload(channel),
                "app_permissions": "0",
                "authorizing_integration_owners": {"0": "0"},
                "context": 1,
            }
        )
    return payload


def _new_record(
    world: World, itype: int, guild_id: int | None, channel_id: int, user_id: int, name: str
) -> InteractionRecord:
    return InteractionRecord(
        id=world.snowflakes.next(),
        token=f"sandbox-{secrets.token_urlsafe(48)}",
        type=itype,
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        name=name,
        payload={},
    )


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _coerce(option_type: int, value: Any, definition: dict[str, Any] | None) -> Any:
    if (
        hasattr(value, "value")
        and hasattr(value, "name")
        and not isinstance(value, (str, int, float))
    ):
        value = value.value  # an app_commands.Choice
    choices = (definition or {}).get("choices") or []
    if choices and not any(c["value"] == value for c in choices):
        by_name = [c["value"] for c in choices if c["name"] == value]
        if by_name:
            value = by_name[0]
        else:
            raise ValueError(
                f"{value!r} is not one of the choices of option {definition and definition['name']!r}"
            )
    if option_type == 3:
        return str(value)
    if option_type == 4:
        return int(value)
    if option_type == 5:
        return bool(value)
    if option_type == 10:
        return float(value)
    return str(_snowflake(value))


def _resolve(
    world: World, guild: Guild | None, option_type: int, ident: int, resolved: dict[str, Any]
) -> None:
    if option_type in (6, 9) and ident in world.users:
        resolved.setdefault("users", {})[str(ident)] = world.users[ident].payload()
        if guild is not None and ident in guild.members:
            member = world.member_payload(guild, ident, with_user=False)
            member["permissions"] = str(guild.permissions_for(ident))
            resolved.setdefault("members", {})[str(ident)] = member
        return
    if guild is not None and option_type in (8, 9) and ident in guild.roles:
        resolved.setdefault("roles", {})[str(ident)] = guild.roles[ident].payload()
        return
    if option_type == 7:
        channel = world.channel(ident)
        if channel is not None:
            data = world.channel_payload(channel)
            data["permissions"] = str(guild.permissions_for(world.bot_user.id)) if guild else "0"
            resolved.setdefault("channels", {})[str(ident)] = data


def _build_options(
    world: World,
    guild: Guild | None,
    definitions: list[dict[str, Any]] | None,
    values: dict[str, Any],
    resolved: dict[str, Any],
    focused: str | None = None,
) -> list[dict[str, Any]]:
    by_name = {d["name"]: d for d in definitions or []}
    if focused is not None:
        if definitions is not None and focused not in by_name:
            raise ValueError(f"unknown option {focused!r} to autocomplete")
        values.setdefault(focused, "")
    if definitions is not None:
        unknown = set(values) - set(by_name)
        if unknown:
            raise ValueError(
                f"unknown option(s) {sorted(unknown)}; the command has {sorted(by_name)}"
            )
        missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in values]
        if missing and focused is None:
            raise ValueError(f"missing required option(s) {missing}")
    options = []
    for name, value in values.items():
        definition = by_name.get(name)
        option_type = int(definition["type"]) if definition else _infer_type(value)
        if name == focused:  # what the user is typing: always a raw string
            options.append(
                {"name": name, "type": option_type, "value": str(value), "focused": True}
            )
            continue
        coerced = _coerce(option_type, value, definition)
        if option_type in _SNOWFLAKE_TYPES:
            _resolve(world, guild, option_type, int(coerced), resolved)
        options.append({"name": name, "type": option_type, "value": coerced})
    return options


def build_slash_command(
    world: World,
    *,
    guild_id: int | None,
    channel_id: int,
    user_id: int,
    name: str,
    options: dict[str, Any] | None,
    base_url: str,
    locale: str = "en-US",
    focused: str | None = None,
) -> InteractionRecord:
    """INTERACTION_CREATE type 2 (type 4, autocomplete, when ``focused`` names the option being
    typed); ``name`` may be ``"group sub"`` for subcommands."""
    parts = name.split()
    guild = world.guilds.get(guild_id) if guild_id is not None else None
    if guild_id is not None and guild is None:
        raise ValueError(f"unknown guild {guild_id}")
    itype = 2 if focused is None else 4
    record = _new_record(world, itype, guild_id, channel_id, user_id, name)
    command = world.commands.find(parts[0], guild_id)
    resolved: dict[str, Any] = {}
    definitions: list[dict[str, Any]] | None = command.get("options", []) if command else None
    nested: list[tuple[str, int]] = []
    for index, part in enumerate(parts[1:]):
        sub_type = 2 if index < len(parts) - 2 else 1
        if definitions is not None:
            match = [d for d in definitions if d["name"] == part and d["type"] in (1, 2)]
            if not match:
                raise ValueError(f"command {parts[0]!r} has no subcommand {part!r}")
            sub_type = match[0]["type"]
            definitions = match[0].get("options", [])
        nested.append((part, sub_type))
    leaf = _build_options(world, guild, definitions, dict(options or {}), resolved, focused)
    for part, sub_type in reversed(nested):
        leaf = [{"name": part, "type": sub_type, "options": leaf}]
    data: dict[str, Any] = {
        "id": command["id"] if command else str(world.snowflakes.next()),
        "name": parts[0],
        "type": 1,
        "options": leaf,
    }
    if command is None:
        log.info("slash_command %r: the bot has not synced it; using a fake command id", name)
    elif command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    if resolved:
        data["resolved"] = resolved
    payload = _base_interaction(world, record, guild, base_url, locale)
    payload["data"] = data
    record.payload = payload
    world.interactions[record.id] = record
    return record


def _walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        yield from _walk(component.get("components") or [])
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                yield from _walk([child])


def find_component(message: StoredMessage, custom_id: str) -> dict[str, Any] | None:
    for component in _walk(message.components):
        if component.get("custom_id") == custom_id:
            return component
    return None


def build_component_interaction(
    world: World,
    message: StoredMessage,
    *,
    custom_id: str,
    user_id: int,
    base_url: str,
    component_type: int | None = None,
    values: list[str] | None = None,
    locale: str = "en-US",
) -> InteractionRecord:
    """INTERACTION_CREATE type 3 for a button press / select on a stored message."""
    component = find_component(message, custom_id)
    if component_type is None:
        if component is None:
            raise ValueError(f"message {message.id} has no component with custom_id {custom_id!r}")
        component_type = int(component["type"])
    if component is not None and component.get("disabled"):
        raise ValueError(f"component {custom_id!r} is disabled; a user cannot use it")
    guild = world.guilds.get(message.guild_id) if message.guild_id is not None else None
    record = _new_record(world, 3, message.guild_id, message.channel_id, user_id, custom_id)
    record.source_message_id = message.id
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if values is not None or component_type in (3, 5, 6, 7, 8):
        data["values"] = [str(v) for v in values or []]
    payload = _base_interaction(world, record, guild, base_url, locale)
    payload["data"] = data
    payload["message"] = world.message_payload(message, base_url, gateway=True)
    record.payload = payload
    world.interactions[record.id] = record
    return record


def build_modal_submit(
    world: World, opened_by: InteractionRecord, values: dict[str, Any], *, base_url: str
) -> InteractionRecord:
    """INTERACTION_CREATE type 5 answering the modal the bot opened in ``opened_by``."""
    if opened_by.response_type != 9 or not opened_by.response_data:
        raise ValueError(f"interaction {opened_by.id} did not open a modal")
    modal = opened_by.response_data

    def fill(component: dict[str, Any]) -> dict[str, Any] | None:
        if component.get("type") == 1:
            children = [c for c in (fill(x) for x in component.get("components", [])) if c]
            return {"type": 1, "components": children}
        if component.get("type") == 18:
            inner = fill(component.get("component") or {})
            return {"type": 18, "id": component.get("id", 0), "component": inner} if inner else None
        custom_id = component.get("custom_id")
        if custom_id is None:
            return None
        value = values.get(custom_id, component.get("value", ""))
        if component.get("type") == 4:
            return {"type": 4, "custom_id": custom_id, "value": str(value)}
        items = value if isinstance(value, list) else [value]
        return {
            "type": component["type"],
            "custom_id": custom_id,
            "values": [str(v) for v in items],
        }

    guild = world.guilds.get(opened_by.guild_id) if opened_by.guild_id is not None else None
    record = _new_record(
        world, 5, opened_by.guild_id, opened_by.channel_id, opened_by.user_id, modal["custom_id"]
    )
    components = [c for c in (fill(x) for x in modal.get("components", [])) if c]
    payload = _base_interaction(world, record, guild, base_url, "en-US")
    payload["data"] = {"custom_id": modal["custom_id"], "components": components}
    record.payload = payload
    world.interactions[record.id] = record
    return record


def member_add_payload(world: World, guild: Guild, member: Member) -> dict[str, Any]:
    data = member.payload(world.users[member.user_id])
    data["guild_id"] = str(guild.id)
    return data
