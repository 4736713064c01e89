"""``/api/openapi.json`` describes every route, and every answer matches its schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from .conftest import key_headers
from .seed import G1

Client = TestClient[Any, Any]


async def _spec(client: Client) -> dict[str, Any]:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    spec: dict[str, Any] = await resp.json()
    return spec


async def test_every_route_is_described(client: Client) -> None:
    spec = await _spec(client)
    assert spec["openapi"].startswith("3.1")
    routes = {
        r.resource.canonical
        for r in client.app.router.routes()
        if r.resource is not None
        and r.resource.canonical not in ("/", "/login", "/logout")
        and not r.resource.canonical.startswith("/assets")
    }
    assert "/metrics" in routes and "/api/metrics/historical" in routes
    assert routes <= set(spec["paths"]), routes - set(spec["paths"])


CASES = [
    ("/api/metrics/realtime", {}),
    ("/api/metrics/realtime", {"guild": str(G1)}),
    ("/api/metrics/historical", {"hours": "3", "step": "300"}),
    ("/api/metrics/historical", {"hours": "720", "guild": str(G1)}),
    ("/api/health/status", {}),
    ("/api/analytics/insights", {"days": "3"}),
    ("/api/commands", {"hours": "48", "limit": "3"}),
    ("/api/alerts", {}),
    ("/api/guilds", {}),
    ("/api/session", {}),
    ("/api/audit", {"limit": "3"}),
]


@pytest.mark.parametrize(("path", "params"), CASES)
async def test_answers_match_their_schema(
    client: Client, path: str, params: dict[str, str]
) -> None:
    spec = await _spec(client)
    op = spec["paths"][path]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert set(params) <= names
    resp = await client.get(path, params=params, headers=key_headers())
    assert resp.status == 200, await resp.text()
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator(schema).validate(await resp.json())


async def test_errors_match_the_error_schema(client: Client) -> None:
    spec = await _spec(client)
    schema = spec["components"]["schemas"]["Error"]
    for path in ("/api/metrics/historical?hours=0", "/api/session", "/api/nope"):
        resp = await client.get(path)
        jsonschema.Draft202012Validator(schema).validate(await resp.json())
