"""Deterministic synthetic metrics for tests, benchmarks and demos of reports and alerts.

:func:`synthetic_batch` builds one :class:`~monitoring.recorder.Batch` of per-minute rows (only for
the last ``minute_days`` days, as retention would keep them), per-hour rows and daily user sets,
with a daily and weekly rhythm, so that baselines, reports and charts have something real-looking
to work on. Rows are built directly (no recorder), which makes 30 days take well under a second.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from .. import histogram
from ..recorder import Batch, RollupRow, UserRow, hash_user

__all__ = ["activity_shape", "synthetic_batch"]

log = logging.getLogger(__name__)

DAY = 86400


def activity_shape(ts: float) -> float:
    """A 0.2..1.0 multiplier: quiet at night (UTC), busy in the evening, livelier at weekends."""
    hour = (ts % DAY) / 3600
    daily = 0.6 + 0.4 * math.sin((hour - 9) / 24 * 2 * math.pi)
    weekday = int(ts // DAY + 4) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    return max(0.2, min(1.0, daily * (1.15 if weekday >= 5 else 1.0)))


def synthetic_batch(
    end: float,
    days: int = 7,
    *,
    minute_days: int = 7,
    seed: int = 1,
    guilds: Sequence[int] = (111111111111111111,),
    commands: Sequence[str] = ("ping", "stats", "play", "help", "rank"),
    messages_per_minute: float = 20.0,
    users: int = 300,
    error_rate: float = 0.02,
    shape: Callable[[float], float] = activity_shape,
) -> Batch:
    """``days`` of metrics ending at ``end`` (whole minutes), as one batch for ``store.write``."""
    rng = random.Random(seed)
    salt = b"synthetic-salt!!"
    first = int(end // 60) * 60 - days * DAY
    minute_floor = int(end) - minute_days * DAY
    # key (metric, guild, command, shard, kind, ts) -> [count, sum, min, max, {bucket: n} | None]
    minutes: dict[tuple[str, int, str, int, str, int], list[Any]] = {}
    user_days: set[UserRow] = set()
    hashes = [hash_user(salt, uid) for uid in range(1000, 1000 + users)]
    core = len(hashes) * 2 // 5
    for day in range(first // DAY * DAY, first + days * DAY, DAY):
        for i, uh in enumerate(hashes):
            if rng.random() < (0.8 if i < core else 0.15):
                user_days.add((day, guilds[i % len(guilds)], uh))
                user_days.add((day, 0, uh))

    def acc(key: tuple[str, int, str, int, str, int], hist: bool) -> list[Any]:
        a = minutes.get(key)
        if a is None:
            a = minutes[key] = [0, 0.0, math.inf, -math.inf, {} if hist else None]
        return a

    def add(
        metric: str, ts: int, value: float, count: int = 1, guild: int = 0, command: str = ""
    ) -> None:
        for key in _keys(metric, ts, guild, command):
            a = acc(key, False)
            a[0] += count
            a[1] += value
            a[2] = min(a[2], value / count)
            a[3] = max(a[3], value / count)

    def observe(
        metric: str, ts: int, values: list[float], guild: int = 0, command: str = ""
    ) -> None:
        idx = [histogram.bucket_index(v) for v in values]
        total, lo, hi = sum(values), min(values), max(values)
        for key in _keys(metric, ts, guild, command):
            a = acc(key, True)
            a[0] += len(values)
            a[1] += total
            a[2] = min(a[2], lo)
            a[3] = max(a[3], hi)
            b = a[4]
            for i in idx:
                b[i] = b.get(i, 0) + 1

    per_guild = messages_per_minute / len(guilds)
    for ts in range(first, first + days * DAY, 60):
        level = shape(ts)
        for guild in guilds:
            n = rng.randint(0, max(1, int(2 * per_guild * level)))
            if n:
                add("messages", ts, float(n), n, guild)
            for command in commands:
                calls = rng.randint(0, max(1, int(3 * level)))
                if not calls:
                    continue
                base = 400.0 if command == "play" else 80.0
                values = [rng.lognormvariate(math.log(base), 0.5) for _ in range(calls)]
                observe("command_latency_ms", ts, values, guild, command)
                errors = sum(1 for _ in range(calls) if rng.random() < error_rate)
                if errors:
                    add("command_errors", ts, float(errors), errors, guild, command)
        observe("loop_lag_ms", ts, [rng.expovariate(1 / 3.0) for _ in range(6)])
        add("cpu_percent", ts, 20 + 30 * level + rng.random() * 5)
        add("memory_percent", ts, 40 + rng.random() * 3)
        add("disk_percent", ts, 55.0)
        n_users = max(1, int(15 * level))
        add("users", ts, float(n_users), n_users)

    minute_rows: list[RollupRow] = []
    hours: dict[tuple[str, int, str, int, str, int], list[Any]] = {}
    for (metric, g, c, shard, kind, ts), (count, total, lo, hi, buckets) in minutes.items():
        if ts >= minute_floor:
            blob = histogram.encode(buckets) if buckets is not None else None
            minute_rows.append((metric, g, c, shard, kind, ts, count, total, lo, hi, blob))
        hkey = (metric, g, c, shard, kind, ts // 3600 * 3600)
        h = hours.get(hkey)
        if h is None:
            h = hours[hkey] = [0, 0.0, math.inf, -math.inf, {} if buckets is not None else None]
        h[0] += count
        h[1] += total
        h[2] = min(h[2], lo)
        h[3] = max(h[3], hi)
        if buckets is not None:
            hb = h[4]
            for i, n in buckets.items():
                hb[i] = hb.get(i, 0) + n
    hour_rows: list[RollupRow] = [
        (*key, a[0], a[1], a[2], a[3], histogram.encode(a[4]) if a[4] is not None else None)
        for key, a in hours.items()
    ]
    return Batch(tuple(minute_rows), tuple(hour_rows), (), tuple(sorted(user_days)))


def _keys(
    metric: str, ts: int, guild: int, command: str
) -> list[tuple[str, int, str, int, str, int]]:
    """The row itself and its "all guilds" / "all commands" aggregates (as the recorder does)."""
    keys = [(metric, 0, "", -1, "", ts)]
    if guild:
        keys.append((metric, guild, "", -1, "", ts))
    if command:
        keys.append((metric, 0, command, -1, "", ts))
        if guild:
            keys.append((metric, guild, command, -1, "", ts))
    return keys
