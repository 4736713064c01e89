"""Recommendation rules: symptoms -> causes, thresholds from the config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from monitoring import Config, FakeClock, Monitor, Recorder
from monitoring.recommendations import RULES, Facts, gather_facts, recommend
from monitoring.store.base import CommandStat
from monitoring.store.sqlite import SQLiteStore

NOW = 1_767_225_600.0
CONFIG = Config()


def _cmd(name: str, count: int = 50, errors: int = 0, p95: float = 100.0) -> CommandStat:
    return CommandStat(name, count, errors, p95 / 2, p95, p95 * 1.2, p95 / 2)


def _facts(**kw: object) -> Facts:
    return dataclasses.replace(Facts(now=NOW, period=86400, guild=None), **kw)  # type: ignore[arg-type]


def _rules(facts: Facts, config: Config = CONFIG) -> list[str]:
    return [r.rule for r in recommend(facts, config)]


def test_healthy_facts_give_no_recommendation() -> None:
    facts = _facts(
        commands=(_cmd("a"), _cmd("b", p95=120), _cmd("c", p95=90)),
        gateway_latency_p95_ms=60,
        loop_lag_p95_ms=3,
        identifies_24h=2,
        cpu_percent=20,
        memory_percent=40,
        disk_percent=50,
    )
    assert recommend(facts, CONFIG) == []


def test_loop_lag_with_normal_gateway_means_blocking_code() -> None:
    facts = _facts(loop_lag_p95_ms=250, gateway_latency_p95_ms=60, cpu_percent=20)
    (rec,) = recommend(facts, CONFIG)
    assert rec.rule == "blocking_code" and rec.priority == "high" and rec.type == "performance"
    assert "250 ms" in rec.description and "asyncio.to_thread" in rec.action
    # the threshold is the config's
    assert _rules(facts, CONFIG.replace(loop_lag_warning_ms=300)) == []


def test_loop_lag_with_busy_cpu_or_slow_gateway_points_elsewhere() -> None:
    assert _rules(_facts(loop_lag_p95_ms=250, cpu_percent=97)) == ["cpu_saturated"]
    assert _rules(_facts(gateway_latency_p95_ms=900, loop_lag_p95_ms=2)) == ["slow_network"]


def test_identifies_above_ten_per_shard_a_day_are_a_reconnect_storm() -> None:
    assert _rules(_facts(identifies_24h=20, shards=2)) == []
    (rec,) = recommend(_facts(identifies_24h=21, shards=2), CONFIG)
    assert (
        rec.rule == "reconnect_storm" and "21" in rec.description and "2 shard" in rec.description
    )
    limited = CONFIG.replace(identify_daily_limit_per_shard=3)
    assert _rules(_facts(identifies_24h=7, shards=2), limited) == ["reconnect_storm"]


def test_one_command_far_slower_than_the_others_is_named() -> None:
    commands = (_cmd("ping", p95=40), _cmd("help", p95=60), _cmd("search", p95=2500))
    (rec,) = recommend(_facts(commands=commands), CONFIG)
    assert rec.rule == "slow_command" and rec.title == "/search is slow"
    assert rec.priority == "medium"
    very = (*commands[:2], _cmd("search", p95=4000))
    assert recommend(_facts(commands=very), CONFIG)[0].priority == "high"
    # a few calls are no pattern; a lower factor in the config names more
    assert _rules(_facts(commands=(*commands[:2], _cmd("search", count=2, p95=2500)))) == []
    tight = CONFIG.replace(slow_command_factor=1.5)
    assert "slow_command" not in _rules(_facts(commands=(_cmd("a", p95=300), _cmd("b", p95=400))))
    assert _rules(_facts(commands=(_cmd("a", p95=210), _cmd("b", p95=500))), tight) == [
        "slow_command"
    ]


def test_error_spike_in_one_command_names_it_with_its_top_error() -> None:
    commands = (_cmd("ping", errors=0), _cmd("play", count=40, errors=12))
    facts = _facts(commands=commands, top_errors=(("play", "KeyError: 'queue'"),))
    (rec,) = recommend(facts, CONFIG)
    assert rec.rule == "failing_command" and rec.title == "/play fails often"
    assert "12 of 40" in rec.description and "KeyError: 'queue'" in rec.description


def test_errors_spread_over_commands_give_one_general_recommendation() -> None:
    commands = tuple(_cmd(f"c{i}", count=40, errors=2) for i in range(5))
    assert _rules(_facts(commands=commands)) == ["high_error_rate"]


def test_missed_deadlines_memory_disk_and_storage() -> None:
    facts = _facts(
        deadline_missed=(("report", 4), ("ping", 0)),
        memory_percent=91,
        disk_percent=95,
        dropped_rows=10,
        store_error="disk I/O error",
    )
    recs = recommend(facts, CONFIG)
    assert [r.rule for r in recs] == [
        "missed_deadline",
        "metrics_not_saved",
        "memory_high",
        "disk_high",
    ]
    assert "defer()" in recs[0].action and recs[0].title.startswith("/report")
    assert [r.priority for r in recs] == ["high", "high", "medium", "medium"]


def test_every_rule_renders_its_templates() -> None:
    facts = _facts(
        commands=(_cmd("a", p95=40), _cmd("b", p95=40), _cmd("slow", p95=5000, errors=30)),
        top_errors=(("slow", "TimeoutError: upstream"),),
        deadline_missed=(("slow", 3),),
        loop_lag_p95_ms=500,
        cpu_percent=99,
        gateway_latency_p95_ms=40,
        identifies_24h=500,
        memory_percent=99,
        disk_percent=99,
        dropped_rows=1,
    )
    recs = recommend(facts, CONFIG)
    assert {r.rule for r in recs} >= {"cpu_saturated", "slow_command", "failing_command"}
    for rec in recs:
        assert rec.title and rec.description and rec.action
        assert "{" not in rec.title + rec.description + rec.action
    assert len({rule.name for rule in RULES}) == len(RULES)


async def test_gather_facts_reads_store_errors_and_host(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = SQLiteStore(tmp_path / "m.db", clock=clock)
    monitor = Monitor(Config(db_path=tmp_path / "m.db"), clock=clock, store=store)
    await monitor.start(background=False)
    try:
        rec: Recorder = monitor.recorder
        for i in range(12):
            rec.command("play", "slash", 5, 1, 50.0, i % 3 != 0, error_type="KeyError")
            rec.command("ping", "slash", 6, 1, 10.0, True)
        rec.inc("gateway_identify", 30, shard=0)
        rec.inc("interaction_deadline_missed", 2, guild=5, command="play")
        try:
            {}["queue"]
        except KeyError as exc:
            monitor.errors.record(exc, guild=5, command="play")
        clock.set(NOW + 90)
        assert await monitor.flusher.flush(force=True)
        facts = await gather_facts(monitor, now=NOW + 90)
        assert {c.command for c in facts.commands} == {"play", "ping"}
        assert facts.identifies_24h == 30
        assert facts.deadline_missed == (("play", 2),)
        assert facts.top_errors == (("play", "KeyError: 'queue'"),)
        assert facts.shards == 1
        assert "reconnect_storm" in _rules(facts)
        guild = await gather_facts(monitor, now=NOW + 90, guild=6)
        assert [c.command for c in guild.commands] == ["ping"]
        assert guild.top_errors == () and guild.identifies_24h is None  # bot-wide facts hidden
    finally:
        await monitor.stop()
