"""Schema migrations, versioned per component.

Each component (the core, alerts, the dashboard's audit log...) owns an ordered list of SQL
scripts; ``schema_versions`` records how many of each have been applied. A component adds its
tables by calling :func:`register_migrations` at import time, so features never collide on one
global version number.
"""

from __future__ import annotations

__all__ = ["APPLICATION_ID", "MIGRATIONS", "register_migrations"]

APPLICATION_ID = 0x4D4F4E31
"""``PRAGMA application_id`` of a monitoring database ("MON1"): a file with another id is refused."""

_ROLLUP = """CREATE TABLE IF NOT EXISTS {name} (
    metric TEXT NOT NULL,
    guild INTEGER NOT NULL,
    command TEXT NOT NULL,
    ts INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    kind TEXT NOT NULL,
    cluster TEXT NOT NULL,
    count INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL,
    max REAL,
    buckets BLOB,
    PRIMARY KEY (metric, guild, command, ts, shard, kind, cluster)
) WITHOUT ROWID;
"""

_CORE_V1 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
{ROLLUPS}CREATE TABLE IF NOT EXISTS command_log (
    ts_ms INTEGER NOT NULL,
    guild INTEGER NOT NULL,
    command TEXT NOT NULL,
    kind TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    ok INTEGER NOT NULL,
    user_hash INTEGER NOT NULL,
    error_type TEXT NOT NULL,
    cluster TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS command_log_ts ON command_log (ts_ms);
CREATE TABLE IF NOT EXISTS user_days (
    day INTEGER NOT NULL,
    guild INTEGER NOT NULL,
    user_hash INTEGER NOT NULL,
    PRIMARY KEY (day, guild, user_hash)
) WITHOUT ROWID;
"""

_CORE_V1 = _CORE_V1.replace(
    "{ROLLUPS}",
    "".join(_ROLLUP.format(name=t) for t in ("rollup_minute", "rollup_hour", "rollup_day")),
)

MIGRATIONS: dict[str, list[str]] = {"core": [_CORE_V1]}
"""component -> ordered SQL scripts; script ``i`` brings the component to version ``i + 1``."""


RETENTION: dict[str, tuple[tuple[str, str], ...]] = {}
"""component -> (table, DELETE statement) pairs run with retention; the statement's one parameter
is the cut-off time (``now - METRICS_RETENTION_DAYS``)."""


def register_retention(component: str, statements: list[tuple[str, str]]) -> None:
    """Declare how a component's own tables are trimmed (the store runs them with its rollups)."""
    RETENTION[component] = tuple(statements)


def register_migrations(component: str, scripts: list[str]) -> None:
    """Declare a component's migrations (idempotent when called again with the same list)."""
    existing = MIGRATIONS.get(component)
    if existing is not None and scripts[: len(existing)] != existing:
        raise ValueError(f"migrations of {component!r} may only be appended to")
    MIGRATIONS[component] = list(scripts)
