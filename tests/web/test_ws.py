"""The live feed through a real WebSocket client: auth, Origin, scope, fan-out, slow clients,
shutdown with GOING_AWAY."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestClient

from monitoring import Monitor
from web import DASHBOARD, create_app, start_site

from .conftest import key_headers
from .seed import G1, G2, NAMES

Client = TestClient[Any, Any]


async def _next_update(ws: aiohttp.ClientWebSocketResponse, wait: float = 3.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=wait)
    assert msg.type == WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    assert data["type"] == "update"
    return data


async def test_updates_arrive_at_once_and_then_every_interval(client: Client) -> None:
    async with client.ws_connect("/ws", headers=key_headers()) as ws:
        first = await _next_update(ws, wait=1.0)  # the latest update, without waiting a tick
        assert first["guild"] is None
        assert first["metrics"]["messages_processed"] > 0
        assert first["health"]["services"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(3):
            await _next_update(ws)
        elapsed = loop.time() - started
        interval = client.app[DASHBOARD].config.websocket_update_interval
        assert 2 * interval <= elapsed <= 3 * interval + 1.5


async def test_ws_needs_credentials(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws")
    assert err.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws", headers={"X-API-Key": "wrong-key-0123456789"})
    assert err.value.status == 401


async def test_ws_checks_origin(client: Client, owner_headers: dict[str, str]) -> None:
    evil = {**owner_headers, "Origin": "https://evil.example"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws", headers=evil)
    assert err.value.status == 403
    same = {**owner_headers, "Origin": str(client.make_url("")).rstrip("/")}
    async with client.ws_connect("/ws", headers=same) as ws:
        assert (await _next_update(ws))["guild"] is None


async def test_ws_guild_scope(client: Client, manager_headers: dict[str, str]) -> None:
    async with client.ws_connect("/ws", headers=manager_headers) as ws:
        data = await _next_update(ws)
        assert data["guild"] == str(G1)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(f"/ws?guild={G2}", headers=manager_headers)
    assert err.value.status == 403
    async with client.ws_connect(f"/ws?guild={G2}", headers=key_headers()) as ws:
        assert (await _next_update(ws))["guild"] == str(G2)


async def test_each_update_is_built_and_serialized_once_per_scope(client: Client) -> None:
    feed = client.app[DASHBOARD].feed
    calls: list[int | None] = []
    build = feed.build

    async def counting(guild: int | None, now: float) -> dict[str, Any]:
        calls.append(guild)
        return await build(guild, now)

    feed.build = counting
    dash = client.app[DASHBOARD]
    dash.config = dash.config.replace(websocket_max_per_client=7)  # one key, seven sockets
    sockets = [await client.ws_connect("/ws", headers=key_headers()) for _ in range(6)]
    sockets.append(await client.ws_connect(f"/ws?guild={G1}", headers=key_headers()))
    for ws in sockets:
        await _next_update(ws)  # the greeting
    calls.clear()
    sent = await feed.tick()
    assert sent == 7
    assert sorted(calls, key=str) == sorted([None, G1], key=str)  # two scopes, two builds
    payloads = [(await ws.receive(timeout=3)).data for ws in sockets[:6]]
    assert len(set(payloads)) == 1  # the very same bytes for every client of a scope
    for ws in sockets:
        await ws.close()


async def test_disconnected_clients_are_forgotten(client: Client) -> None:
    feed = client.app[DASHBOARD].feed
    ws = await client.ws_connect("/ws", headers=key_headers())
    await _next_update(ws)
    assert feed.stats.clients == 1
    await ws.close()
    for _ in range(50):
        if feed.stats.clients == 0:
            break
        await asyncio.sleep(0.05)
    assert feed.stats.clients == 0


async def _stalled_client(port: int, headers: dict[str, str]) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    await loop.sock_sendall(sock, "\r\n".join(lines).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_a_client_that_stops_reading_is_dropped(client: Client) -> None:
    dash = client.app[DASHBOARD]
    feed = dash.feed
    feed.max_buffer = 32 * 1024
    feed.slow_seconds = 0.3
    big = {"type": "update", "padding": "x" * 100_000}

    async def build(guild: int | None, now: float) -> dict[str, Any]:
        return big

    feed.build = build
    feed._last.clear()
    port = client.server.port
    assert port is not None
    stalled = await _stalled_client(port, key_headers())
    try:
        await _check_dropped(client, feed, big, stalled.getsockname()[1])
    finally:
        stalled.close()


async def _check_dropped(client: Client, feed: Any, big: dict[str, Any], stalled_port: int) -> None:
    async with client.ws_connect("/ws", headers=key_headers(), max_msg_size=0) as healthy:
        await healthy.receive(timeout=3)
        for c in list(feed.clients):
            if c.transport.get_extra_info("peername")[1] == stalled_port:
                sock = c.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        buffered: list[int] = []
        for _ in range(60):
            await asyncio.sleep(0.1)
            buffered.extend(c.transport.get_write_buffer_size() for c in list(feed.clients))
            await healthy.receive(timeout=3)  # the healthy client keeps reading
            if feed.stats.dropped_slow:
                break
        assert feed.stats.dropped_slow == 1
        assert feed.stats.clients == 1  # the healthy one stays
        # memory stayed bounded: nothing was queued once the buffer was over the limit
        assert max(buffered) <= len(json.dumps(big)) + 1024
        assert feed.stats.skipped >= 1


async def test_shutdown_closes_sockets_with_going_away(monitor: Monitor) -> None:
    app = create_app(monitor, guild_names=lambda: dict(NAMES))
    runner = await start_site(app, "127.0.0.1", 0, api_key=monitor.config.api_key)
    url = app[DASHBOARD].base_url
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{url}/ws", headers=key_headers())
        await _next_update(ws)
        cleanup = asyncio.create_task(runner.cleanup())
        msg = await ws.receive(timeout=5)
        assert msg.type == WSMsgType.CLOSE
        assert msg.data == WSCloseCode.GOING_AWAY
        await ws.close()
        await asyncio.wait_for(cleanup, 10)
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("dashboard-")]
    assert tasks == []
