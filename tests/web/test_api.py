"""The JSON API: authentication matrix, every 400, guild isolation, audit rows, content."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitoring import FakeClock, Monitor
from web import DASHBOARD

from .conftest import API_KEY, key_headers
from .seed import G1, G2, XSS_NAME

Client = TestClient[Any, Any]

DATA_ENDPOINTS = [
    "/api/metrics/realtime",
    "/api/metrics/historical?hours=24",
    "/api/health/status",
    "/api/analytics/insights",
    "/api/commands",
    "/api/alerts",
    "/api/guilds",
    "/api/session",
]


# -- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize("path", DATA_ENDPOINTS)
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-key-0123456789"}, 401),
        ({"X-API-Key": "wrong-key-0123456789"}, 401),
        ({"Authorization": f"Basic {API_KEY}"}, 401),
        ({"Authorization": f"Bearer {API_KEY}x"}, 401),
        ({"Cookie": "monitor_session=forged-session-id"}, 401),
        ({"Authorization": f"Bearer {API_KEY}"}, 200),
        ({"Authorization": f"bearer {API_KEY}"}, 200),
        ({"X-API-Key": API_KEY}, 200),
    ],
)
async def test_auth_matrix(client: Client, path: str, headers: dict[str, str], status: int) -> None:
    resp = await client.get(path, headers=headers)
    body = await resp.json()
    assert resp.status == status, body
    if status == 401:
        assert body["error"] == "unauthorized"
        assert "message" in body
    else:
        assert "error" not in body  # never an error inside a 200


@pytest.mark.parametrize("path", DATA_ENDPOINTS)
async def test_sessions_are_accepted(
    client: Client, path: str, owner_headers: dict[str, str], manager_headers: dict[str, str]
) -> None:
    for headers in (owner_headers, manager_headers):
        resp = await client.get(path, headers=headers)
        assert resp.status == 200, await resp.text()


async def test_wrong_key_wins_over_a_valid_session(
    client: Client, owner_headers: dict[str, str]
) -> None:
    headers = {**owner_headers, "X-API-Key": "wrong-key-0123456789"}
    resp = await client.get("/api/session", headers=headers)
    assert resp.status == 401
    assert (await resp.json())["message"] == "wrong API key"


async def test_no_api_key_configured_refuses_every_key(
    aiohttp_client: Any, monitor: Monitor
) -> None:
    from web import create_app

    app = create_app(monitor, config=monitor.config.replace(api_key=None))
    cl = await aiohttp_client(app)
    for headers in ({"X-API-Key": ""}, {"Authorization": "Bearer "}, {"X-API-Key": "anything"}):
        resp = await cl.get("/api/session", headers=headers)
        assert resp.status == 401


async def test_public_routes_need_no_credentials(client: Client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}  # liveness only, no data
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    page = await client.get("/")
    assert page.status == 200
    assert "text/html" in page.headers["Content-Type"]


async def test_security_headers_everywhere(client: Client) -> None:
    for path in ("/", "/assets/app.js", "/api/session", "/healthz", "/nope", "/login?token=x"):
        resp = await client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    js = await client.get("/assets/app.js")
    assert "javascript" in js.headers["Content-Type"]
    css = await client.get("/assets/style.css")
    assert css.headers["Content-Type"].startswith("text/css")


async def test_unknown_api_path_is_json_404(client: Client) -> None:
    resp = await client.get("/api/nothing", headers=key_headers())
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"


# -- bad parameters ---------------------------------------------------------------------------

BAD = [
    ("/api/metrics/historical?hours=0", "hours"),
    ("/api/metrics/historical?hours=8761", "hours"),
    ("/api/metrics/historical?hours=abc", "hours"),
    ("/api/metrics/historical?hours=1.5", "hours"),
    ("/api/metrics/historical?hours=-3", "hours"),
    ("/api/metrics/historical?hours=", "hours"),
    ("/api/metrics/historical?hours=%EF%BC%91", "hours"),  # a full-width digit
    ("/api/metrics/historical?hours=1&hours=2", "hours"),
    ("/api/metrics/historical?step=61", "step"),
    ("/api/metrics/historical?step=abc", "step"),
    ("/api/metrics/historical?guild=abc", "guild"),
    ("/api/metrics/historical?guild=123", "guild"),
    ("/api/metrics/historical?guild=99999999999999999999", "guild"),
    ("/api/metrics/historical?hourz=24", "hourz"),
    ("/api/metrics/realtime?guild=-1", "guild"),
    ("/api/metrics/realtime?hours=1", "hours"),
    ("/api/commands?limit=0", "limit"),
    ("/api/commands?limit=501", "limit"),
    ("/api/commands?hours=9000", "hours"),
    ("/api/analytics/insights?days=0", "days"),
    ("/api/analytics/insights?days=91", "days"),
    ("/api/analytics/insights?guild=1e18", "guild"),
    ("/api/alerts?guild=x", "guild"),
    ("/api/health/status?verbose=1", "verbose"),
    ("/api/guilds?all=1", "all"),
    ("/api/session?x=1", "x"),
    ("/api/audit?limit=1001", "limit"),
    ("/login", "token"),
    ("/login?token=%3Cscript%3E", "token"),
]


@pytest.mark.parametrize(("path", "parameter"), BAD)
async def test_bad_parameters_are_400_naming_the_parameter(
    client: Client, path: str, parameter: str
) -> None:
    resp = await client.get(path, headers=key_headers())
    body = await resp.json()
    assert resp.status == 400, body
    assert body["error"] == "bad_parameter"
    assert body["parameter"] == parameter
    assert body["allowed"]
    assert parameter in body["message"] or "allowed" in body["message"]


async def test_ws_bad_parameter_is_400(client: Client) -> None:
    resp = await client.get("/ws?guild=nope", headers=key_headers())
    assert resp.status == 400
    assert (await resp.json())["parameter"] == "guild"


# -- guild isolation --------------------------------------------------------------------------


async def test_manager_sees_own_guild_by_default(
    client: Client, manager_headers: dict[str, str]
) -> None:
    me = await (await client.get("/api/session", headers=manager_headers)).json()
    assert me["scope"] == f"guild:{G1}" and me["guild"] == str(G1)
    real = await (await client.get("/api/metrics/realtime", headers=manager_headers)).json()
    assert real["guild"] == str(G1)
    mine = await (await client.get("/api/metrics/historical", headers=manager_headers)).json()
    assert mine["guild"] == str(G1)
    as_key = await (
        await client.get(f"/api/metrics/historical?guild={G1}", headers=key_headers())
    ).json()
    everything = await (await client.get("/api/metrics/historical", headers=key_headers())).json()
    assert mine["aggregates"] == as_key["aggregates"]
    assert mine["aggregates"]["total_messages"] < everything["aggregates"]["total_messages"]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/metrics/realtime?guild={G2}",
        f"/api/metrics/historical?guild={G2}",
        f"/api/commands?guild={G2}",
        f"/api/analytics/insights?guild={G2}",
        f"/api/alerts?guild={G2}",
        "/api/audit",
    ],
)
async def test_manager_cannot_see_other_guilds(
    client: Client, manager_headers: dict[str, str], path: str
) -> None:
    resp = await client.get(path, headers=manager_headers)
    body = await resp.json()
    assert resp.status == 403, body
    assert body["error"] == "forbidden"


async def test_guild_list_is_scoped(
    client: Client, manager_headers: dict[str, str], owner_headers: dict[str, str]
) -> None:
    mine = await (await client.get("/api/guilds", headers=manager_headers)).json()
    assert mine["guilds"] == [{"id": str(G1), "name": XSS_NAME}]
    every = await (await client.get("/api/guilds", headers=owner_headers)).json()
    assert {g["id"] for g in every["guilds"]} == {str(G1), str(G2)}


# -- content ----------------------------------------------------------------------------------


async def test_historical_lines_up_with_the_store(client: Client, monitor: Monitor) -> None:
    resp = await client.get("/api/metrics/historical?hours=6&step=600", headers=key_headers())
    data = await resp.json()
    assert data["step"] == 600 and data["period"] == "6h"
    now = monitor.clock()
    total = await monitor.store.aggregate("messages", now - 6 * 3600, now)
    assert data["aggregates"]["total_messages"] == total.count
    timeline = data["timeline"]
    lengths = {len(col) for entry in timeline.values() for col in entry["series"].values()}
    assert lengths == {36}  # 6 hours of 10-minute steps, the current step left out
    ts = timeline["messages_over_time"]["series"]["ts"]
    assert all(b - a == 600 for a, b in itertools.pairwise(ts))
    assert ts[-1] + 600 <= now
    assert data["aggregates"]["total_voice_minutes"] > 0
    latency = timeline["response_times"]["series"]
    assert any(v is not None for v in latency["p95"])
    assert all(
        p50 is None or p95 is None or p50 <= p95
        for p50, p95 in zip(latency["p50"], latency["p95"], strict=True)
    )


async def test_long_ranges_use_hourly_steps(client: Client) -> None:
    data = await (
        await client.get("/api/metrics/historical?hours=720", headers=key_headers())
    ).json()
    assert data["step"] % 3600 == 0
    assert len(data["timeline"]["messages_over_time"]["series"]["ts"]) <= 2000


async def test_commands_table(client: Client) -> None:
    data = await (await client.get("/api/commands?hours=24", headers=key_headers())).json()
    names = [c["command"] for c in data["commands"]]
    assert set(names) == {"ping", "stats", "play", "help", "rank"}
    for c in data["commands"]:
        assert 0 <= c["error_rate"] <= 1
        assert c["p50_ms"] <= c["p95_ms"] <= c["p99_ms"]
    play = next(c for c in data["commands"] if c["command"] == "play")
    ping = next(c for c in data["commands"] if c["command"] == "ping")
    assert play["p50_ms"] > ping["p50_ms"]  # "play" is the slow command of the seed data


async def test_realtime_and_health(client: Client) -> None:
    data = await (await client.get("/api/metrics/realtime", headers=key_headers())).json()
    assert data["mode"] == "live" and data["type"] == "update"
    assert data["metrics"]["messages_processed"] > 0
    assert data["system"]["storage"]["dropped_rows"] == 0
    health = await (await client.get("/api/health/status", headers=key_headers())).json()
    assert "database" in health["services"]
    assert health["status"] in {"healthy", "degraded", "unhealthy"}


async def test_store_failure_is_503_json(client: Client, monitor: Monitor) -> None:
    await monitor.store.close()
    resp = await client.get("/api/metrics/historical", headers=key_headers())
    assert resp.status == 503
    assert (await resp.json())["error"] == "store_unavailable"


async def test_large_answers_are_gzipped(client: Client) -> None:
    headers = {**key_headers(), "Accept-Encoding": "gzip"}
    resp = await client.get("/api/metrics/historical?hours=24", headers=headers)
    assert resp.headers["Content-Encoding"] == "gzip"
    assert (await resp.json())["hours"] == 24


# -- audit ------------------------------------------------------------------------------------


async def test_every_access_is_audited(
    client: Client, monitor: Monitor, manager_headers: dict[str, str], clock: FakeClock
) -> None:
    await client.get("/api/metrics/realtime", headers=key_headers())
    await client.get("/api/commands?limit=0", headers=key_headers())
    await client.get("/api/session")
    await client.get(f"/api/metrics/historical?guild={G2}", headers=manager_headers)
    await client.get("/healthz")
    await client.get("/assets/app.js")
    dash = client.app[DASHBOARD]
    assert await dash.audit.flush() > 0
    rows = await monitor.store.fetchall(
        "SELECT ts, who, scope, method, path, status FROM web_audit ORDER BY id"
    )
    got = {(r[1], r[2], r[4], r[5]) for r in rows}
    assert ("api-key", "all", "/api/metrics/realtime", 200) in got
    assert ("api-key", "all", "/api/commands?limit=0", 400) in got
    assert ("anonymous", "-", "/api/session", 401) in got
    assert ("manager", f"guild:{G1}", f"/api/metrics/historical?guild={G2}", 403) in got
    assert ("manager", "-", "/login", 303) not in got  # the login itself is audited ...
    assert any(r[4] == "/login" and r[5] == 303 for r in rows)  # ... under the session's name
    assert all(r[0] == clock() for r in rows)
    assert not any(r[4] in ("/healthz", "/assets/app.js") for r in rows)
    listing = await (await client.get("/api/audit?limit=5", headers=key_headers())).json()
    assert len(listing["entries"]) == 5 and listing["persisted"] is True


async def test_prometheus_metrics_are_mounted_on_the_live_app(client: Client) -> None:
    resp = await client.get("/metrics")  # the test client is a loopback peer
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE" in await resp.text()
    assert (await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})).status == 403
    dash = client.app[DASHBOARD]
    await dash.audit.flush()
    rows = await dash.store.fetchall("SELECT path FROM web_audit WHERE path LIKE '/metrics%'")
    assert rows == []  # scrapes (every few seconds) stay out of the audit log
