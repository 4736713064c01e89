"""Health checks: built-in judgements and the host bot's own async checks, with timeouts."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["HealthCheck", "HealthResult", "HealthStatus", "run_checks", "threshold_status", "worst"]

log = logging.getLogger(__name__)


class HealthStatus(enum.IntEnum):
    """Ordered so that ``max()`` is the worst."""

    HEALTHY = 0
    DEGRADED = 1
    UNHEALTHY = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclasses.dataclass(frozen=True, slots=True)
class HealthResult:
    """One check's verdict with a short reason a person can act on."""

    name: str
    status: HealthStatus
    reason: str
    value: float | None = None
    duration_ms: float | None = None


CheckFn = Callable[[], Awaitable["HealthResult | bool | tuple[bool, str]"]]


@dataclasses.dataclass(frozen=True, slots=True)
class HealthCheck:
    """A custom async check registered by the host bot."""

    name: str
    fn: CheckFn
    timeout: float = 5.0
    critical: bool = True
    """A failing critical check is unhealthy; a non-critical one only degraded."""


def threshold_status(
    name: str, value: float | None, warn: float, crit: float, unit: str = "", what: str = ""
) -> HealthResult:
    """Healthy below ``warn``, degraded below ``crit``, unhealthy at or above it."""
    label = what or name
    if value is None:
        return HealthResult(name, HealthStatus.DEGRADED, f"no {label} reading yet")
    shown = f"{value:.1f}{unit}"
    if value >= crit:
        return HealthResult(
            name, HealthStatus.UNHEALTHY, f"{label} {shown} (limit {crit:g}{unit})", value
        )
    if value >= warn:
        return HealthResult(
            name, HealthStatus.DEGRADED, f"{label} {shown} (warning at {warn:g}{unit})", value
        )
    return HealthResult(name, HealthStatus.HEALTHY, f"{label} {shown}", value)


async def _run_one(check: HealthCheck) -> HealthResult:
    started = time.perf_counter()
    bad = HealthStatus.UNHEALTHY if check.critical else HealthStatus.DEGRADED
    try:
        outcome = await asyncio.wait_for(check.fn(), timeout=check.timeout)
    except TimeoutError:
        return HealthResult(check.name, bad, f"no answer within {check.timeout:g}s")
    except Exception as exc:  # a host bot's check may raise anything: report it, never crash
        log.warning("health check %r raised", check.name, exc_info=exc)
        return HealthResult(check.name, bad, f"raised {type(exc).__name__}: {exc}"[:200])
    took = (time.perf_counter() - started) * 1000
    if isinstance(outcome, HealthResult):
        return dataclasses.replace(outcome, duration_ms=took)
    if isinstance(outcome, tuple):
        ok, reason = outcome
    else:
        ok, reason = bool(outcome), ""
    status = HealthStatus.HEALTHY if ok else bad
    return HealthResult(check.name, status, reason or ("ok" if ok else "failed"), None, took)


async def run_checks(checks: Iterable[HealthCheck]) -> list[HealthResult]:
    """Run custom checks concurrently, each within its timeout."""
    return list(await asyncio.gather(*(_run_one(c) for c in checks)))


def worst(results: Iterable[HealthResult]) -> HealthStatus:
    return max((r.status for r in results), default=HealthStatus.HEALTHY)
