"""The bot's alert rules as Prometheus alerting rules (PromQL over the ``/metrics`` names).

Each :class:`~monitoring.alerts.rules.Rule` becomes one alerting rule with the same threshold,
``for`` duration and severity; ``resolve_after`` becomes ``keep_firing_for``. What Prometheus
cannot express is said in the file instead of silently changed: there is no resolve threshold
(hysteresis), anomaly rules compare with the last day (a z-score) instead of the hour-of-week
baseline, and rules filtered on one guild are left out (guild labels are off by default).
Expressions aggregate ``by (job, instance, cluster)``: one alert per bot process, as the bot's own
engine evaluates them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence

from .alerts.rules import Rule
from .promcatalog import COUNTERS, GATEWAY, GAUGES, HISTOGRAMS, custom_name

__all__ = ["BY", "Exported", "export_rule", "rules_yaml"]

log = logging.getLogger(__name__)

BY = "job, instance, cluster"
_Q = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
_HOST = {
    "cpu_percent": ("discord_host_cpu_percent", 1.0),
    "memory_percent": ("discord_host_memory_percent", 1.0),
    "disk_percent": ("discord_host_disk_percent", 1.0),
    "process_cpu_percent": ("discord_process_cpu_percent", 1.0),
    "process_rss_mb": ("discord_process_resident_memory_bytes", 1_048_576.0),
    "gateway_latency_ms": (GATEWAY.name, 1e-3),
}
_SECONDS = "{{ $value | humanizeDuration }}"
_COMMAND_LABELLED = {"command_latency_ms", "command_errors", "command_user_errors",
                     "interaction_deadline_missed"}  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Exported:
    """One rule translated (``expr``), or why it was not (``skipped``)."""

    rule: Rule
    expr: str | None
    for_seconds: float = 0.0
    note: str = ""
    skipped: str = ""
    shown: str = "{{ $value | humanize }}"
    """How the alert's value reads in its description (a Prometheus template)."""


