"""Who runs the once-per-bot work (alert evaluation, the daily report) when several processes
share one database.

With SQLite every process has its own file, so every process is its own leader
(:class:`SoloLeadership`). With PostgreSQL the processes of a cluster share one database and
exactly one of them must evaluate alerts and post the daily report: :class:`AdvisoryLockLeadership`
holds a session-level advisory lock on a dedicated connection. PostgreSQL releases the lock when
that session ends, which is when the process dies (the kernel closes its socket) or, for a machine
that vanished, when TCP keepalives (set on the session) give up. Another process's next
:meth:`~AdvisoryLockLeadership.check` then takes it: the hand-over takes at most one check
interval after the session is gone.

Leadership is a hint, not a fence: the work it guards must still make its decision and write its
result in one transaction (the alert state, the report's "posted" mark), so that a leader that
lost the lock in the middle cannot post twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["LOCK_KEY", "AdvisoryLockLeadership", "Leadership", "SoloLeadership"]

log = logging.getLogger(__name__)

LOCK_KEY = 0x4D4F4E314C454144
"""The advisory lock's key ("MON1LEAD"): one leader per database."""

KEEPALIVE_SETTINGS = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}
"""Server-side keepalives on the lock's session: a leader whose machine vanished loses the lock
after about 25 s instead of the kernel default of two hours."""

APPLICATION_PREFIX = "discord-bot-monitoring leader:"


class Leadership(Protocol):
    """Asked before each round of once-per-bot work."""

    async def check(self) -> bool:
        """True when this process should do the work now (acquire or confirm the lead)."""
        ...

    async def leader(self) -> str | None:
        """The cluster name of the current leader, when known (for /health)."""
        ...

    async def close(self) -> None:
        """Give the lead up (at shutdown)."""
        ...


class SoloLeadership:
    """One process, one database: always the leader."""

    def __init__(self, cluster: str = "") -> None:
        self.cluster = cluster

    async def check(self) -> bool:
        return True

    async def leader(self) -> str | None:
        return self.cluster

    async def close(self) -> None:
        return None


Connect = Callable[..., Awaitable[Any]]


class AdvisoryLockLeadership:
    """Leadership by ``pg_try_advisory_lock`` on a connection of its own.

    ``connect`` is ``asyncpg.connect`` (injectable for tests). A connection or query that fails,
    or does not answer within ``timeout`` seconds, counts as "not the leader" until the next
    check reconnects: a process that cannot reach the database must not act as leader.
    """

    def __init__(
        self,
        dsn: str,
        cluster: str,
        *,
        key: int = LOCK_KEY,
        timeout: float = 5.0,
        connect: Connect | None = None,
    ) -> None:
        if not -(2**63) <= key < 2**63:  # PostgreSQL's bigint
            raise ValueError("key must fit a signed 64-bit integer")
        self.dsn = dsn
        self.cluster = cluster
        self.key = key
        self.timeout = timeout
        self._connect = connect
        self._conn: Any = None
        self._held = False
        self._lock = asyncio.Lock()

    @property
    def held(self) -> bool:
        """Whether the lock was held at the last check."""
        return self._held

    async def _connection(self) -> Any:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        if self._held:
            # the session that held the lock is gone, and the lock with it: a new session
            # starts as a follower (keeping the flag here would make two leaders)
            log.warning("lost the lead: the lock's database session ended")
            self._held = False
        connect = self._connect
        if connect is None:
            import asyncpg

            connect = asyncpg.connect
        settings = {**KEEPALIVE_SETTINGS, "application_name": APPLICATION_PREFIX + self.cluster}
        self._conn = await asyncio.wait_for(
            connect(self.dsn, server_settings=settings, timeout=self.timeout), self.timeout
        )
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held = False
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def check(self) -> bool:
        async with self._lock:
            was = self._held
            try:
                conn = await self._connection()
                if self._held:
                    # the lock lives as long as the session: a live session still holds it
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), self.timeout)
                else:
                    self._held = bool(
                        await asyncio.wait_for(
                            conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key),
                            self.timeout,
                        )
                    )
            except Exception as exc:  # connection lost, refused, timed out, server error
                if was:
                    log.warning("lost the lead (%s: %s)", type(exc).__name__, exc)
                else:
                    log.debug("leader check failed: %s", exc)
                await self._drop()
                return False
            if self._held and not was:
                log.info("this process (cluster %r) is now the leader", self.cluster)
            return self._held

    async def leader(self) -> str | None:
        async with self._lock:
            try:
                conn = await self._connection()
                name = await asyncio.wait_for(
                    conn.fetchval(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                        "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                        "AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1 "
                        "AND l.database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database())",
                        *_halves(self.key),
                    ),
                    self.timeout,
                )
            except Exception as exc:
                log.debug("leader lookup failed: %s", exc)
                await self._drop()
                return None
        if not isinstance(name, str) or not name.startswith(APPLICATION_PREFIX):
            return None
        return name[len(APPLICATION_PREFIX) :]

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None and self._held:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self._conn.fetchval("SELECT pg_advisory_unlock($1)", self.key),
                        self.timeout,
                    )
            conn, self._conn = self._conn, None
            self._held = False
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), self.timeout)


def _halves(key: int) -> tuple[int, int]:
    """``pg_locks`` shows a bigint advisory key as (classid, objid): its high and low 32 bits."""
    unsigned = key & (2**64 - 1)
    return unsigned >> 32, unsigned & 0xFFFFFFFF
