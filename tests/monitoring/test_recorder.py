from __future__ import annotations

from monitoring import FakeClock, Recorder
from monitoring.recorder import MAX_COMMANDS, hash_user

SALT = b"s" * 16


def rows_by_key(rows, metric):  # type: ignore[no-untyped-def]
    return {(r[1], r[2], r[5]): r for r in rows if r[0] == metric}


def test_events_belong_to_the_minute_of_the_last_tick() -> None:
    clock = FakeClock(1_767_225_600.0 + 59.5)  # half a second before a minute boundary
    rec = Recorder(salt=SALT, clock=clock)
    rec.message(1, 10)
    clock.advance(1.0)  # next minute; no tick yet
    rec.message(1, 11)
    rec.tick()
    rec.message(1, 12)
    rec.message(1, 13)
    batch = rec.drain()
    by = rows_by_key(batch.minute_rows, "messages")
    m0, m1 = 1_767_225_600, 1_767_225_660
    assert by[(1, "", m0)][6] == 2  # both events before the tick stay in the first minute
    assert by[(1, "", m1)][6] == 2
    assert by[(0, "", m0)][6] == 2  # the "all guilds" row is derived at drain
    hours = rows_by_key(batch.hour_rows, "messages")
    assert hours[(0, "", 1_767_225_600)][6] == 4


def test_fanout_of_commands_to_all_guilds_and_all_commands() -> None:
    clock = FakeClock(1_767_225_600.0)
    rec = Recorder(salt=SALT, clock=clock)
    rec.command("ping", "slash", 5, 1, 10.0, True)
    rec.command("ping", "prefix", 6, 2, 30.0, False, error_type="ValueError")
    rec.command("stats", "slash", 5, 1, 100.0, True, first_response_ms=3500.0)
    batch = rec.drain()
    lat = rows_by_key(batch.minute_rows, "command_latency_ms")
    ts = 1_767_225_600
    assert lat[(0, "", ts)][6] == 3  # all guilds, all commands
    assert lat[(5, "", ts)][6] == 2
    ping = [r for r in batch.minute_rows if r[0] == "command_latency_ms" and r[1:3] == (0, "ping")]
    assert sorted((r[4], r[6], r[8]) for r in ping) == [("prefix", 1, 30.0), ("slash", 1, 10.0)]
    errors = rows_by_key(batch.minute_rows, "command_errors")
    assert errors[(0, "", ts)][7] == 1.0
    missed = rows_by_key(batch.minute_rows, "interaction_deadline_missed")
    assert missed[(0, "stats", ts)][7] == 1.0
    # raw rows carry the salted hash, never the user id
    assert {r[6] for r in batch.commands} == {hash_user(SALT, 1), hash_user(SALT, 2)}
    assert all(r[6] not in (1, 2) for r in batch.commands)
    assert batch.commands[1][5] == 0 and batch.commands[1][7] == "ValueError"


def test_distinct_users_per_minute_hour_day_without_double_counting() -> None:
    clock = FakeClock(1_767_225_600.0)
    rec = Recorder(salt=SALT, clock=clock)
    for uid in (1, 2, 3, 1, 2):
        rec.message(7, uid)
    first = rec.drain()
    rec.message(7, 1)  # same minute, already counted
    rec.message(7, 4)  # new
    second = rec.drain()
    clock.advance(60)
    rec.tick()
    rec.message(8, 1)  # new minute, another guild
    third = rec.drain()
    users = [r for b in (first, second, third) for r in b.minute_rows if r[0] == "users"]
    per_minute_all = {}
    for r in users:
        if r[1] == 0:
            per_minute_all[r[5]] = per_minute_all.get(r[5], 0) + r[6]
    assert per_minute_all == {1_767_225_600: 4, 1_767_225_660: 1}
    hour_all = sum(
        r[6] for b in (first, second, third) for r in b.hour_rows if r[:2] == ("users", 0)
    )
    assert hour_all == 4
    day_rows = [r for b in (first, second, third) for r in b.user_days]
    assert len(set(day_rows)) == 4 and {r[1] for r in day_rows} == {0}  # hashes: all guilds
    per_day: dict[int, int] = {}
    for b in (first, second, third):
        for r in b.day_rows:
            if r[0] == "users":
                per_day[r[1]] = per_day.get(r[1], 0) + r[6]
    assert per_day == {0: 4, 7: 4, 8: 1}  # exact distinct users per guild per day


def test_gauges_keep_count_sum_min_max_and_last_value() -> None:
    rec = Recorder(salt=SALT, clock=FakeClock(1_767_225_600.0))
    for v in (10.0, 30.0, 20.0):
        rec.gauge("cpu_percent", v)
    (row,) = [r for r in rec.drain().minute_rows if r[0] == "cpu_percent"]
    assert row[6:10] == (3, 60.0, 10.0, 30.0)
    assert rec.last_gauges[("cpu_percent", 0, "", -1, "")] == 20.0


def test_bound_handles_match_generic_calls() -> None:
    rec = Recorder(salt=SALT, clock=FakeClock(1_767_225_600.0))
    hist = rec.histogram("llm_ms", command="ask")
    counter = rec.counter("jobs")
    for v in (5.0, 50.0, 500.0):
        hist.observe(v)
        rec.observe("llm_ms", v, command="ask")
    counter.inc()
    counter.inc(2)
    batch = rec.drain()
    (llm,) = [r for r in batch.minute_rows if r[0] == "llm_ms" and r[2] == "ask"]
    assert llm[6] == 6 and llm[7] == 1110.0
    (jobs,) = [r for r in batch.minute_rows if r[0] == "jobs"]
    assert jobs[7] == 3.0
    # the bound handle follows the window after a drain
    hist.observe(1.0)
    (again,) = [r for r in rec.drain().minute_rows if r[0] == "llm_ms" and r[2] == "ask"]
    assert again[6] == 1


def test_command_labels_are_bounded() -> None:
    rec = Recorder(salt=SALT, clock=FakeClock(1_767_225_600.0))
    for i in range(MAX_COMMANDS + 20):
        rec.command(f"cmd{i}", "slash", 0, 1, 1.0, True)
    batch = rec.drain()
    names = {r[2] for r in batch.minute_rows if r[0] == "command_latency_ms"}
    assert len(names) == MAX_COMMANDS + 2  # the kept names, "" (all) and "(other)"
    (other,) = [r for r in batch.minute_rows if r[0] == "command_latency_ms" and r[2] == "(other)"]
    assert other[6] == 20


def test_own_messages_are_counted_apart() -> None:
    rec = Recorder(salt=SALT, clock=FakeClock(1_767_225_600.0))
    rec.own_message(3)
    rec.message(3, 9)
    rows = rec.drain().minute_rows
    assert {r[0] for r in rows if r[1] == 3} == {"messages", "messages_own", "users"}


def test_drain_without_salt_raises_and_trim_bounds_memory() -> None:
    clock = FakeClock(1_767_225_600.0)
    rec = Recorder(clock=clock)
    for _ in range(10):
        rec.message(1, 1)
        clock.advance(60)
        rec.tick()
    assert rec.trim(max_windows=3) == 7
    assert rec.pending_windows == 4
    try:
        rec.drain()
    except RuntimeError as exc:
        assert "salt" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("drain without a salt must fail")
