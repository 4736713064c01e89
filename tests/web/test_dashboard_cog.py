"""The dashboard cog under dpytest: hosting, ``/dashboard`` links and scopes, clean unload."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from cogs.monitoring.dashboard import DashboardCog
from monitoring import Config, FakeClock, Monitor
from tests.helpers.fixtures import *  # noqa: F403 - the dpytest fixtures
from tests.helpers.fixtures import DpyEnv
from web import DASHBOARD

from .conftest import NOW

LINK = re.compile(r"<(http://127\.0\.0\.1:\d+/login\?token=[\w-]+)>")


@pytest.fixture
async def cog_monitor(tmp_path: Path) -> AsyncIterator[Monitor]:
    config = Config(db_path=tmp_path / "m.db", dashboard_port=0, websocket_update_interval=0.5)
    mon = Monitor(config, clock=FakeClock(NOW))
    await mon.start(background=False)
    yield mon
    await mon.stop()


async def _add(bot: commands.Bot, monitor: Monitor, **changes: Any) -> DashboardCog:
    if changes:
        monitor.config = monitor.config.replace(**changes)
    cog = DashboardCog(bot, monitor)
    await bot.add_cog(cog)
    return cog


async def _redeem(link: str) -> dict[str, Any]:
    base, token = link.split("/login?token=")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        page = await session.get(link)
        assert page.status == 200
        resp = await session.post(f"{base}/login", data={"token": token})
        assert resp.status == 200
        me = await session.get(f"{base}/api/session")
        assert me.status == 200
        data: dict[str, Any] = await me.json()
        return data


async def test_manager_gets_a_link_for_their_guild(
    dpy_env: DpyEnv, cog_monitor: Monitor, slash_recorder: Any
) -> None:
    dpy_env.bot.owner_id = 1  # somebody else
    cog = await _add(dpy_env.bot, cog_monitor)
    try:
        result = await dpy_env.slash("dashboard", member=dpy_env.owner)  # the guild's owner
        assert result.ephemeral
        match = LINK.search(result.content)
        assert match, result.content
        assert "this server only" in result.content and "5 minutes" in result.content
        me = await _redeem(match.group(1))
        assert me["scope"] == f"guild:{dpy_env.guild.id}"
        assert me["who"] == f"{dpy_env.owner.name} ({dpy_env.owner.id})"
    finally:
        await dpy_env.bot.remove_cog(cog.qualified_name)


async def test_bot_owner_sees_every_guild(
    dpy_env: DpyEnv, cog_monitor: Monitor, slash_recorder: Any
) -> None:
    dpy_env.bot.owner_id = dpy_env.member.id  # an ordinary member who owns the bot
    cog = await _add(dpy_env.bot, cog_monitor)
    try:
        result = await dpy_env.slash("dashboard", member=dpy_env.member)
        assert result.ephemeral
        match = LINK.search(result.content)
        assert match, result.content
        assert "every guild" in result.content
        assert (await _redeem(match.group(1)))["scope"] == "all"
    finally:
        await dpy_env.bot.remove_cog(cog.qualified_name)


async def test_plain_members_get_no_link(
    dpy_env: DpyEnv, cog_monitor: Monitor, slash_recorder: Any
) -> None:
    dpy_env.bot.owner_id = 1
    cog = await _add(dpy_env.bot, cog_monitor)
    try:
        result = await dpy_env.slash("dashboard", member=dpy_env.member)
        assert result.ephemeral
        assert "Manage Server" in result.content
        assert "token=" not in result.content
        command = dpy_env.bot.tree.get_command("dashboard")
        assert command is not None
        perms = command.default_permissions
        assert perms is not None and perms.manage_guild
    finally:
        await dpy_env.bot.remove_cog(cog.qualified_name)


async def test_disabled_dashboard_says_so(
    dpy_env: DpyEnv, cog_monitor: Monitor, slash_recorder: Any
) -> None:
    dpy_env.bot.owner_id = 1
    cog = await _add(dpy_env.bot, cog_monitor, dashboard_enabled=False)
    try:
        assert cog.runner is None
        result = await dpy_env.slash("dashboard", member=dpy_env.owner)
        assert result.ephemeral and "not running" in result.content
        assert "ANALYTICS_DASHBOARD_ENABLED" in result.content
    finally:
        await dpy_env.bot.remove_cog(cog.qualified_name)


async def test_public_bind_without_key_is_refused(
    dpy_bot: commands.Bot, cog_monitor: Monitor
) -> None:
    cog = await _add(dpy_bot, cog_monitor, dashboard_host="0.0.0.0", api_key=None)
    try:
        assert cog.runner is None and cog.app is None
        assert cog.problem is not None and "API key" in cog.problem
    finally:
        await dpy_bot.remove_cog(cog.qualified_name)


async def test_unload_stops_the_site_and_its_tasks(
    dpy_bot: commands.Bot, cog_monitor: Monitor
) -> None:
    cog = await _add(dpy_bot, cog_monitor)
    assert cog.app is not None
    base = cog.app[DASHBOARD].base_url
    assert dpy_bot.get_cog("Dashboard") is cog
    async with aiohttp.ClientSession() as session:
        assert (await session.get(f"{base}/healthz")).status == 200
    await dpy_bot.remove_cog(cog.qualified_name)
    assert cog.runner is None
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("dashboard-")]
    assert tasks == []


def test_guild_names_come_from_the_bot(dpy_bot: commands.Bot, cog_monitor: Monitor) -> None:
    cog = DashboardCog(dpy_bot, cog_monitor)
    names = cog._guild_names()
    assert names == {g.id: g.name for g in dpy_bot.guilds}
    assert all(isinstance(g, discord.Guild) for g in dpy_bot.guilds)


async def test_extension_reload_with_the_dashboard_leaks_nothing(
    dpy_env: DpyEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_DB_PATH", str(tmp_path / "ext.db"))
    monkeypatch.setenv("ANALYTICS_DASHBOARD_ENABLED", "true")
    monkeypatch.setenv("ANALYTICS_DASHBOARD_HOST", "127.0.0.1")
    monkeypatch.setenv("ANALYTICS_DASHBOARD_PORT", "0")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.delenv("ANALYTICS_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    # unload_extension drops cogs.monitoring.* from sys.modules; put the originals back after,
    # so that classes other tests imported stay the ones the extension uses
    saved = {k: v for k, v in sys.modules.items() if k.startswith("cogs.monitoring")}
    try:
        await _reload_twice(dpy_env.bot)
    finally:
        for name in [k for k in sys.modules if k.startswith("cogs.monitoring")]:
            del sys.modules[name]
        sys.modules.update(saved)


async def _reload_twice(bot: commands.Bot) -> None:
    ports: list[int] = []
    for _ in range(2):
        await bot.load_extension("cogs.monitoring")
        cog = bot.get_cog("Dashboard")
        assert type(cog).__name__ == "DashboardCog"  # the module is re-imported on reload
        assert cog.app is not None, cog.problem
        base = cog.app[DASHBOARD].base_url
        ports.append(int(base.rsplit(":", 1)[1]))
        async with aiohttp.ClientSession() as session:
            assert (await session.get(f"{base}/healthz")).status == 200
        await bot.unload_extension("cogs.monitoring")
        assert bot.get_cog("Dashboard") is None
    for port in ports:
        with pytest.raises(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("dashboard-")] == []


async def test_the_cog_answers_the_dashboards_rights_check(
    dpy_env: DpyEnv, cog_monitor: Monitor
) -> None:
    cog = await _add(dpy_env.bot, cog_monitor)
    try:
        guild = dpy_env.guild.id
        assert await cog._still_manages(dpy_env.owner.id, guild) is True
        assert await cog._still_manages(dpy_env.member.id, guild) is False  # no Manage Server
        assert await cog._still_manages(dpy_env.owner.id, 12345) is False  # the bot left it
        assert cog.app is not None and cog.app[DASHBOARD].authorize == cog._still_manages
    finally:
        await dpy_env.bot.remove_cog(cog.qualified_name)
