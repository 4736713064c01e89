"""Who is asking: API keys (constant-time compared) and browser sessions, and what they may see.

An API key (``Authorization: Bearer <key>`` or ``X-API-Key: <key>``) sees every guild. A browser
session comes from a one-time login link issued by the ``/dashboard`` slash command: the bot
owner's session sees every guild, a guild manager's session sees that guild only.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging

from aiohttp import web

from .errors import ApiError

__all__ = [
    "AUDITED",
    "AUDIT_WHO",
    "PRINCIPAL",
    "SECURE_SESSION_COOKIE",
    "SESSION_COOKIE",
    "Principal",
    "api_key_from",
    "key_matches",
    "session_cookie",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "monitor_session"
SECURE_SESSION_COOKIE = f"__Host-{SESSION_COOKIE}"
"""The cookie's name over HTTPS: the prefix makes browsers insist on Secure, Path=/, no Domain."""


def session_cookie(request: web.BaseRequest) -> str | None:
    """The session id a browser sent, under either name."""
    return request.cookies.get(SECURE_SESSION_COOKIE) or request.cookies.get(SESSION_COOKIE)


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: who (for the audit log), how, and which guild (None = all)."""

    who: str
    method: str
    """``api_key`` or ``session``."""
    guild: int | None = None
    session: str | None = None
    """The session's hash (browser sessions only): the feed re-checks it on every push."""
    user_id: int | None = None
    """The Discord user behind a session, whose rights are re-checked while it is used."""

    @property
    def identity(self) -> str:
        """Who holds the credential, for per-sign-in limits: the session, else the key holder."""
        return self.session or self.who

    @property
    def scope(self) -> str:
        return "all" if self.guild is None else f"guild:{self.guild}"

    def sees(self, guild: int | None) -> bool:
        """May this caller see ``guild`` (None = all guilds together)?"""
        return self.guild is None or guild == self.guild

    def resolve_guild(self, requested: int | None) -> int | None:
        """The guild a query should use: the requested one if allowed, else 403.

        A guild-scoped caller who names no guild gets their own guild, never "all guilds".
        """
        if self.guild is None:
            return requested
        if requested is None or requested == self.guild:
            return self.guild
        raise ApiError(
            403,
            "forbidden",
            "this session may only see its own guild",
            parameter="guild",
            allowed=str(self.guild),
        )


PRINCIPAL = web.RequestKey("principal", Principal)
"""The authenticated caller of a request (absent for anonymous requests)."""
AUDITED = web.RequestKey("audited", bool)
"""Set by a handler that wrote its own audit entry (the WebSocket, at its handshake)."""
AUDIT_WHO = web.RequestKey("audit_who", str)
"""Who to name in the audit entry of an anonymous request (such as a failed sign-in)."""


def api_key_from(request: web.BaseRequest) -> str | None:
    """The key sent as ``Authorization: Bearer ...`` or ``X-API-Key``, if any."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = request.headers.get("X-API-Key")
    return key.strip() if key else None


def key_matches(given: str, expected: str | None) -> bool:
    """Constant-time comparison of a presented key with the configured one."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
