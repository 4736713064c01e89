"""What a one-guild view may see: its own guild's numbers and verdicts, never the host's readings
or bot-wide alerts, and no error answer names a file on the server."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from monitoring import Monitor
from monitoring.alerts.state import AlertStore, Incident
from monitoring.store.base import StoreError

from .conftest import key_headers
from .seed import G1

Client = TestClient[Any, Any]


async def _get(client: Client, path: str, headers: dict[str, str]) -> Any:
    resp = await client.get(path, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_host_readings_are_for_the_all_guilds_view(
    client: Client, manager_headers: dict[str, str]
) -> None:
    owner = await _get(client, "/api/metrics/realtime", key_headers())
    assert "storage" in owner["system"] and "loop_lag_ms" in owner["system"]
    manager = await _get(client, "/api/metrics/realtime", manager_headers)
    assert manager["guild"] == str(G1) and manager["system"] is None
    assert manager["health"]["status"] == owner["health"]["status"]
    for name, service in manager["health"]["services"].items():  # verdicts, no readings
        assert (
            service["message"] == service["status"] == owner["health"]["services"][name]["status"]
        )
        assert service["value"] is None and service["duration_ms"] is None
    status = await _get(client, "/api/health/status", manager_headers)
    assert all(s["value"] is None for s in status["services"].values())
    assert any(s["value"] is not None for s in owner["health"]["services"].values())
    async with client.ws_connect("/ws", headers=manager_headers) as ws:
        pushed = await ws.receive_json(timeout=3.0)
        assert pushed["system"] is None


async def test_insights_of_one_guild_carry_the_verdict_not_the_readings(
    client: Client, monitor: Monitor, manager_headers: dict[str, str]
) -> None:
    for metric in ("cpu_percent", "memory_percent", "disk_percent"):  # a host under pressure
        monitor.recorder.last_gauges[(metric, 0, "", -1, "")] = 99.0
    owner = await _get(client, "/api/analytics/insights?days=2", key_headers())
    assert owner["system_health"]["cpu_percent"] is not None
    mine = await _get(client, "/api/analytics/insights?days=2", manager_headers)
    health = mine["system_health"]
    assert (
        owner["system_health"]["warnings"] and health["status"] == owner["system_health"]["status"]
    )
    assert health["cpu_percent"] is health["memory_percent"] is health["disk_percent"] is None
    assert health["warnings"] == [] and mine["performance"]["loop_lag_p95_ms"] is None
    host = set(owner["system_health"]["warnings"])
    assert host & set(owner["performance"]["bottlenecks"])  # the owner sees "CPU 99 %"
    assert not host & set(mine["performance"]["bottlenecks"])


async def test_bot_wide_alerts_are_for_the_owner(
    client: Client, monitor: Monitor, manager_headers: dict[str, str]
) -> None:
    db = AlertStore(monitor.store)
    await db.ensure_schema()
    now = monitor.clock()
    incident = Incident(id=0, rule="memory_high", key="memory_high", severity="warning",
                        label="Host memory", comparison=">", threshold=85.0, unit="%",
                        started=now - 300, fired=now - 60, value=91.0)  # fmt: skip
    await db.commit(None, None, incidents=[incident])
    owner = await _get(client, "/api/alerts", key_headers())
    assert [a["rule"] for a in owner["alerts"]] == ["memory_high"]
    manager = await _get(client, "/api/alerts", manager_headers)
    assert manager == {"alerts": [], "count": 0}


async def test_store_errors_name_no_path(
    client: Client, monitor: Monitor, monkeypatch: Any
) -> None:
    path = str(monitor.config.db_path)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError(f"database is locked: {path}")

    monkeypatch.setattr(monitor.store, "fetchall", broken)
    monkeypatch.setattr(monitor.store, "aggregate", broken)
    for route in ("/api/alerts", "/api/analytics/insights?days=1"):
        resp = await client.get(route, headers=key_headers())
        assert resp.status == 503
        body = await resp.text()
        assert path not in body and "database" in body
