"""The access audit log: who asked for what, when, and the answer's status.

Entries are buffered in memory and written in one transaction every few seconds (and on
shutdown), so a request never waits for the database. With a read-only store
(``python -m web --db``) entries go to the ``web.audit`` logger only. The buffer is bounded:
when the database stays unavailable, the oldest entries are dropped and counted.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode

from monitoring.clock import Clock, system_clock
from monitoring.redaction import REDACTED
from monitoring.store.base import StoreError

from . import schema as _schema  # noqa: F401 - registers the tables

__all__ = ["SECRET_PARAMETERS", "AuditEntry", "AuditLog", "safe_path"]

log = logging.getLogger(__name__)
audit_log = logging.getLogger("web.audit.access")

#: Query parameters whose values never reach the audit table or the log (a still-valid one-time
#: sign-in token there would let its reader sign in first).
SECRET_PARAMETERS = frozenset(
    {"token", "key", "api_key", "apikey", "access_token", "secret", "password", "code", "session"}
)


def safe_path(path: str, query_string: str) -> str:
    """The path with its query, secret parameters' values replaced by ``[redacted]``."""
    if not query_string:
        return path
    pairs = parse_qsl(query_string, keep_blank_values=True)
    cleaned = [(k, REDACTED if k.lower() in SECRET_PARAMETERS else v) for k, v in pairs]
    return f"{path}?{urlencode(cleaned, safe='[]')}"


@dataclasses.dataclass(frozen=True, slots=True)
class AuditEntry:
    """One access: when, who (and their scope), what (method and path), status, from where."""

    ts: float
    who: str
    scope: str
    method: str
    path: str
    status: int
    remote: str
    count: int = 1
    """How many accesses the row stands for (anonymous failures are aggregated per minute)."""


ANONYMOUS = frozenset({"anonymous", "login-failed", "rate-limited"})
"""``who`` values of requests without valid credentials."""


@dataclasses.dataclass(slots=True)
class _Failures:
    """One address's anonymous failures in one minute: one row, its count updated in place."""

    entry: AuditEntry
    rowid: int | None = None
    written: int = 0
    """The count the row in the table has (the rest is still to write)."""


