"""The SQLite store (aiosqlite): WAL, batched upserts, rollups, retention and queries.

Two connections, each with its own thread: a writer (flushes, retention, feature tables) and a
reader (dashboards, /stats), so a long query never delays a flush and nothing runs on the event
loop. Histogram merging and percentiles run inside SQLite as Python functions registered on the
connection (``hmerge`` aggregate, ``hadd``/``hquant`` scalars), that is, in the database thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from .. import histogram
from ..clock import Clock, system_clock
from ..recorder import Batch
from .base import (
    Aggregate,
    Change,
    CommandStat,
    SeriesPoint,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
    TopItem,
    choose_step,
)
from .schema import APPLICATION_ID, MIGRATIONS, RETENTION

__all__ = ["SQLiteStore", "classify_error"]

log = logging.getLogger(__name__)

_SQLITE_MAGIC = b"SQLite format 3\x00"


class _HMerge:
    """SQL aggregate ``hmerge(blob)``: the sum of sparse histogram blobs, as a blob."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def step(self, blob: bytes | None) -> None:
        if blob:
            self.blobs.append(blob)

    def finalize(self) -> bytes | None:
        if not self.blobs:
            return None
        if len(self.blobs) == 1:
            return self.blobs[0]
        return histogram.encode(histogram.merge_blobs(self.blobs))


_hadd = histogram.add_blobs


def _hquant(blob: bytes | None, q: float, lo: float | None, hi: float | None) -> float | None:
    if not blob:
        return None
    return histogram.quantile(histogram.decode(blob), q, lo, hi)


class _HBuild:
    """SQL aggregate ``hbuild(value)``: a histogram blob of raw values."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def step(self, value: float | None) -> None:
        if value is not None:
            i = histogram.bucket_index(value)
            self.counts[i] = self.counts.get(i, 0) + 1

    def finalize(self) -> bytes | None:
        return histogram.encode(self.counts) if self.counts else None


class _Connection(sqlite3.Connection):
    """sqlite3 connection with the histogram functions registered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.create_aggregate("hmerge", 1, _HMerge)  # type: ignore[arg-type]
        self.create_aggregate("hbuild", 1, _HBuild)  # type: ignore[arg-type]
        self.create_function("hadd", 2, _hadd, deterministic=True)
        self.create_function("hquant", 4, _hquant, deterministic=True)


def classify_error(exc: sqlite3.Error, path: Path) -> StoreError:
    """Map a sqlite3 error to the store's error classes, with a message naming the file."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreBusy(f"{path}: database is locked by another process ({exc})")
    if "readonly" in text or "read-only" in text or "read only" in text:
        return StoreReadOnly(f"{path}: database is read-only ({exc})")
    if "full" in text:
        return StoreFull(f"{path}: disk is full ({exc})")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreCorrupt(f"{path}: file is corrupt or not a monitoring database ({exc})")
    return StoreUnavailable(f"{path}: {exc}")


GUILD_MINUTE_RETENTION_SECONDS = 86400
"""Per-guild minute rows cover a guild's 1 h and 24 h views (all-guild rows are kept longer)."""

_RAW_METRICS = frozenset({"command_latency_ms", "command_errors"})

_UPSERT = """
INSERT INTO {table} (metric, guild, command, shard, kind, ts, count, sum, min, max, buckets,
                     cluster)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {cluster})
ON CONFLICT (metric, guild, command, ts, shard, kind, cluster) DO UPDATE SET
    count = count + excluded.count,
    sum = sum + excluded.sum,
    min = min(min, excluded.min),
    max = max(max, excluded.max),
    buckets = CASE WHEN excluded.buckets IS NULL THEN buckets
                   WHEN buckets IS NULL THEN excluded.buckets
                   ELSE hadd(buckets, excluded.buckets) END
"""


def _sql_literal(text: str) -> str:
    """A quoted SQL string literal (for the cluster name, already restricted by the config)."""
    return "'" + text.replace("'", "''") + "'"


