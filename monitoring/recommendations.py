"""Recommendations: rules (data) mapping symptoms to their likely cause and a fix.

:func:`gather_facts` reads what the rules need into a frozen :class:`Facts`; :func:`recommend` is
a pure function of facts and config. Each :class:`Rule` names its symptom (a match function that
yields template values, once per finding), its type, priority and the text templates of the
:class:`Recommendation` it makes. Thresholds come from :class:`~monitoring.config.Config`.

Bot-wide facts (loop lag, gateway, host, database) are gathered only for the all-guilds scope, so
a guild's managers see recommendations about their guild's commands only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from .config import Config
from .store.base import CommandStat, Store

__all__ = [
    "RULES",
    "Facts",
    "Recommendation",
    "Rule",
    "add_process_facts",
    "gather_facts",
    "recommend",
    "store_facts",
]

log = logging.getLogger(__name__)

Priority = Literal["high", "medium", "low"]
_ORDER = {"high": 0, "medium": 1, "low": 2}
MIN_CALLS = 5
"""Commands run fewer times than this are not judged (one slow call is not a pattern)."""
SLOW_FLOOR_MS = 200.0
"""A command is never called slow below this p95, however it compares to the others."""
MIN_ERRORS = 3
DEADLINE_MS = 3000.0
MAX_PER_RULE = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Recommendation:
    """One actionable finding, as in the reference design's insights."""

    type: str
    priority: Priority
    title: str
    description: str
    action: str
    rule: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Facts:
    """What the rules look at. Bot-wide fields are None for a one-guild scope or when unknown."""

    now: float
    period: int
    guild: int | None
    commands: tuple[CommandStat, ...] = ()
    top_errors: tuple[tuple[str, str], ...] = ()
    """(command, "Type: message") of the most frequent error group per command."""
    deadline_missed: tuple[tuple[str, int], ...] = ()
    shards: int = 1
    gateway_latency_p95_ms: float | None = None
    loop_lag_p95_ms: float | None = None
    identifies_24h: int | None = None
    cpu_percent: float | None = None
    memory_percent: float | None = None
    disk_percent: float | None = None
    dropped_rows: int = 0
    flush_failures: int = 0
    store_error: str | None = None

    @property
    def runs(self) -> int:
        return sum(c.count for c in self.commands)

    @property
    def error_rate(self) -> float | None:
        runs = self.runs
        return sum(c.errors for c in self.commands) / runs if runs else None


Match = Callable[[Facts, Config], Iterable[Mapping[str, Any]]]


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """A symptom (``match``) and the recommendation it makes (templates over match values)."""

    name: str
    type: str
    priority: Priority
    title: str
    description: str
    action: str
    match: Match
    priority_if: Callable[[Mapping[str, Any]], Priority | None] | None = None
    """Optional override of the priority from the match values (e.g. very slow -> high)."""


# -- symptoms ---------------------------------------------------------------------------------


def _lag_high(f: Facts, c: Config) -> bool:
    return f.loop_lag_p95_ms is not None and f.loop_lag_p95_ms >= c.loop_lag_warning_ms


def _gateway_high(f: Facts, c: Config) -> bool:
    gw = f.gateway_latency_p95_ms
    return gw is not None and gw >= c.gateway_latency_warning_ms


def _cpu_high(f: Facts, c: Config) -> bool:
    return f.cpu_percent is not None and f.cpu_percent >= c.cpu_warning_threshold


