"""``python -m monitoring.export``: Prometheus rules, the Grafana dashboard, the deploy/ files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring.alerts.rules import Rule, parse_rules
from monitoring.config import Config
from monitoring.export import grafana_json, main, prometheus_rules
from monitoring.grafana import dashboard, panel_queries
from monitoring.promrules import duration, export_rule
from tests.reliability.tools import promtool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitoring.export", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_help_names_both_exports() -> None:
    top = run("--help")
    assert top.returncode == 0 and "prometheus-rules" in top.stdout
    assert "grafana-dashboard" in top.stdout
    sub = run("prometheus-rules", "--help")
    assert sub.returncode == 0 and "--out" in sub.stdout and "--defaults" in sub.stdout


def test_committed_files_are_up_to_date() -> None:
    """deploy/ holds what the generators make (regenerate: see the README's Prometheus part)."""
    rules = (DEPLOY / "prometheus" / "rules.yml").read_text(encoding="utf-8")
    assert rules == prometheus_rules(Config()), "regenerate deploy/prometheus/rules.yml"
    board = (DEPLOY / "grafana" / "dashboard.json").read_text(encoding="utf-8")
    assert board == grafana_json(), "regenerate deploy/grafana/dashboard.json"


def test_rules_pass_promtool(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    assert main(["prometheus-rules", "--defaults", "--out", str(out)]) == 0
    checked = promtool("check", "rules", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(parse_rules(Config()))} rules found" in checked.stdout


def test_custom_rules_from_the_toml_file(tmp_path: Path) -> None:
    toml = tmp_path / "monitoring.toml"
    toml.write_text(
        """
cpu_warning_threshold = 70
[[alert_rules]]
name = "slow_play"
metric = "command_latency_ms"
stat = "p95"
command = "play"
window = "10m"
threshold = 2500
for = "5m"
resolve_after = "2m"
[[alert_rules]]
name = "one_guild"
metric = "messages"
guild = 811111111111111111
threshold = 100
[[alert_rules]]
name = "queue-deep"
metric = "queue_depth"
stat = "max"
threshold = 50
per_shard = true
[[alert_rules]]
name = "memory_high"
enabled = false
""",
        encoding="utf-8",
    )
    out = tmp_path / "rules.yml"
    result = run("prometheus-rules", "--config", str(toml), "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert '"discord_host_cpu_percent >= 70"' in text
    assert "DiscordMemoryHigh" not in text
    assert (
        "histogram_quantile(0.95, sum by (job, instance, cluster, le) (rate("
        'discord_command_latency_seconds_bucket{command=\\"play\\"}[10m]))) > 2.5'
    ) in text
    assert "keep_firing_for: 2m" in text
    assert (
        "max by (job, instance, cluster, shard) (max_over_time(discord_custom_queue_depth" in text
    )
    assert "DiscordQueueDeep" in text
    assert re.search(r"#\s+one_guild: filtered on one guild", text)
    checked = promtool("check", "rules", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_bad_setting_is_reported(tmp_path: Path) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text("cpu_warning_threshold = 900\n", encoding="utf-8")
    result = run("prometheus-rules", "--config", str(toml))
    assert result.returncode == 2 and "cpu_warning_threshold" in result.stderr


@pytest.mark.parametrize(
    ("metric", "stat", "expected"),
    [
        ("messages", "rate", "sum by (job, instance, cluster) (rate(discord_messages_total[5m])) * 60 > 7"),
        ("voice_minutes", "sum", "increase(discord_voice_seconds_total[5m])) > 420"),
        ("command_latency_ms", "mean", "rate(discord_command_latency_seconds_sum[5m])) / sum"),
        ("llm_response_ms", "p99", "histogram_quantile(0.99, sum by (job, instance, cluster, le) (rate(discord_custom_llm_response_seconds_bucket[5m]))) > 0.007"),
        ("guilds", "min", "max by (job, instance, cluster) (min_over_time(discord_guilds[5m])) > 7"),
        ("tickets", "count", "increase(discord_custom_tickets_total[5m])) > 7"),
    ],
)  # fmt: skip
def test_recorded_metric_rules(metric: str, stat: str, expected: str) -> None:
    exported = export_rule(Rule("r", metric, ">", 7.0, stat=stat))
    assert exported.expr is not None and expected in exported.expr


def test_untranslatable_rules_say_why() -> None:
    assert export_rule(Rule("r", "messages", ">", 1.0, stat="mean")).skipped
    assert export_rule(Rule("r", "users", ">", 1.0, stat="sum")).skipped
    assert "command label" in export_rule(Rule("r", "messages", ">", 1, command="x")).skipped
    assert [duration(s) for s in (0.5, 90, 300, 7200, 86400)] == ["500ms", "90s", "5m", "2h", "1d"]


def test_grafana_has_the_web_dashboards_panels() -> None:
    html = (ROOT / "assets" / "index.html").read_text(encoding="utf-8")
    cards = re.findall(r'class="metric-card">\s*<h3>([^<]+)</h3>', html)
    charts = re.findall(r'class="chart-container"><h3>([^<(]+)', html)
    sections = re.findall(r'<h2 id="(?:health|alerts)-title">([^<]+)', html)
    wanted = {t.strip() for t in (*cards, *charts, *sections)}
    assert len(wanted) >= 10, wanted
    titles = {p["title"] for p in dashboard()["panels"]}
    assert wanted <= titles, wanted - titles


def test_grafana_json_is_importable() -> None:
    board = json.loads(grafana_json())
    assert board["uid"] == "discord-bot-monitoring" and board["schemaVersion"] >= 36
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    names = {v["name"] for v in board["templating"]["list"]}
    assert names == {"datasource", "cluster", "instance"}
    for title, expr in panel_queries(board):
        assert "$cluster" in expr and "$instance" in expr, title
        assert expr.count("(") == expr.count(")"), title


def test_example_prometheus_config_is_valid(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("scrape-token-0123456789abcdef\n", encoding="utf-8")
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    assert "/etc/prometheus/discord-metrics.token" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/discord-metrics.token", str(token)), encoding="utf-8"
    )
    (tmp_path / "rules.yml").write_text(prometheus_rules(Config()), encoding="utf-8")
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