def _floor(ts: float, step: int) -> int:
    return int(ts // step) * step


def _ceil(ts: float, step: int) -> int:
    return -int(-ts // step) * step


def _edge(ts: float) -> int:
    """A range edge as a whole second, for comparing with row stamps (whole seconds).

    For a whole-second stamp, ``start <= ts < end`` holds exactly when
    ``_edge(start) <= ts < _edge(end)``. ``int()`` would round ``end`` down and drop the rows
    stamped in its own second: right after a minute turns, the current minute's row.
    """
    return _ceil(ts, 1)


class SQLiteStore:
    """The embedded time-series store. Construct, then ``await open()``; ``await close()``.

    ``readonly`` opens an existing database for viewing only (no migrations, no writes).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = system_clock,
        cluster: str = "",
        minute_retention_days: int = 2,
        retention_days: int = 30,
        raw_retention_hours: int = 24,
        busy_timeout_ms: int = 5000,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.cluster = cluster
        self.minute_retention_days = minute_retention_days
        self.retention_days = retention_days
        self.raw_retention_hours = raw_retention_hours
        self.busy_timeout_ms = busy_timeout_ms
        self.readonly = readonly
        self.salt: bytes = b""
        self._w: aiosqlite.Connection | None = None
        self._r: aiosqlite.Connection | None = None
        self._tx_lock = asyncio.Lock()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._r is not None

    def _check_file(self) -> None:
        """Refuse a file that is not SQLite, without touching it (runs in a thread)."""
        try:
            with self.path.open("rb") as fh:
                header = fh.read(16)
        except FileNotFoundError:
            if self.readonly:
                raise StoreUnavailable(f"{self.path}: database file does not exist") from None
            return
        except OSError as exc:
            raise StoreUnavailable(f"{self.path}: cannot read the database file ({exc})") from None
        if header and header != _SQLITE_MAGIC:
            raise StoreCorrupt(
                f"{self.path}: not a SQLite database; refusing to use it (the file was left "
                "untouched: move it away or set MONITOR_DB_PATH to another file)"
            )

    async def _connect(self, readonly: bool) -> aiosqlite.Connection:
        if readonly:
            uri = f"file:{self.path.resolve()}?mode=ro"
            conn = await aiosqlite.connect(uri, uri=True, factory=_Connection, isolation_level=None)
        else:
            conn = await aiosqlite.connect(self.path, factory=_Connection, isolation_level=None)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def open(self) -> None:
        """Open (creating if needed), check identity and integrity, migrate, load the salt."""
        if self.is_open:
            return
        try:
            await asyncio.to_thread(self._check_file)
            if not self.readonly:
                try:
                    await asyncio.to_thread(self.path.parent.mkdir, 0o700, True, True)  # private
                except OSError as exc:
                    raise StoreUnavailable(
                        f"{self.path}: cannot create the folder {self.path.parent} ({exc})"
                    ) from None
                await asyncio.to_thread(_create_private, self.path)
                self._w = await self._connect(readonly=False)
                await self._init_writer(self._w)
            self._r = await self._connect(readonly=self.readonly)
            if self.readonly:
                await self._check_identity(self._r, allow_new=False)
            await self._r.execute("PRAGMA query_only = 1")
            rows = await self._r.execute_fetchall("SELECT value FROM meta WHERE key = 'salt'")
            self.salt = bytes(next(iter(rows))[0]) if rows else b""
        except sqlite3.Error as exc:
            await self._close_connections()
            raise classify_error(exc, self.path) from exc
        except BaseException:
            await self._close_connections()
            raise
        log.info(
            "opened monitoring database %s%s", self.path, " (read-only)" if self.readonly else ""
        )

    @staticmethod
    async def _one(conn: aiosqlite.Connection, sql: str) -> tuple[Any, ...]:
        rows = await conn.execute_fetchall(sql)
        return tuple(next(iter(rows)))

    async def _check_identity(self, conn: aiosqlite.Connection, *, allow_new: bool) -> bool:
        """True when the file is new (empty); raise StoreCorrupt for a foreign or damaged file."""
        # one statement, one snapshot: read apart, another process creating the file between
        # the two reads looks like a foreign database (application_id 0 with tables)
        app_id, tables = await self._one(
            conn,
            "SELECT (SELECT application_id FROM pragma_application_id()), "
            "(SELECT count(*) FROM sqlite_master)",
        )
        if app_id == 0 and tables == 0:
            if not allow_new:
                raise StoreCorrupt(f"{self.path}: empty file, not a monitoring database")
            return True
        if app_id != APPLICATION_ID:
            raise StoreCorrupt(
                f"{self.path}: belongs to another application (application_id {app_id:#x}); "
                "refusing to use it (the file was left untouched: set MONITOR_DB_PATH to "
                "another file)"
            )
        check = list(await conn.execute_fetchall("PRAGMA quick_check"))
        if not check or check[0][0] != "ok":
            detail = "; ".join(str(r[0]) for r in check[:3])
            raise StoreCorrupt(
                f"{self.path}: integrity check failed ({detail}); refusing to use it (the file "
                "was left untouched: restore a backup or set MONITOR_DB_PATH to another file)"
            )
        return False

    async def _init_writer(self, conn: aiosqlite.Connection) -> None:
        new = await self._check_identity(conn, allow_new=True)
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        async with self._tx(conn):
            if new:
                await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            await self._migrate(conn)
            await conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)",
                (secrets.token_bytes(16),),
            )
            await conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at', ?)",
                (int(self.clock()),),
            )

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        applied = dict(
            (str(c), int(v))
            for c, v in await conn.execute_fetchall(
                "SELECT component, version FROM schema_versions"
            )
        )
        for component, scripts in MIGRATIONS.items():
            have = applied.get(component, 0)
            if have > len(scripts):
                raise StoreCorrupt(
                    f"{self.path}: schema of {component!r} is version {have}, newer than this "
                    f"program knows ({len(scripts)}); upgrade the monitoring extension"
                )
            for version in range(have, len(scripts)):
                for statement in _statements(scripts[version]):
                    await conn.execute(statement)
                log.info("migrated %s schema to version %d", component, version + 1)
            if have != len(scripts):
                await conn.execute(
                    "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                    "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                    (component, len(scripts)),
                )

    async def migrate(self) -> None:
        """Apply migrations registered after :meth:`open` (features loaded later)."""
        async with self._tx_lock:  # serialized with flushes and feature transactions
            conn = self._writer()
            try:
                async with self._tx(conn):
                    await self._migrate(conn)
            except sqlite3.Error as exc:
                raise classify_error(exc, self.path) from exc

    async def _close_connections(self) -> None:
        for conn in (self._w, self._r):
            if conn is not None:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await conn.close()
        self._w = self._r = None

    async def close(self) -> None:
        """Close both connections (idempotent)."""
        async with self._tx_lock:
            await self._close_connections()

    # -- writing ------------------------------------------------------------------------------

    def _writer(self) -> aiosqlite.Connection:
        if self.readonly:
            raise StoreReadOnly(f"{self.path}: opened read-only")
        if self._w is None:
            raise StoreUnavailable(f"{self.path}: store is not open")
        return self._w

    def _reader(self) -> aiosqlite.Connection:
        if self._r is None:
            raise StoreUnavailable(f"{self.path}: store is not open")
        return self._r

    @contextlib.asynccontextmanager
    async def _tx(self, conn: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
        # BEGIN and COMMIT inside the try: a cancelled BEGIN (the statement still runs in the
        # connection's thread) or a failed COMMIT (disk full) must not leave a transaction open,
        # or every later BEGIN fails with "cannot start a transaction within a transaction".
        try:
            await conn.execute("BEGIN IMMEDIATE")
            yield conn
            await conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            raise

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the writer connection, serialized with flushes.

        Feature modules (alerts, audit log...) use this for their own tables; sqlite3 errors
        are raised as :class:`StoreError` subclasses.
        """
        async with self._tx_lock:
            conn = self._writer()
            try:
                async with self._tx(conn):
                    yield conn
            except sqlite3.Error as exc:
                raise classify_error(exc, self.path) from exc

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query on the reader connection (for feature modules' own tables)."""
        try:
            rows = await self._reader().execute_fetchall(sql, params)
        except sqlite3.Error as exc:
            raise classify_error(exc, self.path) from exc
        return [tuple(r) for r in rows]

    async def write(self, batch: Batch) -> None:
        """Write one drained batch in a single transaction (all or nothing).

        The whole transaction runs as one call in the writer connection's thread: the event
        loop only queues it and is woken once when it is done (a statement per await cost a
        loop wake-up each). The cluster, validated by the config, is a literal in the SQL.
        """
        async with self._tx_lock:
            conn = self._writer()
            try:
                # aiosqlite's own "run this in the connection's thread" (what every one of its
                # methods uses); a public equivalent does not exist
                await conn._execute(self._write_sync, conn._conn, batch)
            except sqlite3.Error as exc:
                raise classify_error(exc, self.path) from exc

    def _write_sync(self, conn: sqlite3.Connection, batch: Batch) -> None:
        """The body of :meth:`write`, in the writer thread."""
        cluster = _sql_literal(self.cluster)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table, rows in (
                ("rollup_minute", batch.minute_rows),
                ("rollup_hour", batch.hour_rows),
                ("rollup_day", batch.day_rows),
            ):
                if rows:
                    conn.executemany(_UPSERT.format(table=table, cluster=cluster), rows)
            if batch.commands:
                conn.executemany(
                    "INSERT INTO command_log (ts_ms, guild, command, kind, latency_ms, ok, "
                    f"user_hash, error_type, cluster) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {cluster})",
                    batch.commands,
                )
            if batch.user_days:
                conn.executemany(
                    "INSERT OR IGNORE INTO user_days (day, guild, user_hash) VALUES (?, ?, ?)",
                    batch.user_days,
                )
            if batch.day_watermark is not None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                    "SET value = max(value, excluded.value)",
                    (f"day_watermark:{self.cluster}", batch.day_watermark),
                )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    async def apply_retention(self, now: float) -> int:
        """Delete rows past their retention; returns how many rows were deleted."""
        minute_cut = int(now) - self.minute_retention_days * 86400
        guild_minute_cut = max(minute_cut, int(now) - GUILD_MINUTE_RETENTION_SECONDS)
        hour_cut = int(now) - self.retention_days * 86400
        raw_cut = (int(now) - self.raw_retention_hours * 3600) * 1000
        deleted = 0
        async with self.transaction() as conn:
            for sql, arg in (
                ("DELETE FROM rollup_minute WHERE ts < ?", minute_cut),
                ("DELETE FROM rollup_minute WHERE ts < ? AND guild != 0", guild_minute_cut),
                ("DELETE FROM rollup_hour WHERE ts < ?", hour_cut),
                ("DELETE FROM rollup_day WHERE ts < ?", _floor(hour_cut, 86400)),
                ("DELETE FROM command_log WHERE ts_ms < ?", raw_cut),
                ("DELETE FROM user_days WHERE day < ?", _floor(hour_cut, 86400)),
            ):
                cur = await conn.execute(sql, (arg,))
                deleted += max(cur.rowcount, 0)
            deleted += await _feature_retention(conn, hour_cut)
        if deleted:
            log.info("retention removed %d rows", deleted)
        return deleted

    async def checkpoint(self) -> None:
        """Fold the WAL back into the main file (after large deletions or before a copy)."""
        async with self._tx_lock:
            try:
                await self._writer().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise classify_error(exc, self.path) from exc

    # -- reading ------------------------------------------------------------------------------

    def _minute_floor(self, guild: int | None) -> float:
        """Oldest time still covered by minute rows (per-guild rows are kept shorter)."""
        keep = self.minute_retention_days * 86400
        if guild:
            keep = min(keep, GUILD_MINUTE_RETENTION_SECONDS)
        # retention never deletes rows newer than now - keep; the slack lets a range that
        # starts exactly "24 h ago" (computed a moment before this call) read minute rows
        return self.clock() - keep - 300

    def _sources(
        self, start: float, end: float, hourly: bool, guild: int | None = None
    ) -> tuple[str, list[Any]]:
        """A FROM clause covering [start, end) from hour rows where whole hours allow it.

        Edges that do not fill an hour come from minute rows while those are retained.
        """
        minute_floor = self._minute_floor(guild)
        s, e = _edge(start), _edge(end)
        if not hourly and s >= minute_floor:
            h_lo, h_hi = _ceil(s, 3600), _floor(e, 3600)
            if h_hi - h_lo < 3600 * 2:
                return "(SELECT * FROM rollup_minute WHERE ts >= ? AND ts < ?)", [s, e]
            return (
                "(SELECT * FROM rollup_minute WHERE (ts >= ? AND ts < ?) OR (ts >= ? AND ts < ?)"
                " UNION ALL SELECT * FROM rollup_hour WHERE ts >= ? AND ts < ?)",
                [s, h_lo, h_hi, e, h_lo, h_hi],
            )
        return "(SELECT * FROM rollup_hour WHERE ts >= ? AND ts < ?)", [
            _floor(s, 3600),
            _ceil(e, 3600),
        ]

    @staticmethod
    def _where(
        metric: str,
        guild: int | None,
        command: str | None,
        shard: int | None,
        kind: str | None,
    ) -> tuple[str, list[Any]]:
        clauses = ["metric = ?", "guild = ?", "command = ?"]
        params: list[Any] = [metric, guild or 0, command or ""]
        if shard is not None:
            clauses.append("shard = ?")
            params.append(shard)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        return " AND ".join(clauses), params

    async def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            rows = await self._reader().execute_fetchall(sql, params)
        except sqlite3.Error as exc:
            raise classify_error(exc, self.path) from exc
        return [tuple(r) for r in rows]

    async def series(
        self,
        metric: str,
        start: float,
        end: float,
        *,
        step: int | None = None,
        guild: int | None = None,
        command: str | None = None,
        shard: int | None = None,
        kind: str | None = None,
    ) -> list[SeriesPoint]:
        """Points of ``step`` seconds over [start, end), oldest first; empty steps are absent."""
        step = step or choose_step(end - start)
        minute_floor = self._minute_floor(guild)
        hourly = step % 3600 == 0 or start < minute_floor
        if hourly and step % 3600:
            step = _ceil(step, 3600)
        table = "rollup_hour" if hourly else "rollup_minute"
        where, params = self._where(metric, guild, command, shard, kind)
        lo = _floor(start, step)
        sql = f"""
            SELECT t, c, s, mn, mx, hquant(h, 0.5, mn, mx), hquant(h, 0.95, mn, mx),
                   hquant(h, 0.99, mn, mx)
            FROM (SELECT (ts / {step}) * {step} AS t, SUM(count) AS c, SUM(sum) AS s,
                         MIN(min) AS mn, MAX(max) AS mx, hmerge(buckets) AS h
                  FROM {table} WHERE {where} AND ts >= ? AND ts < ?
                  GROUP BY t ORDER BY t)
        """
        rows = await self._read(sql, [*params, lo, _edge(end)])
        return [SeriesPoint(int(r[0]), int(r[1]), float(r[2]), *r[3:]) for r in rows]

    async def aggregate(
        self,
        metric: str,
        start: float,
        end: float,
        *,
        guild: int | None = None,
        command: str | None = None,
        shard: int | None = None,
        kind: str | None = None,
    ) -> Aggregate:
        """The metric over [start, end): count, sum, min, max and p50/p95/p99."""
        source, sparams = self._sources(start, end, hourly=False, guild=guild)
        where, params = self._where(metric, guild, command, shard, kind)
        sql = f"""
            SELECT c, s, mn, mx, hquant(h, 0.5, mn, mx), hquant(h, 0.95, mn, mx),
                   hquant(h, 0.99, mn, mx)
            FROM (SELECT SUM(count) AS c, SUM(sum) AS s, MIN(min) AS mn, MAX(max) AS mx,
                         hmerge(buckets) AS h FROM {source} WHERE {where})
        """
        rows = await self._read(sql, [*sparams, *params])
        c, s, *rest = rows[0]
        if not c:
            return Aggregate.empty()
        return Aggregate(int(c), float(s), *rest)

    async def top(
        self,
        metric: str,
        start: float,
        end: float,
        *,
        by: Literal["command", "guild"] = "command",
        guild: int | None = None,
        n: int = 10,
        order: Literal["count", "sum", "p95"] = "count",
    ) -> list[TopItem]:
        """The ``n`` commands (or guilds) with the highest count, sum or p95 over the range.

        A guild's commands come from daily rows (per-guild x per-command series are kept per
        day only), so for a guild the range is widened to whole UTC days, plus the raw
        invocations after the daily rows' watermark (the recorder releases daily rows hourly);
        ranges of up to six hours are answered exactly from the raw invocations.
        """
        if by == "command" and guild:
            if metric in _RAW_METRICS:
                if end - start <= 6 * 3600 and self._raw_covers(start):
                    return await self._top_raw(metric, start, end, guild=guild, n=n, order=order)
                source, sparams = await self._guild_commands_source(metric, start, end, guild)
            else:
                source = "(SELECT * FROM rollup_day WHERE ts >= ? AND ts < ?)"
                sparams = [_floor(start, 86400), _edge(end)]
            where, params, label = (
                "metric = ? AND guild = ? AND command != ''",
                [
                    metric,
                    guild,
                ],
                "command",
            )
        else:
            source, sparams = self._sources(start, end, hourly=False, guild=guild)
            if by == "command":
                where, params, label = (
                    "metric = ? AND guild = ? AND command != ''",
                    [
                        metric,
                        guild or 0,
                    ],
                    "command",
                )
            elif by == "guild":
                where, params, label = (
                    "metric = ? AND guild != 0 AND command = ''",
                    [metric],
                    "guild",
                )
            else:
                raise ValueError(f"by={by!r}: expected 'command' or 'guild'")
        order_col = {"count": "c", "sum": "s", "p95": "p95"}[order]
        sql = f"""
            SELECT label, c, s, mn, mx, hquant(h, 0.5, mn, mx), hquant(h, 0.95, mn, mx) AS p95,
                   hquant(h, 0.99, mn, mx)
            FROM (SELECT {label} AS label, SUM(count) AS c, SUM(sum) AS s, MIN(min) AS mn,
                         MAX(max) AS mx, hmerge(buckets) AS h
                  FROM {source} WHERE {where} GROUP BY {label})
            ORDER BY {order_col} DESC, label LIMIT ?
        """
        rows = await self._read(sql, [*sparams, *params, int(n)])
        return [TopItem(str(r[0]), Aggregate(int(r[1]), float(r[2]), *r[3:])) for r in rows]

    async def _guild_commands_source(
        self, metric: str, start: float, end: float, guild: int
    ) -> tuple[str, list[Any]]:
        """Daily rows up to the watermark, plus the raw invocations after it, as rollup rows."""
        rows = await self._read("SELECT MIN(value) FROM meta WHERE key LIKE 'day_watermark:%'", [])
        watermark = float(rows[0][0]) if rows and rows[0][0] is not None else 0.0
        raw_from = max(watermark, start)
        if metric == "command_latency_ms":
            raw = (
                "SELECT 'command_latency_ms' AS metric, guild, command, kind, COUNT(*) AS count,"
                " SUM(latency_ms) AS sum, MIN(latency_ms) AS min, MAX(latency_ms) AS max,"
                " hbuild(latency_ms) AS buckets"
            )
        else:
            raw = (
                "SELECT 'command_errors' AS metric, guild, command, kind, SUM(1 - ok) AS count,"
                " SUM(1 - ok) AS sum, 1.0 AS min, 1.0 AS max, NULL AS buckets"
            )
        source = (
            "(SELECT metric, guild, command, kind, count, sum, min, max, buckets FROM rollup_day"
            " WHERE ts >= ? AND ts < ? AND guild = ?"
            f" UNION ALL {raw} FROM command_log WHERE guild = ? AND ts_ms >= ? AND ts_ms < ?"
            " GROUP BY command, kind HAVING count > 0)"
        )
        return source, [
            _floor(start, 86400),
            _edge(end),
            guild,
            guild,
            int(raw_from * 1000),
            int(end * 1000),
        ]

    def _raw_covers(self, start: float) -> bool:
        return start >= self.clock() - self.raw_retention_hours * 3600

    async def _top_raw(
        self,
        metric: str,
        start: float,
        end: float,
        *,
        guild: int,
        n: int,
        order: Literal["count", "sum", "p95"],
    ) -> list[TopItem]:
        """Top commands of one guild from raw invocations (exact percentiles)."""
        value = "latency_ms" if metric == "command_latency_ms" else "1 - ok"
        having = "" if metric == "command_latency_ms" else "HAVING SUM(1 - ok) > 0"
        order_col = {"count": "c", "sum": "s", "p95": "p95"}[order]
        count = "COUNT(*)" if metric == "command_latency_ms" else "SUM(1 - ok)"
        sql = f"""
            SELECT command, {count} AS c, SUM(v) AS s, MIN(v), MAX(v),
                   MIN(CASE WHEN rn >= 0.50 * cnt THEN v END),
                   MIN(CASE WHEN rn >= 0.95 * cnt THEN v END) AS p95,
                   MIN(CASE WHEN rn >= 0.99 * cnt THEN v END)
            FROM (SELECT command, ok, {value} AS v,
                         ROW_NUMBER() OVER (PARTITION BY command ORDER BY {value}) AS rn,
                         COUNT(*) OVER (PARTITION BY command) AS cnt
                  FROM command_log WHERE ts_ms >= ? AND ts_ms < ? AND guild = ?)
            GROUP BY command {having} ORDER BY {order_col} DESC, command LIMIT ?
        """
        rows = await self._read(sql, [int(start * 1000), int(end * 1000), guild, int(n)])
        return [TopItem(str(r[0]), Aggregate(int(r[1]), float(r[2]), *r[3:])) for r in rows]

    async def change(
        self, metric: str, start: float, end: float, *, guild: int | None = None
    ) -> Change:
        """The metric's sum over [start, end) against the same length just before."""
        span = end - start
        cur = await self.aggregate(metric, start, end, guild=guild)
        prev = await self.aggregate(metric, start - span, start, guild=guild)
        return Change(cur.sum, prev.sum)

    async def distinct_users(self, start: float, end: float, *, guild: int | None = None) -> int:
        """Distinct users over the range.

        Up to two hours: the per-hour distinct counts of the hours the range touches, summed
        (a user active in two of those hours counts twice). Longer, for all guilds: exact over
        the calendar days (UTC) the range touches. Longer, for one guild: the per-day distinct
        counts summed (a user active on two days counts twice).
        """
        g = guild or 0
        if end - start > 7200 and g:
            rows = await self._read(
                "SELECT COALESCE(SUM(count), 0) FROM rollup_day WHERE metric = 'users' "
                "AND guild = ? AND command = '' AND ts >= ? AND ts < ?",
                [g, _floor(start, 86400), _edge(end)],
            )
        elif end - start <= 7200:
            rows = await self._read(
                "SELECT COALESCE(SUM(count), 0) FROM rollup_hour WHERE metric = 'users' "
                "AND guild = ? AND command = '' AND ts >= ? AND ts < ?",
                [g, _floor(start, 3600), _edge(end)],
            )
        else:
            rows = await self._read(
                "SELECT COUNT(DISTINCT user_hash) FROM user_days WHERE guild = ? "
                "AND day >= ? AND day < ?",
                [g, _floor(start, 86400), _edge(end)],
            )
        return int(rows[0][0] or 0)

    async def command_stats(
        self, start: float, end: float, *, guild: int | None = None, limit: int = 100
    ) -> list[CommandStat]:
        """Per command: invocations, errors, p50/p95/p99 and mean latency; busiest first."""
        latency = await self.top("command_latency_ms", start, end, guild=guild, n=limit)
        errors = {
            item.label: int(item.aggregate.sum)
            for item in await self.top("command_errors", start, end, guild=guild, n=limit)
        }
        return [
            CommandStat(
                command=item.label,
                count=item.aggregate.count,
                errors=errors.get(item.label, 0),
                p50=item.aggregate.p50,
                p95=item.aggregate.p95,
                p99=item.aggregate.p99,
                mean=item.aggregate.mean,
            )
            for item in latency
        ]

    async def shards(self, metric: str, start: float, end: float) -> list[int]:
        """Shard ids that reported ``metric`` in the range."""
        source, sparams = self._sources(start, end, hourly=False)
        rows = await self._read(
            f"SELECT DISTINCT shard FROM {source} WHERE metric = ? AND shard >= 0 ORDER BY shard",
            [*sparams, metric],
        )
        return [int(r[0]) for r in rows]

    async def raw_command_series(
        self, start: float, end: float, *, step: int = 60, guild: int | None = None
    ) -> list[SeriesPoint]:
        """Command count, mean and p95 per step computed from raw rows (exact, but slow)."""
        where = "ts_ms >= ? AND ts_ms < ?"
        params: list[Any] = [int(start * 1000), int(end * 1000)]
        if guild:
            where += " AND guild = ?"
            params.append(guild)
        step_ms = int(step) * 1000
        sql = f"""
            SELECT t, COUNT(*), SUM(latency_ms), MIN(latency_ms), MAX(latency_ms),
                   MIN(CASE WHEN rn >= 0.95 * n THEN latency_ms END)
            FROM (SELECT (ts_ms / {step_ms}) * {step} AS t, latency_ms,
                         ROW_NUMBER() OVER (PARTITION BY ts_ms / {step_ms}
                                            ORDER BY latency_ms) AS rn,
                         COUNT(*) OVER (PARTITION BY ts_ms / {step_ms}) AS n
                  FROM command_log WHERE {where})
            GROUP BY t ORDER BY t
        """
        rows = await self._read(sql, params)
        return [
            SeriesPoint(int(r[0]), int(r[1]), float(r[2]), r[3], r[4], None, r[5], None)
            for r in rows
        ]

    async def recent_commands(
        self, limit: int = 50, *, guild: int | None = None, errors_only: bool = False
    ) -> list[tuple[float, int, str, str, float, bool, str]]:
        """The latest raw invocations: (ts, guild, command, kind, latency_ms, ok, error_type)."""
        clauses, params = [], []
        if guild:
            clauses.append("guild = ?")
            params.append(guild)
        if errors_only:
            clauses.append("ok = 0")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = await self._read(
            "SELECT ts_ms, guild, command, kind, latency_ms, ok, error_type FROM command_log "
            f"{where} ORDER BY ts_ms DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [(r[0] / 1000, r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in rows]

    async def db_size_bytes(self) -> int:
        """Size of the database file plus its WAL."""

        def size() -> int:
            total = 0
            for suffix in ("", "-wal"):
                with contextlib.suppress(FileNotFoundError):
                    total += os.path.getsize(f"{self.path}{suffix}")
            return total

        return await asyncio.to_thread(size)


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our DDL strings)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (SQLite gives the ``-wal`` and
    ``-shm`` files the same mode); an existing file keeps its mode, with a warning when others
    may read it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & 0o077:
            log.warning("%s can be read by other users of this machine (mode %o); "
                        "chmod 600 it to keep it private", path, mode & 0o777)  # fmt: skip
        return
    except OSError as exc:  # the connection reports the same problem with its own error
        log.debug("could not pre-create %s: %s", path, exc)
        return
    os.close(fd)


async def _feature_retention(conn: aiosqlite.Connection, cut: int) -> int:
    """Trim the feature tables (error groups, alert history...) registered with their schema."""
    existing = {row[0] for row in await conn.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}  # fmt: skip
    deleted = 0
    for statements in RETENTION.values():
        for table, sql in statements:
            if table in existing:  # the component's tables are made when it is first used
                cur = await conn.execute(sql, (cut,))
                deleted += max(cur.rowcount, 0)
    return deleted
