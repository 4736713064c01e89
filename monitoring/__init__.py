"""The monitoring core: metrics, storage, analysis, alerts, reports. No discord import.

``import monitoring`` pulls in no discord, aiohttp, aiosqlite or matplotlib: the SQLite store is
imported when a :class:`Monitor` first needs it, charts when one is rendered.
"""

from __future__ import annotations

from .clock import Clock, FakeClock, system_clock
from .config import Config, ConfigError, load_config
from .core import Monitor, Timer
from .flusher import Flusher, FlushStats
from .health import HealthCheck, HealthResult, HealthStatus
from .recorder import Batch, Recorder
from .store.base import (
    Aggregate,
    Change,
    CommandStat,
    SeriesPoint,
    Store,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
    TopItem,
)

__all__ = [
    "Aggregate",
    "Batch",
    "Change",
    "Clock",
    "CommandStat",
    "Config",
    "ConfigError",
    "FakeClock",
    "FlushStats",
    "Flusher",
    "HealthCheck",
    "HealthResult",
    "HealthStatus",
    "Monitor",
    "Recorder",
    "SeriesPoint",
    "Store",
    "StoreBusy",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreReadOnly",
    "StoreUnavailable",
    "Timer",
    "TopItem",
    "load_config",
    "system_clock",
]
