"""/stats and /health through the real CommandTree, every reply validated against Discord's spec."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest

from cogs.monitoring import cog as cog_module
from cogs.monitoring import embeds
from cogs.monitoring.cog import MonitoringCog
from cogs.monitoring.replies import NO_DATA
from monitoring import Monitor
from monitoring.analysis import METRICS
from monitoring.store.base import StoreUnavailable
from tests.cogs.conftest import flush
from tests.helpers import discord_spec
from tests.helpers.fixtures import DpyEnv
from tests.helpers.slash import DefaultPermissionsDenied, SlashResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def _activity(env: DpyEnv, monitor: Monitor, *, other_guild: int = 0) -> None:
    for text in ("one", "two", "three"):
        await dpytest.message(text, channel=env.channel, member=env.member)
    guild_b = dpytest.get_config().guilds[1]
    for _ in range(other_guild):
        await dpytest.message("elsewhere", channel=guild_b.text_channels[0])
    await flush(monitor)


def _fields(result: SlashResult) -> dict[str, str]:
    return {str(f.name): str(f.value) for f in result.embeds[0].fields}


def _assert_fits(result: SlashResult) -> None:
    for message in result.messages:
        total = discord_spec.embed_total_length(message.get("embeds") or [])
        assert total <= discord_spec.EMBED_TOTAL_LIMIT


async def test_a_new_install_answers_no_data_yet(cog: MonitoringCog, dpy_env: DpyEnv) -> None:
    result = await dpy_env.slash("stats", member=dpy_env.owner)
    assert result.content == NO_DATA
    assert result.ephemeral and not result.files and not result.errors


async def test_stats_embed_chart_and_recommendations(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    await _activity(dpy_env, monitor)
    result = await dpy_env.slash("stats", member=dpy_env.owner, options={"period": "1h"})
    assert result.ephemeral and not result.errors
    stats, recs = result.embeds
    assert stats.title is not None and stats.title.startswith("\N{BAR CHART} Messages")
    assert _fields(result)["Messages"] == "**3**"
    assert "This server" in (stats.description or "")
    assert stats.image.url == "attachment://stats.png"
    ((name, data),) = result.files
    assert name == "stats.png" and data.startswith(PNG_MAGIC)
    assert recs.title is not None and "Recommendations" in recs.title
    _assert_fits(result)


@pytest.mark.parametrize("metric", METRICS)
async def test_every_metric_answers_with_valid_payloads(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor, metric: str
) -> None:
    dpy_env.bot.owner_id = dpy_env.owner.id
    await _activity(dpy_env, monitor)
    monitor.recorder.command("ping", "slash", dpy_env.guild.id, 1, 45.0, False, error_type="X")
    monitor.recorder.gauge("cpu_percent", 12.0)
    monitor.recorder.observe("loop_lag_ms", 1.0)
    monitor.recorder.inc("voice_minutes", 5.0, guild=dpy_env.guild.id)
    await flush(monitor)
    for period in ("24h", "30d"):
        result = await dpy_env.slash(
            "stats", member=dpy_env.owner, options={"metric": metric, "period": period}
        )
        assert not result.errors
        assert result.embeds, result.content
        _assert_fits(result)


async def test_managers_only_by_default_and_at_runtime(cog: MonitoringCog, dpy_env: DpyEnv) -> None:
    with pytest.raises(DefaultPermissionsDenied):
        await dpy_env.slash("stats", enforce_default_permissions=True)
    for command in ("stats", "health"):
        result = await dpy_env.slash(command)  # a member Discord would not even show it to
        assert result.ephemeral
        assert "Manage Server" in (result.embeds[0].description or "")
    assert cog.stats.default_permissions == discord.Permissions(manage_guild=True)
    assert cog.health.default_permissions == discord.Permissions(manage_guild=True)


async def test_guild_managers_see_their_guild_only_and_the_owner_sees_all(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    await _activity(dpy_env, monitor, other_guild=4)
    mine = await dpy_env.slash("stats", member=dpy_env.owner)
    assert _fields(mine)["Messages"] == "**3**"
    denied = await dpy_env.slash("stats", member=dpy_env.owner, options={"scope": "all"})
    assert "only the bot's owner" in (denied.embeds[0].description or "")
    system = await dpy_env.slash("stats", member=dpy_env.owner, options={"metric": "system"})
    assert "only the bot's owner" in (system.embeds[0].description or "")
    dpy_env.bot.owner_id = dpy_env.member.id  # the application owner, not a server manager
    everything = await dpy_env.slash("stats", member=dpy_env.member, options={"scope": "all"})
    assert _fields(everything)["Messages"] == "**7**"
    assert "All servers" in (everything.embeds[0].description or "")
    busiest = _fields(everything)["Busiest servers"]
    assert dpy_env.guild.name in busiest


async def test_missing_embed_or_file_permission_gets_a_plain_explanation(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    await _activity(dpy_env, monitor)
    no_embeds = discord.Permissions.all()
    no_embeds.embed_links = False
    result = await dpy_env.slash("stats", member=dpy_env.owner, app_permissions=no_embeds)
    assert not result.embeds and not result.files
    assert "Embed Links" in result.content and "Messages: **3**" in result.content
    no_files = discord.Permissions.all()
    no_files.attach_files = False
    result = await dpy_env.slash("stats", member=dpy_env.owner, app_permissions=no_files)
    assert result.embeds and not result.files
    assert "Attach Files" in result.content
    assert not result.embeds[0].image.url
    health = await dpy_env.slash("health", member=dpy_env.owner, app_permissions=no_embeds)
    assert "Embed Links" in health.content and "database" in health.content


async def test_a_failure_inside_stats_answers_with_an_error_embed_and_is_logged(
    cog: MonitoringCog,
    dpy_env: DpyEnv,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("query planner on fire")

    monkeypatch.setattr(cog_module, "build_stats", broken)
    with caplog.at_level(logging.ERROR, logger="cogs.monitoring.cog"):
        result = await dpy_env.slash("stats", member=dpy_env.owner)
    (embed,) = result.embeds
    assert embed.title is not None and "Something went wrong" in embed.title
    assert "RuntimeError" in (embed.description or "") and result.ephemeral
    assert any("/stats failed" in r.getMessage() and r.exc_info for r in caplog.records)

    async def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("data/monitoring.db: disk I/O error")

    monkeypatch.setattr(cog_module, "build_stats", unavailable)
    result = await dpy_env.slash("stats", member=dpy_env.owner)
    assert "Statistics unavailable" in (result.embeds[0].title or "")
    description = result.embeds[0].description or ""
    assert "cannot be read right now" in description
    assert "data/monitoring.db" not in description  # no path of the server in Discord


async def test_slow_answers_are_deferred_first(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _activity(dpy_env, monitor)
    real = cog_module.build_stats

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)
        return await real(*args, **kwargs)

    monkeypatch.setattr(cog_module, "build_stats", slow)
    monkeypatch.setattr(cog_module, "DEFER_AFTER", 0.05)
    result = await dpy_env.slash("stats", member=dpy_env.owner)
    assert result.deferred and result.ephemeral
    assert result.followups and result.embeds and result.files


async def test_health_lists_every_check_coloured_by_the_worst(
    cog: MonitoringCog, dpy_env: DpyEnv, monitor: Monitor
) -> None:
    result = await dpy_env.slash("health", member=dpy_env.owner)
    (embed,) = result.embeds
    text = embed.description or ""
    for name in ("gateway shard 0", "database", "event loop", "memory", "disk"):
        assert f"**{name}**" in text
    assert result.ephemeral

    async def llm_api() -> tuple[bool, str]:
        return False, "503 from the LLM API"

    monitor.add_check("llm_api", llm_api)
    result = await dpy_env.slash("health", member=dpy_env.owner)
    (embed,) = result.embeds
    assert embed.colour == embeds.STATUS_COLOUR[embeds.HealthStatus.UNHEALTHY]
    assert "503 from the LLM API" in (embed.description or "")
    assert (embed.title or "").endswith("unhealthy")


def test_fit_embeds_keeps_the_total_under_6000() -> None:
    big = discord.Embed(title="t", description="d" * 3000)
    other = discord.Embed(title="r")
    for i in range(10):
        other.add_field(name=f"f{i}", value="v" * 900)
    fitted = embeds.fit_embeds([big, other])
    assert discord_spec.embed_total_length(e.to_dict() for e in fitted) <= 6000
    assert len(fitted[1].fields) < 10 and fitted[0].description == "d" * 3000
