"""Run slash commands and component interactions under dpytest and capture the replies.

dpytest fakes the gateway and the bot's HTTP client, but interaction replies (responses,
defers, follow-ups, edits of the original response) go through
``discord.webhook.async_.AsyncWebhookAdapter`` instead. :class:`RecordingWebhookAdapter`
replaces that adapter, records every request as a :class:`CapturedRequest` and answers
with plausible fake Discord payloads (messages have ids, so ``followup.send(wait=True)``,
``edit_original_response`` and ``original_response`` work).

:func:`invoke_slash` builds a realistic ``INTERACTION_CREATE`` payload and feeds it to
``ConnectionState.parse_interaction_create`` so the real ``CommandTree`` path runs
(interaction_check, checks, transformers, cog/tree error handlers). :func:`press_button`
does the same for message components so persistent views can be tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import enum
import itertools
import json
import mimetypes
import pathlib
import re
import secrets
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import discord
import discord.interactions as _dpy_interactions
import discord.webhook.async_ as _dpy_webhook
from discord import app_commands
from discord.webhook.async_ import AsyncWebhookAdapter

from tests.helpers import discord_spec

__all__ = [
    "CapturedRequest",
    "ChannelMessageRecorder",
    "DefaultPermissionsDenied",
    "InteractionResult",
    "RecordingWebhookAdapter",
    "SlashResult",
    "build_component_payload",
    "build_slash_payload",
    "current_recorder",
    "install_channel_message_recorder",
    "install_slash_support",
    "invoke_slash",
    "press_button",
    "recording_webhooks",
]

_PATCHED_MODULES = (_dpy_webhook, _dpy_interactions)
_ACTIVE: list[tuple[RecordingWebhookAdapter, ContextVar[AsyncWebhookAdapter]]] = []
_MESSAGE_RE = re.compile(r"/messages/(?P<id>@original|\d+)$")
_TRACKED_TASK_PREFIXES = (
    "CommandTree-invoker",
    "discord-ui-view-dispatch",
    "discord-ui-dynamic-item",
    "discord-ui-modal-dispatch",
)
_EPHEMERAL = 1 << 6
_LOADING = 1 << 7
_ATTACHMENT_SIZE_LIMIT = 25 * 1024 * 1024
_id_counter = itertools.count(1)


def _new_id() -> int:
    """A fresh, unique, time-based snowflake."""
    return discord.utils.time_snowflake(discord.utils.utcnow()) + (next(_id_counter) % 4096)


def _iso(value: dt.datetime | None = None) -> str:
    return (value or discord.utils.utcnow()).isoformat()


class _FakeResponse(NamedTuple):
    """Enough of an aiohttp response for ``discord.HTTPException``."""

    status: int
    reason: str


# ------------------------------------------------------------------ captured data


@dataclass
class CapturedRequest:
    """One request discord.py sent through the webhook adapter."""

    method: str
    #: Resolved API path, e.g. ``/interactions/123/tok/callback``.
    path: str
    #: Route template, e.g. ``/interactions/{webhook_id}/{webhook_token}/callback``.
    route: str
    #: JSON body (``payload_json`` for multipart requests), ``None`` if there was none.
    json: dict[str, Any] | None
    #: Uploaded files as ``(filename, bytes)``.
    files: list[tuple[str, bytes]] = field(default_factory=list)
    #: Query string parameters.
    params: dict[str, Any] | None = None
    #: Interaction/webhook token of the route.
    token: str | None = None
    #: Spec violations found when validating (empty if valid or not validated).
    violations: list[str] = field(default_factory=list)

    @property
    def is_callback(self) -> bool:
        """True for ``POST /interactions/{id}/{token}/callback`` (the initial response)."""
        return self.route.endswith("/callback")

    @property
    def is_followup(self) -> bool:
        """True for ``POST /webhooks/{app}/{token}`` (``interaction.followup.send``)."""
        return self.method == "POST" and self.route == "/webhooks/{webhook_id}/{webhook_token}"

    @property
    def is_edit(self) -> bool:
        """True for ``PATCH .../messages/@original`` or ``.../messages/{id}``."""
        return self.method == "PATCH" and "/messages/" in self.route

    @property
    def callback_type(self) -> int | None:
        """Interaction callback type (4 reply, 5 defer, 6 deferred update, 7 update, 9 modal)."""
        if self.is_callback and self.json is not None:
            return self.json.get("type")
        return None

    @property
    def message(self) -> dict[str, Any] | None:
        """The message body carried by this request, if any."""
        if self.json is None:
            return None
        if self.is_callback:
            data = self.json.get("data")
            return data if isinstance(data, dict) and self.callback_type in (4, 5, 7) else None
        if self.is_followup or self.is_edit:
            return self.json
        return None

    @property
    def ephemeral(self) -> bool:
        """True if this request's message carries the EPHEMERAL flag."""
        message = self.message
        return bool(message and int(message.get("flags") or 0) & _EPHEMERAL)


