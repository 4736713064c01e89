"""One-time login links, session cookies, CSRF/Origin checks, persistence, bind safety."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitoring import FakeClock, Monitor
from web import DASHBOARD, UnsafeBindError, check_bind, create_app, start_site
from web.auth import SESSION_COOKIE, key_matches
from web.sessions import Sessions

from .conftest import cookie_headers
from .seed import G1

Client = TestClient[Any, Any]


async def test_link_page_then_post_sets_a_strict_httponly_cookie(client: Client) -> None:
    dash = client.app[DASHBOARD]
    link = await dash.issue_login("owner (1)", None)
    token = link.rsplit("token=", 1)[1]
    page = await client.get(f"/login?token={token}")
    assert page.status == 200
    html = await page.text()
    assert 'method="post"' in html and token in html
    assert "<script" not in html and "style=" not in html
    # showing the page does not use the token up (link previews cannot burn it)
    resp = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    raw = resp.headers["Set-Cookie"]
    assert raw.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in raw and "SameSite=Strict" in raw and "Path=/" in raw
    assert "Secure" not in raw  # plain http on loopback; https base URLs get Secure
    session_id = resp.cookies[SESSION_COOKIE].value
    client.session.cookie_jar.clear()
    me = await (await client.get("/api/session", headers=cookie_headers(session_id))).json()
    assert me == {
        "who": "owner (1)",
        "method": "session",
        "scope": "all",
        "guild": None,
        "mode": "live",
        "update_interval": dash.config.websocket_update_interval,
    }


async def test_a_link_works_once(client: Client) -> None:
    token = await client.app[DASHBOARD].sessions.issue_login("m", G1)
    first = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert first.status == 303
    again = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert again.status == 401
    assert "already used" in await again.text()


async def test_a_link_expires_after_five_minutes(client: Client, clock: FakeClock) -> None:
    sessions = client.app[DASHBOARD].sessions
    late = await sessions.issue_login("m", G1)
    fresh = await sessions.issue_login("m", G1)
    clock.advance(299)
    ok = await client.post("/login", data={"token": fresh}, allow_redirects=False)
    assert ok.status == 303
    clock.advance(2)
    expired = await client.post("/login", data={"token": late}, allow_redirects=False)
    assert expired.status == 401


async def test_sessions_expire(client: Client, clock: FakeClock) -> None:
    sessions = client.app[DASHBOARD].sessions
    token = await sessions.issue_login("m", None)
    redeemed = await sessions.redeem(token)
    assert redeemed is not None
    session_id, _ = redeemed
    assert (await sessions.lookup(session_id)) is not None
    clock.advance(sessions.session_ttl + 1)
    assert (await sessions.lookup(session_id)) is None
    resp = await client.get("/api/session", headers=cookie_headers(session_id))
    assert resp.status == 401


async def test_cross_site_login_post_is_refused(client: Client) -> None:
    token = await client.app[DASHBOARD].sessions.issue_login("m", None)
    resp = await client.post(
        "/login",
        data={"token": token},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 403
    assert (await resp.json())["error"] == "bad_origin"


async def test_malformed_token_in_post_is_400(client: Client) -> None:
    resp = await client.post("/login", data={"token": "<x>"}, allow_redirects=False)
    assert resp.status == 400
    assert (await resp.json())["parameter"] == "token"


async def test_logout_ends_the_session(client: Client, owner_headers: dict[str, str]) -> None:
    assert (await client.get("/api/session", headers=owner_headers)).status == 200
    resp = await client.post("/logout", headers=owner_headers, allow_redirects=False)
    assert resp.status == 303
    assert (await client.get("/api/session", headers=owner_headers)).status == 401


async def test_sessions_survive_a_restart(monitor: Monitor, clock: FakeClock) -> None:
    await monitor.store.migrate()
    first = Sessions(monitor.store, persist=True, clock=clock)
    token = await first.issue_login("owner", None)
    pending = await first.issue_login("manager", G1)
    redeemed = await first.redeem(token)
    assert redeemed is not None
    second = Sessions(monitor.store, persist=True, clock=clock)
    await second.load()
    principal = await second.lookup(redeemed[0])
    assert principal is not None and principal.who == "owner" and principal.guild is None
    again = await second.redeem(pending)  # a link issued before the restart still works once
    assert again is not None and again[1].guild == G1
    assert await second.redeem(token) is None
    rows = await monitor.store.fetchall("SELECT token_hash FROM web_sessions")
    assert all(len(r[0]) == 64 and r[0] != redeemed[0] for r in rows)  # hashes, not tokens


def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert key_matches("k" * 20, "k" * 20)
    assert not key_matches("k" * 19, "k" * 20)
    assert not key_matches("anything", None)
    assert len(calls) == 2


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.org", ""])
def test_public_bind_needs_an_api_key(host: str) -> None:
    with pytest.raises(UnsafeBindError, match="ANALYTICS_API_KEY"):
        check_bind(host, None)
    check_bind(host, "a-key-of-sixteen-chars")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_bind_needs_no_key(host: str) -> None:
    check_bind(host, None)


async def test_start_site_refuses_before_listening(monitor: Monitor) -> None:
    app = create_app(monitor)
    with pytest.raises(UnsafeBindError):
        await start_site(app, "0.0.0.0", 0, api_key=None)


async def test_https_base_url_makes_the_cookie_secure(
    aiohttp_client: Any, monitor: Monitor
) -> None:
    app = create_app(monitor, base_url="https://bot.example.org")
    cl = await aiohttp_client(app)
    token = await app[DASHBOARD].sessions.issue_login("o", None)
    resp = await cl.post("/login", data={"token": token}, allow_redirects=False)
    assert "Secure" in resp.headers["Set-Cookie"]
    assert (await app[DASHBOARD].issue_login("o", None)).startswith(
        "https://bot.example.org/login?token="
    )


async def test_sign_in_tokens_never_reach_the_audit_log_or_a_referrer(
    client: Client, monitor: Monitor, caplog: pytest.LogCaptureFixture
) -> None:
    dash = client.app[DASHBOARD]
    token = await dash.sessions.issue_login("owner (1)", None)
    caplog.set_level("INFO", logger="web.audit.access")
    page = await client.get(f"/login?token={token}&next=%2F")
    assert page.status == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    await client.get("/api/session?key=not-a-real-key")
    await dash.audit.flush()
    rows = await monitor.store.fetchall("SELECT path FROM web_audit ORDER BY id")
    paths = [r[0] for r in rows]
    assert "/login?token=[redacted]&next=%2F" in paths
    assert "/api/session?key=[redacted]" in paths
    assert not any(token in p or "not-a-real-key" in p for p in paths)
    assert token not in caplog.text
    # the token still works: recording the visit did not use it up, and did not leak it
    resp = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert resp.status == 303
