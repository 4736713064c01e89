from __future__ import annotations

from pathlib import Path

from monitoring import FakeClock, Recorder
from monitoring.store.base import choose_step
from monitoring.store.sqlite import SQLiteStore


async def fill(rec: Recorder, clock: FakeClock, store: SQLiteStore, minutes: int) -> None:
    """One message and one command per minute in guild 1 (latency grows with the minute)."""
    for m in range(minutes):
        rec.message(1, m % 5)
        rec.command("ping", "slash", 1, m % 5, float(m + 1), m % 10 != 0)
        clock.advance(60)
        rec.tick()
        if m % 30 == 29:
            await store.write(rec.drain())
    await store.write(rec.drain())


async def test_series_resolution_follows_range(store, recorder, clock) -> None:  # type: ignore[no-untyped-def]
    await fill(recorder, clock, store, 180)
    now = clock()
    hour = await store.series("messages", now - 3600, now)
    assert len(hour) == 60 and all(p.count == 1 for p in hour)
    assert {p.ts % 60 for p in hour} == {0}
    day = await store.series("messages", now - 86400, now)
    assert choose_step(86400) == 300
    assert sum(p.count for p in day) == 180
    assert all(p.ts % 300 == 0 for p in day)
    month = await store.series("messages", now - 30 * 86400, now)
    assert sum(p.count for p in month) == 180  # from hourly rollups
    assert all(p.ts % 3600 == 0 for p in month)


async def test_hour_rollups_equal_minute_rows(store, recorder, clock) -> None:  # type: ignore[no-untyped-def]
    await fill(recorder, clock, store, 150)
    minute = await store.fetchall(
        "SELECT SUM(count), SUM(sum) FROM rollup_minute WHERE metric='command_latency_ms' "
        "AND guild=0 AND command=''"
    )
    hour = await store.fetchall(
        "SELECT SUM(count), SUM(sum) FROM rollup_hour WHERE metric='command_latency_ms' "
        "AND guild=0 AND command=''"
    )
    assert minute == hour == [(150, sum(range(1, 151)))]


async def test_aggregate_percentiles_and_edges(store, recorder, clock) -> None:  # type: ignore[no-untyped-def]
    await fill(recorder, clock, store, 300)  # five hours
    now = clock()
    agg = await store.aggregate("command_latency_ms", now - 300 * 60, now)
    assert agg.count == 300
    assert agg.min == 1.0 and agg.max == 300.0
    assert agg.p50 is not None and abs(agg.p50 / 150 - 1) < 0.1
    assert agg.p95 is not None and abs(agg.p95 / 285 - 1) < 0.1
    # a range that is not aligned to hours: minute edges + hour middle, no double counting
    part = await store.aggregate("command_latency_ms", now - 250 * 60 + 30, now - 10 * 60)
    assert part.count == 239  # minutes whose start lies in the range: 51..289
    errors = await store.aggregate("command_errors", now - 300 * 60, now)
    assert errors.sum == 30


async def test_a_range_ending_just_after_a_minute_turns_reads_that_minute(
    store: SQLiteStore, recorder: Recorder, clock: FakeClock
) -> None:
    # /stats a moment after the minute (here also the hour) turned: the new minute's row is
    # stamped with the same whole second as the end of the range, and lies inside it
    clock.advance(3600.25)
    recorder.tick()
    recorder.message(1, 7)
    await store.write(recorder.drain())
    now = clock()
    assert (await store.aggregate("messages", now - 3600, now)).count == 1
    assert (await store.aggregate("messages", now - 86400, now, guild=1)).count == 1
    assert (await store.aggregate("messages", now - 86400, now - 0.5)).count == 0
    assert [p.count for p in await store.series("messages", now - 3600, now)] == [1]
    assert [p.count for p in await store.series("messages", now - 30 * 86400, now)] == [1]
    assert await store.distinct_users(now - 3600, now) == 1


