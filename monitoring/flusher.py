"""Batched flushing of the recorder to the store, with the failure policy.

When the database is locked, read-only, full or missing, batches wait in a bounded buffer; past
``max_rows`` the oldest are dropped and counted (``monitor_dropped_rows``, a metric of its own);
attempts back off exponentially up to a minute; the caller is never blocked and never sees the
exception. A corrupt or foreign file (:class:`StoreCorrupt`) is reported once and never touched.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time

from .clock import Clock, system_clock
from .recorder import Batch, Recorder
from .store.base import Store, StoreCorrupt, StoreError

DROPPED_METRIC = "monitor_dropped_rows"
"""The counter of rows dropped while the store was unavailable (written once it is again)."""

__all__ = ["FlushStats", "Flusher"]

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
RETENTION_EVERY_SECONDS = 3600.0


@dataclasses.dataclass(frozen=True, slots=True)
class FlushStats:
    """The flusher's state, for /health and the dashboard."""

    last_ok: float | None
    last_error: str | None
    consecutive_failures: int
    pending_rows: int
    dropped_rows: int
    flushed_rows: int
    store_open: bool

    def lag(self, now: float) -> float | None:
        """Seconds since the last successful flush (None before the first)."""
        return None if self.last_ok is None else max(0.0, now - self.last_ok)


