"""Alert rules: built-in defaults from the config, custom [[alert_rules]] validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring import Config, ConfigError, load_config
from monitoring.alerts.rules import Rule, parse_duration, parse_rules

BUILTINS = {
    "cpu_high", "memory_high", "disk_high", "error_rate", "command_latency", "gateway_latency",
    "loop_lag", "shard_disconnected", "flush_failing", "deadline_missed", "messages_anomaly",
    "commands_anomaly",
}  # fmt: skip


def rules(*tables: dict[str, object], **config: object) -> dict[str, Rule]:
    return {r.name: r for r in parse_rules(Config(alert_rules=tables, **config))}  # type: ignore[arg-type]


def test_builtins_follow_the_config() -> None:
    got = rules(cpu_warning_threshold=70, disk_warning_threshold=95, error_spike_window_seconds=120)
    assert set(got) == BUILTINS
    assert got["cpu_high"].threshold == 70 and got["cpu_high"].resolve_threshold == 65
    assert got["disk_high"].threshold == 95
    assert got["error_rate"].window_seconds == 120
    assert got["messages_anomaly"].threshold == Config().anomaly_k
    assert got["messages_anomaly"].for_seconds == Config().anomaly_minutes * 60


def test_alerts_disabled() -> None:
    assert parse_rules(Config(performance_alerts_enabled=False)) == ()


def test_custom_rule_with_durations() -> None:
    got = rules(
        {
            "name": "slow_play", "metric": "command_latency_ms", "stat": "p95",
            "command": "play", "window": "10m", "threshold": 2500, "resolve_threshold": 1500,
            "for": "5m", "repeat": "2h", "severity": "critical", "description": "/play is slow",
        }
    )  # fmt: skip
    rule = got["slow_play"]
    assert (rule.window_seconds, rule.for_seconds, rule.repeat_seconds) == (600, 300, 7200)
    assert rule.comparison == ">" and rule.command == "play" and rule.severity == "critical"
    assert rule.label == "/play is slow"


def test_override_and_disable_builtins() -> None:
    got = rules(
        {"name": "cpu_high", "threshold": 95, "for": 60}, {"name": "loop_lag", "enabled": False}
    )
    assert got["cpu_high"].threshold == 95 and got["cpu_high"].for_seconds == 60
    assert got["cpu_high"].metric == "cpu_percent"  # the rest is the built-in's
    assert "loop_lag" not in got


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "x", "metric": "m"}, r"alert_rules\[0\] 'x': missing field 'threshold'"),
        ({"metric": "m", "threshold": 1}, r"alert_rules\[0\]: missing field 'name'"),
        ({"name": "x y", "metric": "m", "threshold": 1}, r"name: 'x y': expected 1-64 letters"),
        ({"name": "x", "metric": "m", "threshold": "lots"}, r"'x': threshold: 'lots': expected a number"),
        ({"name": "x", "metric": "m", "threshold": 1, "severity": "panic"}, r"severity: 'panic': expected one of info, warning, critical"),
        ({"name": "x", "metric": "m", "threshold": 1, "for": "5 weeks"}, r"'x': for: '5 weeks': expected a duration"),
        ({"name": "x", "metric": "m", "threshold": 1, "colour": "red"}, r"'x': unknown field 'colour'; allowed: "),
        ({"name": "x", "metric": "m", "threshold": 10, "resolve_threshold": 20}, r"'x': resolve_threshold 20 is itself beyond the threshold"),
        ({"name": "x", "metric": "m", "threshold": 10, "comparison": "=="}, r"comparison: '==': expected one of"),
        ({"name": "x", "metric": "m", "kind": "anomaly", "threshold": 0}, r"the deviation k must be above 0"),
        ({"name": "x", "metric": "m", "threshold": 1, "stat": "median"}, r"stat: 'median'"),
    ],
)  # fmt: skip
def test_bad_rules_name_the_rule_and_field(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rules(table)


def test_duplicate_names_are_rejected() -> None:
    table = {"name": "x", "metric": "m", "threshold": 1}
    with pytest.raises(ConfigError, match=r"alert_rules\[1\] 'x': name: defined twice"):
        rules(table, table)


def test_durations() -> None:
    assert parse_duration("90s") == 90 and parse_duration("1.5h") == 5400
    assert parse_duration(30) == 30 and parse_duration("2d") == 172800
    for bad in ("-1m", "soon", True, "31d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_rules_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.toml"
    path.write_text(
        """
cpu_warning_threshold = 75

[[alert_rules]]
name = "slow_play"
metric = "command_latency_ms"
stat = "p95"
command = "play"
threshold = 2500
for = "5m"

[[alert_rules]]
name = "quiet_server"
metric = "messages"
stat = "rate"
comparison = "<"
threshold = 1
resolve_threshold = 3
window = "30m"
for = "1h"
severity = "info"
""",
        encoding="utf-8",
    )
    config = load_config({}, path)
    got = {r.name: r for r in parse_rules(config)}
    assert got["cpu_high"].threshold == 75
    assert got["quiet_server"].cleared(3) and not got["quiet_server"].cleared(2)
    assert got["slow_play"].for_seconds == 300
    path.write_text(
        '[[alert_rules]]\nname = "bad"\nmetric = "m"\nthreshold = "x"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"alert_rules\[0\] 'bad': threshold"):
        parse_rules(load_config({}, path))