async def test_top_change_and_command_stats(store, recorder, clock) -> None:  # type: ignore[no-untyped-def]
    for i in range(30):
        recorder.command("slow", "slash", 1, 1, 900.0 + i, True)
        recorder.command("fast", "prefix", 2, 2, 5.0, i % 3 != 0)
    recorder.command("fast", "prefix", 2, 2, 5.0, True)
    await store.write(recorder.drain())
    now = clock() + 60
    top = await store.top("command_latency_ms", now - 3600, now)
    assert [t.label for t in top] == ["fast", "slow"]
    by_p95 = await store.top("command_latency_ms", now - 3600, now, order="p95")
    assert by_p95[0].label == "slow"
    guilds = await store.top("messages", now - 3600, now, by="guild")
    assert guilds == []
    stats = {s.command: s for s in await store.command_stats(now - 3600, now)}
    assert stats["fast"].errors == 10 and stats["fast"].count == 31
    assert abs(stats["fast"].error_rate - 10 / 31) < 1e-9
    assert stats["slow"].p95 is not None and stats["slow"].p95 > 850
    only_g1 = await store.command_stats(now - 3600, now, guild=1)
    assert [s.command for s in only_g1] == ["slow"]
    clock.advance(3600)
    recorder.tick()
    recorder.command("fast", "prefix", 2, 2, 5.0, True)
    await store.write(recorder.drain())
    change = await store.change("command_latency_ms", clock() - 3600 + 60, clock() + 60)
    assert change.current == 5.0 and change.previous > 0


async def test_distinct_users(store, recorder, clock) -> None:  # type: ignore[no-untyped-def]
    for uid in range(20):
        recorder.message(1, uid)
    await store.write(recorder.drain())
    clock.advance(86400)
    recorder.tick()
    for uid in range(10, 30):
        recorder.message(2, uid)
    await store.write(recorder.drain())
    now = clock() + 60
    assert await store.distinct_users(now - 3600, now) == 20
    assert await store.distinct_users(now - 2 * 86400, now) == 30
    assert await store.distinct_users(now - 2 * 86400, now, guild=1) == 20
    rows = await store.fetchall("SELECT user_hash FROM user_days")
    assert all(r[0] not in range(30) for r in rows)


async def test_restart_continuity_keeps_salt_and_counts(db_path: Path, clock: FakeClock) -> None:
    first = SQLiteStore(db_path, clock=clock)
    await first.open()
    salt = first.salt
    rec = Recorder(salt=salt, clock=clock)
    for _ in range(5):
        rec.message(1, 1)
    await first.write(rec.drain())
    await first.close()

    second = SQLiteStore(db_path, clock=clock)
    await second.open()
    assert second.salt == salt
    rec2 = Recorder(salt=second.salt, clock=clock)
    for _ in range(3):
        rec2.message(1, 1)
    await second.write(rec2.drain())  # same minute: the upsert adds up
    agg = await second.aggregate("messages", clock() - 3600, clock() + 60)
    assert agg.count == 8
    await second.close()


async def test_retention_deletes_by_age(store, recorder, clock) -> None:  # type: ignore[no-untyped-def]
    recorder.command("ping", "slash", 1, 1, 3.0, True)
    await store.write(recorder.drain())
    clock.advance(3 * 86400)
    recorder.tick()
    recorder.command("ping", "slash", 1, 1, 3.0, True)
    await store.write(recorder.drain())
    deleted = await store.apply_retention(clock())
    assert deleted > 0
    raw = await store.fetchall("SELECT COUNT(*) FROM command_log")
    assert raw == [(1,)]  # the 3-day-old raw row is past 48 h
    hours = await store.fetchall("SELECT COUNT(DISTINCT ts) FROM rollup_hour")
    assert hours == [(2,)]  # hourly rollups keep 30 days
    clock.advance(8 * 86400)
    await store.apply_retention(clock())
    minutes = await store.fetchall("SELECT COUNT(*) FROM rollup_minute")
    assert minutes == [(0,)]
    clock.advance(30 * 86400)
    await store.apply_retention(clock())
    assert await store.fetchall("SELECT COUNT(*) FROM rollup_hour") == [(0,)]
    assert await store.fetchall("SELECT COUNT(*) FROM user_days") == [(0,)]


