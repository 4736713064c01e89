"""The flush does constant work on the event loop: aggregation runs in a worker thread."""

from __future__ import annotations

import threading

from monitoring import FakeClock, Recorder
from monitoring.flusher import Flusher
from monitoring.store.sqlite import SQLiteStore


async def test_aggregation_runs_off_the_loop(store: SQLiteStore, clock: FakeClock) -> None:
    rec = Recorder(salt=store.salt, clock=clock)
    threads: list[threading.Thread] = []
    aggregate = rec.aggregate

    def spy(closed):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return aggregate(closed)

    rec.aggregate = spy  # type: ignore[method-assign]
    for guild in range(1, 200):
        rec.message(guild, guild * 7)
    flusher = Flusher(rec, store, clock=clock)
    assert await flusher.flush(force=True)
    assert threads and all(t is not threading.main_thread() for t in threads)
    rows = await store.fetchall(
        "SELECT SUM(count) FROM rollup_minute WHERE metric = 'messages' AND guild = 0"
    )
    assert rows == [(199,)]


def test_swap_then_aggregate_equals_drain(clock: FakeClock) -> None:
    a, b = Recorder(salt=b"s" * 16, clock=clock), Recorder(salt=b"s" * 16, clock=clock)
    for rec in (a, b):
        rec.message(5, 1)
        rec.command("ping", "slash", 5, 1, 12.0, True)
    closed = a.swap()
    a.message(5, 2)  # recording goes on into a fresh window while the closed one is aggregated
    assert a.aggregate(closed) == b.drain()
    assert sum(r[6] for r in a.drain().minute_rows if r[:2] == ("messages", 0)) == 1
