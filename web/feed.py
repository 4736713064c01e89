"""The live WebSocket feed: one update per tick, serialized once per scope, sent to every client.

Clients are grouped by scope (all guilds, or one guild for a guild manager's session); each
scope's update is built and JSON-encoded once per tick and the same bytes are written to every
socket of that scope. A client whose socket send buffer stays above ``max_buffer`` bytes for
``slow_seconds`` is dropped (its updates are skipped meanwhile), so a stalled reader can never
make the server's memory grow. On shutdown every socket is closed with GOING_AWAY.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from monitoring.clock import Clock, system_clock
from monitoring.store.base import StoreError

from .auth import Principal

__all__ = [
    "CLOSE_RIGHTS_LOST",
    "CLOSE_SESSION_ENDED",
    "CLOSE_TOO_MANY",
    "Client",
    "Feed",
    "FeedStats",
]

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 2.0
"""Seconds a socket may take to accept its close frame on shutdown before it is cut."""

Builder = Callable[[int | None, float], Awaitable[dict[str, Any]]]
"""(guild scope or None for all, now) -> the update for that scope."""
SessionCheck = Callable[[Iterable[str]], Awaitable[dict[str, int]]]
"""(session hashes) -> those that must close now, with the close code."""

CLOSE_SESSION_ENDED = 4401
"""WebSocket close code: the session was logged out, revoked or expired."""
CLOSE_RIGHTS_LOST = 4403
"""WebSocket close code: the user no longer manages the guild the session is for."""
CLOSE_TOO_MANY = 4429
"""WebSocket close code: over ``ANALYTICS_WEBSOCKET_MAX_PER_CLIENT`` (per sign-in or address)."""
_CLOSE_REASONS = {CLOSE_SESSION_ENDED: b"session ended", CLOSE_RIGHTS_LOST: b"access revoked"}


@dataclasses.dataclass(eq=False, slots=True, weakref_slot=True)
class Client:
    """One connected socket. Held by its handler; the feed only keeps a weak reference."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport
    principal: Principal
    guild: int | None
    address: str = ""
    """The client's address (for the per-address cap on sockets)."""
    full_since: float | None = None
    """``time.monotonic()`` when its send buffer was first seen over the limit."""


@dataclasses.dataclass(frozen=True, slots=True)
class FeedStats:
    clients: int
    ticks: int
    sent: int
    skipped: int
    dropped_slow: int
    last_update_bytes: int
    last_tick_ms: float


