"""Anonymous load, proxies and host names: rate limits with Retry-After, aggregated audit rows,
no write for a bad sign-in token, forwarded headers only from trusted proxies, a Host allow-list
and Secure ``__Host-`` cookies behind TLS."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from monitoring import FakeClock, Monitor
from web import DASHBOARD
from web.auth import SECURE_SESSION_COOKIE, SESSION_COOKIE
from web.network import Network
from web.ratelimit import RateLimiter

from .conftest import cookie_headers, key_headers, sign_in
from .seed import G1

Client = TestClient[Any, Any]


async def test_anonymous_requests_are_rate_limited_per_address(
    client: Client, clock: FakeClock
) -> None:
    dash = client.app[DASHBOARD]
    dash.anonymous_limit = RateLimiter(5, clock=clock)
    for _ in range(5):
        assert (await client.get("/api/session")).status == 401
    refused = await client.get("/api/session")
    assert refused.status == 429 and refused.headers["Retry-After"] == "12"
    assert (await refused.json())["error"] == "rate_limited"
    assert (await client.get("/api/session", headers=key_headers())).status == 200  # a key holder
    assert (await client.get("/healthz")).status == 200  # liveness is never limited
    clock.advance(12)
    assert (await client.get("/api/session")).status == 401  # refilled


async def test_sign_in_attempts_are_limited_and_a_bad_token_writes_nothing(
    client: Client, monitor: Monitor, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    dash = client.app[DASHBOARD]
    dash.signin_limit = RateLimiter(3, clock=clock)
    writes = 0
    original = dash.sessions._write

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal writes
        writes += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(dash.sessions, "_write", counting)  # every sign-in write goes here
    for _ in range(3):
        resp = await client.post("/login", data={"token": "x" * 43}, allow_redirects=False)
        assert resp.status == 401
    assert writes == 0  # an unknown token is refused before any write
    resp = await client.post("/login", data={"token": "x" * 43}, allow_redirects=False)
    assert resp.status == 429 and resp.headers["Retry-After"] == "20"
    assert "Too many sign-in attempts" in await resp.text()


async def test_repeated_anonymous_failures_are_one_row_per_address_and_minute(
    client: Client, monitor: Monitor, clock: FakeClock
) -> None:
    dash = client.app[DASHBOARD]
    for _ in range(40):
        await client.get("/api/metrics/realtime")
    await dash.audit.flush()
    for _ in range(30):
        await client.get("/api/commands")
    await dash.audit.flush()
    clock.advance(60)
    await client.get("/api/session")
    await dash.audit.flush()
    rows = await monitor.store.fetchall(
        "SELECT who, path, status, count FROM web_audit WHERE who != 'api-key' ORDER BY id"
    )
    assert rows == [
        ("anonymous", "/api/metrics/realtime", 401, 70),
        ("anonymous", "/api/session", 401, 1),
    ]
    listing = await (await client.get("/api/audit?limit=5", headers=key_headers())).json()
    assert {e["count"] for e in listing["entries"] if e["who"] == "anonymous"} == {70, 1}


async def test_forwarded_headers_count_only_from_trusted_proxies(
    client: Client, clock: FakeClock
) -> None:
    dash = client.app[DASHBOARD]
    dash.anonymous_limit = RateLimiter(2, clock=clock)
    spoof = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(2):  # untrusted peer: its claim is ignored, the peer's budget is spent
        await client.get("/api/session", headers=spoof)
    assert (
        await client.get("/api/session", headers={"X-Forwarded-For": "198.51.100.1"})
    ).status == 429
    dash.network = Network(["127.0.0.1"])  # now the peer is our proxy
    for address in ("203.0.113.7", "203.0.113.8"):  # each client has its own budget
        assert (
            await client.get("/api/session", headers={"X-Forwarded-For": address})
        ).status == 401
    metrics = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert metrics.status == 403  # relayed for an outside client: not local
    bare = await client.get("/metrics")  # relayed by the proxy without saying for whom
    assert bare.status == 403


def test_metrics_locality() -> None:
    network = Network(["10.0.0.2"])

    class Req:
        def __init__(self, remote: str, headers: dict[str, str]) -> None:
            self.remote, self.headers, self.secure = remote, headers, False

    assert network.is_local(Req("127.0.0.1", {}))  # type: ignore[arg-type]
    assert not network.is_local(Req("127.0.0.1", {"X-Real-IP": "1.2.3.4"}))  # type: ignore[arg-type]
    assert network.is_local(Req("10.0.0.2", {"X-Forwarded-For": "127.0.0.1"}))  # type: ignore[arg-type]
    assert not network.is_local(Req("10.0.0.2", {}))  # type: ignore[arg-type]
    assert not network.is_local(Req("10.0.0.9", {"X-Forwarded-For": "127.0.0.1"}))  # type: ignore[arg-type]


async def test_a_foreign_host_name_is_refused(client: Client) -> None:
    evil = {"Host": "attacker.example:8080"}
    resp = await client.get("/api/session", headers={**key_headers(), **evil})
    assert resp.status == 421 and (await resp.json())["error"] == "host_not_allowed"
    assert (await client.get("/", headers=evil)).status == 421
    assert (await client.get("/metrics", headers=evil)).status == 421
    assert (await client.get("/healthz", headers=evil)).status == 200
    for ok in ("localhost:8080", "127.0.0.1", "[::1]:8080"):
        assert (
            await client.get("/api/session", headers={**key_headers(), "Host": ok})
        ).status == 200
    dash = client.app[DASHBOARD]
    dash.network = Network(public_urls=["https://bot.example.org"])
    assert (
        await client.get("/api/session", headers={**key_headers(), "Host": "bot.example.org"})
    ).status == 200
    assert (await client.get("/api/session", headers={**key_headers(), **evil})).status == 421
    dash.network = Network(bind_host="0.0.0.0")  # public bind, no URL named: any name (key needed)
    assert (await client.get("/api/session", headers={**key_headers(), **evil})).status == 200


async def test_cookies_are_secure_with_the_host_prefix_behind_a_tls_proxy(client: Client) -> None:
    dash = client.app[DASHBOARD]
    token = await dash.sessions.issue_login("owner", None)
    dash.network = Network(["127.0.0.1"])
    tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    resp = await client.post("/login", data={"token": token}, headers=tls, allow_redirects=False)
    assert resp.status == 303
    raw = resp.headers["Set-Cookie"]
    assert raw.startswith(f"{SECURE_SESSION_COOKIE}=") and "Secure" in raw and "Path=/" in raw
    assert "Domain" not in raw
    session_id = resp.cookies[SECURE_SESSION_COOKIE].value
    client.session.cookie_jar.clear()
    me = await client.get(
        "/api/session", headers={"Cookie": f"{SECURE_SESSION_COOKIE}={session_id}", **tls}
    )
    assert me.status == 200
    # a client that is not a trusted proxy cannot claim TLS
    dash.network = Network()
    token = await dash.sessions.issue_login("owner", None)
    plain = await client.post("/login", data={"token": token}, headers=tls, allow_redirects=False)
    assert plain.headers["Set-Cookie"].startswith(f"{SESSION_COOKIE}=")
    assert "Secure" not in plain.headers["Set-Cookie"]


async def test_manager_session_still_works_for_its_owner_after_the_changes(
    client: Client,
) -> None:
    headers = cookie_headers(await sign_in(client, G1, "manager"))
    assert (await client.get("/api/session", headers=headers)).status == 200


async def test_health_checks_run_once_at_a_time_and_are_reused(
    client: Client, monitor: Monitor, clock: FakeClock
) -> None:
    calls = 0

    async def slow_llm_ping() -> tuple[bool, str]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.3)
        return True, "reachable"

    monitor.add_check("llm_api", slow_llm_ping, timeout=5.0)
    clock.advance(10)  # the verdicts from the start are stale now
    before = calls
    answers = await asyncio.gather(
        *(client.get("/api/health/status", headers=key_headers()) for _ in range(20))
    )
    assert all(a.status == 200 for a in answers)
    bodies = [await a.json() for a in answers]
    assert all(b["services"]["llm_api"]["status"] == "healthy" for b in bodies)
    assert calls - before <= 2  # one run for the burst (and perhaps the background poll)
    after_burst = calls
    await client.get("/api/health/status", headers=key_headers())
    assert calls == after_burst  # fresh: reused
    clock.advance(client.app[DASHBOARD].config.websocket_update_interval + 0.01)
    await client.get("/api/health/status", headers=key_headers())
    assert calls > after_burst  # stale: run again


async def test_live_sockets_are_capped_per_sign_in(client: Client) -> None:
    dash = client.app[DASHBOARD]
    cap = dash.config.websocket_max_per_client
    mine = cookie_headers(await sign_in(client, G1, "manager", 1))
    sockets = [await client.ws_connect("/ws", headers=mine) for _ in range(cap)]
    try:
        for ws in sockets:
            assert (await ws.receive(timeout=3.0)).type == WSMsgType.TEXT
        extra = await client.ws_connect("/ws", headers=mine)
        msg = await extra.receive(timeout=3.0)
        assert msg.type == WSMsgType.CLOSE and extra.close_code == 4429
        assert f"at most {cap}" in msg.extra
    finally:
        for ws in sockets:
            await ws.close()


async def test_insights_are_computed_once_a_minute_per_scope(
    client: Client, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.state

    computed: list[tuple[int | None, int]] = []
    original = web.state.insights_payload

    async def counting(monitor: Any, *, now: float, guild: int | None, days: int) -> Any:
        computed.append((guild, days))
        return await original(monitor, now=now, guild=guild, days=days)

    monkeypatch.setattr(web.state, "insights_payload", counting)
    for _ in range(3):
        assert (
            await client.get("/api/analytics/insights?days=2", headers=key_headers())
        ).status == 200
    await client.get(f"/api/analytics/insights?days=2&guild={G1}", headers=key_headers())
    assert computed == [(None, 2), (G1, 2)]
    clock.advance(61)
    await client.get("/api/analytics/insights?days=2", headers=key_headers())
    assert computed == [(None, 2), (G1, 2), (None, 2)]


async def test_a_null_origin_passes_only_with_same_origin_fetch_metadata(client: Client) -> None:
    dash = client.app[DASHBOARD]
    token = await dash.sessions.issue_login("owner", None)
    forged = {"Origin": "null", "Sec-Fetch-Site": "cross-site"}
    resp = await client.post("/login", data={"token": token}, headers=forged, allow_redirects=False)
    assert resp.status == 403 and (await resp.json())["error"] == "bad_origin"
    ours = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}  # the no-referrer sign-in page
    resp = await client.post("/login", data={"token": token}, headers=ours, allow_redirects=False)
    assert resp.status == 303
