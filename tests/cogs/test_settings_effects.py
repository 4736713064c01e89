"""Settings that do what they say: METRICS_ENABLED=false stops collection, the retired
METRICS_SAVE_INTERVAL_MINUTES is accepted with a warning, ANALYTICS_DATA_PATH holds JSON reports."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import discord.ext.test as dpytest
import pytest

from cogs.monitoring.cog import MonitoringCog
from cogs.monitoring.replies import COLLECTION_OFF
from monitoring import Config, FakeClock, Monitor, load_config
from monitoring.reports.cli import main as report_main
from tests.cogs.conftest import flush
from tests.helpers.fixtures import DpyEnv


async def test_collection_off_records_nothing_and_stats_says_so(
    dpy_env: DpyEnv, config: Config, clock: FakeClock
) -> None:
    # a day of data stored while collection was on
    before = Monitor(config, clock=clock)
    await before.start(background=False)
    before.recorder.message(dpy_env.guild.id, 1234)
    await flush(before)
    await before.stop()

    monitor = Monitor(config.replace(metrics_enabled=False), clock=clock, system_interval=3600)
    main = MonitoringCog(dpy_env.bot, monitor)
    await dpy_env.bot.add_cog(main)
    try:
        assert {t.get_name() for t in monitor._tasks} == {"monitoring-flush"}  # no samplers
        assert not main._tasks and not main.hooks.active
        await dpytest.message("hello", channel=dpy_env.channel, member=dpy_env.member)
        for _ in range(5):
            await asyncio.sleep(0)
        monitor.inc("songs_played", guild=dpy_env.guild.id)
        monitor.gauge("queue_length", 3)
        with monitor.timer("llm_ms"):
            pass
        await flush(monitor)
        now = monitor.clock()
        for metric in ("messages", "songs_played", "llm_ms"):
            agg = await monitor.store.aggregate(metric, now - 3600, now + 60)
            assert agg.count == (1 if metric == "messages" else 0), metric  # only the stored one
        dpy_env.bot.owner_id = dpy_env.owner.id
        result = await dpy_env.slash("stats", member=dpy_env.owner, options={"period": "1h"})
        assert result.content is not None and COLLECTION_OFF in result.content
        assert result.embeds  # what was stored before is still shown
    finally:
        await dpy_env.bot.remove_cog(main.qualified_name)


def test_the_retired_save_interval_is_accepted_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitoring.config")
    config = load_config({"METRICS_SAVE_INTERVAL_MINUTES": "60"}, path=None)
    assert config.flush_interval_seconds == 2.0
    assert "MONITOR_FLUSH_INTERVAL_SECONDS" in caplog.text and "not used" in caplog.text
    toml = tmp_path / "monitoring.toml"
    toml.write_text("metrics_save_interval_minutes = 60\n", encoding="utf-8")
    caplog.clear()
    load_config({}, path=toml)
    assert "metrics_save_interval_minutes" in caplog.text


def test_json_reports_go_to_the_analytics_data_path(
    tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seed() -> None:
        monitor = Monitor(config, clock=FakeClock(1_767_225_600.0))
        await monitor.start(background=False)
        monitor.recorder.message(123456789012345678, 1)
        await flush(monitor)
        await monitor.stop()

    asyncio.run(seed())
    analytics = tmp_path / "analytics"
    monkeypatch.setenv("ANALYTICS_DATA_PATH", str(analytics))
    monkeypatch.setenv("MONITOR_DB_PATH", str(config.db_path))
    code = report_main(["--format", "json", "--no-charts", "--quiet", "--now",
                        "2026-01-01T00:30:00+00:00", "--days", "1"])  # fmt: skip
    assert code == 0
    (report,) = analytics.glob("performance_report_*.json")
    assert json.loads(report.read_text(encoding="utf-8"))
