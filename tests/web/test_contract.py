"""The API's contract as the fuzzer found it wanting: long numbers, ids the schema allows, the
points cap, 405 with Allow, WebSocket errors, and oversized requests answered as JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from web import DASHBOARD
from web.errors import BadParameter
from web.params import SNOWFLAKE_PATTERN, parse_guild, parse_hours, parse_int, parse_step

from .conftest import key_headers
from .seed import G1

Client = TestClient[Any, Any]
LONG = "1" * 1000  # far past any allowed value; the whole query stays under the 4 KB cap


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        (f"/api/audit?limit={LONG}", "limit"),
        (f"/api/metrics/historical?hours={LONG}", "hours"),
        (f"/api/metrics/historical?hours=24&step={LONG}", "step"),
        (f"/api/commands?hours={LONG}", "hours"),
        (f"/api/commands?limit={LONG}", "limit"),
        (f"/api/analytics/insights?days={LONG}", "days"),
        (f"/api/alerts?guild={LONG}", "guild"),
    ],
)
async def test_numbers_of_thousands_of_digits_are_a_400_not_a_500(
    client: Client, path: str, parameter: str, caplog: pytest.LogCaptureFixture
) -> None:
    resp = await client.get(path, headers=key_headers())
    assert resp.status == 400
    assert (await resp.json())["parameter"] == parameter
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_numbers_are_measured_before_they_are_converted() -> None:
    for parse in (
        lambda t: parse_int(t, "limit", 1, 1000, 100),
        parse_hours,
        lambda t: parse_step(t, 24),
        parse_guild,
    ):
        with pytest.raises(BadParameter):
            parse("1" * 4301)  # int() of this raises ValueError: the 4,300-digit limit


async def test_a_4301_digit_number_is_a_json_414(client: Client) -> None:
    resp = await client.get("/api/audit?limit=" + "1" * 4301, headers=key_headers())
    assert resp.status == 414 and (await resp.json())["error"] == "uri_too_long"


@pytest.mark.parametrize(
    ("guild", "ok"),
    [
        (str(G1), True),
        ("9223372036854775807", True),  # the largest id the store can keep
        ("9223372036854775808", False),
        ("99999999999999999999", False),
        ("00000000000000000", False),  # was "all guilds", labelled guild 0
        ("012345678901234567", False),
        ("1234567890123456", False),
    ],
)
async def test_guild_ids_the_schema_allows_are_the_ones_the_server_takes(
    client: Client, guild: str, ok: bool
) -> None:
    assert bool(re.match(SNOWFLAKE_PATTERN, guild)) == ok
    resp = await client.get(f"/api/metrics/realtime?guild={guild}", headers=key_headers())
    assert resp.status == (200 if ok else 400)
    if ok:
        assert (await resp.json())["guild"] == guild
    spec = await (await client.get("/api/openapi.json")).json()
    params = spec["paths"]["/api/metrics/realtime"]["get"]["parameters"]
    assert params[0]["schema"]["pattern"] == SNOWFLAKE_PATTERN


async def test_a_step_too_fine_for_the_range_is_coarsened_and_said(client: Client) -> None:
    resp = await client.get("/api/metrics/historical?hours=8759&step=60", headers=key_headers())
    assert resp.status == 200
    body = await resp.json()
    assert body["step"] == 21600  # the finest step giving at most 2,000 points over 8,759 h
    resp = await client.get("/api/metrics/historical?hours=40&step=60", headers=key_headers())
    assert (await resp.json())["step"] == 120  # 2,400 points at 60 s; 1,200 at 120 s
    resp = await client.get("/api/metrics/historical?hours=1000&step=60", headers=key_headers())
    assert (await resp.json())["step"] == 3600  # 1,800 s fits, then whole hours past 2 days
    resp = await client.get("/api/metrics/historical?hours=3&step=60", headers=key_headers())
    assert (await resp.json())["step"] == 60


async def test_other_methods_get_405_with_allow(client: Client) -> None:
    for path in ("/api/session", "/api/metrics/realtime", "/ws", "/healthz"):
        resp = await client.request("TRACE", path, headers=key_headers())
        assert resp.status == 405, path
        assert "GET" in resp.headers["Allow"]
        assert (await resp.json())["error"] == "method_not_allowed"
    resp = await client.get("/api/sessions/revoke", headers=key_headers())
    assert resp.status == 405 and resp.headers["Allow"] == "POST"


async def test_websocket_errors_are_documented_json(client: Client) -> None:
    plain = await client.get("/ws", headers=key_headers())  # no Upgrade header
    assert plain.status == 400 and (await plain.json())["error"] == "websocket_expected"
    wrong = await client.get("/ws", headers={"X-API-Key": "wrong-key-0123456789"})
    assert wrong.status == 401 and (await wrong.json())["error"] == "unauthorized"
    spec = await (await client.get("/api/openapi.json")).json()
    documented = set(spec["paths"]["/ws"]["get"]["responses"])
    assert {"101", "400", "401", "403", "429"} <= documented


async def test_oversized_requests_get_json_414_and_431(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # the test client's server keeps aiohttp's 8 KB line limit; the dashboard's own server
    # (start_site) reads up to 256 KB so that these answers reach the client
    query = await client.get("/api/session?x=" + "a" * 5000, headers=key_headers())
    assert query.status == 414 and (await query.json())["error"] == "uri_too_long"
    big = {f"X-Pad-{i}": "b" * 4000 for i in range(5)}
    headers = await client.get("/api/session", headers={**key_headers(), **big})
    assert headers.status == 431 and (await headers.json())["error"] == "headers_too_large"
    assert all(r.exc_info is None for r in caplog.records)  # one line each, no traceback


async def test_the_real_server_answers_a_100_kb_query_with_json(monitor: Any) -> None:
    import aiohttp

    from web import create_app, start_site

    app = create_app(monitor)
    runner = await start_site(app, "127.0.0.1", 0, api_key=None)
    try:
        base = app[DASHBOARD].base_url
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/api/session?x={'a' * 100_000}") as resp:
                assert resp.status == 414
                assert (await resp.json())["error"] == "uri_too_long"
            pad = {"X-Pad": "c" * 100_000}
            async with session.get(f"{base}/healthz", headers=pad) as resp:
                assert resp.status == 431
    finally:
        await runner.cleanup()
