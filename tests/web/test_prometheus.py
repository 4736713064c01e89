"""``GET /metrics``: the exposition's content, its access rules, promtool, a real Prometheus."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from monitoring import Config, FakeClock, Monitor
from monitoring.alerts.rules import parse_rules
from monitoring.exposition import MAX_COMMAND_LABELS, MAX_CUSTOM, cumulative_for
from monitoring.grafana import dashboard, panel_queries
from monitoring.healthchecks import ShardState
from monitoring.promrules import rules_yaml
from tests.e2e.conftest import running
from tests.reliability.tools import prometheus_server, promtool, query, wait_for
from web.prometheus import CONTENT_TYPE, create_metrics_app, render_exposition

T0 = 1_767_225_600.0 + 3600 * 10 + 5
TOKEN = "scrape-token-0123456789abcdef"
G1, G2, G3 = 811111111111111111, 822222222222222222, 833333333333333333
USER = 299999999999999999

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def mon(tmp_path: Path) -> AsyncIterator[Monitor]:
    m = Monitor(Config(db_path=tmp_path / "m.db", cluster="eu-1"), clock=FakeClock(T0))
    cumulative_for(m.recorder)  # what add_metrics_route does when the app is built
    await m.start(background=False)
    yield m
    await m.stop()


def activity(m: Monitor, messages: int = 30) -> None:
    rec = m.recorder
    for i in range(messages):
        rec.message((G1, G2, G3)[i % 3], USER + i)
    rec.command("ping", "slash", G1, USER, 12.0, True, first_response_ms=40.0)
    rec.command("ping", "slash", G2, USER, 2600.0, False, first_response_ms=3500.0)
    rec.command("play", "prefix", G1, USER + 1, 180.0, True)
    rec.observe("gateway_latency_ms", 45.0, shard=0)
    rec.inc("gateway_identify", shard=0)
    rec.gauge("guilds", 3.0)
    m.loop_lag.sample(0.004)


def parse(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {name} {labels}")


async def scrape(m: Monitor, **kwargs: Any) -> str:
    assert await m.flusher.flush(force=True)
    return render_exposition(m, **kwargs)


async def test_names_types_and_labels(mon: Monitor) -> None:
    activity(mon)
    text = await scrape(mon)
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    assert all(name.endswith("_total") for name, kind in types.items() if kind == "counter")
    expected = {
        "discord_messages_total": "counter",
        "discord_commands_total": "counter",
        "discord_command_errors_total": "counter",
        "discord_command_latency_seconds": "histogram",
        "discord_interaction_first_response_seconds": "histogram",
        "discord_interaction_deadline_missed_total": "counter",
        "discord_gateway_latency_seconds": "gauge",
        "discord_gateway_identifies_total": "counter",
        "discord_guilds": "gauge",
        "discord_event_loop_lag_seconds": "histogram",
        "discord_monitor_flush_lag_seconds": "gauge",
        "discord_monitor_dropped_samples_total": "counter",
        "discord_monitor_pending_rows": "gauge",
        "discord_active_users": "gauge",
    }
    assert {k: types.get(k) for k in expected} == expected
    assert value(text, "discord_messages_total") == 30
    assert value(text, "discord_commands_total", command="ping", kind="slash") == 2
    assert value(text, "discord_command_errors_total", command="ping", kind="slash") == 1
    assert value(text, "discord_gateway_latency_seconds", shard="0") == pytest.approx(0.045)
    assert value(text, "discord_active_users", window="day") == 30
    # every sample carries the cluster; no user id appears anywhere; no guild labels by default
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    assert all(s.labels.get("cluster") == "eu-1" for s in samples)
    assert str(USER)[:12] not in text and "guild=" not in text


async def test_histograms_are_cumulative_and_complete(mon: Monitor) -> None:
    for latency in (0.5, 3.0, 40.0, 900.0, 120_000.0):
        mon.recorder.command("slow", "slash", G1, USER, latency, True)
    text = await scrape(mon)
    buckets = [
        (s.labels["le"], s.value)
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "discord_command_latency_seconds_bucket" and s.labels["command"] == "slow"
    ]
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and len(buckets) == 18  # 17 bounds (doubling) and +Inf
    assert buckets[-1] == ("+Inf", 5.0)
    assert dict(buckets)["0.001024"] == 1 and dict(buckets)["67.1089"] == 4
    assert value(text, "discord_command_latency_seconds_sum", command="slow") == pytest.approx(
        (0.5 + 3 + 40 + 900 + 120_000) / 1000
    )


async def test_counters_keep_counting_across_flushes(mon: Monitor) -> None:
    activity(mon)
    first = await scrape(mon)
    activity(mon, messages=12)
    second = await scrape(mon)
    assert value(first, "discord_messages_total") == 30
    assert value(second, "discord_messages_total") == 42
    assert value(second, "discord_command_latency_seconds_count", command="play") == 2
    flushed = value(second, "discord_monitor_flushed_rows_total")
    assert flushed > value(first, "discord_monitor_flushed_rows_total") > 0


async def test_cardinality_is_bounded(mon: Monitor) -> None:
    for i in range(MAX_COMMAND_LABELS + 40):
        mon.recorder.command(f"cmd{i}", "slash", G1, USER, 10.0, True)
    for i in range(MAX_CUSTOM + 10):
        mon.inc(f"own_counter_{i}")
    text = await scrape(mon)
    commands = {
        s.labels["command"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "discord_commands_total"
    }
    assert len(commands) == MAX_COMMAND_LABELS + 1 and "(other)" in commands
    assert value(text, "discord_commands_total", command="(other)") == 40
    assert len(re.findall(r"^# TYPE discord_custom_", text, re.M)) == MAX_CUSTOM


async def test_per_guild_series_only_on_request_and_capped(mon: Monitor) -> None:
    activity(mon)
    assert "discord_guild_messages_total" not in await scrape(mon)
    cumulative_for(mon.recorder, per_guild=True)  # MONITOR_METRICS_PER_GUILD=true
    for guild, n in ((G3, 5), (G1, 3), (G2, 1)):
        for _ in range(n):
            mon.recorder.message(guild, USER)
    text = await scrape(mon, per_guild=True, max_guilds=2)
    guilds = {
        s.labels["guild"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "discord_guild_messages_total"
    }
    assert guilds == {str(G3), str(G1)}  # the two busiest
    assert value(text, "discord_guild_messages_total", guild=str(G3)) == 5


async def test_host_bot_metrics_and_live_shards(mon: Monitor) -> None:
    with mon.timer("llm_response_ms"):
        pass
    mon.gauge("queue_depth", 7.0, shard=2)
    mon.inc("jobs_total", 3)
    shards = [ShardState(0, 42.0, True), ShardState(1, None, False)]
    text = await scrape(mon, shards=lambda: shards)
    assert value(text, "discord_custom_llm_response_seconds_count") == 1
    assert value(text, "discord_custom_queue_depth", shard="2") == 7
    assert value(text, "discord_custom_jobs_total") == 3
    assert value(text, "discord_shard_up", shard="0") == 1
    assert value(text, "discord_shard_up", shard="1") == 0
    assert value(text, "discord_gateway_latency_seconds", shard="0") == pytest.approx(0.042)


async def test_promtool_accepts_the_live_endpoint(
    aiohttp_client: ClientFactory, mon: Monitor
) -> None:
    activity(mon)
    with mon.timer("llm_response_ms"):
        pass
    mon.system.record(mon.system.read())
    assert await mon.flusher.flush(force=True)
    client = await aiohttp_client(create_metrics_app(mon))
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"] == CONTENT_TYPE
    text = await resp.text()
    checked = promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "discord_process_resident_memory_bytes" in text


def _remote(address: str) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        return await handler(request.clone(remote=address))

    return middleware


async def _app_from(mon: Monitor, config: Config, remote: str | None) -> web.Application:
    app = create_metrics_app(mon, config)
    if remote is not None:
        app.middlewares.append(_remote(remote))
    return app


async def test_without_token_only_this_machine_may_scrape(
    aiohttp_client: ClientFactory, mon: Monitor
) -> None:
    local = await aiohttp_client(await _app_from(mon, mon.config, None))
    assert (await local.get("/metrics")).status == 200
    proxied = await local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status == 403
    remote = await aiohttp_client(await _app_from(mon, mon.config, "203.0.113.9"))
    resp = await remote.get("/metrics")
    assert resp.status == 403 and "MONITOR_METRICS_TOKEN" in await resp.text()
    v6 = await aiohttp_client(await _app_from(mon, mon.config, "::1"))
    assert (await v6.get("/metrics")).status == 200


async def test_with_token_every_client_needs_it(
    aiohttp_client: ClientFactory, mon: Monitor
) -> None:
    config = mon.config.replace(metrics_token=TOKEN, api_key="dashboard-key-0123456789")
    for address in (None, "203.0.113.9"):
        client = await aiohttp_client(await _app_from(mon, config, address))
        assert (await client.get("/metrics")).status == 401
        wrong = {"Authorization": "Bearer dashboard-key-0123456789"}  # the API key opens nothing
        assert (await client.get("/metrics", headers=wrong)).status == 401
        resp = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status == 200
        assert resp.headers.get("WWW-Authenticate") is None


async def test_large_answers_are_gzipped(aiohttp_client: ClientFactory, mon: Monitor) -> None:
    activity(mon)
    assert await mon.flusher.flush(force=True)
    client = await aiohttp_client(create_metrics_app(mon))
    resp = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200 and resp.headers.get("Content-Encoding") == "gzip"
    assert "discord_messages_total" in await resp.text()


# -- a real Prometheus server ------------------------------------------------------------------

SCRAPE = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: {rules}
scrape_configs:
  - job_name: bot
    authorization:
      type: Bearer
      credentials: {token}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def _grafana_promql(expr: str) -> str:
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$cluster", ".*")
        .replace("$instance", ".*")
    )


@pytest.mark.slow
async def test_real_prometheus_scrapes_queries_and_alerts(tmp_path: Path) -> None:
    config = Config(db_path=tmp_path / "bot.db", cluster="eu-1", metrics_token=TOKEN)
    mon = Monitor(config)
    await mon.start(background=False)
    shards = [ShardState(0, 42.0, True), ShardState(1, 80.0, True)]
    app = create_metrics_app(mon, shards=lambda: shards)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    custom = {"name": "busy", "metric": "messages", "stat": "sum", "window": "1m",
              "comparison": ">", "threshold": 5}  # fmt: skip
    rules = rules_yaml(parse_rules(Config(alert_rules=(custom,))))
    (tmp_path / "rules.yml").write_text(rules, encoding="utf-8")
    checked = promtool("check", "rules", str(tmp_path / "rules.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    activity(mon, messages=500)
    for latency in range(1, 101):
        mon.recorder.command("median", "slash", G1, USER, float(latency * 10), True)
    assert await mon.flusher.flush()
    yaml = SCRAPE.format(rules=json.dumps([str(tmp_path / "rules.yml")]), token=TOKEN, port=port)
    try:
        async with (
            prometheus_server(yaml, tmp_path / "prom") as url,
            aiohttp.ClientSession() as session,
        ):

            async def messages() -> float | None:
                result = await query(session, url, "discord_messages_total")
                return float(result[0]["value"][1]) if result else None

            assert await wait_for(messages, within=20, what="the first scrape") == 500
            up = await query(session, url, 'up{job="bot"}')
            assert up[0]["value"][1] == "1"
            series = await query(session, url, "discord_messages_total")
            assert series[0]["metric"]["cluster"] == "eu-1"
            shard1 = await query(session, url, 'discord_gateway_latency_seconds{shard="1"}')
            assert float(shard1[0]["value"][1]) == pytest.approx(0.08)
            # the median of 10..1000 ms through Prometheus's own quantile over our buckets
            median = await query(
                session,
                url,
                "histogram_quantile(0.5, sum by (le) "
                '(discord_command_latency_seconds_bucket{command="median"}))',
            )
            assert 0.25 <= float(median[0]["value"][1]) <= 1.0

            mon.recorder.messages_bulk(G1, 100)  # the custom rule "busy" must now fire
            assert await mon.flusher.flush()
            assert await wait_for(lambda: _at_least(session, url, 600), within=20, what="600")

            async def firing() -> bool:
                async with session.get(f"{url}/api/v1/alerts") as resp:
                    alerts = (await resp.json())["data"]["alerts"]
                return any(
                    a["labels"]["alertname"] == "DiscordBusy" and a["state"] == "firing"
                    for a in alerts
                )

            await wait_for(firing, within=20, what="the exported rule to fire")

            async def rules_healthy() -> list[dict[str, Any]] | None:
                async with session.get(f"{url}/api/v1/rules") as resp:
                    groups = (await resp.json())["data"]["groups"]
                loaded = [r for g in groups for r in g["rules"]]
                evaluated = all(r.get("lastEvaluation", "").startswith("20") for r in loaded)
                return loaded if loaded and evaluated else None

            loaded = await wait_for(rules_healthy, within=20, what="every rule evaluated")
            assert len(loaded) == rules.count("- alert:")
            assert all(r["health"] == "ok" for r in loaded), [
                (r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"
            ]
            for title, expr in panel_queries(dashboard()):
                await query(session, url, _grafana_promql(expr))  # fails on a PromQL error
                assert title
    finally:
        await runner.cleanup()
        await mon.stop()


async def _at_least(session: aiohttp.ClientSession, url: str, n: float) -> bool:
    result = await query(session, url, "discord_messages_total")
    return bool(result) and float(result[0]["value"][1]) >= n


@pytest.mark.slow
async def test_prometheus_scrapes_a_bot_in_the_sandbox(tmp_path: Path) -> None:
    """The real thing: a sharded bot on the Discord emulator, its dashboard's /metrics scraped."""
    async with running(tmp_path, shards=2, guilds=4, metrics_token=TOKEN, cluster="sbx") as stack:
        for _ in range(3):
            await stack.command("ping", channel="chat")
        await stack.flush()
        target = stack.dashboard_url.removeprefix("http://")
        yaml = SCRAPE.format(rules="[]", token=TOKEN, port=target.rsplit(":", 1)[1])
        async with (
            prometheus_server(yaml, tmp_path / "prom") as url,
            aiohttp.ClientSession() as session,
        ):

            async def scraped() -> list[dict[str, Any]]:
                return await query(session, url, 'discord_commands_total{command="ping"}')

            [ping] = await wait_for(scraped, within=20, what="the bot's commands")
            assert ping["value"][1] == "3" and ping["metric"]["cluster"] == "sbx"
            guilds = await query(session, url, "discord_guilds")
            assert guilds[0]["value"][1] == "4"
            shards = await query(session, url, "discord_shard_up")
            assert sorted(s["metric"]["shard"] for s in shards) == ["0", "1"]
            assert all(s["value"][1] == "1" for s in shards)
            latency = await query(session, url, "discord_gateway_latency_seconds")
            assert len(latency) == 2
            memory = await query(session, url, "discord_process_resident_memory_bytes")
            assert float(memory[0]["value"][1]) > 10e6