@dataclass
class InteractionResult:
    """Everything that happened while one interaction was handled."""

    #: The :class:`discord.Interaction` the bot saw (``None`` if it was never created).
    interaction: discord.Interaction | None
    #: Captured requests of this interaction, in order.
    requests: list[CapturedRequest]
    #: Errors that reached ``CommandTree.on_error`` / ``View.on_error``.
    errors: list[Exception] = field(default_factory=list)
    #: Fake message payloads "Discord" created or edited for this interaction, by id.
    sent_messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The raw ``INTERACTION_CREATE`` payload that was dispatched.
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def responses(self) -> list[CapturedRequest]:
        """Initial interaction callbacks (normally exactly one)."""
        return [r for r in self.requests if r.is_callback]

    @property
    def response(self) -> CapturedRequest | None:
        """The first interaction callback, if any."""
        return next(iter(self.responses), None)

    @property
    def followups(self) -> list[CapturedRequest]:
        """``interaction.followup.send`` requests."""
        return [r for r in self.requests if r.is_followup]

    @property
    def edits(self) -> list[CapturedRequest]:
        """Edits of the original response or of follow-up messages."""
        return [r for r in self.requests if r.is_edit]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Message bodies across response, follow-ups and edits, in order."""
        return [m for r in self.requests if (m := r.message) is not None]

    @property
    def embed_dicts(self) -> list[dict[str, Any]]:
        """All embeds (raw dicts) across response, edits and follow-ups."""
        return [e for m in self.messages for e in (m.get("embeds") or [])]

    @property
    def embeds(self) -> list[discord.Embed]:
        """All embeds across response, edits and follow-ups, as :class:`discord.Embed`."""
        return [discord.Embed.from_dict(e) for e in self.embed_dicts]

    @property
    def files(self) -> list[tuple[str, bytes]]:
        """All uploaded files as ``(filename, bytes)``."""
        return [f for r in self.requests for f in r.files]

    @property
    def contents(self) -> list[str]:
        """Non-empty ``content`` strings across response, edits and follow-ups."""
        return [c for m in self.messages if (c := m.get("content"))]

    @property
    def content(self) -> str:
        """All contents joined by newlines (``""`` if none) - handy for ``in`` asserts."""
        return "\n".join(self.contents)

    @property
    def ephemeral(self) -> bool:
        """Whether the initial response (or, without one, the first follow-up) is ephemeral."""
        first = self.response
        if first is not None and first.callback_type in (4, 5):
            return first.ephemeral
        followups = self.followups
        return bool(followups) and followups[0].ephemeral

    @property
    def deferred(self) -> bool:
        """True if the interaction was acknowledged with a defer (callback type 5 or 6)."""
        first = self.response
        return first is not None and first.callback_type in (5, 6)

    @property
    def command_failed(self) -> bool:
        """``Interaction.command_failed`` (checks or the command raised)."""
        return bool(self.interaction and self.interaction.command_failed)

    def last_message(self) -> dict[str, Any]:
        """The most recently created/edited fake message payload (for :func:`press_button`)."""
        if not self.sent_messages:
            raise LookupError("this interaction created no message")
        return next(reversed(self.sent_messages.values()))


#: Alias used for slash command results.
SlashResult = InteractionResult


class DefaultPermissionsDenied(Exception):
    """Raised by :func:`invoke_slash` (``enforce_default_permissions=True``) when Discord
    would hide the command from the member because of ``default_permissions``."""


# ---------------------------------------------------------------- recording adapter


class RecordingWebhookAdapter(AsyncWebhookAdapter):
    """An ``AsyncWebhookAdapter`` that records requests and fakes Discord's answers."""

    def __init__(self, *, validate: bool = True) -> None:
        super().__init__()
        self.validate = validate
        self.requests: list[CapturedRequest] = []
        #: token -> message id ("@original" included) -> fake message payload
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        #: token -> interaction info registered by invoke_slash/press_button
        self._interactions: dict[str, dict[str, Any]] = {}

    # -- installation --------------------------------------------------------

    def install(self) -> None:
        """Make discord.py use this adapter for every webhook/interaction request."""
        var: ContextVar[AsyncWebhookAdapter] = ContextVar("recording_webhook_adapter", default=self)
        _ACTIVE.append((self, var))
        for module in _PATCHED_MODULES:
            module.async_context = var  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        """Restore the adapter that was active before :meth:`install`."""
        for index in range(len(_ACTIVE) - 1, -1, -1):
            if _ACTIVE[index][0] is self:
                del _ACTIVE[index]
                break
        var = _ACTIVE[-1][1] if _ACTIVE else _ORIGINAL_CONTEXT
        for module in _PATCHED_MODULES:
            module.async_context = var  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def installed(self) -> Iterator[RecordingWebhookAdapter]:
        """Context manager form of :meth:`install` / :meth:`uninstall`."""
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    # -- queries -------------------------------------------------------------

    def for_token(self, token: str) -> list[CapturedRequest]:
        """Requests made with one interaction token."""
        return [r for r in self.requests if r.token == token]

    def messages_for_token(self, token: str) -> dict[str, dict[str, Any]]:
        """Fake messages created for one interaction token (by id, ``@original`` excluded)."""
        return {k: v for k, v in self._messages.get(token, {}).items() if k != "@original"}

    @property
    def violations(self) -> list[str]:
        """Every spec violation recorded so far."""
        return [f"{r.method} {r.route}: {v}" for r in self.requests for v in r.violations]

    def assert_valid(self) -> None:
        """Raise ``AssertionError`` if any captured payload violated Discord's spec."""
        if self.violations:
            raise AssertionError(
                "captured payloads violate Discord's API spec:\n" + "\n".join(self.violations)
            )

    def clear(self) -> None:
        """Forget all captured requests and fake messages."""
        self.requests.clear()
        self._messages.clear()
        self._interactions.clear()

    def register_interaction(
        self,
        token: str,
        *,
        interaction_id: int,
        interaction_type: int,
        channel_id: int | None,
        guild_id: int | None,
        application_id: int,
        author: dict[str, Any],
        user: dict[str, Any] | None = None,
        source_message: dict[str, Any] | None = None,
    ) -> None:
        """Tell the adapter about an interaction so fake answers look right."""
        self._interactions[token] = {
            "id": interaction_id,
            "type": interaction_type,
            "channel_id": channel_id,
            "guild_id": guild_id,
            "application_id": application_id,
            "author": author,
            "user": user,
            "source_message": copy.deepcopy(source_message) if source_message else None,
        }

    # -- the adapter hook ----------------------------------------------------

    async def request(
        self,
        route: discord.http.Route,
        session: Any = None,
        *,
        payload: dict[str, Any] | None = None,
        multipart: list[dict[str, Any]] | None = None,
        proxy: str | None = None,
        proxy_auth: Any = None,
        files: Sequence[discord.File] | None = None,
        reason: str | None = None,
        auth_token: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Record the request and answer like Discord would."""
        body: dict[str, Any] | None = copy.deepcopy(payload) if payload is not None else None
        if body is None and multipart:
            for part in multipart:
                if part.get("name") == "payload_json":
                    body = json.loads(part["value"])
        captured = CapturedRequest(
            method=route.method,
            path=route.url[len(discord.http.Route.BASE) :],
            route=route.path,
            json=body,
            files=[(f.filename or "untitled", _read_file(f)) for f in files or ()],
            params=dict(params) if params else None,
            token=route.webhook_token,
        )
        if self.validate:
            captured.violations = _validate_request(captured)
        self.requests.append(captured)
        await asyncio.sleep(0)
        return self._answer(captured, route)

    # -- fake Discord --------------------------------------------------------

    def _answer(self, req: CapturedRequest, route: discord.http.Route) -> Any:
        token = req.token or ""
        store = self._messages.setdefault(token, {})
        info = self._interactions.get(token, {})
        if req.is_callback:
            return self._answer_callback(req, store, info)
        match = _MESSAGE_RE.search(req.path)
        if req.is_followup:
            return self._answer_followup(req, store, info)
        if match is None:
            return None
        key = match.group("id")
        if req.method == "GET":
            return copy.deepcopy(self._lookup(store, key))
        if req.method == "DELETE":
            message = self._lookup(store, key)
            store.pop(str(message["id"]), None)
            if store.get("@original") is message:
                store.pop("@original")
            return None
        if req.method == "PATCH":
            message = self._lookup(store, key)
            self._apply(message, req, edited=True)
            return copy.deepcopy(message)
        return None

    @staticmethod
    def _lookup(store: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
        try:
            return store[key]
        except KeyError:
            raise discord.NotFound(
                _FakeResponse(404, "Not Found"), {"code": 10008, "message": "Unknown Message"}
            ) from None

    def _answer_callback(
        self, req: CapturedRequest, store: dict[str, dict[str, Any]], info: dict[str, Any]
    ) -> dict[str, Any]:
        cb_type = req.callback_type
        data = (req.json or {}).get("data") or {}
        interaction = {
            "id": str(info.get("id") or req.path.split("/")[2]),
            "type": info.get("type", 2),
        }
        result: dict[str, Any] = {"interaction": interaction}
        message: dict[str, Any] | None = None
        if cb_type in (4, 5):
            message = self._new_message(info, req, loading=cb_type == 5)
            store["@original"] = store[message["id"]] = message
        elif cb_type in (6, 7) and info.get("source_message"):
            message = info["source_message"]
            store["@original"] = store[str(message["id"])] = message
            if cb_type == 7:
                self._apply(message, req, edited=True)
        if message is not None:
            interaction["response_message_id"] = str(message["id"])
            interaction["response_message_loading"] = cb_type == 5
            interaction["response_message_ephemeral"] = bool(
                int(data.get("flags") or 0) & _EPHEMERAL
            )
            result["resource"] = {"type": cb_type, "message": copy.deepcopy(message)}
        elif cb_type in (4, 5, 6, 7):
            result["resource"] = {"type": cb_type}
        return result

    def _answer_followup(
        self, req: CapturedRequest, store: dict[str, dict[str, Any]], info: dict[str, Any]
    ) -> dict[str, Any] | None:
        original = store.get("@original")
        if original is not None and int(original.get("flags") or 0) & _LOADING:
            # Discord turns the first follow-up of a deferred reply into the original message.
            original["flags"] = int(original["flags"]) & ~_LOADING
            self._apply(original, req, edited=False, keep_flags=True)
            message = original
        else:
            message = self._new_message(info, req)
            store[message["id"]] = message
        wait = str((req.params or {}).get("wait", "0")) not in ("0", "False", "false")
        return copy.deepcopy(message) if wait else None

    def _new_message(
        self, info: dict[str, Any], req: CapturedRequest, *, loading: bool = False
    ) -> dict[str, Any]:
        app_id = str(
            info.get("application_id") or (req.path.split("/")[2] if req.is_followup else 0)
        )
        channel_id = info.get("channel_id")
        message: dict[str, Any] = {
            "id": str(_new_id()),
            "channel_id": str(channel_id or 0),
            "author": info.get("author")
            or {
                "id": app_id,
                "username": "FakeApp",
                "discriminator": "0000",
                "avatar": None,
                "bot": True,
            },
            "content": "",
            "timestamp": _iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 20 if info.get("type", 2) == 2 else 19,
            "flags": 0,
            "webhook_id": app_id,
            "application_id": app_id,
        }
        if info.get("guild_id"):
            message["guild_id"] = str(info["guild_id"])
        if info.get("id"):
            message["interaction_metadata"] = {
                "id": str(info["id"]),
                "type": info.get("type", 2),
                "user": info.get("user") or message["author"],
                "authorizing_integration_owners": {},
            }
        self._apply(message, req, edited=False)
        if loading:
            message["flags"] = int(message["flags"]) | _LOADING
        return message

    @staticmethod
    def _apply(
        message: dict[str, Any], req: CapturedRequest, *, edited: bool, keep_flags: bool = False
    ) -> None:
        body = req.message if req.is_callback else req.json
        body = body or {}
        for key in ("content", "embeds", "components", "tts", "poll"):
            if key in body:
                message[key] = (
                    copy.deepcopy(body[key])
                    if body[key] is not None
                    else ([] if key != "content" else "")
                )
        if "flags" in body and body["flags"] is not None:
            flags = int(body["flags"])
            message["flags"] = (int(message.get("flags") or 0) | flags) if keep_flags else flags
        if "attachments" in body and body["attachments"] is not None:
            message["attachments"] = _attachments(message, body["attachments"], req.files)
        elif req.files:
            message["attachments"] = message.get("attachments", []) + _attachments(
                message, [], req.files
            )
        if edited:
            message["edited_timestamp"] = _iso()


def _attachments(
    message: dict[str, Any], requested: list[dict[str, Any]], files: list[tuple[str, bytes]]
) -> list[dict[str, Any]]:
    """Turn request ``attachments`` + uploaded files into response attachment objects."""
    existing = {str(a["id"]): a for a in message.get("attachments", [])}
    out: list[dict[str, Any]] = []
    used: set[int] = set()
    for entry in requested:
        key = str(entry.get("id"))
        if key in existing and len(key) > 5:
            out.append(existing[key])
            continue
        index = int(entry.get("id", len(used))) if str(entry.get("id", "")).isdigit() else len(used)
        if index < len(files):
            used.add(index)
            out.append(
                _attachment_payload(
                    message, entry.get("filename") or files[index][0], files[index][1]
                )
            )
    for index, (filename, data) in enumerate(files):
        if index not in used:
            out.append(_attachment_payload(message, filename, data))
    return out


def _attachment_payload(message: dict[str, Any], filename: str, data: bytes) -> dict[str, Any]:
    attachment_id = str(_new_id())
    url = (
        f"https://cdn.discordapp.com/attachments/{message['channel_id']}/{attachment_id}/{filename}"
    )
    return {
        "id": attachment_id,
        "filename": filename,
        "size": len(data),
        "url": url,
        "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
        "content_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
    }


def _read_file(file: discord.File) -> bytes:
    file.reset()
    data = file.fp.read()
    file.reset()
    return data


def _validate_request(req: CapturedRequest) -> list[str]:
    """Validate a captured body with :mod:`discord_spec`; return violation lines."""
    if req.json is None:
        return []
    try:
        if req.is_callback:
            discord_spec.validate_interaction_response(req.json)
        elif req.is_followup:
            discord_spec.validate_webhook_message(req.json)
        elif req.is_edit:
            discord_spec.validate_webhook_message(req.json, edit=True)
    except AssertionError as exc:
        return [str(exc)]
    return []


_ORIGINAL_CONTEXT: ContextVar[AsyncWebhookAdapter] = _dpy_webhook.async_context


def current_recorder() -> RecordingWebhookAdapter | None:
    """The innermost installed :class:`RecordingWebhookAdapter`, if any."""
    return _ACTIVE[-1][0] if _ACTIVE else None


@contextlib.contextmanager
def recording_webhooks(*, validate: bool = True) -> Iterator[RecordingWebhookAdapter]:
    """Install a fresh :class:`RecordingWebhookAdapter` for the ``with`` block."""
    with RecordingWebhookAdapter(validate=validate).installed() as recorder:
        yield recorder


class ChannelMessageRecorder:
    """Records and validates (``MessageCreateRequest``) every ``channel.send`` of a dpytest bot.

    dpytest's ``FakeHttp.send_message`` turns sends into fake messages but never looks at
    the JSON; this wraps it so alerts/reports sent to channels get the same spec checks.
    Violations are collected (not raised inside the cog); see :meth:`assert_valid`.
    """

    def __init__(self, *, validate: bool = True) -> None:
        self.validate = validate
        self.requests: list[CapturedRequest] = []

    @property
    def violations(self) -> list[str]:
        """Every spec violation recorded so far."""
        return [f"POST {r.path}: {v}" for r in self.requests for v in r.violations]

    def assert_valid(self) -> None:
        """Raise ``AssertionError`` if any channel message violated Discord's spec."""
        if self.violations:
            raise AssertionError(
                "channel messages violate Discord's API spec:\n" + "\n".join(self.violations)
            )

    def clear(self) -> None:
        """Forget captured channel messages."""
        self.requests.clear()

    def record(self, channel_id: int, params: Any) -> CapturedRequest:
        """Capture one ``send_message`` call's ``MultipartParameters``."""
        body: dict[str, Any] | None = copy.deepcopy(params.payload) if params.payload else None
        if body is None and params.multipart:
            for part in params.multipart:
                if part.get("name") == "payload_json":
                    body = json.loads(part["value"])
        captured = CapturedRequest(
            method="POST",
            path=f"/channels/{channel_id}/messages",
            route="/channels/{channel_id}/messages",
            json=body,
            files=[(f.filename or "untitled", _read_file(f)) for f in params.files or ()],
        )
        if self.validate and body is not None:
            try:
                discord_spec.validate_channel_message(body)
            except AssertionError as exc:
                captured.violations = [str(exc)]
        self.requests.append(captured)
        return captured


def install_channel_message_recorder(
    bot: discord.Client, *, validate: bool = True
) -> ChannelMessageRecorder:
    """Wrap the (dpytest) ``bot.http.send_message`` to record/validate channel messages.

    Idempotent per HTTP client: returns the existing recorder if already installed.
    """
    http: Any = bot.http
    existing = getattr(http, "_helpers_channel_recorder", None)
    if isinstance(existing, ChannelMessageRecorder):
        return existing
    recorder = ChannelMessageRecorder(validate=validate)
    original = http.send_message

    async def send_message(channel_id: int, *, params: Any) -> Any:
        # dpytest's FakeHttp.send_message reads the caller's local ``channel`` through
        # frame inspection, so keep a local of that name in this wrapper frame.
        channel = sys._getframe(1).f_locals.get("channel")  # noqa: F841
        recorder.record(channel_id, params)
        return await original(channel_id, params=params)

    http.send_message = send_message
    http._helpers_channel_recorder = recorder
    return recorder


# ------------------------------------------------------------------- bot plumbing


def install_slash_support(bot: discord.Client) -> None:
    """Fix dpytest's fresh state so interactions reach the tree (idempotent).

    ``dpytest.configure`` replaces ``bot._connection`` with a ``FakeState`` whose
    ``_command_tree`` is ``None`` and whose ``application_id`` is unset.
    """
    state = bot._connection
    tree = getattr(bot, "tree", None)
    if tree is not None and state._command_tree is None:
        state._command_tree = tree
    if state.application_id is None and state.user is not None:
        state.application_id = state.user.id


def _user_payload(user: discord.abc.User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.name,
        "discriminator": user.discriminator or "0",
        "global_name": getattr(user, "global_name", None),
        "avatar": None,
        "bot": bool(user.bot),
    }


def _member_payload(
    member: discord.Member, permissions: discord.Permissions | None
) -> dict[str, Any]:
    joined = member.joined_at if isinstance(member.joined_at, dt.datetime) else None
    out: dict[str, Any] = {
        "user": _user_payload(member),
        "roles": [str(r.id) for r in member.roles if not r.is_default()],
        "joined_at": _iso(joined),
        "nick": member.nick,
        "avatar": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
    }
    if permissions is not None:
        out["permissions"] = str(permissions.value)
    return out


def _role_payload(role: discord.Role) -> dict[str, Any]:
    return {
        "id": str(role.id),
        "name": role.name,
        "color": role.colour.value,
        "hoist": role.hoist,
        "position": role.position,
        "permissions": str(role.permissions.value),
        "managed": role.managed,
        "mentionable": role.mentionable,
        "flags": 0,
    }


def _channel_payload(channel: Any, member: discord.Member | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(channel.id),
        "type": int(getattr(channel.type, "value", channel.type)),
        "name": getattr(channel, "name", None) or "",
        "position": getattr(channel, "position", 0) or 0,
        "nsfw": bool(getattr(channel, "nsfw", False)),
        "flags": 0,
    }
    guild = getattr(channel, "guild", None)
    if guild is not None:
        out["guild_id"] = str(guild.id)
    if getattr(channel, "category_id", None):
        out["parent_id"] = str(channel.category_id)
    if getattr(channel, "topic", None):
        out["topic"] = channel.topic
    if member is not None and hasattr(channel, "permissions_for"):
        out["permissions"] = str(channel.permissions_for(member).value)
    else:
        out["permissions"] = "0"
    return out


def _attachment_option(value: Any) -> dict[str, Any]:
    if isinstance(value, discord.Attachment):
        return {
            "id": str(value.id),
            "filename": value.filename,
            "size": value.size,
            "url": value.url,
            "proxy_url": value.proxy_url,
            "content_type": value.content_type,
        }
    if isinstance(value, pathlib.Path):
        url = value.resolve().as_uri()  # dpytest's FakeHttp.get_from_cdn reads file:// URLs
        return {
            "id": str(_new_id()),
            "filename": value.name,
            "size": value.stat().st_size,
            "url": url,
            "proxy_url": url,
            "content_type": mimetypes.guess_type(value.name)[0],
        }
    if isinstance(value, Mapping):
        data = dict(value)
        data.setdefault("id", str(_new_id()))
        data["id"] = str(data["id"])
        data.setdefault("size", 0)
        data.setdefault(
            "url", f"https://cdn.discordapp.com/attachments/0/{data['id']}/{data.get('filename')}"
        )
        data.setdefault("proxy_url", data["url"])
        return data
    raise TypeError(
        "attachment option needs discord.Attachment, pathlib.Path or dict, "
        f"not {type(value).__name__}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, app_commands.Choice):
        return value.value
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _option_value(
    param: app_commands.Parameter,
    value: Any,
    resolved: dict[str, dict[str, Any]],
    guild: discord.Guild | None,
    channel_member: discord.Member | None,
) -> Any:
    """Convert a Python test value into the JSON value Discord would send."""
    kind = param.type
    option_type = discord.AppCommandOptionType
    value = _plain(value)
    if kind is option_type.string:
        value = str(value)
    elif kind is option_type.integer:
        if isinstance(value, bool) or int(value) != value:
            raise TypeError(f"option {param.display_name!r} needs an integer, got {value!r}")
        value = int(value)
    elif kind is option_type.number:
        value = float(value)
    elif kind is option_type.boolean:
        if not isinstance(value, bool):
            raise TypeError(f"option {param.display_name!r} needs a bool, got {value!r}")
    elif kind in (option_type.user, option_type.mentionable) and isinstance(
        value, (discord.abc.User, int)
    ):
        user: Any = value
        if isinstance(value, int):
            found = guild.get_member(value) if guild else None
            user = found if found is not None else discord.Object(id=value)
        if isinstance(user, discord.abc.User):
            resolved.setdefault("users", {})[str(user.id)] = _user_payload(user)
            if isinstance(user, discord.Member):
                member_data = _member_payload(user, None)
                member_data.pop("user")
                resolved.setdefault("members", {})[str(user.id)] = member_data
        return str(user.id)
    elif kind in (option_type.role, option_type.mentionable) and isinstance(value, discord.Role):
        resolved.setdefault("roles", {})[str(value.id)] = _role_payload(value)
        return str(value.id)
    elif kind is option_type.channel:
        channel = guild.get_channel(value) if isinstance(value, int) and guild else value
        if channel is None or isinstance(channel, int):
            raise LookupError(f"channel {value!r} not found in {guild}")
        resolved.setdefault("channels", {})[str(channel.id)] = _channel_payload(
            channel, channel_member
        )
        return str(channel.id)
    elif kind is option_type.attachment:
        data = _attachment_option(value)
        resolved.setdefault("attachments", {})[data["id"]] = data
        return data["id"]
    else:
        raise TypeError(
            f"cannot build option {param.display_name!r} of type {kind!r} from {value!r}"
        )

    choices = [c.value for c in param.choices]
    if choices and value not in choices:
        raise ValueError(
            f"Discord would reject {param.display_name}={value!r}: not one of the choices {choices}"
        )
    low, high = param.min_value, param.max_value
    measured = len(value) if isinstance(value, str) else value
    numeric = not isinstance(value, bool) and isinstance(measured, (int, float))
    if numeric and ((low is not None and measured < low) or (high is not None and measured > high)):
        raise ValueError(
            f"Discord would reject {param.display_name}={value!r}: outside [{low}, {high}]"
        )
    return value


def _resolve_command(
    tree: app_commands.CommandTree, name: str, subcommand: str | None, guild: discord.Guild | None
) -> tuple[app_commands.Command[Any, ..., Any], list[str], bool]:
    """Find the leaf command; return it, the path of names and whether it is guild-scoped."""
    parts = name.split() + (subcommand.split() if subcommand else [])
    if not parts:
        raise ValueError("empty command name")
    root = tree.get_command(parts[0], guild=guild) if guild is not None else None
    guild_scoped = root is not None
    if root is None:
        root = tree.get_command(parts[0])
    if root is None:
        known = sorted(c.name for c in tree.get_commands(guild=guild)) + sorted(
            c.name for c in tree.get_commands()
        )
        raise LookupError(
            f"no slash command {parts[0]!r} in bot.tree (known: {known}); "
            "did you `await bot.add_cog(...)`?"
        )
    command: Any = root
    for part in parts[1:]:
        if not isinstance(command, app_commands.Group):
            raise LookupError(f"{command.qualified_name!r} has no subcommands")
        child = command.get_command(part)
        if child is None:
            raise LookupError(f"{command.qualified_name!r} has no subcommand {part!r}")
        command = child
    if isinstance(command, app_commands.Group):
        subs = [c.name for c in command.commands]
        raise LookupError(f"{command.qualified_name!r} is a group; pass subcommand= one of {subs}")
    if not isinstance(command, app_commands.Command):
        raise LookupError(f"{parts[0]!r} is not a slash command")
    return command, parts, guild_scoped


def _check_default_permissions(
    command: app_commands.Command[Any, ..., Any],
    permissions: discord.Permissions,
    member: discord.abc.User,
) -> None:
    """Emulate Discord hiding a command whose ``default_member_permissions`` the member lacks.

    Only the top-level command's ``default_permissions`` count; administrators always pass.
    """
    required = (command.root_parent or command).default_permissions
    if required is None or permissions.administrator:
        return
    if required.value == 0 or not permissions >= required:
        missing = [name for name, on in required if on and not getattr(permissions, name)]
        raise DefaultPermissionsDenied(
            f"/{command.qualified_name} needs default_member_permissions "
            f"{missing or 'administrator'}; {member} has permissions {permissions.value}"
        )


_command_ids: dict[tuple[str, int | None], int] = {}


def _interaction_base(
    bot: discord.Client,
    *,
    interaction_type: int,
    guild: discord.Guild | None,
    channel: Any,
    member: discord.abc.User,
    app_permissions: discord.Permissions | int | None,
    locale: str,
) -> tuple[dict[str, Any], discord.Permissions | None]:
    """Fields shared by every INTERACTION_CREATE payload."""
    app_id = bot.application_id or bot.user.id  # type: ignore[union-attr]
    payload: dict[str, Any] = {
        "id": str(_new_id()),
        "application_id": str(app_id),
        "type": interaction_type,
        "token": f"test-token-{secrets.token_hex(16)}",
        "version": 1,
        "locale": locale,
        "entitlements": [],
        "attachment_size_limit": _ATTACHMENT_SIZE_LIMIT,
    }
    if app_permissions is None:
        app_permissions = discord.Permissions.all()
    if isinstance(app_permissions, discord.Permissions):
        app_permissions = app_permissions.value
    payload["app_permissions"] = str(int(app_permissions))
    permissions: discord.Permissions | None = None
    if guild is not None:
        live = guild.get_member(member.id)
        if live is None:
            raise LookupError(f"{member} is not a member of {guild}")
        permissions = (
            channel.permissions_for(live)
            if hasattr(channel, "permissions_for")
            else live.guild_permissions
        )
        payload.update(
            guild_id=str(guild.id),
            guild={"id": str(guild.id), "locale": locale, "features": list(guild.features)},
            guild_locale=locale,
            member=_member_payload(live, permissions),
            authorizing_integration_owners={"0": str(guild.id)},
            context=0,
        )
    else:
        payload.update(
            user=_user_payload(member),
            authorizing_integration_owners={"1": str(member.id)},
            context=1,
        )
    if channel is not None:
        payload["channel_id"] = str(channel.id)
        live_member = guild.get_member(member.id) if guild is not None else None
        payload["channel"] = _channel_payload(channel, live_member)
    return payload, permissions


def build_slash_payload(
    bot: discord.Client,
    name: str,
    *,
    guild: discord.Guild | None,
    channel: Any,
    member: discord.abc.User,
    options: Mapping[str, Any] | None = None,
    subcommand: str | None = None,
    app_permissions: discord.Permissions | int | None = None,
    locale: str = "en-US",
) -> tuple[dict[str, Any], app_commands.Command[Any, ..., Any], discord.Permissions | None]:
    """Build a type-2 ``INTERACTION_CREATE`` payload.

    Returns the payload, the leaf command and the member's channel permissions.
    """
    tree: Any = getattr(bot, "tree", None) or bot._connection._command_tree
    if tree is None:
        raise RuntimeError("bot has no CommandTree (use commands.Bot or set bot.tree)")
    command, parts, guild_scoped = _resolve_command(tree, name, subcommand, guild)
    payload, permissions = _interaction_base(
        bot,
        interaction_type=2,
        guild=guild,
        channel=channel,
        member=member,
        app_permissions=app_permissions,
        locale=locale,
    )
    provided = dict(options or {})
    params = {p.name: p for p in command.parameters}
    by_display = {p.display_name: p for p in command.parameters}
    resolved: dict[str, dict[str, Any]] = {}
    built: list[dict[str, Any]] = []
    live_member = guild.get_member(member.id) if guild is not None else None
    for key, value in provided.items():
        param = params.get(key) or by_display.get(key)
        if param is None:
            raise TypeError(
                f"/{' '.join(parts)} has no option {key!r}; options: {sorted(by_display)}"
            )
        if value is None:
            continue
        json_value = _option_value(param, value, resolved, guild, live_member)
        built.append({"name": param.display_name, "type": param.type.value, "value": json_value})
    given = {o["name"] for o in built}
    missing = [
        p.display_name for p in command.parameters if p.required and p.display_name not in given
    ]
    if missing:
        raise ValueError(
            f"Discord would not send /{' '.join(parts)} without required option(s) {missing}"
        )

    # Nest options under subcommand / subcommand group entries.
    nested: list[dict[str, Any]] = built
    chain: list[Any] = []
    parent = command.parent
    while parent is not None:
        chain.append(parent)
        parent = parent.parent
    node: Any = command
    for group in chain:
        kind = 1 if node is command else 2
        nested = [{"name": node.name, "type": kind, "options": nested}]
        node = group
    root_name = parts[0]
    guild_key = guild.id if guild_scoped and guild is not None else None
    command_id = _command_ids.setdefault((root_name, guild_key), _new_id())
    data: dict[str, Any] = {"id": str(command_id), "name": root_name, "type": 1}
    if nested:
        data["options"] = nested
    if resolved:
        data["resolved"] = resolved
    if guild_key is not None:
        data["guild_id"] = str(guild_key)
    payload["data"] = data
    return payload, command, permissions


def _message_payload(
    message: discord.Message | Mapping[str, Any] | int, channel: Any
) -> dict[str, Any]:
    """A message object for a component interaction's ``message`` field."""
    if isinstance(message, Mapping):
        return copy.deepcopy(dict(message))
    if isinstance(message, int):
        message = discord.Object(id=message)  # type: ignore[assignment]
    author = getattr(message, "author", None)
    embeds = getattr(message, "embeds", None) or []
    components = getattr(message, "components", None) or []
    created = getattr(message, "created_at", None)
    edited = getattr(message, "edited_at", None)
    return {
        "id": str(message.id),  # type: ignore[union-attr]
        "channel_id": str(getattr(getattr(message, "channel", None), "id", None) or channel.id),
        "author": _user_payload(author)
        if author is not None
        else {"id": "0", "username": "unknown", "discriminator": "0", "avatar": None},
        "content": getattr(message, "content", "") or "",
        "timestamp": _iso(created if isinstance(created, dt.datetime) else None),
        "edited_timestamp": _iso(edited) if isinstance(edited, dt.datetime) else None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [e.to_dict() for e in embeds],
        "components": [c.to_dict() for c in components],
        "pinned": False,
        "type": 0,
        "flags": getattr(getattr(message, "flags", None), "value", 0),
    }


def build_component_payload(
    bot: discord.Client,
    message: discord.Message | Mapping[str, Any] | int,
    custom_id: str,
    *,
    member: discord.abc.User,
    guild: discord.Guild | None = None,
    channel: Any = None,
    component_type: int = 2,
    values: Sequence[str] | None = None,
    app_permissions: discord.Permissions | int | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """Build a type-3 (message component) ``INTERACTION_CREATE`` payload."""
    if channel is None:
        if isinstance(message, discord.Message):
            channel = message.channel
        elif isinstance(message, Mapping) and message.get("channel_id"):
            channel = bot.get_channel(int(message["channel_id"]))
        if channel is None:
            raise ValueError("pass channel= (could not work out the message's channel)")
    if guild is None:
        guild = getattr(channel, "guild", None)
    payload, _ = _interaction_base(
        bot,
        interaction_type=3,
        guild=guild,
        channel=channel,
        member=member,
        app_permissions=app_permissions,
        locale=locale,
    )
    message_data = _message_payload(message, channel)
    if guild is not None:
        message_data.setdefault("guild_id", str(guild.id))
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if values is not None or component_type in (3, 5, 6, 7, 8):
        data["values"] = [str(v) for v in values or []]
    payload["data"] = data
    payload["message"] = message_data
    return payload


# ----------------------------------------------------------------------- running


def _is_tracked(task: asyncio.Task[Any]) -> bool:
    name = task.get_name()
    coro_name = getattr(task.get_coro(), "__name__", "")
    return coro_name == "_run_event" or name.startswith(_TRACKED_TASK_PREFIXES)


async def _settle(limit: float) -> None:
    """Wait until interaction-related tasks (tree invoker, view dispatch, events) finish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    me = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        pending = [
            t for t in asyncio.all_tasks() if t is not me and not t.done() and _is_tracked(t)
        ]
        if not pending:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            names = sorted(t.get_name() for t in pending)
            raise TimeoutError(
                f"interaction handling did not finish within {limit}s; pending tasks: {names}"
            )
        await asyncio.wait(pending, timeout=remaining)


@contextlib.contextmanager
def _patched(obj: Any, attr: str, value: Any) -> Iterator[None]:
    """Temporarily set an instance attribute, restoring the previous state exactly."""
    had = attr in vars(obj)
    old = vars(obj).get(attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        if had:
            setattr(obj, attr, old)
        else:
            delattr(obj, attr)


async def _dispatch(
    bot: discord.Client,
    payload: dict[str, Any],
    *,
    recorder: RecordingWebhookAdapter | None,
    validate: bool,
    settle_timeout: float,
    source_message: dict[str, Any] | None = None,
    view_for_errors: Any = None,
) -> InteractionResult:
    """Feed ``payload`` to ``parse_interaction_create`` and collect what happened."""
    install_slash_support(bot)
    state = bot._connection
    tree = state._command_tree
    interaction_id = int(payload["id"])
    seen: list[discord.Interaction] = []
    errors: list[Exception] = []

    temp = None
    if recorder is None:
        recorder = current_recorder()
    if recorder is None:
        temp = recorder = RecordingWebhookAdapter(validate=validate)
        temp.install()
    old_validate = recorder.validate
    recorder.validate = validate
    guild_id = payload.get("guild_id")
    recorder.register_interaction(
        payload["token"],
        interaction_id=interaction_id,
        interaction_type=payload["type"],
        channel_id=int(payload["channel_id"]) if payload.get("channel_id") else None,
        guild_id=int(guild_id) if guild_id else None,
        application_id=int(payload["application_id"]),
        author=_user_payload(bot.user),  # type: ignore[arg-type]
        user=(payload.get("member") or {}).get("user") or payload.get("user"),
        source_message=source_message,
    )

    original_dispatch = state.dispatch

    def spy(event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "interaction" and args and getattr(args[0], "id", None) == interaction_id:
            seen.append(args[0])
        return original_dispatch(event, *args, **kwargs)

    async def tree_on_error(interaction: discord.Interaction, error: Exception) -> None:
        if interaction.id == interaction_id:
            errors.append(error)
        await original_tree_on_error(interaction, error)

    async def view_on_error(interaction: discord.Interaction, error: Exception, item: Any) -> None:
        if interaction.id == interaction_id:
            errors.append(error)
        await original_view_on_error(interaction, error, item)

    original_tree_on_error: Any = tree.on_error if tree is not None else None
    original_view_on_error: Any = view_for_errors.on_error if view_for_errors is not None else None
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_patched(state, "dispatch", spy))
            if tree is not None:
                stack.enter_context(_patched(tree, "on_error", tree_on_error))
            if view_for_errors is not None:
                stack.enter_context(_patched(view_for_errors, "on_error", view_on_error))
            state.parse_interaction_create(payload)  # type: ignore[arg-type]
            await _settle(settle_timeout)
    finally:
        recorder.validate = old_validate
        if temp is not None:
            temp.uninstall()

    requests = recorder.for_token(payload["token"])
    result = InteractionResult(
        interaction=seen[0] if seen else None,
        requests=requests,
        errors=errors,
        sent_messages=copy.deepcopy(recorder.messages_for_token(payload["token"])),
        payload=payload,
    )
    if validate:
        problems = [v for r in requests for v in r.violations]
        if problems:
            raise AssertionError("\n".join(problems))
    return result


async def invoke_slash(
    bot: discord.Client,
    name: str,
    *,
    guild: discord.Guild | None,
    channel: Any,
    member: discord.abc.User,
    options: dict[str, Any] | None = None,
    subcommand: str | None = None,
    app_permissions: discord.Permissions | int | None = None,
    enforce_default_permissions: bool = False,
    validate: bool = True,
    recorder: RecordingWebhookAdapter | None = None,
    settle_timeout: float = 10.0,
    locale: str = "en-US",
) -> InteractionResult:
    """Run ``/name [subcommand] options...`` as ``member`` and return what the bot replied.

    ``name`` may contain the subcommand path (``"config set"``) or pass ``subcommand=``.
    Options are keyed by parameter (or renamed display) name; values are Python values
    (``Choice``/``Enum`` allowed; members, roles, channels, ``discord.Attachment`` or
    ``pathlib.Path`` for snowflake options). ``app_permissions`` defaults to all.
    ``enforce_default_permissions=True`` raises :class:`DefaultPermissionsDenied` when
    Discord would not let the member see the command at all (discord.py does not check
    ``default_permissions`` itself). Every captured payload is checked against Discord's
    spec when ``validate`` is true; violations raise ``AssertionError`` after the command ran.
    """
    payload, command, permissions = build_slash_payload(
        bot,
        name,
        guild=guild,
        channel=channel,
        member=member,
        options=options,
        subcommand=subcommand,
        app_permissions=app_permissions,
        locale=locale,
    )
    if enforce_default_permissions and permissions is not None:
        _check_default_permissions(command, permissions, member)
    return await _dispatch(
        bot, payload, recorder=recorder, validate=validate, settle_timeout=settle_timeout
    )


def _find_view(
    bot: discord.Client, message_id: int | None, component_type: int, custom_id: str
) -> Any:
    """The view that would receive this component (for error capture), if any."""
    views = getattr(bot._connection._view_store, "_views", {})
    for key in (message_id, None):
        item = views.get(key, {}).get((component_type, custom_id))
        if item is not None:
            return item.view
    return None


async def press_button(
    bot: discord.Client,
    message: discord.Message | Mapping[str, Any] | int,
    custom_id: str,
    *,
    member: discord.abc.User,
    guild: discord.Guild | None = None,
    channel: Any = None,
    component_type: int = 2,
    values: Sequence[str] | None = None,
    app_permissions: discord.Permissions | int | None = None,
    validate: bool = True,
    recorder: RecordingWebhookAdapter | None = None,
    settle_timeout: float = 10.0,
) -> InteractionResult:
    """Click component ``custom_id`` on ``message`` as ``member`` (type-3 interaction).

    ``message`` may be a :class:`discord.Message` (e.g. from dpytest's ``channel.send``),
    a fake message payload (``result.last_message()``) or a bare message id (then pass
    ``channel=``). Persistent views registered with ``bot.add_view`` are found by
    ``custom_id``. For select menus pass ``component_type`` and ``values``.
    """
    payload = build_component_payload(
        bot,
        message,
        custom_id,
        member=member,
        guild=guild,
        channel=channel,
        component_type=component_type,
        values=values,
        app_permissions=app_permissions,
    )
    message_id = int(payload["message"]["id"])
    view = _find_view(bot, message_id, component_type, custom_id)
    return await _dispatch(
        bot,
        payload,
        recorder=recorder,
        validate=validate,
        settle_timeout=settle_timeout,
        source_message=payload["message"],
        view_for_errors=view,
    )
