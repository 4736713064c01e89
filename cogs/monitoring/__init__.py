"""The extension: ``await bot.load_extension("cogs.monitoring")``.

One :class:`~monitoring.Monitor` is shared by the extension's cogs. The main cog
(:class:`~cogs.monitoring.cog.MonitoringCog`) owns its lifecycle: its ``cog_load`` starts the
monitor, its ``cog_unload`` removes the feature cogs, stops every loop and flushes.
Optional feature cogs (alerts, dashboard) fail soft: a missing dependency disables one feature
with a log line.
"""

from __future__ import annotations

import importlib
import logging

from discord.ext import commands

from monitoring import Monitor, load_config

__all__ = ["FEATURE_COGS", "setup"]

log = logging.getLogger(__name__)

FEATURE_COGS: tuple[tuple[str, str], ...] = (
    ("cogs.monitoring.alerts", "AlertsCog"),
    ("cogs.monitoring.dashboard", "DashboardCog"),
)
"""(module, class) of the optional feature cogs, added after the main cog."""


async def setup(bot: commands.Bot) -> None:
    from .cog import MonitoringCog

    monitor = getattr(bot, "monitor", None)
    if not isinstance(monitor, Monitor) or monitor.running:
        monitor = Monitor(load_config())
    main = MonitoringCog(bot, monitor)
    await bot.add_cog(main)
    for module_name, class_name in FEATURE_COGS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            log.warning("monitoring feature %s disabled: %s", module_name, exc)
            continue
        cog = getattr(module, class_name)(bot, monitor)
        await bot.add_cog(cog)
        main.feature_cogs.append(cog.qualified_name)