class AuditLog:
    """Buffers :class:`AuditEntry` rows and writes them to ``web_audit``."""

    def __init__(
        self,
        store: Any,
        *,
        persist: bool,
        clock: Clock = system_clock,
        max_pending: int = 10_000,
        retention_days: int = 90,
    ) -> None:
        self.store = store
        self.persist = persist
        self.clock = clock
        self.max_pending = max_pending
        self.retention_days = retention_days
        self.dropped = 0
        self.written = 0
        self._pending: collections.deque[AuditEntry] = collections.deque()
        self._failures: dict[tuple[int, str], _Failures] = {}
        """Anonymous failures of the current minute(s), one entry per (minute, address)."""
        self._minute = 0
        self._lock = asyncio.Lock()

    def record(
        self, who: str, scope: str, method: str, path: str, status: int, remote: str
    ) -> AuditEntry:
        now = self.clock()
        if who in ANONYMOUS and status >= 400:
            return self._failure(now, who, method, path[:500], status, remote)
        entry = AuditEntry(now, who, scope, method, path[:500], status, remote)
        if not self.persist:
            audit_log.info("%s %s %s %s -> %d from %s", who, scope, method, path, status, remote)
            return entry
        self._append(entry)
        return entry

    def _failure(
        self, now: float, who: str, method: str, path: str, status: int, remote: str
    ) -> AuditEntry:
        """Count an anonymous failure into its address's row for this minute; the row keeps
        the first request's method, path and status."""
        key = (int(now // 60), remote)
        if key[0] != self._minute and not self.persist:
            self._failures.clear()  # only logged: nothing to write
        self._minute = key[0]
        found = self._failures.get(key)
        if found is not None:
            found.entry = dataclasses.replace(found.entry, count=found.entry.count + 1)
            return found.entry
        entry = AuditEntry(now, who, "-", method, path, status, remote)
        if not self.persist:
            audit_log.info("%s %s %s -> %d from %s (further failures from it this minute "
                           "are not logged)", who, method, path, status, remote)  # fmt: skip
        if len(self._failures) >= self.max_pending:
            self.dropped += 1
            return entry
        self._failures[key] = _Failures(entry)
        return entry

    def _append(self, entry: AuditEntry) -> AuditEntry:
        if not self.persist:
            return entry  # logged when recorded
        self._pending.append(entry)
        if len(self._pending) > self.max_pending:
            self._pending.popleft()
            self.dropped += 1
            if self.dropped in (1, 100, 10_000):
                log.warning("audit log buffer full: %d entries dropped so far", self.dropped)
        return entry

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write buffered entries; returns how many were written (0 on a store failure).

        An address's anonymous failures of one minute are one row: inserted on the first flush,
        its count updated by later ones, forgotten once its minute is over and written."""
        async with self._lock:
            batch = list(self._pending)
            failures = [f for f in self._failures.values() if f.entry.count != f.written]
            if not batch and not failures:
                self._forget_written(self.clock())
                return 0
            try:
                async with self.store.transaction() as conn:
                    await conn.executemany(
                        "INSERT INTO web_audit (ts, who, scope, method, path, status, remote, "
                        "count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [dataclasses.astuple(e) for e in batch],
                    )
                    rowids = [await self._write_failure(conn, f) for f in failures]
            except StoreError as exc:
                waiting = len(batch) + len(failures)
                log.warning("audit log not written yet (%d waiting): %s", waiting, exc)
                return 0
            for _ in batch:
                self._pending.popleft()
            for failure, rowid in zip(failures, rowids, strict=True):  # committed: keep ids
                failure.rowid, failure.written = rowid, failure.entry.count
            self._forget_written(self.clock())
            self.written += len(batch) + len(failures)
            return len(batch) + len(failures)

    @staticmethod
    async def _write_failure(conn: Any, failure: _Failures) -> int | None:
        """Insert the row, or update its count; returns its id."""
        if failure.rowid is not None:
            await conn.execute(
                "UPDATE web_audit SET count = ? WHERE id = ?", (failure.entry.count, failure.rowid)
            )
            return failure.rowid
        cursor = await conn.execute(
            "INSERT INTO web_audit (ts, who, scope, method, path, status, remote, count) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            dataclasses.astuple(failure.entry),
        )
        rowid: int | None = cursor.lastrowid
        return rowid

    def _forget_written(self, now: float) -> None:
        """Drop the rows of minutes that are over once all of their count is in the table."""
        current = int(now // 60)
        for key in [k for k, f in self._failures.items()
                    if k[0] < current and f.written == f.entry.count]:  # fmt: skip
            del self._failures[key]

    async def purge(self) -> None:
        """Delete entries older than ``retention_days``."""
        if not self.persist:
            return
        cut = self.clock() - self.retention_days * 86400
        try:
            async with self.store.transaction() as conn:
                await conn.execute("DELETE FROM web_audit WHERE ts < ?", (cut,))
        except StoreError as exc:
            log.warning("audit retention skipped: %s", exc)

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        """The latest entries, newest first (written ones and those still buffered)."""
        unwritten = [f.entry for f in self._failures.values() if f.rowid is None]
        buffered = sorted([*self._pending, *unwritten], key=lambda e: -e.ts)
        rows: list[AuditEntry] = buffered[:limit]
        if self.persist and len(rows) < limit:
            try:
                stored = await self.store.fetchall(
                    "SELECT ts, who, scope, method, path, status, remote, count FROM web_audit "
                    "ORDER BY id DESC LIMIT ?",
                    (limit - len(rows),),
                )
            except StoreError as exc:
                log.warning("could not read the audit log: %s", exc)
                stored = []
            rows.extend(AuditEntry(*r) for r in stored)
        return rows