def _blocking_code(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    if _lag_high(f, c) and not _gateway_high(f, c) and not _cpu_high(f, c):
        gw = f.gateway_latency_p95_ms
        yield {"lag": f.loop_lag_p95_ms, "gw": "normal" if gw is None else f"{gw:.0f} ms"}


def _cpu_saturated(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    if _lag_high(f, c) and _cpu_high(f, c):
        yield {"lag": f.loop_lag_p95_ms, "cpu": f.cpu_percent}


def _slow_network(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    if _gateway_high(f, c) and not _lag_high(f, c):
        yield {"gw": f.gateway_latency_p95_ms, "lag": f.loop_lag_p95_ms or 0.0}


def _reconnect_storm(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    limit = max(1, f.shards) * c.identify_daily_limit_per_shard
    if f.identifies_24h is not None and f.identifies_24h > limit:
        yield {"n": f.identifies_24h, "shards": max(1, f.shards), "limit": limit}


def _judged(f: Facts) -> list[CommandStat]:
    return [s for s in f.commands if s.count >= MIN_CALLS and s.p95 is not None]


def _slow_commands(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    judged = _judged(f)
    if len(judged) < 2:
        return
    found: list[dict[str, Any]] = []
    for stat in judged:
        others = [s.p95 for s in judged if s is not stat and s.p95 is not None]
        typical = statistics.median(others)
        p95 = stat.p95 or 0.0
        if p95 >= SLOW_FLOOR_MS and p95 > c.slow_command_factor * typical:
            found.append({"command": stat.command, "p95": p95, "typical": typical})
    found.sort(key=lambda v: -v["p95"])
    yield from found[:MAX_PER_RULE]


def _failing_commands(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    errors = dict(f.top_errors)
    found: list[dict[str, Any]] = []
    for stat in f.commands:
        if stat.errors >= MIN_ERRORS and stat.error_rate * 100 >= c.error_rate_warning_percent:
            error = errors.get(stat.command)
            found.append(
                {
                    "command": stat.command,
                    "rate": stat.error_rate,
                    "errors": stat.errors,
                    "count": stat.count,
                    "error": f"Most common error: {error}." if error else "",
                    "fix": "Fix the error named above (its traceback is in the alerts channel "
                    "and on the dashboard)"
                    if error
                    else "Find its errors in the bot's log or on the dashboard and fix them",
                }
            )
    found.sort(key=lambda v: -v["errors"])
    yield from found[:MAX_PER_RULE]


def _high_error_rate(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    rate = f.error_rate
    if rate is None or rate * 100 < c.error_rate_warning_percent:
        return
    if any(True for _ in _failing_commands(f, c)):
        return  # named per command instead
    yield {"rate": rate, "runs": f.runs}


def _missed_deadlines(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    ranked = sorted((m for m in f.deadline_missed if m[1] > 0), key=lambda m: -m[1])
    for command, n in ranked[:MAX_PER_RULE]:
        yield {"command": command, "n": n}


def _memory(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    if f.memory_percent is not None and f.memory_percent >= c.memory_warning_threshold:
        yield {"value": f.memory_percent, "limit": c.memory_warning_threshold}


def _disk(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    if f.disk_percent is not None and f.disk_percent >= c.disk_warning_threshold:
        yield {"value": f.disk_percent, "limit": c.disk_warning_threshold}


def _storage(f: Facts, c: Config) -> Iterator[Mapping[str, Any]]:
    if f.dropped_rows or f.flush_failures:
        yield {
            "dropped": f.dropped_rows,
            "error": f.store_error or "see the bot's log",
        }


RULES: tuple[Rule, ...] = (
    Rule(
        "blocking_code",
        "performance",
        "high",
        "Blocking code in the bot",
        "The event loop wakes up {lag:.0f} ms late (p95) while Discord's gateway latency is "
        "{gw}: something in the bot's own code holds the loop.",
        "Look for synchronous work in event handlers and commands (requests, time.sleep, file "
        "or database I/O, heavy computation) and move it to `await asyncio.to_thread(...)` or an "
        "async library.",
        _blocking_code,
    ),
    Rule(
        "cpu_saturated",
        "resource",
        "high",
        "The host is out of CPU",
        "The event loop is {lag:.0f} ms late (p95) and the host CPU averages {cpu:.0f} %.",
        "Find what else uses the CPU on the host, move heavy work out of the bot process, or "
        "give the bot a larger machine.",
        _cpu_saturated,
    ),
    Rule(
        "slow_network",
        "performance",
        "medium",
        "Slow connection to Discord",
        "Gateway latency is {gw:.0f} ms (p95) while the event loop is responsive "
        "({lag:.0f} ms lag): the delay is on the network path, not in the bot.",
        "Check the host's network and location (Discord's gateway is closest to US-East and "
        "EU-West) and Discord's status page.",
        _slow_network,
    ),
    Rule(
        "reconnect_storm",
        "reliability",
        "high",
        "Reconnect storm",
        "{n} gateway IDENTIFYs in the last 24 hours for {shards} shard(s), above {limit}. "
        "Every IDENTIFY is a full reconnect, and Discord allows 1000 a day.",
        "Look for crash-restart loops in the process supervisor and for blocked heartbeats "
        "(event-loop lag); a healthy bot resumes instead of re-identifying.",
        _reconnect_storm,
    ),
    Rule(
        "slow_command",
        "performance",
        "medium",
        "/{command} is slow",
        "/{command} takes {p95:.0f} ms at p95, against {typical:.0f} ms for a typical command.",
        "Profile /{command}: defer the response, cache or batch its API and database calls, "
        "and move blocking work off the event loop.",
        _slow_commands,
        priority_if=lambda v: "high" if v["p95"] >= DEADLINE_MS else None,
    ),
    Rule(
        "failing_command",
        "reliability",
        "high",
        "/{command} fails often",
        "/{command} failed {errors} of {count} times ({rate:.0%}). {error}",
        "{fix}, and answer the user with a helpful message when it happens.",
        _failing_commands,
    ),
    Rule(
        "high_error_rate",
        "reliability",
        "medium",
        "High command error rate",
        "{rate:.1%} of {runs} commands failed, spread over several commands.",
        "Review the most frequent errors (/stats metric:errors) and add error handling.",
        _high_error_rate,
    ),
    Rule(
        "missed_deadline",
        "performance",
        "high",
        "/{command} misses Discord's 3-second deadline",
        '/{command} answered too late {n} time(s); Discord then shows "The application did '
        'not respond".',
        "Call `await interaction.response.defer()` first when /{command} may take more than a "
        "second, then send the answer with `interaction.followup.send(...)`.",
        _missed_deadlines,
    ),
    Rule(
        "memory_high",
        "resource",
        "medium",
        "High memory use",
        "Host memory is at {value:.0f} % (warning at {limit:.0f} %).",
        "Look for caches that only grow (message cache, member chunking); lower `max_messages`, "
        "disable member chunking if unused, or add memory.",
        _memory,
    ),
    Rule(
        "disk_high",
        "resource",
        "medium",
        "Disk almost full",
        "The disk is {value:.0f} % full (warning at {limit:.0f} %).",
        "Free space, or keep less history with METRICS_RETENTION_DAYS and "
        "MONITOR_MINUTE_RETENTION_DAYS.",
        _disk,
    ),
    Rule(
        "metrics_not_saved",
        "health",
        "high",
        "Metrics are not being saved",
        "Writing to the monitoring database failed ({error}); {dropped} rows were dropped.",
        "Check that MONITOR_DB_PATH is on a writable disk with free space and that no other "
        "process locks the file.",
        _storage,
    ),
)


def recommend(facts: Facts, config: Config, rules: Iterable[Rule] = RULES) -> list[Recommendation]:
    """Every rule's findings for ``facts``, most urgent first."""
    out: list[Recommendation] = []
    for rule in rules:
        for values in rule.match(facts, config):
            priority = (rule.priority_if(values) if rule.priority_if else None) or rule.priority
            out.append(
                Recommendation(
                    type=rule.type,
                    priority=priority,
                    title=rule.title.format(**values),
                    description=rule.description.format(**values).strip(),
                    action=rule.action.format(**values),
                    rule=rule.name,
                )
            )
    out.sort(key=lambda r: _ORDER[r.priority])
    return out


async def store_facts(
    store: Store,
    *,
    now: float,
    guild: int | None = None,
    period: int = 86400,
    shards: int | None = None,
) -> Facts:
    """The facts read from the store alone (what a worker process with its own connection can
    compute); :func:`add_process_facts` completes them. Store failures propagate."""
    start = now - period
    commands, missed = await asyncio.gather(
        store.command_stats(start, now, guild=guild, limit=100),
        store.top(
            "interaction_deadline_missed", start, now, by="command", guild=guild, order="sum"
        ),
    )
    facts = Facts(
        now=now,
        period=period,
        guild=guild,
        commands=tuple(commands),
        deadline_missed=tuple((t.label, int(t.aggregate.sum)) for t in missed),
    )
    if guild is not None:
        return facts
    day = now - 86400
    gw, lag, identifies, cpu, seen = await asyncio.gather(
        store.aggregate("gateway_latency_ms", start, now),
        store.aggregate("loop_lag_ms", start, now),
        store.aggregate("gateway_identify", day, now),
        store.aggregate("cpu_percent", start, now),
        store.shards("gateway_latency_ms", day, now),
    )
    return dataclasses.replace(
        facts,
        shards=shards or max(1, len(seen)),
        gateway_latency_p95_ms=gw.p95,
        loop_lag_p95_ms=lag.p95,
        identifies_24h=int(identifies.sum) if identifies.count else 0,
        cpu_percent=cpu.mean,
    )


def add_process_facts(facts: Facts, monitor: Any) -> Facts:
    """Add what only the bot's process knows: error groups, and (all guilds) host and flusher."""
    top_errors: dict[str, str] = {}
    for group in monitor.errors.top(n=200, since=facts.now - facts.period):
        if group.command and (facts.guild is None or group.guild == facts.guild):
            top_errors.setdefault(group.command, f"{group.type}: {group.message}"[:160])
    facts = dataclasses.replace(facts, top_errors=tuple(top_errors.items()))
    if facts.guild is not None:
        return facts
    host = monitor.system.last
    flush = monitor.flusher.stats
    return dataclasses.replace(
        facts,
        memory_percent=host.memory_percent if host else None,
        disk_percent=host.disk_percent if host else None,
        dropped_rows=flush.dropped_rows,
        flush_failures=flush.consecutive_failures,
        store_error=flush.last_error,
    )


async def gather_facts(
    monitor: Any,
    *,
    now: float,
    guild: int | None = None,
    period: int = 86400,
    shards: int | None = None,
) -> Facts:
    """Read the facts for :func:`recommend` (``monitor`` is a :class:`~monitoring.Monitor`).

    ``shards`` is the bot's shard count when the caller knows it (else: shards seen reporting).
    Store failures propagate as :class:`~monitoring.store.base.StoreError`.
    """
    facts = await store_facts(monitor.store, now=now, guild=guild, period=period, shards=shards)
    return add_process_facts(facts, monitor)
