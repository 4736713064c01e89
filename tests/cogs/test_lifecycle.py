"""Lifecycle: the extension loads into any bot, flushes on unload, and a reload leaks nothing."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import discord.ext.test as dpytest
import psutil
import pytest
import pytest_asyncio
from discord.ext import commands

from cogs.monitoring.cog import MonitoringCog
from monitoring import Monitor
from tests.helpers.fixtures import DpyEnv

EXTENSION = "cogs.monitoring"


@pytest_asyncio.fixture
async def env_config(
    dpy_bot: commands.Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Path]:
    """Settings for ``load_extension`` (it reads the environment): a temporary database.

    Unloads the extension after a failed test, so its threads cannot outlive the test run.
    """
    db = tmp_path / "monitoring.db"
    monkeypatch.setenv("MONITOR_DB_PATH", str(db))
    monkeypatch.setenv("ANALYTICS_DASHBOARD_ENABLED", "false")
    monkeypatch.setenv("ANALYTICS_DASHBOARD_PORT", "0")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray ./monitoring.toml
    yield db
    if EXTENSION in dpy_bot.extensions:
        await dpy_bot.unload_extension(EXTENSION)


Snapshot = tuple[set[str], set[str], set[str], set[int]]


def _snapshot() -> Snapshot:
    me = asyncio.current_task()
    tasks = {t.get_name() for t in asyncio.all_tasks() if t is not me and not t.done()}
    fds = set(os.listdir("/proc/self/fd"))
    threads = {f"{t.name}:{t.ident}" for t in threading.enumerate()}
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    return tasks, fds, threads, children


async def _settled_snapshot() -> Snapshot:
    for _ in range(20):  # let finished threads and pipe transports wind down
        await asyncio.sleep(0.05)
    return _snapshot()


async def test_load_sets_bot_monitor_and_unload_flushes(dpy_env: DpyEnv, env_config: Path) -> None:
    bot = dpy_env.bot
    await bot.load_extension(EXTENSION)
    monitor = bot.monitor  # type: ignore[attr-defined]
    assert isinstance(monitor, Monitor) and monitor.running
    assert monitor.config.db_path == env_config
    main = bot.get_cog("Monitoring")
    # (an earlier reload re-imported the module: compare by name, not by class identity)
    assert main is not None and type(main).__name__ == "MonitoringCog"
    assert {c.name for c in bot.tree.get_commands()} >= {"stats", "health"}

    with monitor.timer("llm_response_ms"):  # the host bot's own API
        pass
    await dpytest.message("counted", channel=dpy_env.channel, member=dpy_env.member)
    features = list(main.feature_cogs)  # type: ignore[attr-defined]
    assert all(bot.get_cog(name) is not None for name in features)
    await bot.unload_extension(EXTENSION)
    assert not monitor.running
    assert bot.get_cog("Monitoring") is None
    assert all(bot.get_cog(name) is None for name in features)
    # the unload flushed: a fresh store sees the message and the timer
    from monitoring.store.sqlite import SQLiteStore

    store = SQLiteStore(env_config, readonly=True, clock=monitor.clock)
    await store.open()
    try:
        now = monitor.clock()
        assert (await store.aggregate("messages", now - 600, now + 60)).sum == 1
        assert (await store.aggregate("llm_response_ms", now - 600, now + 60)).count == 1
    finally:
        await store.close()


async def test_feature_cogs_are_removed_before_the_monitor_stops(
    dpy_bot: commands.Bot, monitor: Monitor
) -> None:
    order: list[str] = []

    class Feature(commands.Cog):
        async def cog_unload(self) -> None:
            order.append(f"feature unloaded, monitor running={monitor.running}")

    main = MonitoringCog(dpy_bot, monitor)
    await dpy_bot.add_cog(main)
    await dpy_bot.add_cog(Feature())
    main.feature_cogs.append("Feature")
    await dpy_bot.remove_cog(main.qualified_name)
    assert order == ["feature unloaded, monitor running=True"]
    assert dpy_bot.get_cog("Feature") is None and not monitor.running


async def _cycle(env: DpyEnv) -> None:
    """Load, use /stats (chart worker, database), reload, use it again, unload."""
    bot = env.bot
    await bot.load_extension(EXTENSION)
    for _ in range(2):
        await dpytest.message("hello", channel=env.channel, member=env.member)
        await bot.monitor.flusher.flush(force=True)  # type: ignore[attr-defined]
        result = await env.slash("stats", member=env.owner)
        assert result.files, result.content
        await bot.reload_extension(EXTENSION)
    await bot.unload_extension(EXTENSION)


def _diff(after: Snapshot, before: Snapshot) -> Snapshot:
    return (after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3] - before[3])


async def test_reload_leaves_no_task_file_handle_socket_thread_or_process(
    dpy_env: DpyEnv, env_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_CHART_EXECUTOR", "process")  # the default, with its worker
    # How many idle workers the loop's default executor (``asyncio.to_thread``) keeps depends on
    # timing: CPython's ThreadPoolExecutor starts another worker when a job arrives before the
    # worker that ran the previous one has marked itself idle (``SQLiteStore.open`` runs two jobs
    # back to back). One worker takes the race away: the first cycle may start it, and then the
    # second must add nothing at all.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="asyncio")
    )
    before = await _settled_snapshot()
    await _cycle(dpy_env)
    middle = await _settled_snapshot()
    tasks, fds, threads, children = _diff(middle, before)
    assert not tasks, f"tasks left behind: {tasks}"
    assert not fds, f"file descriptors (files, sockets, pipes) left open: {fds}"
    assert not children, f"child processes left: {children}"
    # The only threads allowed to remain are the event loop's own default executor's (asyncio
    # keeps its idle ``asyncio_N`` workers for the loop's lifetime, for every ``to_thread`` user);
    # a second cycle must not add even those.
    assert not {t for t in threads if not t.startswith("asyncio_")}, f"threads left: {threads}"
    await _cycle(dpy_env)
    assert _diff(await _settled_snapshot(), middle) == (set(), set(), set(), set())
