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
REDACTED = "[redacted]"


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
        self._lock = asyncio.Lock()

    def record(
        self, who: str, scope: str, method: str, path: str, status: int, remote: str
    ) -> AuditEntry:
        entry = AuditEntry(self.clock(), who, scope, method, path[:500], status, remote)
        if not self.persist:
            audit_log.info("%s %s %s %s -> %d from %s", who, scope, method, path, status, remote)
            return entry
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
        """Write buffered entries; returns how many were written (0 on a store failure)."""
        async with self._lock:
            if not self._pending:
                return 0
            batch = list(self._pending)
            try:
                async with self.store.transaction() as conn:
                    await conn.executemany(
                        "INSERT INTO web_audit (ts, who, scope, method, path, status, remote) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [dataclasses.astuple(e) for e in batch],
                    )
            except StoreError as exc:
                log.warning("audit log not written yet (%d waiting): %s", len(batch), exc)
                return 0
            for _ in batch:
                self._pending.popleft()
            self.written += len(batch)
            return len(batch)

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
        rows: list[AuditEntry] = list(reversed(self._pending))[:limit]
        if self.persist and len(rows) < limit:
            try:
                stored = await self.store.fetchall(
                    "SELECT ts, who, scope, method, path, status, remote FROM web_audit "
                    "ORDER BY id DESC LIMIT ?",
                    (limit - len(rows),),
                )
            except StoreError as exc:
                log.warning("could not read the audit log: %s", exc)
                stored = []
            rows.extend(AuditEntry(*r) for r in stored)
        return rows
