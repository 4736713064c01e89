"""Fixtures for the monitoring cog: a monitor on a temporary database with a fake clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from discord.ext import commands

import monitoring.charts  # noqa: F401  (matplotlib up front: see below)
from cogs.monitoring.cog import MonitoringCog
from monitoring import Config, FakeClock, Monitor
from monitoring.collectors import HostSample
from tests.helpers.fixtures import *  # noqa: F403

T0 = float(int(time.time()) // 3600 * 3600 + 1830)
"""Fake "now": 30 s into the current hour's 31st minute (the interaction helper uses real snowflake times)."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


# The cogs here render in a thread (chart_executor="thread", fast to start). Its warm-up would
# otherwise import matplotlib and numpy in that thread while a test's ``pytest.approx`` peeks at
# a half-imported numpy in sys.modules; importing it here first takes the race away.


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        db_path=tmp_path / "monitoring.db",
        chart_executor="thread",
        dashboard_enabled=False,
        dashboard_port=0,
        flush_interval_seconds=300,
    )


@pytest_asyncio.fixture
async def monitor(config: Config, clock: FakeClock) -> AsyncIterator[Monitor]:
    mon = Monitor(config, clock=clock, system_interval=3600)
    yield mon
    if mon.running:
        await mon.stop()


def host_sampled(monitor: Monitor) -> asyncio.Event:
    """Set once the monitor's host sampler has recorded its first sample.

    The monitor samples the host (in a thread) as it starts, then hourly (``system_interval``
    above). The cog fixture waits for that first sample: landing during a test, it would overwrite
    the host gauges the test set by hand (``cpu_percent`` for the alert tests) with the machine's.
    """
    event = asyncio.Event()
    record = monitor.system.record

    def record_then_set(sample: HostSample) -> None:
        record(sample)
        event.set()

    monitor.system.record = record_then_set  # type: ignore[method-assign]
    return event


@pytest_asyncio.fixture
async def cog(dpy_bot: commands.Bot, monitor: Monitor) -> AsyncIterator[MonitoringCog]:
    """The main cog added to the dpytest bot (no feature cogs)."""
    main = MonitoringCog(dpy_bot, monitor)
    sampled = host_sampled(monitor)
    await dpy_bot.add_cog(main)
    await asyncio.wait_for(sampled.wait(), timeout=10)
    yield main
    if dpy_bot.get_cog(main.qualified_name) is not None:
        await dpy_bot.remove_cog(main.qualified_name)


async def flush(monitor: Monitor) -> None:
    """Write everything recorded so far (no waiting for the flush loop)."""
    assert await monitor.flusher.flush(force=True)
