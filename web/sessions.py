"""One-time login links and browser sessions.

The ``/dashboard`` command calls :meth:`Sessions.issue_login`; the link it gets expires after
five minutes and works once: :meth:`Sessions.redeem` turns it into a session id (an HttpOnly,
SameSite=Strict cookie). Only SHA-256 hashes of tokens are kept, so a leaked table (or a
timing side channel on the dictionary lookup) reveals no usable token.

When the store is writable, the ``web_sessions`` table is the authority: every lookup reads it,
so a logout or a revocation in one process ends the session in every process that shares the
file, and the live feed re-checks its sockets' sessions on every push. Memory mirrors it, and
answers alone when the store is read-only (``python -m web --db``) or cannot be read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from collections.abc import Iterable
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


@dataclasses.dataclass(slots=True)
class _Grant:
    principal: Principal
    expires: float
    checked: float = 0.0
    """When the holder's rights were last confirmed (sign-in, then every few minutes)."""


def _principal(who: str, guild: int | None, session: str | None, user_id: Any) -> Principal:
    uid = int(user_id) if user_id is not None else None
    return Principal(who, "session", guild, session=session, user_id=uid)


class Sessions:
    """Login tokens and sessions; ``persist`` keeps them in the store's tables."""

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
        """Read unexpired login tokens back after a restart (sessions are read when used)."""
        if not self.persist:
            return
        try:
            logins = await self.store.fetchall(
                "SELECT token_hash, who, guild, expires, user_id FROM web_login_tokens "
                "WHERE expires > ?",
                (self.clock(),),
            )
        except StoreError as exc:
            log.warning("could not load dashboard sign-in links: %s", exc)
            return
        for token_hash, who, guild, expires, user_id in logins:
            self._logins[token_hash] = _Grant(_principal(who, guild, None, user_id), expires)

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        if not self.persist:
            return
        try:
            async with self.store.transaction() as conn:
                await conn.execute(sql, params)
        except StoreError as exc:
            log.warning("dashboard session kept in memory only: %s", exc)

    async def issue_login(self, who: str, guild: int | None, user_id: int | None = None) -> str:
        """A fresh one-time login token for ``who``, scoped to ``guild`` (None = all)."""
        token = secrets.token_urlsafe(32)
        expires = self.clock() + self.login_ttl
        token_hash = hash_token(token)
        self._logins[token_hash] = _Grant(_principal(who, guild, None, user_id), expires)
        await self._write(
            "INSERT INTO web_login_tokens (token_hash, who, guild, expires, user_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (token_hash, who, guild, expires, user_id),
        )
        return token

    async def redeem(self, token: str) -> tuple[str, Principal] | None:
        """Consume a login token; returns (session id, principal) or None if unknown/expired."""
        now = self.clock()
        token_hash = hash_token(token)
        grant = self._logins.pop(token_hash, None)  # popped before any await: single use
        if grant is None:  # an unknown token writes nothing (anonymous requests cost no write)
            return None
        await self._write("DELETE FROM web_login_tokens WHERE token_hash = ?", (token_hash,))
        if grant.expires <= now:
            return None
        session_id = secrets.token_urlsafe(32)
        session_hash = hash_token(session_id)
        expires = now + self.session_ttl
        base = grant.principal
        principal = _principal(base.who, base.guild, session_hash, base.user_id)
        self._sessions[session_hash] = _Grant(principal, expires, checked=now)
        await self._write(
            "INSERT INTO web_sessions (token_hash, who, guild, created, expires, user_id, checked)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_hash, base.who, base.guild, now, expires, base.user_id, now),
        )
        return session_id, principal

    async def _grants(self, hashes: Iterable[str]) -> dict[str, _Grant]:
        """The live grants among ``hashes``: from the table when it can be read, else memory."""
        now = self.clock()
        wanted = list(dict.fromkeys(hashes))
        if self.persist and wanted:
            marks = ",".join("?" * len(wanted))
            try:
                rows = await self.store.fetchall(
                    "SELECT token_hash, who, guild, expires, user_id, checked FROM web_sessions "
                    f"WHERE token_hash IN ({marks}) AND expires > ?",
                    (*wanted, now),
                )
            except StoreError as exc:
                log.warning("sessions checked against memory only: %s", exc)
            else:
                found = {}
                for token_hash, who, guild, expires, user_id, checked in rows:
                    principal = _principal(who, guild, token_hash, user_id)
                    found[token_hash] = _Grant(principal, expires, checked)
                for gone in set(wanted) - set(found):  # ended here or in another process
                    self._sessions.pop(gone, None)
                self._sessions.update(found)
                return found
        live = {}
        for token_hash in wanted:
            grant = self._sessions.get(token_hash)
            if grant is not None and grant.expires > now:
                live[token_hash] = grant
            elif grant is not None:
                del self._sessions[token_hash]
        return live

    async def lookup(self, session_id: str) -> Principal | None:
        """The principal of a live session (None if unknown, expired or ended anywhere)."""
        token_hash = hash_token(session_id)
        grant = (await self._grants([token_hash])).get(token_hash)
        return grant.principal if grant is not None else None

    async def live(self, session_hashes: Iterable[str]) -> dict[str, tuple[Principal, float]]:
        """Of these session hashes, the live ones with when their rights were last checked."""
        return {
            h: (g.principal, g.checked) for h, g in (await self._grants(session_hashes)).items()
        }

    async def mark_checked(self, session_hash: str, now: float) -> None:
        grant = self._sessions.get(session_hash)
        if grant is not None:
            grant.checked = now
        await self._write(
            "UPDATE web_sessions SET checked = ? WHERE token_hash = ?", (now, session_hash)
        )

    async def revoke(self, session_id: str) -> None:
        await self.revoke_hash(hash_token(session_id))

    async def revoke_hash(self, session_hash: str) -> None:
        self._sessions.pop(session_hash, None)
        await self._write("DELETE FROM web_sessions WHERE token_hash = ?", (session_hash,))

    async def revoke_user(self, user_id: int) -> int:
        """End every session of one Discord user (in every process); returns how many."""
        mine = [h for h, g in self._sessions.items() if g.principal.user_id == user_id]
        for token_hash in mine:
            del self._sessions[token_hash]
        ended = len(mine)
        if self.persist:
            try:
                async with self.store.transaction() as conn:
                    cursor = await conn.execute(
                        "DELETE FROM web_sessions WHERE user_id = ?", (user_id,)
                    )
                    ended = max(ended, cursor.rowcount)
            except StoreError as exc:
                log.warning("sessions of user %d ended in this process only: %s", user_id, exc)
        return ended

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
