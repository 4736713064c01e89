"""Gateway (websocket) side of the emulator: HELLO/IDENTIFY/READY, heartbeats, RESUME, dispatch."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .world import World

__all__ = ["Gateway", "GatewayConnection", "GatewaySession", "Intent"]

log = logging.getLogger(__name__)

_BUFFER_SIZE = 1000


class Intent:
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_VOICE_STATES = 1 << 7
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    MESSAGE_CONTENT = 1 << 15


_GUILD_EVENT_INTENTS: dict[str, int] = {
    "GUILD_CREATE": Intent.GUILDS,
    "GUILD_UPDATE": Intent.GUILDS,
    "GUILD_DELETE": Intent.GUILDS,
    "CHANNEL_CREATE": Intent.GUILDS,
    "GUILD_MEMBER_ADD": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": Intent.GUILD_MEMBERS,
    "PRESENCE_UPDATE": Intent.GUILD_PRESENCES,
    "VOICE_STATE_UPDATE": Intent.GUILD_VOICE_STATES,
    "MESSAGE_CREATE": Intent.GUILD_MESSAGES,
    "MESSAGE_UPDATE": Intent.GUILD_MESSAGES,
    "MESSAGE_DELETE": Intent.GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": Intent.GUILD_MESSAGE_REACTIONS,
}
_DM_EVENT_INTENTS: dict[str, int] = {
    "MESSAGE_CREATE": Intent.DIRECT_MESSAGES,
    "MESSAGE_UPDATE": Intent.DIRECT_MESSAGES,
    "MESSAGE_DELETE": Intent.DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": Intent.DIRECT_MESSAGE_REACTIONS,
}


@dataclass
class GatewayConnection:
    ws: web.WebSocketResponse
    path: str
    compressor: Any = None
    session: GatewaySession | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed_by_server: bool = False

    async def close(self, code: int, message: bytes) -> None:
        self.closed_by_server = True
        await self.ws.close(code=code, message=message)

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self.lock:
            if self.ws.closed:
                return
            if self.compressor is not None:
                data = self.compressor.compress(text.encode()) + self.compressor.flush(
                    zlib.Z_SYNC_FLUSH
                )
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(text)


@dataclass
class GatewaySession:
    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_BUFFER_SIZE))
    connection: GatewayConnection | None = None
    resumable: bool = True
    resumes: int = 0

    def covers(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def has_intent(self, intent: int) -> bool:
        return bool(self.intents & intent)


class Gateway:
    """Serves the gateway websocket and keeps sessions alive across reconnects."""

    def __init__(
        self,
        world: World,
        *,
        resume_url: Callable[[], str],
        heartbeat_interval: float = 41.25,
        token: str | None = None,
    ) -> None:
        self.world = world
        self._resume_url = resume_url
        self.heartbeat_interval = heartbeat_interval
        self.token = token
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.received: list[tuple[int | None, dict[str, Any]]] = []
        """Every payload the clients sent (shard id, payload) except heartbeats."""
        self.dropped: list[tuple[str, int]] = []
        """Dispatches not delivered because the session lacked the intent: (event, shard id)."""
        self.connect_count = 0
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self.ack_delay: dict[int | None, float] = {}
        """Seconds to hold each heartbeat ACK, per shard id (None: every shard): the gateway
        latency discord.py measures. Set with :meth:`set_latency`."""
        self._delayed_acks: set[asyncio.Task[None]] = set()

    # -- public helpers ---------------------------------------------------------------

    def live_sessions(self) -> list[GatewaySession]:
        return [
            s
            for s in self.sessions.values()
            if s.connection is not None and not s.connection.ws.closed
        ]

    def sessions_for(
        self, guild_id: int | None = None, shard_id: int | None = None
    ) -> list[GatewaySession]:
        sessions = [s for s in self.sessions.values() if s.resumable]
        if shard_id is not None:
            return [s for s in sessions if s.shard_id == shard_id]
        return [s for s in sessions if s.covers(guild_id)]

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        *,
        guild_id: int | None = None,
        shard_id: int | None = None,
        required: bool = True,
    ) -> int:
        """Send a DISPATCH to every session that covers ``guild_id`` (or ``shard_id``).

        Events go into the session buffer while the bot is disconnected and are replayed on
        RESUME. Returns how many sessions received it (intent filtering may drop it).
        """
        targets = self.sessions_for(guild_id, shard_id)
        if not targets:
            if required:
                raise RuntimeError(
                    f"no gateway session for guild {guild_id} / shard {shard_id}; is the bot connected?"
                )
            return 0
        delivered = 0
        for session in targets:
            payload_data = self._filter(session, event, data, guild_id)
            if payload_data is None:
                self.dropped.append((event, session.shard_id))
                log.debug("shard %s lacks the intent for %s; dropped", session.shard_id, event)
                continue
            await self._send_dispatch(session, event, payload_data)
            delivered += 1
        return delivered

    async def force_reconnect(self, shard_id: int | None = None, *, mode: str = "reconnect") -> int:
        """Make live sessions reconnect: ``reconnect`` (op 7), ``close`` (socket closed with 4000)
        or ``invalidate`` (op 9, not resumable). Returns how many connections were affected."""
        affected = 0
        for session in self.live_sessions():
            if shard_id is not None and session.shard_id != shard_id:
                continue
            connection = session.connection
            assert connection is not None
            if mode == "reconnect":
                await connection.send({"op": 7, "d": None})
            elif mode == "close":
                await connection.close(4000, b"sandbox forced reconnect")
            elif mode == "invalidate":
                session.resumable = False
                await connection.send({"op": 9, "d": False})
            else:
                raise ValueError(f"unknown reconnect mode {mode!r}")
            affected += 1
        return affected

    def set_latency(self, seconds: float, shard_id: int | None = None) -> None:
        """Answer heartbeats ``seconds`` late (on ``shard_id`` only, or on every shard).

        ``0`` restores immediate answers. A per-shard value wins over the all-shards one.
        """
        if seconds < 0:
            raise ValueError(f"latency {seconds!r}: expected 0 or more seconds")
        if shard_id is None:
            self.ack_delay.clear()
        self.ack_delay[shard_id] = float(seconds)

    def latency_for(self, shard_id: int | None) -> float:
        """The heartbeat ACK delay applied to ``shard_id``."""
        return self.ack_delay.get(shard_id, self.ack_delay.get(None, 0.0))

    async def _ack_later(self, connection: GatewayConnection, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await connection.send({"op": 11})
        except ConnectionError:  # the client went away meanwhile
            log.debug("heartbeat ACK not sent: connection closed")

    async def close_all(self, code: int = 1001) -> None:
        for task in list(self._delayed_acks):
            task.cancel()
        self._delayed_acks.clear()
        for connection in list(self.connections):
            if not connection.ws.closed:
                await connection.close(code, b"sandbox shutting down")
        self.connections.clear()

    # -- websocket handler ----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compressor = zlib.compressobj() if request.query.get("compress") == "zlib-stream" else None
        connection = GatewayConnection(ws=ws, path=request.path, compressor=compressor)
        self.connections.append(connection)
        self.connect_count += 1
        log.debug("gateway connection on %s (compress=%s)", request.path, bool(compressor))
        await connection.send(
            {"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}}
        )
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await connection.close(4002, b"Error while decoding payload.")
                        break
                    await self._on_payload(connection, payload)
                elif msg.type is WSMsgType.ERROR:
                    log.debug("gateway websocket error: %s", ws.exception())
        finally:
            self._detach(connection, ws.close_code)
        return ws

    def _detach(self, connection: GatewayConnection, code: int | None) -> None:
        if connection in self.connections:
            self.connections.remove(connection)
        session = connection.session
        if session is not None and session.connection is connection:
            session.connection = None
            if code in (1000, 1001) and not connection.closed_by_server:
                # a clean close by the client invalidates the session, as on Discord
                session.resumable = False
                self.sessions.pop(session.session_id, None)
        log.debug("gateway connection closed with %s", code)

    async def _on_payload(self, connection: GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        shard = connection.session.shard_id if connection.session else None
        if op == 1:
            self.heartbeat_count += 1
            delay = self.latency_for(shard)
            if delay > 0:  # answer later without holding up the client's other payloads
                task = asyncio.create_task(self._ack_later(connection, delay))
                self._delayed_acks.add(task)
                task.add_done_callback(self._delayed_acks.discard)
            else:
                await connection.send({"op": 11})
            return
        self.received.append((shard, payload))
        if op == 2:
            await self._identify(connection, data or {})
        elif op == 6:
            await self._resume(connection, data or {})
        elif op == 8:
            await self._request_members(connection, data or {})
        elif op in (3, 4):
            log.debug("gateway op %s from shard %s: %s", op, shard, data)
        else:
            log.warning("unhandled gateway op %s", op)

    def _token_ok(self, token: str | None) -> bool:
        if not token:
            return False
        return self.token is None or token.removeprefix("Bot ") == self.token

    async def _identify(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        if not self._token_ok(data.get("token")):
            await connection.close(4004, b"Authentication failed.")
            return
        shard_id, shard_count = data.get("shard") or [0, 1]
        if shard_count < 1 or not 0 <= shard_id < shard_count:
            await connection.close(4010, b"Invalid shard.")
            return
        self.identify_count += 1
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            shard_id=shard_id,
            shard_count=shard_count,
            intents=int(data.get("intents", 0)),
            identify=data,
        )
        self.sessions[session.session_id] = session
        session.connection = connection
        connection.session = session
        guilds = [g for g in self.world.guilds.values() if session.covers(g.id)]
        ready = {
            "v": 10,
            "user": dict(
                self.world.bot_user.payload(), verified=True, mfa_enabled=False, email=None
            ),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self._resume_url(),
            "shard": [shard_id, shard_count],
            "application": {"id": str(self.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": ["sandbox"],
            "auth": {},
            "_trace": ['["sandbox-gateway",{"micros":0}]'],
        }
        await self._send_dispatch(session, "READY", ready)
        with_members = session.has_intent(Intent.GUILD_MEMBERS)
        for guild in guilds:
            await self._send_dispatch(
                session, "GUILD_CREATE", self.world.guild_payload(guild, members=with_members)
            )

    async def _resume(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.resumable or not self._token_ok(data.get("token")):
            await connection.send({"op": 9, "d": False})
            return
        old = session.connection
        if old is not None and old is not connection and not old.ws.closed:
            await old.close(4000, b"session resumed elsewhere")
        session.connection = connection
        connection.session = session
        session.resumes += 1
        self.resume_count += 1
        seq = int(data.get("seq") or 0)
        for payload in list(session.buffer):
            if payload["s"] > seq:
                await connection.send(payload)
        await self._send_dispatch(
            session, "RESUMED", {"_trace": ['["sandbox-gateway",{"micros":0}]']}
        )

    async def _request_members(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        session = connection.session
        if session is None:
            return
        guild_ids = data.get("guild_id")
        if not isinstance(guild_ids, list):
            guild_ids = [guild_ids]
        query = (data.get("query") or "").lower()
        user_ids = {int(u) for u in data.get("user_ids") or []}
        for gid in guild_ids:
            guild = self.world.guilds.get(int(gid))
            if guild is None:
                continue
            members = []
            for uid in guild.members:
                user = self.world.users[uid]
                if user_ids and uid not in user_ids:
                    continue
                if query and not user.username.lower().startswith(query):
                    continue
                members.append(self.world.member_payload(guild, uid))
            chunk: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if data.get("nonce"):
                chunk["nonce"] = data["nonce"]
            await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- internals --------------------------------------------------------------------

    async def _send_dispatch(
        self, session: GatewaySession, event: str, data: dict[str, Any]
    ) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        connection = session.connection
        if connection is not None and not connection.ws.closed:
            await connection.send(payload)
        else:
            log.debug("shard %s offline; buffered %s (s=%s)", session.shard_id, event, session.seq)

    def _filter(
        self, session: GatewaySession, event: str, data: dict[str, Any], guild_id: int | None
    ) -> dict[str, Any] | None:
        table = _GUILD_EVENT_INTENTS if guild_id is not None else _DM_EVENT_INTENTS
        needed = table.get(event)
        if needed is not None and not session.has_intent(needed):
            return None
        hidden = not session.has_intent(Intent.MESSAGE_CONTENT) and not self._content_visible(data)
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and guild_id is not None and hidden:
            data = dict(data, content="", embeds=[], attachments=[], components=[])
        return data

    def _content_visible(self, data: dict[str, Any]) -> bool:
        bot_id = str(self.world.bot_user.id)
        if data.get("author", {}).get("id") == bot_id:
            return True
        return any(m.get("id") == bot_id for m in data.get("mentions", []))
