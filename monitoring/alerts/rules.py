"""Alert rules are data: a :class:`Rule` names a signal, a comparison, a threshold and timings.

Built-in rules come from the configuration (``CPU_WARNING_THRESHOLD``...); custom rules come
from ``[[alert_rules]]`` tables in the TOML file and are validated here. A custom rule with the
name of a built-in one replaces it (``enabled = false`` switches it off)::

    [[alert_rules]]
    name = "slow_play"              # letters, digits, '_' or '-'
    metric = "command_latency_ms"   # a built-in signal or any recorded metric
    stat = "p95"                    # for recorded metrics: last mean min max sum count rate p50 p95 p99
    command = "play"                # optional filters: command, guild, per_shard = true
    window = "10m"                  # range the stat is computed over
    comparison = ">"                # > >= < <=
    threshold = 2500
    resolve_threshold = 1500        # hysteresis: resolves once at or below (above for < rules) this
    for = "5m"                      # must hold this long before firing
    resolve_after = "0s"            # must be back to normal this long before resolving
    severity = "warning"            # info, warning, critical
    repeat = "4h"                   # remind while still firing ("0" = never)
    description = "/play is slow"

``kind = "anomaly"`` rules compare a metric with its hour-of-week baseline: ``threshold`` is the
deviation ``k`` in robust standard deviations and ``for`` the minutes it must last.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..config import Config, ConfigError

__all__ = [
    "BUILTIN_SIGNALS",
    "COMPARISONS",
    "SEVERITIES",
    "STATS",
    "Rule",
    "compare",
    "default_rules",
    "parse_duration",
    "parse_rule",
    "parse_rules",
]

log = logging.getLogger(__name__)

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
SEVERITIES = ("info", "warning", "critical")
STATS = ("last", "mean", "min", "max", "sum", "count", "rate", "p50", "p95", "p99")

BUILTIN_SIGNALS: dict[str, str] = {
    "cpu_percent": "host CPU %",
    "memory_percent": "host memory %",
    "disk_percent": "disk usage %",
    "error_rate": "share of commands that failed",
    "command_p95_ms": "p95 command latency (ms)",
    "gateway_latency_ms": "gateway latency per shard (ms)",
    "loop_lag_ms": "event-loop lag p95 (ms)",
    "shard_disconnected": "seconds a shard has been disconnected",
    "flush_lag_seconds": "seconds since metrics were last written",
    "deadline_missed": "interactions that missed the 3 s deadline",
}
"""Signals computed by :mod:`monitoring.alerts.signals` (or registered by the cog)."""

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule. Times are seconds; ``resolve_threshold`` defaults to ``threshold``."""

    name: str
    metric: str
    comparison: str
    threshold: float
    severity: str = "warning"
    for_seconds: float = 0.0
    resolve_threshold: float | None = None
    resolve_after_seconds: float = 0.0
    repeat_seconds: float = 4 * 3600.0
    stat: str = "mean"
    window_seconds: float = 300.0
    guild: int = 0
    command: str = ""
    per_shard: bool = False
    kind: str = "threshold"
    description: str = ""
    unit: str = ""
    builtin: bool = False

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison {self.comparison!r}: expected one of > >= < <=")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r}: expected info, warning or critical")
        resolve = self.resolve_threshold
        if resolve is not None and compare(resolve, self.comparison, self.threshold):
            raise ValueError(
                f"resolve_threshold {resolve:g} is itself beyond the threshold "
                f"({self.comparison} {self.threshold:g}); it must be on the normal side"
            )

    @property
    def resolve_at(self) -> float:
        return self.threshold if self.resolve_threshold is None else self.resolve_threshold

    def breached(self, value: float) -> bool:
        """The value is beyond the firing threshold."""
        return compare(value, self.comparison, self.threshold)

    def cleared(self, value: float) -> bool:
        """The value is back to normal: at or past ``resolve_threshold`` (hysteresis), or simply
        no longer beyond ``threshold`` when no resolve threshold is set."""
        if self.resolve_threshold is None:
            return not self.breached(value)
        if self.comparison in (">", ">="):
            return value <= self.resolve_threshold
        return value >= self.resolve_threshold

    @property
    def label(self) -> str:
        """What the rule watches, in words."""
        if self.description:
            return self.description
        what = BUILTIN_SIGNALS.get(self.metric)
        if what:
            return what
        scope = f" /{self.command}" if self.command else ""
        return f"{self.stat} {self.metric}{scope}"