def duration(seconds: float) -> str:
    """A Prometheus duration: ``300`` -> ``5m``, ``90`` -> ``90s``, ``0.5`` -> ``500ms``."""
    ms = round(seconds * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _num(x: float) -> str:
    return f"{x:.10g}"


def _sel(name: str, rule: Rule, extra: str = "") -> str:
    matchers = [extra] if extra else []
    if rule.command:
        matchers.append(f"command={json.dumps(rule.command)}")
    return f"{name}{{{','.join(matchers)}}}" if matchers else name


def _window(rule: Rule) -> str:
    return duration(max(rule.window_seconds, 60.0))


def _resolve(metric: str, stat: str) -> tuple[str, str, float] | None:
    """(kind, Prometheus name, scale) of a recorded metric, or None when not exported."""
    if metric in COUNTERS:
        return "counter", COUNTERS[metric].name, COUNTERS[metric].scale
    if metric in HISTOGRAMS:
        return "histogram", HISTOGRAMS[metric].name, HISTOGRAMS[metric].scale
    if metric in GAUGES:
        return "gauge", GAUGES[metric].name, GAUGES[metric].scale
    if metric in _HOST:
        return "gauge", *_HOST[metric]
    if metric in ("users", "monitor_dropped_rows", "net_sent_bytes", "net_recv_bytes"):
        return None
    if stat in _Q or (metric.endswith("_ms") and stat != "sum"):
        kind = "histogram"
    elif stat in ("sum", "rate", "count"):
        kind = "counter"
    else:
        kind = "gauge"
    name, scale = custom_name(metric, kind)
    return kind, name, scale


def _stat_expr(rule: Rule, by: str) -> tuple[str | None, float, str]:
    """(expression, scale, reason if None) of a recorded metric's statistic over the window."""
    resolved = _resolve(rule.metric, rule.stat)
    if resolved is None:
        return None, 1.0, f"{rule.metric} is not in the exposition"
    kind, name, scale = resolved
    if rule.command and rule.metric not in _COMMAND_LABELLED:
        return None, scale, f"{rule.metric} has no command label in the exposition"
    w, stat = _window(rule), rule.stat
    if kind == "counter":
        if stat in ("sum", "count"):
            return f"sum by ({by}) (increase({_sel(name, rule)}[{w}]))", scale, ""
        if stat == "rate":
            return f"sum by ({by}) (rate({_sel(name, rule)}[{w}])) * 60", scale, ""
        return None, scale, f"stat {stat} of a counter has no PromQL equivalent"
    if kind == "histogram":
        if stat in _Q:
            buckets = f"rate({_sel(name + '_bucket', rule)}[{w}])"
            return f"histogram_quantile({_Q[stat]}, sum by ({by}, le) ({buckets}))", scale, ""
        if stat == "count":
            return f"sum by ({by}) (increase({_sel(name + '_count', rule)}[{w}]))", 1.0, ""
        total = f"sum by ({by}) (rate({_sel(name + '_sum', rule)}[{w}]))"
        if stat == "sum":
            return f"sum by ({by}) (increase({_sel(name + '_sum', rule)}[{w}]))", scale, ""
        if stat == "rate":
            return f"{total} * 60", scale, ""
        if stat in ("mean", "last"):
            w = w if stat == "mean" else "2m"
            total = f"sum by ({by}) (rate({_sel(name + '_sum', rule)}[{w}]))"
            count = f"sum by ({by}) (rate({_sel(name + '_count', rule)}[{w}]))"
            return f"{total} / {count}", scale, ""
        return None, scale, f"stat {stat} of a histogram is not in the exposition"
    fn = {"mean": "avg_over_time", "min": "min_over_time", "max": "max_over_time"}.get(stat)
    if stat == "last":
        return f"max by ({by}) ({_sel(name, rule)})", scale, ""
    if fn is None:
        return None, scale, f"stat {stat} of a gauge has no PromQL equivalent"
    return f"max by ({by}) ({fn}({_sel(name, rule)}[{w}]))", scale, ""


def _anomaly(rule: Rule) -> Exported:
    resolved = _resolve(rule.metric, "count" if rule.stat == "count" else "rate")
    if resolved is None or resolved[0] == "gauge":
        return Exported(rule, None, skipped=f"anomaly on {rule.metric} is not exportable")
    kind, name, _scale = resolved
    suffix = "" if kind == "counter" else ("_count" if rule.stat == "count" else "_sum")
    w = _window(rule)
    rate = f"sum by ({BY}) (rate({_sel(name + suffix, rule)}[{w}])) * 60"
    expr = (
        f"abs({rate} - avg_over_time(({rate})[1d:5m])) / "
        f"clamp_min(stddev_over_time(({rate})[1d:5m]), 1) > {_num(rule.threshold)}"
    )
    note = ("per-minute rate more than k standard deviations from its mean over the last day "
            "(the bot itself compares with the hour-of-week baseline)")  # fmt: skip
    shown = "{{ $value | humanize }} standard deviations away"
    return Exported(rule, expr, rule.for_seconds, note, shown=shown)


def export_rule(rule: Rule) -> Exported:
    """One rule as PromQL (``expr``) with its ``for`` duration, or the reason it is skipped."""
    if rule.guild:
        return Exported(rule, None, skipped="filtered on one guild (no guild labels by default)")
    if rule.kind == "anomaly":
        return _anomaly(rule)
    op, t, m, w = rule.comparison, rule.threshold, rule.metric, _window(rule)
    if m in ("cpu_percent", "memory_percent", "disk_percent"):
        return Exported(rule, f"{_HOST[m][0]} {op} {_num(t)}", rule.for_seconds)
    if m == "error_rate":
        errors = f"sum by ({BY}) (increase({_sel('discord_command_errors_total', rule)}[{w}]))"
        runs = f"sum by ({BY}) (increase({_sel('discord_commands_total', rule)}[{w}]))"
        expr = f"({errors} / {runs}) {op} {_num(t)} and {runs} >= 10"
        return Exported(rule, expr, rule.for_seconds, shown="{{ $value | humanizePercentage }}")
    if m == "command_p95_ms":
        buckets = f"rate({_sel('discord_command_latency_seconds_bucket', rule)}[{w}])"
        expr = f"histogram_quantile(0.95, sum by ({BY}, le) ({buckets})) {op} {_num(t / 1000)}"
        return Exported(rule, expr, rule.for_seconds, shown=_SECONDS)
    if m == "loop_lag_ms":
        buckets = f"rate(discord_event_loop_lag_seconds_bucket[{w}])"
        expr = f"histogram_quantile(0.95, sum by ({BY}, le) ({buckets})) {op} {_num(t / 1000)}"
        return Exported(rule, expr, rule.for_seconds, shown=_SECONDS)
    if m == "gateway_latency_ms":
        expr = f"{GATEWAY.name} {op} {_num(t / 1000)}"
        return Exported(
            rule, expr, rule.for_seconds, shown="shard {{ $labels.shard }}: " + _SECONDS
        )
    if m == "shard_disconnected":
        # "disconnected for more than T seconds" is "down, held for T seconds"
        shown = "shard {{ $labels.shard }} is down"
        return Exported(rule, "discord_shard_up == 0", max(t, 0.0) + rule.for_seconds, shown=shown)
    if m == "flush_lag_seconds":
        expr = f"discord_monitor_flush_lag_seconds {op} {_num(t)}"
        return Exported(rule, expr, rule.for_seconds, shown=_SECONDS)
    if m == "deadline_missed":
        missed = _sel("discord_interaction_deadline_missed_total", rule)
        expr = f"sum by ({BY}) (increase({missed}[{w}])) {op} {_num(t)}"
        return Exported(rule, expr, rule.for_seconds)
    by = f"{BY}, shard" if rule.per_shard else BY
    value, scale, reason = _stat_expr(rule, by)
    if value is None:
        return Exported(rule, None, skipped=reason)
    return Exported(rule, f"{value} {op} {_num(t * scale)}", rule.for_seconds)


def _alert_name(rule: Rule) -> str:
    parts = [p for p in rule.name.replace("-", "_").split("_") if p]
    return "Discord" + "".join(p[:1].upper() + p[1:] for p in parts)


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def rules_yaml(rules: Sequence[Rule], *, group: str = "discord-bot-monitoring") -> str:
    """The Prometheus rule file for ``rules`` (YAML; strings are JSON-quoted, valid YAML)."""
    exported = [export_rule(r) for r in rules]
    lines = [
        "# Prometheus alerting rules for the discord.py monitoring extension.",
        "# Generated by `python -m monitoring.export prometheus-rules` from the bot's own alert",
        "# rules (built-in rules, thresholds from the settings, [[alert_rules]]): regenerate it",
        "# rather than editing it. Prometheus has no resolve threshold: an alert resolves as soon",
        "# as its expression is false (the bot's own engine waits for resolve_threshold).",
        "groups:",
        f"  - name: {_q(group)}",
        "    rules:",
    ]
    for ex in exported:
        rule = ex.rule
        if ex.expr is None:
            continue
        unit = f" {rule.unit}" if rule.unit and rule.kind != "anomaly" else ""
        what = rule.label
        description = (
            f"{what}: {ex.shown} ({rule.comparison} {_num(rule.threshold)}{unit}"
            f"{' for ' + duration(ex.for_seconds) if ex.for_seconds else ''}); the bot's rule "
            f"{rule.name}." + (f" {ex.note[:1].upper()}{ex.note[1:]}." if ex.note else "")
        )
        lines += [f"      - alert: {_alert_name(rule)}", f"        expr: {_q(ex.expr)}"]
        if ex.for_seconds:
            lines.append(f"        for: {duration(ex.for_seconds)}")
        if rule.resolve_after_seconds:
            lines.append(f"        keep_firing_for: {duration(rule.resolve_after_seconds)}")
        lines += [
            "        labels:",
            f"          severity: {_q(rule.severity)}",
            f"          rule: {_q(rule.name)}",
            "        annotations:",
            f"          summary: {_q(what)}",
            f"          description: {_q(description)}",
        ]
    skipped = [ex for ex in exported if ex.expr is None]
    if skipped:
        lines.append("# Not exported:")
        lines += [f"#   {ex.rule.name}: {ex.skipped}" for ex in skipped]
    if not any(ex.expr for ex in exported):
        lines.insert(lines.index("    rules:") + 1, "      []")
    return "\n".join(lines) + "\n"
