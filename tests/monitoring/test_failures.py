"""The failure policy: buffer, count drops, back off, recover; never delete a user's file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitoring import FakeClock, Flusher, Recorder, StoreCorrupt
from monitoring.store.base import StoreUnavailable
from monitoring.store.sqlite import SQLiteStore

_OPEN: list[SQLiteStore] = []


@pytest.fixture(autouse=True)
async def _close_stores() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().close()


def make(
    db_path: Path, clock: FakeClock, max_rows: int = 200_000
) -> tuple[Recorder, SQLiteStore, Flusher]:
    store = SQLiteStore(db_path, clock=clock, busy_timeout_ms=20)
    _OPEN.append(store)
    rec = Recorder(clock=clock)
    return rec, store, Flusher(rec, store, interval=2.0, max_rows=max_rows, clock=clock)


async def messages_stored(store: SQLiteStore, clock: FakeClock) -> int:
    return (await store.aggregate("messages", clock() - 86400, clock() + 60)).count


async def test_locked_database_buffers_then_recovers(db_path: Path, clock: FakeClock) -> None:
    rec, store, flusher = make(db_path, clock)
    assert await flusher.flush()
    blocker = sqlite3.connect(db_path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for _ in range(10):
            rec.message(1, 1)
        assert await flusher.flush() is False  # no exception reaches the caller
        stats = flusher.stats
        assert stats.consecutive_failures == 1 and stats.pending_rows > 0
        assert "locked" in (stats.last_error or "")
        # during the backoff the next attempt is skipped without touching the database
        clock.advance(1)
        assert await flusher.flush() is False
        assert flusher.stats.consecutive_failures == 1
    finally:
        blocker.rollback()
        blocker.close()
    clock.advance(10)
    rec.tick()
    rec.message(1, 1)
    assert await flusher.flush()
    assert flusher.stats.pending_rows == 0 and flusher.stats.consecutive_failures == 0
    assert await messages_stored(store, clock) == 11
    await store.close()


async def test_read_only_database_recovers_without_restart(db_path: Path, clock: FakeClock) -> None:
    rec, store, flusher = make(db_path, clock)
    assert await flusher.flush()
    assert store._w is not None
    await store._w.execute("PRAGMA query_only = 1")  # what a read-only remount looks like to SQLite
    rec.message(1, 1)
    assert await flusher.flush() is False
    assert "read-only" in (flusher.stats.last_error or "")
    await store._w.execute("PRAGMA query_only = 0")
    clock.advance(60)
    assert await flusher.flush()
    assert await messages_stored(store, clock) == 1
    await store.close()


async def test_full_disk_drops_oldest_and_counts_them(db_path: Path, clock: FakeClock) -> None:
    rec, store, flusher = make(db_path, clock, max_rows=1000)
    assert await flusher.flush()
    assert store._w is not None
    pages = (await store.fetchall("PRAGMA page_count"))[0][0]
    await store._w.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now "full"
    for _minute in range(40):
        for guild in range(1, 30):
            rec.message(guild, guild)
        clock.advance(60)
        rec.tick()
        await flusher.flush(force=True)
    stats = flusher.stats
    assert "full" in (stats.last_error or "")
    assert stats.pending_rows <= 1000  # the buffer stays bounded
    assert stats.dropped_rows > 0
    await store._w.execute("PRAGMA max_page_count = 1073741823")
    clock.advance(60)
    rec.tick()
    assert await flusher.flush(force=True)
    dropped = await store.aggregate("monitor_dropped_rows", clock() - 86400, clock() + 60)
    assert dropped.sum == stats.dropped_rows  # the drop is itself a stored metric
    await store.close()


async def test_missing_folder_is_retried(tmp_path: Path, clock: FakeClock) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    rec, store, flusher = make(blocker / "monitoring.db", clock)
    rec.message(1, 1)
    assert await flusher.flush() is False
    assert str(blocker) in (flusher.stats.last_error or "")
    assert not store.is_open
    blocker.unlink()
    clock.advance(120)
    rec.tick()
    rec.message(1, 2)
    assert await flusher.flush()
    assert await messages_stored(store, clock) == 2  # nothing recorded during the outage was lost
    await store.close()


@pytest.mark.parametrize(
    "content",
    [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["garbage", "damaged-header"],
)
async def test_corrupt_file_is_refused_and_left_untouched(
    db_path: Path, clock: FakeClock, content: bytes
) -> None:
    db_path.write_bytes(content)
    store = SQLiteStore(db_path, clock=clock)
    _OPEN.append(store)
    with pytest.raises(StoreCorrupt) as info:
        await store.open()
    assert str(db_path) in str(info.value)
    assert db_path.read_bytes() == content
    # through the flusher: reported, nothing raised, the file still untouched
    rec, _store2, flusher = make(db_path, clock)
    rec.message(1, 1)
    assert await flusher.flush() is False
    assert str(db_path) in (flusher.stats.last_error or "")
    assert db_path.read_bytes() == content


async def test_foreign_database_is_refused(db_path: Path, clock: FakeClock) -> None:
    other = sqlite3.connect(db_path)
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    other.execute("INSERT INTO invoices VALUES (1, 9.5)")
    other.commit()
    other.close()
    before = db_path.read_bytes()
    store = SQLiteStore(db_path, clock=clock)
    with pytest.raises(StoreCorrupt, match="another application"):
        await store.open()
    assert db_path.read_bytes() == before


async def test_newer_schema_is_refused(db_path: Path, clock: FakeClock) -> None:
    store = SQLiteStore(db_path, clock=clock)
    await store.open()
    async with store.transaction() as conn:
        await conn.execute("UPDATE schema_versions SET version = 99 WHERE component = 'core'")
    await store.close()
    with pytest.raises(StoreCorrupt, match="newer than this program knows"):
        await SQLiteStore(db_path, clock=clock).open()


async def test_close_flushes_everything(db_path: Path, clock: FakeClock) -> None:
    rec, store, flusher = make(db_path, clock)
    assert await flusher.flush()
    for i in range(100):
        rec.message(1, i)
    assert await flusher.close()
    assert await messages_stored(store, clock) == 100
    await store.close()


async def test_a_new_database_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "private" / "monitoring.db"
    store = SQLiteStore(path)
    await store.open()
    try:
        async with store.transaction() as conn:
            await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('x', 'y')")
        files = [path, *path.parent.glob("monitoring.db-*")]
        assert len(files) == 3  # the database, its -wal and its -shm
        for file in files:
            assert file.stat().st_mode & 0o777 == 0o600, file
        assert path.parent.stat().st_mode & 0o777 == 0o700  # a folder it made is private too
    finally:
        await store.close()


async def test_an_existing_readable_file_keeps_its_mode_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    path.chmod(0o644)
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    assert path.stat().st_mode & 0o777 == 0o644
    assert "can be read by other users" in caplog.text


async def test_a_drop_count_lost_to_a_second_outage_is_counted_again(
    db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, store, flusher = make(db_path, clock, max_rows=1000)
    assert await flusher.flush()
    write = store.write
    state = {"down": True, "refuse_drop_count": True}

    async def flaky_write(batch: Any) -> None:
        carries_count = any(r[0] == "monitor_dropped_rows" for r in batch.minute_rows)
        if state["down"] or (carries_count and state["refuse_drop_count"]):
            state["down"] = True  # the second outage starts as the drop count is written
            raise StoreUnavailable("database is locked")
        await write(batch)

    monkeypatch.setattr(store, "write", flaky_write)

    async def traffic(minutes: int) -> None:
        for _ in range(minutes):
            for guild in range(1, 30):
                rec.message(guild, guild)
            clock.advance(60)
            rec.tick()
            await flusher.flush(force=True)

    await traffic(40)  # outage 1: rows dropped
    first = flusher.stats.dropped_rows
    assert first > 0
    state["down"] = False
    await traffic(1)  # back: the backlog is written, the drop count's batch is refused
    await traffic(40)  # outage 2: that batch is among those dropped
    state["down"] = state["refuse_drop_count"] = False
    await traffic(2)
    assert await flusher.flush(force=True)
    stats = flusher.stats
    assert stats.dropped_rows > first
    dropped = await store.aggregate("monitor_dropped_rows", clock() - 86400, clock() + 60)
    assert dropped.sum == stats.dropped_rows  # no drop went uncounted
