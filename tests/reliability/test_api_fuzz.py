"""The dashboard's HTTP API fuzzed from its own ``/api/openapi.json``: never a 5xx.

Hypothesis draws requests from the document: every GET path it lists (and ``/metrics``), each
parameter absent, valid for its schema, or arbitrary text, unknown extra parameters, and each of
the ways to call (API key, the owner's session, a guild manager's session, a wrong key, nothing).
Every answer must be below 500; a 200 must match the path's response schema and every other
``/api`` answer the error schema (a status and a message a user can act on).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import Config, FakeClock, Monitor
from tests.web.seed import G1, NAMES, seed_store
from web import DASHBOARD, create_app
from web.auth import SESSION_COOKIE

NOW = 1_767_225_600.0 + 14 * 3600 + 30
API_KEY = "fuzz-api-key-0123456789abc"
EXAMPLES = 400


def _value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """A parameter value: valid for ``schema`` or not."""
    anything = st.text(max_size=40)
    if "enum" in schema:
        return st.one_of(st.sampled_from([str(v) for v in schema["enum"]]), anything)
    if schema.get("type") == "integer":
        lo, hi = schema.get("minimum", -(10**6)), schema.get("maximum", 10**6)
        edge = st.sampled_from([lo - 1, lo, hi, hi + 1, 0, -1, 10**20])
        return st.one_of(st.integers(lo, hi).map(str), edge.map(str), anything)
    if "pattern" in schema:
        return st.one_of(st.from_regex(schema["pattern"], fullmatch=True), anything)
    return anything


def _params(operation: dict[str, Any]) -> st.SearchStrategy[dict[str, str]]:
    fields = {
        p["name"]: st.one_of(st.none(), _value(p.get("schema", {})))
        for p in operation.get("parameters", [])
        if p.get("in") == "query"
    }
    known = st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v})
    extra = st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10), max_size=2)
    return st.tuples(known, extra).map(lambda pair: {**pair[1], **pair[0]})


async def _session(client: TestClient[Any, Any], guild: int | None) -> str:
    token = await client.app[DASHBOARD].sessions.issue_login("fuzz", guild)
    resp = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    client.session.cookie_jar.clear()
    return resp.cookies[SESSION_COOKIE].value


async def _start(tmp_path: Path) -> tuple[Monitor, TestClient[Any, Any], dict[str, dict[str, str]]]:
    config = Config(db_path=tmp_path / "bot.db", api_key=API_KEY, websocket_update_interval=1.0)
    monitor = Monitor(config, clock=FakeClock(NOW), system_interval=3600)
    await monitor.start(background=False)
    await seed_store(monitor.store, NOW, days=2)
    client = TestClient(TestServer(create_app(monitor, guild_names=lambda: dict(NAMES))))
    await client.start_server()
    owner, manager = await _session(client, None), await _session(client, G1)
    headers = {
        "key": {"Authorization": f"Bearer {API_KEY}"},
        "x-api-key": {"X-API-Key": API_KEY},
        "owner": {"Cookie": f"{SESSION_COOKIE}={owner}"},
        "manager": {"Cookie": f"{SESSION_COOKIE}={manager}"},
        "wrong": {"Authorization": "Bearer not-the-key-at-all-000"},
        "none": {},
    }
    return monitor, client, headers


@pytest.mark.slow
def test_api_never_answers_5xx(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    monitor, client, headers = loop.run_until_complete(_start(tmp_path))
    try:
        resp = loop.run_until_complete(client.get("/api/openapi.json"))
        spec = loop.run_until_complete(resp.json())
        operations = {path: item["get"] for path, item in spec["paths"].items() if "get" in item}
        routes = {r.resource.canonical for r in client.app.router.routes() if r.resource}
        if "/metrics" in routes:
            operations["/metrics"] = {"parameters": []}
        error_schema = spec["components"]["schemas"]["Error"]
        seen: dict[str, set[int]] = {path: set() for path in operations}

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            path=st.sampled_from(sorted(operations)),
            who=st.sampled_from(sorted(headers)),
            data=st.data(),
        )
        def call(path: str, who: str, data: st.DataObject) -> None:
            params = data.draw(_params(operations[path]), label="params")

            async def get() -> tuple[int, str]:
                async with client.session.get(
                    client.make_url(path), params=params, headers=headers[who]
                ) as resp:
                    return resp.status, await resp.text()

            status, text = loop.run_until_complete(get())
            seen[path].add(status)
            assert status < 500, (path, who, params, status, text[:500])
            if not path.startswith("/api/") or path == "/api/openapi.json":
                return
            body = json.loads(text)
            if status == 200:
                schema = operations[path]["responses"]["200"]["content"]["application/json"]
                jsonschema.validate(body, schema["schema"])
            else:
                jsonschema.validate(body, error_schema)

        started = time.monotonic()
        call()
        assert time.monotonic() - started < 90
        sys.stderr.write(f"API fuzz: {EXAMPLES} requests, statuses {seen}\n")
        assert all(200 in codes or path == "/ws" for path, codes in seen.items()), seen
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(monitor.stop())
        loop.close()
