"""Sessions end everywhere at once: logout, expiry, revocation by the owner and lost rights close
the session's WebSockets within one update, and every process sharing the file sees it."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from monitoring import FakeClock, Monitor
from web import DASHBOARD
from web.sessions import Sessions
from web.state import RIGHTS_RECHECK_SECONDS

from .conftest import cookie_headers, key_headers, sign_in
from .seed import G1

Client = TestClient[Any, Any]
USER = 304_987_654_321_000_042


async def _closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes the socket (updates may come first); its close code."""
    for _ in range(50):
        msg = await ws.receive(timeout=3.0)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return ws.close_code
    raise AssertionError("the socket was never closed")


async def test_logout_closes_that_sessions_sockets(client: Client) -> None:
    mine = cookie_headers(await sign_in(client, G1, "manager", USER))
    other = cookie_headers(await sign_in(client, G1, "other manager", USER + 1))
    async with (
        client.ws_connect("/ws", headers=mine) as ws,
        client.ws_connect("/ws", headers=other) as still_open,
    ):
        assert (await ws.receive(timeout=3.0)).type == WSMsgType.TEXT
        resp = await client.post("/logout", headers=mine, allow_redirects=False)
        assert resp.status == 303
        assert await _closed_with(ws) == 4401
        assert (await still_open.receive(timeout=3.0)).type == WSMsgType.TEXT
    assert (await client.get("/api/session", headers=mine)).status == 401


async def test_expiry_closes_the_socket(client: Client, clock: FakeClock) -> None:
    mine = cookie_headers(await sign_in(client, None, "owner", USER))
    async with client.ws_connect("/ws", headers=mine) as ws:
        assert (await ws.receive(timeout=3.0)).type == WSMsgType.TEXT
        clock.advance(client.app[DASHBOARD].sessions.session_ttl + 1)
        assert await _closed_with(ws) == 4401


async def test_a_logout_in_another_process_ends_the_session_here(
    monitor: Monitor, clock: FakeClock
) -> None:
    await monitor.store.migrate()
    here = Sessions(monitor.store, persist=True, clock=clock)
    there = Sessions(monitor.store, persist=True, clock=clock)  # a sibling process
    redeemed = await there.redeem(await there.issue_login("owner", None, USER))
    assert redeemed is not None
    session_id, _ = redeemed
    assert await here.lookup(session_id) is not None
    await there.revoke(session_id)
    assert await here.lookup(session_id) is None


async def test_the_owner_revokes_every_session_of_a_user(client: Client) -> None:
    first = cookie_headers(await sign_in(client, G1, "manager", USER))
    second = cookie_headers(await sign_in(client, G1, "manager again", USER))
    bystander = cookie_headers(await sign_in(client, G1, "someone else", USER + 1))
    refused = await client.post(f"/api/sessions/revoke?user={USER}", headers=bystander)
    assert refused.status == 403  # a manager may not
    async with client.ws_connect("/ws", headers=first) as ws:
        assert (await ws.receive(timeout=3.0)).type == WSMsgType.TEXT
        resp = await client.post(f"/api/sessions/revoke?user={USER}", headers=key_headers())
        assert resp.status == 200
        assert await resp.json() == {"user": str(USER), "revoked": 2}
        assert await _closed_with(ws) == 4401
    for headers in (first, second):
        assert (await client.get("/api/session", headers=headers)).status == 401
    assert (await client.get("/api/session", headers=bystander)).status == 200
    bad = await client.post("/api/sessions/revoke?user=abc", headers=key_headers())
    assert bad.status == 400 and (await bad.json())["parameter"] == "user"


class FakeDiscord:
    """The cog's rights check: who manages which guild, and how often it was asked."""

    def __init__(self) -> None:
        self.managers: set[tuple[int, int]] = {(USER, G1)}
        self.unreachable = False
        self.asked = 0

    async def __call__(self, user_id: int, guild_id: int) -> bool | None:
        self.asked += 1
        if self.unreachable:
            return None
        return (user_id, guild_id) in self.managers


async def test_a_manager_who_loses_manage_server_is_cut_off(
    client: Client, clock: FakeClock
) -> None:
    discord = FakeDiscord()
    client.app[DASHBOARD].authorize = discord
    mine = cookie_headers(await sign_in(client, G1, "manager", USER))
    assert discord.asked == 1  # checked at sign-in
    async with client.ws_connect("/ws", headers=mine) as ws:
        assert (await ws.receive(timeout=3.0)).type == WSMsgType.TEXT
        assert discord.asked == 1  # not on every push
        discord.managers.clear()  # the role is taken away in Discord
        discord.unreachable = True
        clock.advance(RIGHTS_RECHECK_SECONDS + 1)
        assert (await ws.receive(timeout=3.0)).type == WSMsgType.TEXT  # unknown: kept, asked again
        discord.unreachable = False
        assert await _closed_with(ws) == 4403
    assert (await client.get("/api/session", headers=mine)).status == 401


async def test_sign_in_is_refused_once_rights_are_gone(client: Client) -> None:
    discord = FakeDiscord()
    dash = client.app[DASHBOARD]
    dash.authorize = discord
    token = await dash.sessions.issue_login("manager", G1, USER + 7)
    resp = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert resp.status == 403 and "Manage Server" in await resp.text()
    assert "Set-Cookie" not in resp.headers


async def test_the_owner_is_not_rechecked_against_a_guild(client: Client, clock: FakeClock) -> None:
    discord = FakeDiscord()
    client.app[DASHBOARD].authorize = discord
    mine = cookie_headers(await sign_in(client, None, "owner", USER + 9))
    clock.advance(RIGHTS_RECHECK_SECONDS * 2)
    assert (await client.get("/api/session", headers=mine)).status == 200
    assert discord.asked == 0