def compare(value: float, comparison: str, threshold: float) -> bool:
    return COMPARISONS[comparison](value, threshold)


def parse_duration(raw: Any) -> float:
    """Seconds from a number (seconds) or a string such as ``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``."""
    if isinstance(raw, bool):
        raise ValueError("expected a duration such as 30s, 5m, 2h or a number of seconds")
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        match = _DURATION_RE.match(str(raw))
        if not match:
            raise ValueError(f"{raw!r}: expected a duration such as 30s, 5m, 2h or 1d")
        value = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(value) or value < 0 or value > 30 * 86400:
        raise ValueError(f"{raw!r}: expected a duration from 0 to 30 days")
    return value


def _number(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"{raw!r}: expected a number")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r}: expected a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{raw!r}: expected a finite number")
    return value


def _text(limit: int) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        if not isinstance(raw, str) or len(raw) > limit:
            raise ValueError(f"expected text of at most {limit} characters")
        return raw

    return parse


def _choice(options: Iterable[str]) -> Callable[[Any], str]:
    allowed = tuple(options)

    def parse(raw: Any) -> str:
        if raw not in allowed:
            raise ValueError(f"{raw!r}: expected one of {', '.join(allowed)}")
        return str(raw)

    return parse


def _flag(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(f"{raw!r}: expected true or false")
    return raw


def _guild(raw: Any) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit():
        raise ValueError(f"{raw!r}: expected a guild id (a number)")
    return int(text)


def _name(raw: Any) -> str:
    if not isinstance(raw, str) or not _NAME_RE.match(raw):
        raise ValueError(f"{raw!r}: expected 1-64 letters, digits, '_' or '-'")
    return raw


_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "name": ("name", _name),
    "metric": ("metric", _text(100)),
    "stat": ("stat", _choice(STATS)),
    "comparison": ("comparison", _choice(COMPARISONS)),
    "threshold": ("threshold", _number),
    "resolve_threshold": ("resolve_threshold", _number),
    "for": ("for_seconds", parse_duration),
    "resolve_after": ("resolve_after_seconds", parse_duration),
    "repeat": ("repeat_seconds", parse_duration),
    "window": ("window_seconds", parse_duration),
    "severity": ("severity", _choice(SEVERITIES)),
    "guild": ("guild", _guild),
    "command": ("command", _text(100)),
    "per_shard": ("per_shard", _flag),
    "kind": ("kind", _choice(("threshold", "anomaly"))),
    "description": ("description", _text(200)),
    "unit": ("unit", _text(20)),
    "enabled": ("enabled", _flag),
}


def parse_rule(raw: Mapping[str, Any], where: str, base: Rule | None = None) -> Rule | None:
    """One ``[[alert_rules]]`` table as a :class:`Rule` (None when ``enabled = false``).

    ``base`` is the built-in rule of the same name, whose values are the defaults.
    Raises :class:`~monitoring.ConfigError` naming ``where``, the rule and the field.
    """
    name = raw.get("name")
    label = f"{where} {name!r}" if isinstance(name, str) else where
    values: dict[str, Any] = {}
    for key, value in raw.items():
        spec = _FIELDS.get(key)
        if spec is None:
            allowed = ", ".join(sorted(_FIELDS))
            raise ConfigError(f"{label}: unknown field {key!r}; allowed: {allowed}")
        try:
            values[spec[0]] = spec[1](value)
        except ValueError as exc:
            raise ConfigError(f"{label}: {key}: {exc}") from None
    if "name" not in values:
        raise ConfigError(f"{label}: missing field 'name'")
    if values.pop("enabled", True) is False:
        return None
    if base is not None:
        values = {**dataclasses.asdict(base), **values, "builtin": False}
    else:
        for key in ("metric", "threshold"):
            if key not in values:
                raise ConfigError(f"{label}: missing field {key!r}")
        values.setdefault("comparison", ">")
        if values.get("kind") == "anomaly":
            values.setdefault("stat", "rate")
            values.setdefault("window_seconds", 600.0)
    if values.get("kind") == "anomaly" and values.get("comparison") not in (">", ">="):
        raise ConfigError(f"{label}: comparison: anomaly rules compare the deviation with '>'")
    if values.get("kind") == "anomaly" and values.get("threshold", 1) <= 0:
        raise ConfigError(f"{label}: threshold: the deviation k must be above 0")
    try:
        return Rule(**values)
    except ValueError as exc:
        raise ConfigError(f"{label}: {exc}") from None


