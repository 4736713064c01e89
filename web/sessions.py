"""One-time login links and browser sessions.

The ``/dashboard`` command calls :meth:`Sessions.issue_login`; the link it gets expires after
five minutes and works once: :meth:`Sessions.redeem` turns it into a session id (an HttpOnly,
SameSite=Strict cookie). Only SHA-256 hashes of tokens are kept, so a leaked table (or a
timing side channel on the dictionary lookup) reveals no usable token.

Memory is authoritative within the process; when the store is writable, tokens and sessions are
also written to the ``web_login_tokens`` / ``web_sessions`` tables so they survive a restart.
With a read-only store (``python -m web --db``), they live in memory only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from typing import Any

from monitoring.clock import Clock, system_clock
from monitoring.store.base import StoreError

from . import schema as _schema  # noqa: F401 - registers the tables
from .auth import Principal

__all__ = ["LOGIN_TTL_SECONDS", "SESSION_TTL_SECONDS", "Sessions", "hash_token"]

log = logging.getLogger(__name__)

LOGIN_TTL_SECONDS = 300
SESSION_TTL_SECONDS = 12 * 3600


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class _Grant:
    principal: Principal
    expires: float


class Sessions:
    """Login tokens and sessions; ``persist`` mirrors them to the store's tables."""

    def __init__(
        self,
        store: Any,
        *,
        persist: bool,
        clock: Clock = system_clock,
        login_ttl: float = LOGIN_TTL_SECONDS,
        session_ttl: float = SESSION_TTL_SECONDS,
    ) -> None:
        self.store = store
        self.persist = persist
        self.clock = clock
        self.login_ttl = login_ttl
        self.session_ttl = session_ttl
        self._logins: dict[str, _Grant] = {}
        self._sessions: dict[str, _Grant] = {}

    async def load(self) -> None:
        """Read unexpired sessions and login tokens back after a restart."""
        if not self.persist:
            return
        now = self.clock()
        try:
            sessions = await self.store.fetchall(
                "SELECT token_hash, who, guild, expires FROM web_sessions WHERE expires > ?",
                (now,),
            )
            logins = await self.store.fetchall(
                "SELECT token_hash, who, guild, expires FROM web_login_tokens WHERE expires > ?",
                (now,),
            )
        except StoreError as exc:
            log.warning("could not load dashboard sessions: %s", exc)
            return
        for table, rows in ((self._sessions, sessions), (self._logins, logins)):
            for token_hash, who, guild, expires in rows:
                table[token_hash] = _Grant(Principal(who, "session", guild), float(expires))

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        if not self.persist:
            return
        try:
            async with self.store.transaction() as conn:
                await conn.execute(sql, params)
        except StoreError as exc:
            log.warning("dashboard session kept in memory only: %s", exc)

    async def issue_login(self, who: str, guild: int | None) -> str:
        """A fresh one-time login token for ``who``, scoped to ``guild`` (None = all)."""
        token = secrets.token_urlsafe(32)
        expires = self.clock() + self.login_ttl
        token_hash = hash_token(token)
        self._logins[token_hash] = _Grant(Principal(who, "session", guild), expires)
        await self._write(
            "INSERT INTO web_login_tokens (token_hash, who, guild, expires) VALUES (?, ?, ?, ?)",
            (token_hash, who, guild, expires),
        )
        return token

    async def redeem(self, token: str) -> tuple[str, Principal] | None:
        """Consume a login token; returns (session id, principal) or None if unknown/expired."""
        now = self.clock()
        token_hash = hash_token(token)
        grant = self._logins.pop(token_hash, None)  # popped before any await: single use
        await self._write("DELETE FROM web_login_tokens WHERE token_hash = ?", (token_hash,))
        if grant is None or grant.expires <= now:
            return None
        session_id = secrets.token_urlsafe(32)
        session_hash = hash_token(session_id)
        expires = now + self.session_ttl
        self._sessions[session_hash] = _Grant(grant.principal, expires)
        await self._write(
            "INSERT INTO web_sessions (token_hash, who, guild, created, expires) "
            "VALUES (?, ?, ?, ?, ?)",
            (session_hash, grant.principal.who, grant.principal.guild, now, expires),
        )
        return session_id, grant.principal

    def lookup(self, session_id: str) -> Principal | None:
        """The principal of a live session (None if unknown or expired)."""
        grant = self._sessions.get(hash_token(session_id))
        if grant is None:
            return None
        if grant.expires <= self.clock():
            self._sessions.pop(hash_token(session_id), None)
            return None
        return grant.principal

    async def revoke(self, session_id: str) -> None:
        session_hash = hash_token(session_id)
        self._sessions.pop(session_hash, None)
        await self._write("DELETE FROM web_sessions WHERE token_hash = ?", (session_hash,))

    async def purge(self) -> None:
        """Forget expired tokens and sessions (memory and tables)."""
        now = self.clock()
        for table in (self._logins, self._sessions):
            for key in [k for k, g in table.items() if g.expires <= now]:
                del table[key]
        if self.persist:
            try:
                async with self.store.transaction() as conn:
                    await conn.execute("DELETE FROM web_login_tokens WHERE expires <= ?", (now,))
                    await conn.execute("DELETE FROM web_sessions WHERE expires <= ?", (now,))
            except StoreError as exc:
                log.warning("could not purge expired dashboard sessions: %s", exc)

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)
