"""A Grafana dashboard over the ``/metrics`` series, with the web dashboard's panels.

The same cards (messages, average and p95 response time, error rate, memory), health and active
alerts, the same charts (message volume, response times, errors, active users, voice minutes) and
the commands table, plus what a fleet of processes needs (gateway latency per shard, event-loop
lag, flush lag, host). ``$cluster`` and ``$instance`` variables pick processes; every query sums
over the chosen ones. Built as data by :func:`dashboard`; ``python -m monitoring.export
grafana-dashboard`` writes it.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["FILTER", "dashboard", "panel_queries"]

log = logging.getLogger(__name__)

FILTER = 'cluster=~"$cluster",instance=~"$instance"'
_DS = {"type": "prometheus", "uid": "${datasource}"}
_LAT = "discord_command_latency_seconds"


def _q(expr: str, legend: str = "", *, ref: str = "A", instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"refId": ref, "datasource": _DS, "expr": expr, "range": not instant}
    if legend:
        target["legendFormat"] = legend
    if instant:
        target.update(instant=True, format="table")
    return target


def _panel(
    kind: str,
    title: str,
    grid: tuple[int, int, int, int],
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    description: str = "",
    overrides: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    transformations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    x, y, w, h = grid
    panel: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        panel["transformations"] = transformations
    return panel


def _unit(name: str, unit: str) -> dict[str, Any]:
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": "unit", "value": unit}]}  # fmt: skip


def _quantile(q: float, window: str, by: str = "") -> str:
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) (rate({_LAT}_bucket{{{FILTER}}}[{window}])))"


def _cards(y: int) -> list[dict[str, Any]]:
    stat = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value", "graphMode": "area", "textMode": "auto"}  # fmt: skip
    errors = f"sum(increase(discord_command_errors_total{{{FILTER}}}[1h]))"
    runs = f"sum(increase(discord_commands_total{{{FILTER}}}[1h]))"
    return [
        _panel("stat", "Messages processed", (0, y, 5, 4),
               [_q(f"sum(increase(discord_messages_total{{{FILTER}}}[1h]))", "messages")],
               description="Messages from users in the last hour.", options=stat),
        _panel("stat", "Avg response time", (5, y, 5, 4),
               [_q(f"sum(rate({_LAT}_sum{{{FILTER}}}[1h])) / "
                   f"sum(rate({_LAT}_count{{{FILTER}}}[1h]))", "mean")],
               unit="s", description="Mean command latency, last hour.", options=stat),
        _panel("stat", "p95 response time", (10, y, 5, 4),
               [_q(_quantile(0.95, "1h"), "p95"), _q(_quantile(0.5, "1h"), "p50", ref="B")],
               unit="s", description="Command latency percentiles, last hour.", options=stat),
        _panel("stat", "Error rate", (15, y, 5, 4), [_q(f"{errors} / {runs}", "errors")],
               unit="percentunit", description="Share of commands that failed, last hour.",
               options=stat),
        _panel("stat", "Memory", (20, y, 4, 4),
               [_q(f"sum(discord_process_resident_memory_bytes{{{FILTER}}})", "bot processes")],
               unit="bytes", description="Resident memory of the bot processes.", options=stat),
    ]  # fmt: skip


def _health(y: int) -> list[dict[str, Any]]:
    lag = ("histogram_quantile(0.95, sum by (le) "
           f"(rate(discord_event_loop_lag_seconds_bucket{{{FILTER}}}[5m])))")  # fmt: skip
    targets = [
        _q(f"sum(discord_shard_up{{{FILTER}}})", "shards up", ref="A"),
        _q(f"count(discord_shard_up{{{FILTER}}})", "shards", ref="B"),
        _q(f"max(discord_gateway_latency_seconds{{{FILTER}}})", "gateway latency", ref="C"),
        _q(lag, "event-loop lag p95", ref="D"),
        _q(f"max(discord_monitor_flush_lag_seconds{{{FILTER}}})", "flush lag", ref="E"),
        _q(f"sum(increase(discord_monitor_dropped_samples_total{{{FILTER}}}[1h]))",
           "dropped samples (1h)", ref="F"),
        _q(f"max(discord_host_cpu_percent{{{FILTER}}})", "host CPU", ref="G"),
        _q(f"max(discord_host_disk_percent{{{FILTER}}})", "disk", ref="H"),
    ]  # fmt: skip
    overrides = [_unit(n, "s") for n in ("gateway latency", "event-loop lag p95", "flush lag")]
    overrides += [_unit(n, "percent") for n in ("host CPU", "disk")]
    alerts = _q(f'ALERTS{{alertstate="firing",alertname=~"Discord.*",{FILTER}}}', instant=True)
    return [
        _panel("stat", "System health", (0, y, 12, 6), targets, overrides=overrides,
               description="Shards, gateway, event loop, database writes and host.",
               options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False}, "textMode": "value_and_name"}),
        _panel("table", "Active alerts", (12, y, 12, 6), [alerts],
               description="Alerts firing in Prometheus from the exported rules.",
               transformations=[{"id": "organize", "options": {"excludeByName": {
                   "Time": True, "Value": True, "__name__": True, "alertstate": True}}}]),
    ]  # fmt: skip


def _charts(y: int) -> list[dict[str, Any]]:
    rate = "$__rate_interval"
    return [
        _panel("timeseries", "Message volume", (0, y, 12, 8),
               [_q(f"sum(rate(discord_messages_total{{{FILTER}}}[{rate}])) * 60", "messages/min")],
               description="Messages per minute."),
        _panel("timeseries", "Response times", (12, y, 12, 8),
               [_q(_quantile(0.5, rate), "p50"), _q(_quantile(0.95, rate), "p95", ref="B")],
               unit="s", description="Command latency percentiles."),
        _panel("timeseries", "Errors", (0, y + 8, 12, 8),
               [_q(f"sum(increase(discord_command_errors_total{{{FILTER}}}[{rate}]))", "errors"),
                _q(f"sum(increase(discord_event_errors_total{{{FILTER}}}[{rate}]))",
                   "event errors", ref="B")],
               description="Failed commands and listener errors."),
        _panel("timeseries", "Active users", (12, y + 8, 12, 8),
               [_q(f'sum(discord_active_users{{window="minute",{FILTER}}})', "users/min")],
               description="Distinct users in the last minute (summed over processes: a user "
               "seen by two processes counts twice)."),
        _panel("timeseries", "Voice minutes", (0, y + 16, 12, 8),
               [_q(f"sum(increase(discord_voice_seconds_total{{{FILTER}}}[{rate}])) / 60",
                   "minutes")],
               description="Minutes members spent in voice."),
    ]  # fmt: skip


def _commands(y: int) -> dict[str, Any]:
    rng = "$__range"
    by_cmd = f"{{{FILTER}}}[{rng}]"
    targets = [
        _q(f"sum by (command) (increase(discord_commands_total{by_cmd}))", ref="A", instant=True),
        _q(f"sum by (command) (increase(discord_command_errors_total{by_cmd}))", ref="B",
           instant=True),
        _q(_quantile(0.5, rng, "command"), ref="C", instant=True),
        _q(_quantile(0.95, rng, "command"), ref="D", instant=True),
        _q(_quantile(0.99, rng, "command"), ref="E", instant=True),
    ]  # fmt: skip
    names = {"Value #A": "Runs", "Value #B": "Errors", "Value #C": "p50",
             "Value #D": "p95", "Value #E": "p99", "command": "Command"}  # fmt: skip
    overrides = [_unit(n, "s") for n in ("p50", "p95", "p99")]
    return _panel("table", "Commands", (12, y, 12, 8), targets, overrides=overrides,
                  description="Per command over the dashboard's time range.",
                  transformations=[
                      {"id": "merge", "options": {}},
                      {"id": "organize", "options": {"excludeByName": {"Time": True},
                                                     "renameByName": names}},
                  ])  # fmt: skip


def _fleet(y: int) -> list[dict[str, Any]]:
    buckets = "discord_event_loop_lag_seconds_bucket{" + FILTER + "}[$__rate_interval]"
    lag = f"histogram_quantile(0.95, sum by (instance, le) (rate({buckets})))"
    return [
        _panel("timeseries", "Gateway latency per shard", (0, y, 12, 8),
               [_q(f"max by (cluster, shard) (discord_gateway_latency_seconds{{{FILTER}}})",
                   "{{cluster}} shard {{shard}}")], unit="s"),
        _panel("timeseries", "Event-loop lag p95", (12, y, 12, 8),
               [_q(lag, "{{instance}}")], unit="s"),
        _panel("timeseries", "Database writes", (0, y + 8, 12, 8),
               [_q(f"max by (instance) (discord_monitor_flush_lag_seconds{{{FILTER}}})",
                   "flush lag {{instance}}"),
                _q(f"sum by (instance) (discord_monitor_pending_rows{{{FILTER}}})",
                   "pending rows {{instance}}", ref="B")],
               unit="s", overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"},
                                     "properties": [{"id": "unit", "value": "short"}]}]),
        _panel("timeseries", "Host", (12, y + 8, 12, 8),
               [_q(f"max by (instance) (discord_host_cpu_percent{{{FILTER}}})",
                   "CPU {{instance}}"),
                _q(f"max by (instance) (discord_host_memory_percent{{{FILTER}}})",
                   "memory {{instance}}", ref="B"),
                _q(f"max by (instance) (discord_host_disk_percent{{{FILTER}}})",
                   "disk {{instance}}", ref="C")], unit="percent"),
    ]  # fmt: skip


def _variables() -> list[dict[str, Any]]:
    def var(name: str, query: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": name.capitalize(),
            "type": "query",
            "datasource": _DS,
            "query": {"query": query, "refId": name},
            "definition": query,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
        }

    return [
        {"name": "datasource", "label": "Prometheus", "type": "datasource",
         "query": "prometheus", "current": {}, "hide": 0},
        var("cluster", "label_values(discord_monitor_start_time_seconds, cluster)"),
        var("instance",
            'label_values(discord_monitor_start_time_seconds{cluster=~"$cluster"}, instance)'),
    ]  # fmt: skip


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana JSON (import it, or provision it from a file)."""
    panels: list[dict[str, Any]] = [*_cards(0), *_health(4), *_charts(10), _commands(26)]
    panels.append({"type": "row", "title": "Fleet", "collapsed": False,
                   "gridPos": {"x": 0, "y": 34, "w": 24, "h": 1}, "panels": []})  # fmt: skip
    panels += _fleet(35)
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "title": "Discord bot monitoring",
        "uid": "discord-bot-monitoring",
        "description": "Generated by `python -m monitoring.export grafana-dashboard`.",
        "tags": ["discord", "bot", "monitoring"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": _variables()},
        "annotations": {"list": []},
        "panels": panels,
    }


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query, for tests and linting."""
    return [
        (p["title"], t["expr"])
        for p in board["panels"]
        for t in p.get("targets", ())
        if "expr" in t
    ]