class Feed:
    """Pushes an update to every client every ``interval`` seconds (``run`` in cleanup_ctx)."""

    def __init__(
        self,
        build: Builder,
        *,
        interval: float,
        clock: Clock = system_clock,
        max_buffer: int = 256 * 1024,
        slow_seconds: float = 10.0,
        end_sessions: SessionCheck | None = None,
    ) -> None:
        self.build = build
        self.end_sessions = end_sessions
        self.interval = interval
        self.clock = clock
        self.max_buffer = max_buffer
        self.slow_seconds = slow_seconds
        self.clients: weakref.WeakSet[Client] = weakref.WeakSet()
        self._last: dict[int | None, bytes] = {}
        self._ticks = self._sent = self._skipped = self._dropped = 0
        self._last_bytes = 0
        self._last_tick_ms = 0.0

    @property
    def stats(self) -> FeedStats:
        return FeedStats(
            clients=len(self.clients),
            ticks=self._ticks,
            sent=self._sent,
            skipped=self._skipped,
            dropped_slow=self._dropped,
            last_update_bytes=self._last_bytes,
            last_tick_ms=round(self._last_tick_ms, 3),
        )

    async def encode(self, guild: int | None, now: float) -> bytes:
        """Build and serialize one scope's update (once; every client of the scope shares it)."""
        payload = await self.build(guild, now)
        data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
        self._last[guild] = data
        self._last_bytes = len(data)
        return data

    async def add(self, client: Client) -> None:
        """Register a client and send it the latest update of its scope right away."""
        self.clients.add(client)
        data = self._last.get(client.guild)
        if data is None:
            try:
                data = await self.encode(client.guild, self.clock())
            except StoreError as exc:
                log.warning("first live update failed: %s", exc)
                return
        await self._send(client, data)

    def discard(self, client: Client) -> None:
        self.clients.discard(client)

    async def tick(self, now: float | None = None) -> int:
        """Send one update to every client; returns how many sockets were written to."""
        now = self.clock() if now is None else now
        started = time.perf_counter()
        await self._close_ended_sessions()
        scopes: dict[int | None, list[Client]] = {}
        for client in list(self.clients):
            scopes.setdefault(client.guild, []).append(client)
        sent = 0
        for guild, clients in scopes.items():
            try:
                data = await self.encode(guild, now)
            except StoreError as exc:
                log.warning("live update for scope %s skipped: %s", guild or "all", exc)
                continue
            except ValueError:  # a value JSON cannot carry (NaN): a bug, but keep the feed alive
                log.exception("live update for scope %s could not be encoded", guild or "all")
                continue
            for client in clients:
                sent += await self._send(client, data)
        self._ticks += 1
        self._last_tick_ms = (time.perf_counter() - started) * 1000
        for guild in [g for g in self._last if g not in scopes]:
            del self._last[guild]
        return sent

    async def _close_ended_sessions(self) -> None:
        """Close the sockets whose session was logged out, revoked or expired, or whose user
        lost their rights (checked before every push, so within one update interval)."""
        by_session: dict[str, list[Client]] = {}
        for client in list(self.clients):
            if client.principal.session is not None:
                by_session.setdefault(client.principal.session, []).append(client)
        if not by_session or self.end_sessions is None:
            return
        try:
            ended = await self.end_sessions(by_session)
        except StoreError as exc:
            log.warning("live sessions not re-checked this time: %s", exc)
            return
        closing = []
        for session_hash, code in ended.items():
            for client in by_session.get(session_hash, ()):
                self.clients.discard(client)
                closing.append(_close(client, code, _CLOSE_REASONS[code]))
                log.info("closing a live dashboard socket of %s (%d)", client.principal.who, code)
        await asyncio.gather(*closing)

    async def _send(self, client: Client, data: bytes) -> int:
        ws = client.ws
        if ws.closed or client.transport.is_closing():
            self.clients.discard(client)
            return 0
        if client.transport.get_write_buffer_size() > self.max_buffer:
            self._skipped += 1
            mono = time.monotonic()  # real elapsed time, whatever the data clock says
            if client.full_since is None:
                client.full_since = mono
            elif mono - client.full_since >= self.slow_seconds:
                self._drop(client)
            return 0
        client.full_since = None
        try:
            await ws.send_frame(data, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("live client gone: %s", exc)
            self.clients.discard(client)
            return 0
        self._sent += 1
        return 1

    def _drop(self, client: Client) -> None:
        """Cut a client that stopped reading: its buffered updates are thrown away."""
        self._dropped += 1
        self.clients.discard(client)
        log.warning(
            "dropped a live dashboard client (%s) that stopped reading: %d bytes unsent",
            client.principal.who,
            client.transport.get_write_buffer_size(),
        )
        client.transport.abort()

    async def run(self) -> None:
        """Tick every ``interval`` seconds until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            if self.clients:
                await self.tick()
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))

    async def close_all(self) -> None:
        """Close every socket with GOING_AWAY (server shutdown)."""
        clients = list(self.clients)
        self.clients = weakref.WeakSet()

        if clients:
            going = WSCloseCode.GOING_AWAY
            await asyncio.gather(*(_close(c, going, b"server shutdown") for c in clients))
            log.info("closed %d live dashboard connections", len(clients))


async def _close(client: Client, code: int, reason: bytes) -> None:
    """Close one socket; a stalled reader is cut after ``CLOSE_TIMEOUT`` instead of waited on."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await client.ws.close(code=code, message=reason)
    except (ConnectionError, RuntimeError, TimeoutError):
        client.transport.abort()
