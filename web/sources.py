"""Health, insights and alerts for the API, from the core modules that compute them.

Health: :func:`monitoring.healthchecks.run_health` (the cog supplies the gateway shards; a
read-only view of a file has no live process to judge and reports no services). Insights:
:func:`monitoring.insights.compute_insights`. Alerts: the open incidents of
:class:`monitoring.alerts.state.AlertStore`. A module that cannot be imported disables its
endpoint with HTTP 503 (never an error inside a 200).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from monitoring.core import Monitor
from monitoring.health import HealthResult, worst
from monitoring.store.base import StoreError

from .data import finite, iso
from .errors import ApiError

__all__ = [
    "ShardsFn",
    "alerts_payload",
    "collect_health",
    "health_payload",
    "insights_payload",
]

log = logging.getLogger(__name__)

ShardsFn = Callable[[], Sequence[Any]]
"""Returns the gateway shards as :class:`monitoring.healthchecks.ShardState` values."""


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        log.warning("%s not available: %s", module, exc)
        return None


async def collect_health(
    monitor: Monitor, *, shards: ShardsFn | None, now: float, live: bool
) -> list[HealthResult]:
    """Every health verdict for the running bot (none for a read-only view of a file)."""
    if not live:
        return []
    module = _optional("monitoring.healthchecks")
    if module is None:
        return await monitor.run_custom_checks()
    report = await module.run_health(monitor, shards=tuple(shards() if shards else ()), now=now)
    return list(report.results)


def health_payload(
    results: list[HealthResult],
    checked_at: float | None,
    *,
    live: bool = True,
    verdicts_only: bool = False,
) -> dict[str, Any]:
    """``/api/health/status``: the overall status and one entry per service.

    ``verdicts_only`` (a one-guild view) keeps each service's status and drops its readings
    (host memory and disk, lag, the database's state are bot-wide)."""
    return {
        "status": worst(results).label if results else "unknown",
        "timestamp": iso(checked_at),
        "note": None if live else "read-only view of a database file: no live health checks",
        "services": {
            r.name: {
                "status": r.status.label,
                "message": r.status.label if verdicts_only else r.reason,
                "value": None if verdicts_only else finite(r.value, 3),
                "duration_ms": None if verdicts_only else finite(r.duration_ms, 1),
            }
            for r in results
        },
    }


async def insights_payload(
    monitor: Monitor, *, now: float, guild: int | None, days: int
) -> dict[str, Any]:
    """``/api/analytics/insights``, computed by :mod:`monitoring.insights`."""
    module = _optional("monitoring.insights")
    if module is None:
        raise ApiError(503, "insights_unavailable", "the insights module is not installed")
    insights = await module.compute_insights(monitor, now=now, guild=guild, days=days)
    data: dict[str, Any] = insights.to_dict()
    if guild is not None:  # host readings are bot-wide: a one-guild view gets the verdict only
        health = data["system_health"]
        host = set(health["warnings"])
        performance = data["performance"]
        performance["bottlenecks"] = [b for b in performance["bottlenecks"] if b not in host]
        data["system_health"] = {"status": health["status"], "cpu_percent": None,
                                 "memory_percent": None, "disk_percent": None, "warnings": []}  # fmt: skip
        data["performance"]["loop_lag_p95_ms"] = None
    return data


def _incident(i: Any, fmt: Callable[[float | None, str], str]) -> dict[str, Any]:
    message = f"{fmt(i.value, i.unit)} (threshold {i.comparison} {fmt(i.threshold, i.unit)})"
    if i.detail:
        message = f"{message}: {i.detail}"
    return {
        "id": i.id,
        "rule": i.rule,
        "title": i.label,
        "severity": i.severity,
        "message": message,
        "value": finite(i.value, 3),
        "peak": finite(i.peak, 3),
        "threshold": finite(i.threshold, 3),
        "comparison": i.comparison,
        "unit": i.unit,
        "since": iso(i.started),
        "fired_at": iso(i.fired),
        "flapping": i.flapping,
        "acknowledged": i.acked_by is not None,
        "muted": i.muted,
    }


async def alerts_payload(monitor: Monitor, *, guild: int | None) -> dict[str, Any]:
    """``/api/alerts``: open incidents. A one-guild view shows that guild's rules only (bot-wide
    alerts, such as host memory, are for the owner)."""
    state = _optional("monitoring.alerts.state")
    rules_mod = _optional("monitoring.alerts.rules")
    cards = _optional("monitoring.alerts.cards")
    if state is None or rules_mod is None or cards is None:
        raise ApiError(503, "alerts_unavailable", "the alerts module is not installed")
    try:
        incidents = await state.AlertStore(monitor.store).open_incidents()
    except StoreError as exc:
        log.warning("alert history cannot be read: %s", exc)  # the path stays in the log
        raise ApiError(
            503, "alerts_unavailable", "alert history cannot be read from the database right now"
        ) from exc
    if guild is not None:
        rule_guild = {r.name: r.guild for r in rules_mod.parse_rules(monitor.config)}
        incidents = [i for i in incidents if rule_guild.get(i.rule, -1) == guild]
    alerts = [_incident(i, cards.format_value) for i in incidents]
    return {"alerts": alerts, "count": len(alerts)}