def default_rules(config: Config) -> tuple[Rule, ...]:
    """The built-in rules, with thresholds from the configuration (the same values ``/health``
    judges by): a rule fires at the warning level and resolves well below it."""
    cpu, mem, disk = (
        config.cpu_warning_threshold,
        config.memory_warning_threshold,
        config.disk_warning_threshold,
    )
    err = getattr(config, "error_rate_warning_percent", 5.0) / 100
    gateway = getattr(config, "gateway_latency_warning_ms", 500.0)
    lag = getattr(config, "loop_lag_warning_ms", 100.0)
    flush = getattr(config, "flush_lag_warning_seconds", 30.0)
    k = getattr(config, "anomaly_k", 4.0)
    anomaly_for = getattr(config, "anomaly_minutes", 15) * 60.0

    def b(**kw: Any) -> Rule:
        return Rule(builtin=True, **kw)

    return (
        b(name="cpu_high", metric="cpu_percent", comparison=">=", threshold=cpu,
          resolve_threshold=max(0.0, cpu - 5), for_seconds=300, unit="%"),
        b(name="memory_high", metric="memory_percent", comparison=">=", threshold=mem,
          resolve_threshold=max(0.0, mem - 5), for_seconds=300, unit="%"),
        b(name="disk_high", metric="disk_percent", comparison=">=", threshold=disk,
          resolve_threshold=max(0.0, disk - 2), for_seconds=600, unit="%"),
        b(name="error_rate", metric="error_rate", comparison=">", threshold=err,
          resolve_threshold=err * 0.4, for_seconds=60,
          window_seconds=config.error_spike_window_seconds, severity="critical", unit="ratio"),
        b(name="command_latency", metric="command_p95_ms", comparison=">", threshold=3000,
          resolve_threshold=2000, for_seconds=300, unit="ms"),
        b(name="gateway_latency", metric="gateway_latency_ms", comparison=">", threshold=gateway,
          resolve_threshold=gateway / 2, for_seconds=300, per_shard=True, unit="ms"),
        b(name="loop_lag", metric="loop_lag_ms", comparison=">", threshold=lag,
          resolve_threshold=lag / 2, for_seconds=120, window_seconds=60, unit="ms"),
        b(name="shard_disconnected", metric="shard_disconnected", comparison=">", threshold=120,
          resolve_threshold=0, per_shard=True, severity="critical", unit="s"),
        b(name="flush_failing", metric="flush_lag_seconds", comparison=">", threshold=flush,
          resolve_threshold=flush / 3, for_seconds=60, severity="critical", unit="s"),
        b(name="deadline_missed", metric="deadline_missed", comparison=">", threshold=2,
          resolve_threshold=0, window_seconds=300, unit="count",
          description="interactions that missed Discord's 3 s deadline (5 min)"),
        b(name="messages_anomaly", metric="messages", kind="anomaly", stat="rate",
          comparison=">", threshold=k, for_seconds=anomaly_for, window_seconds=600,
          severity="info", unit="/min", description="messages/min"),
        b(name="commands_anomaly", metric="command_latency_ms", kind="anomaly", stat="count",
          comparison=">", threshold=k, for_seconds=anomaly_for, window_seconds=600,
          severity="info", unit="/min", description="commands/min"),
    )  # fmt: skip


def parse_rules(config: Config) -> tuple[Rule, ...]:
    """Built-in rules merged with the custom ``[[alert_rules]]``, validated.

    Returns no rules when ``PERFORMANCE_ALERTS_ENABLED`` is false. Raises
    :class:`~monitoring.ConfigError` naming the rule and field of the first problem.
    """
    builtins = {r.name: r for r in default_rules(config)}
    rules: dict[str, Rule | None] = dict(builtins)
    seen: set[str] = set()
    for index, raw in enumerate(config.alert_rules):
        where = f"alert_rules[{index}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected a table")
        name = raw.get("name")
        if isinstance(name, str) and name in seen:
            raise ConfigError(f"{where} {name!r}: name: defined twice")
        rule = parse_rule(raw, where, builtins.get(name) if isinstance(name, str) else None)
        key = rule.name if rule is not None else str(name)
        seen.add(key)
        rules[key] = rule
    if not config.performance_alerts_enabled:
        return ()
    return tuple(r for r in rules.values() if r is not None)