async def test_raw_series_matches_rollup_series(store, recorder, clock) -> None:  # type: ignore[no-untyped-def]
    await fill(recorder, clock, store, 60)
    now = clock()
    raw = await store.raw_command_series(now - 3600, now)
    rolled = await store.series("command_latency_ms", now - 3600, now, step=60)
    assert [p.count for p in raw] == [p.count for p in rolled]
    assert [p.sum for p in raw] == [p.sum for p in rolled]
    recent = await store.recent_commands(5)
    assert len(recent) == 5 and recent[0][0] >= recent[-1][0]


async def test_readonly_store_reads_but_refuses_writes(store, recorder, clock, db_path) -> None:  # type: ignore[no-untyped-def]
    recorder.message(1, 1)
    await store.write(recorder.drain())
    viewer = SQLiteStore(db_path, clock=clock, readonly=True)
    await viewer.open()
    assert (await viewer.aggregate("messages", clock() - 60, clock() + 60)).count == 1
    from monitoring import StoreReadOnly

    try:
        await viewer.write(recorder.drain())
    except StoreReadOnly as exc:
        assert "read-only" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a read-only store must refuse writes")
    await viewer.close()


async def test_guild_top_commands_over_long_ranges_miss_nothing_and_count_once(
    store, recorder, clock
) -> None:  # type: ignore[no-untyped-def]
    """Daily guild x command rows are released hourly; the watermark fills the gap from raw."""
    for i in range(10):
        recorder.command("play", "slash", 7, i, 100.0 + i, i != 0)
    await store.write(recorder.drain())
    day = 86400
    top = await store.top("command_latency_ms", clock() - day, clock() + 60, guild=7)
    assert [(t.label, t.aggregate.count) for t in top] == [("play", 10)]  # from raw so far
    errors = await store.top("command_errors", clock() - day, clock() + 60, guild=7)
    assert [(t.label, t.aggregate.sum) for t in errors] == [("play", 1.0)]

    clock.advance(3600)  # the hour is over: the daily rows are released with a watermark
    recorder.tick()
    recorder.command("play", "slash", 7, 1, 500.0, True)
    batch = recorder.drain()
    assert batch.day_watermark is not None and any(
        r[1] == 7 and r[2] == "play" for r in batch.day_rows
    )
    await store.write(batch)
    top = await store.top("command_latency_ms", clock() - day, clock() + 60, guild=7)
    assert top[0].aggregate.count == 11  # 10 from the daily row, 1 from raw: none twice
    assert top[0].aggregate.max == 500.0
    assert top[0].aggregate.p95 is not None and top[0].aggregate.p95 > 100
    week = await store.top("command_latency_ms", clock() - 7 * day, clock() + 60, guild=7)
    assert week[0].aggregate.count == 11

    final = recorder.drain(final=True)  # shutdown releases the rest
    await store.write(final)
    top = await store.top("command_latency_ms", clock() - day, clock() + 60, guild=7)
    assert top[0].aggregate.count == 11


async def test_guild_24h_series_reads_minute_rows(store, recorder, clock) -> None:  # type: ignore[no-untyped-def]
    """A guild's "last 24 h" keeps 5-minute points: per-guild minute rows cover exactly 24 h."""
    for _ in range(24 * 6):
        recorder.message(5, 1)
        clock.advance(600)
        recorder.tick()
    await store.write(recorder.drain())
    await store.apply_retention(clock())
    now = clock()
    points = await store.series("messages", now - 86400, now, guild=5)
    assert any(p.ts % 3600 for p in points)  # 5-minute steps, not hourly rows
    assert sum(p.count for p in points) == 24 * 6