class Flusher:
    """Drains the recorder into the store every ``interval`` seconds."""

    def __init__(
        self,
        recorder: Recorder,
        store: Store,
        *,
        interval: float = 2.0,
        max_rows: int = 200_000,
        clock: Clock = system_clock,
    ) -> None:
        self.recorder = recorder
        self.store = store
        self.interval = interval
        self.max_rows = max_rows
        self.clock = clock
        self._pending: collections.deque[Batch] = collections.deque()
        self._pending_rows = 0
        self._dropped = 0
        self._dropped_unreported = 0
        self._flushed = 0
        self._failures = 0
        self._last_ok: float | None = None
        self._last_error: str | None = None
        self._last_retention = 0.0
        self._corrupt = False
        self._lock = asyncio.Lock()
        self._next_attempt = 0.0

    @property
    def stats(self) -> FlushStats:
        return FlushStats(
            last_ok=self._last_ok,
            last_error=self._last_error,
            consecutive_failures=self._failures,
            pending_rows=self._pending_rows,
            dropped_rows=self._dropped,
            flushed_rows=self._flushed,
            store_open=bool(getattr(self.store, "is_open", True)),
        )

    @property
    def backoff(self) -> float:
        """Seconds to wait before the next attempt after the current run of failures."""
        if not self._failures:
            return self.interval
        return min(self.interval * 2**self._failures, MAX_BACKOFF_SECONDS)

    def _drop_excess(self) -> None:
        while self._pending_rows > self.max_rows and self._pending:
            batch = self._pending.popleft()
            self._pending_rows -= len(batch)
            self._dropped += len(batch)
            # the batch may carry an earlier drop count that never reached the store (a second
            # outage began before it was written): count it again, or those drops vanish
            self._dropped_unreported += len(batch) + _dropped_count_in(batch)
            log.warning(
                "monitoring buffer full (%d rows): dropped %d oldest rows",
                self.max_rows,
                len(batch),
            )

    async def _ensure_open(self) -> bool:
        if getattr(self.store, "is_open", True):
            return True
        if self._corrupt:
            return False
        try:
            await self.store.open()
        except StoreCorrupt as exc:
            self._corrupt = True
            self._last_error = str(exc)
            log.error("monitoring database refused, metrics will not be stored: %s", exc)
            return False
        if not self.recorder.has_salt:
            self.recorder.set_salt(self.store.salt)
        return True

    async def flush(
        self, now: float | None = None, *, force: bool = False, final: bool = False
    ) -> bool:
        """Drain and write everything pending; True when the buffer is empty afterwards.

        Without ``force``, an attempt during the backoff period after a failure is skipped.
        Cancelling the caller does not interrupt a flush: a write cancelled after its COMMIT was
        queued would stay in the buffer and be written twice (so would a final flush running
        beside it), so the flush finishes in its own task, holding the lock.
        """
        return await asyncio.shield(self._flush(now, force, final))

    async def _flush(self, now: float | None, force: bool, final: bool = False) -> bool:
        now = self.clock() if now is None else now
        async with self._lock:
            if not force and now < self._next_attempt:
                await self._hold(now)
                return False
            try:
                opened = await self._ensure_open()
            except StoreError as exc:
                self._fail(now, exc)
                await self._hold(now)
                return False
            if not opened:
                await self._hold(now)
                return False
            self._enqueue(await self._drain(now, final=final))
            self._drop_excess()
            started = time.perf_counter()
            if not await self._write_pending(now):
                return False
            if self._dropped_unreported:
                # recorded only now that the store takes writes, so the count itself is not lost
                self.recorder.inc(DROPPED_METRIC, self._dropped_unreported)
                self._dropped_unreported = 0
                self._enqueue(await self._drain(now))
                if not await self._write_pending(now):
                    return False
            if self._failures:
                log.info("monitoring database writable again after %d failures", self._failures)
            self._failures = 0
            self._last_ok = now
            self._last_error = None
            self._next_attempt = 0.0
            self.recorder.gauge("flush_ms", (time.perf_counter() - started) * 1000)
        if now - self._last_retention >= RETENTION_EVERY_SECONDS:
            self._last_retention = now
            try:
                await self.store.apply_retention(now)
            except StoreError as exc:
                log.warning("retention skipped: %s", exc)
        return True

    def _enqueue(self, batch: Batch) -> None:
        """Buffer a drained batch (empty ones are skipped)."""
        if len(batch):
            self._pending.append(batch)
            self._pending_rows += len(batch)

    async def _write_pending(self, now: float) -> bool:
        """Write the buffered batches oldest first; stop at the first failure."""
        while self._pending:
            batch = self._pending[0]
            try:
                await self.store.write(batch)
            except StoreCorrupt as exc:
                self._corrupt = True
                self._fail(now, exc)
                return False
            except StoreError as exc:
                self._fail(now, exc)
                return False
            self._pending.popleft()
            self._pending_rows -= len(batch)
            self._flushed += len(batch)
        return True

    async def _drain(self, now: float, *, final: bool = False) -> Batch:
        """Swap the recorder's windows on the loop (O(1)) and aggregate them in a thread.

        Aggregation (rollups, the all-guilds fan-out, histogram blobs, user hashes) grows with
        the number of guilds; on the loop it blocked the bot for tens of milliseconds at 10,000
        guilds. Only one aggregation runs at a time (the caller holds the flush lock).
        """
        closed = self.recorder.swap(now, final=final)
        return await asyncio.to_thread(self.recorder.aggregate, closed)

    async def _hold(self, now: float) -> None:
        """While nothing can be written, keep the recorder's memory bounded too."""
        if self.recorder.has_salt:
            self._enqueue(await self._drain(now))
            self._drop_excess()
        else:
            dropped = self.recorder.trim(max_windows=max(2, int(self.max_rows // 1000)))
            if dropped:
                self._dropped += dropped
                self._dropped_unreported += dropped

    def _fail(self, now: float, exc: StoreError) -> None:
        self._failures += 1
        self._last_error = str(exc)
        self._next_attempt = now + self.backoff
        level = logging.WARNING if self._failures in (1, 10, 100) else logging.DEBUG
        log.log(
            level,
            "monitoring flush failed (%d in a row, %d rows waiting, next try in %.0fs): %s",
            self._failures,
            self._pending_rows,
            self.backoff,
            exc,
        )

    async def run(self) -> None:
        """Flush forever, every ``interval`` seconds (cancel to stop; then call :meth:`close`)."""
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def close(self) -> bool:
        """Final flush on the way out (ignores backoff); True when nothing was left behind."""
        done = await self.flush(force=True, final=True)
        if not done and self._pending_rows:
            log.error(
                "monitoring shut down with %d rows that could not be written: %s",
                self._pending_rows,
                self._last_error,
            )
        return done


def _dropped_count_in(batch: Batch) -> int:
    """The ``monitor_dropped_rows`` total a batch carries (its all-guilds minute rows)."""
    return int(sum(row[7] for row in batch.minute_rows
                   if row[0] == DROPPED_METRIC and row[1] == 0))  # fmt: skip
