"""In-memory recording of metrics, cheap enough for a bot's hottest path.

Events land in the *current window* without reading the clock: :meth:`Recorder.tick` (called about
once a second by the collector loop, with ``now``) opens a new window when the minute changes, so
an event is attributed to the minute that was current at the last tick (at most a tick late).
:meth:`Recorder.drain` closes the windows and returns a :class:`Batch` of per-minute and per-hour
rollup rows, raw command rows and distinct-user rows for the store.

Labels are a small fixed set: ``guild`` (0 = all guilds), ``command`` ("" = all commands),
``shard`` (-1 = none) and ``kind`` ("slash", "prefix", ...). Rows for "all guilds" and "all
commands" are computed at drain time, off the hot path, so queries never sum thousands of rows.

Distinct users: exact sets of salted 64-bit hashes. A bot's daily users are few enough for exact
sets (a HyperLogLog sketch would save memory but cannot answer D1/D7 retention, which needs to know
*which* users came back). Raw user ids live in memory only until the next drain (a few seconds);
only their salted hashes are kept longer, and only hashes reach the database.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
from bisect import bisect_left
from collections.abc import Callable, Iterable
from itertools import compress

from . import histogram
from .clock import Clock, system_clock

__all__ = [
    "MAX_COMMANDS",
    "MAX_METRICS",
    "Batch",
    "BoundCounter",
    "BoundHistogram",
    "Closed",
    "CommandRow",
    "Key",
    "Recorder",
    "RollupRow",
    "UserRow",
    "hash_user",
]

log = logging.getLogger(__name__)

Key = tuple[str, int, str, int, str]
"""(metric, guild, command, shard, kind)."""

RollupRow = tuple[str, int, str, int, str, int, int, float, float, float, bytes | None]
"""(metric, guild, command, shard, kind, ts, count, sum, min, max, buckets)."""

CommandRow = tuple[int, int, str, str, float, int, int, str]
"""(ts_ms, guild, command, kind, latency_ms, ok, user_hash, error_type)."""

UserRow = tuple[int, int, int]
"""(day_start_ts, guild, user_hash)."""

MAX_COMMANDS = 500
"""Distinct command labels kept; later new names are folded into ``"(other)"``."""
MAX_METRICS = 500
"""Distinct metric names kept; later new names are dropped and counted."""
DEADLINE_MS = 3000.0
"""Discord's interaction deadline: the first response must arrive within 3 s."""

_BOUNDS = list(histogram.BOUNDS)
_INDICES = range(histogram.NUM_BUCKETS)
_NB = histogram.NUM_BUCKETS


def hash_user(salt: bytes, user_id: int) -> int:
    """Salted 64-bit hash of a user id, as a signed integer (fits SQLite INTEGER)."""
    digest = hashlib.blake2b(
        user_id.to_bytes(8, "little", signed=False), key=salt, digest_size=8
    ).digest()
    return int.from_bytes(digest, "little", signed=True)


_INF = float("inf")
_MASK64 = (1 << 64) - 1
_TWO63 = 1 << 63
_TWO64 = 1 << 64


def _new_hist() -> list[float]:
    """A window's histogram: ``[sum, min, max, bucket counts...]`` (count = sum of buckets)."""
    h: list[float] = [0.0, _INF, -_INF]
    h.extend([0] * _NB)
    return h


class _Window:
    """Everything recorded since the last drain (or minute change)."""

    __slots__ = ("commands", "counters", "gauges", "hists", "messages", "minute", "own", "users")

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self.messages: collections.defaultdict[int, int] = collections.defaultdict(int)
        self.own: collections.defaultdict[int, int] = collections.defaultdict(int)
        self.users: set[tuple[int, int]] = set()
        self.counters: dict[Key, float] = {}
        self.hists: dict[Key, list[float]] = {}
        self.gauges: dict[Key, list[float]] = {}
        self.commands: list[tuple[float, int, str, str, float, bool, int, str]] = []


class BoundCounter:
    """A counter with fixed labels; see :meth:`Recorder.counter`."""

    __slots__ = ("_key", "_rec", "_window")

    def __init__(self, rec: Recorder, key: Key) -> None:
        self._rec = rec
        self._key = key
        self._window: _Window | None = None

    def inc(self, value: float = 1.0) -> None:
        w = self._rec._cur
        c = w.counters
        key = self._key
        c[key] = c.get(key, 0.0) + value


class BoundHistogram:
    """A histogram with fixed labels; see :meth:`Recorder.histogram`."""

    __slots__ = ("_h", "_key", "_rec", "_window")

    def __init__(self, rec: Recorder, key: Key) -> None:
        self._rec = rec
        self._key = key
        self._window: _Window | None = None
        self._h: list[float] = []

    def observe(self, value: float) -> None:
        w = self._rec._cur
        if w is not self._window:
            self._window = w
            h = w.hists.get(self._key)
            if h is None:
                h = w.hists[self._key] = _new_hist()
            self._h = h
        h = self._h
        h[0] += value
        if value < h[1]:
            h[1] = value
        if value > h[2]:
            h[2] = value
        h[bisect_left(_BOUNDS, value) + 3] += 1


@dataclasses.dataclass(frozen=True, slots=True)
class Batch:
    """Rows drained from the recorder, written to the store in one transaction."""

    minute_rows: tuple[RollupRow, ...] = ()
    hour_rows: tuple[RollupRow, ...] = ()
    commands: tuple[CommandRow, ...] = ()
    user_days: tuple[UserRow, ...] = ()
    day_rows: tuple[RollupRow, ...] = ()
    day_watermark: float | None = None
    """Per-guild x per-command daily rows are complete up to this time (None: unchanged)."""

    def __len__(self) -> int:
        return (
            len(self.minute_rows)
            + len(self.hour_rows)
            + len(self.day_rows)
            + len(self.commands)
            + len(self.user_days)
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Closed:
    """Windows handed over by :meth:`Recorder.swap`, waiting for :meth:`Recorder.aggregate`."""

    windows: list[_Window]
    now: float
    final: bool
    current_minute: int
    """Start of the window recording continues into (held daily rows before its hour are due)."""


class _Agg:
    """A rollup accumulator used while draining (count, sum, min, max, sparse buckets)."""

    __slots__ = ("buckets", "count", "max", "min", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")
        self.buckets: dict[int, int] | None = None

    def add_value(self, count: int, total: float, lo: float, hi: float) -> None:
        self.count += count
        self.sum += total
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    def add_buckets(self, sparse: dict[int, int]) -> None:
        if self.buckets is None:
            self.buckets = dict(sparse)
            return
        b = self.buckets
        for i, c in sparse.items():
            b[i] = b.get(i, 0) + c

    def row(self, key: Key, ts: int) -> RollupRow:
        blob = histogram.encode(self.buckets) if self.buckets is not None else None
        return (*key, ts, self.count, self.sum, self.min, self.max, blob)


class _Drained:
    """Rows being collected by one drain."""

    __slots__ = ("commands", "days", "hours", "minute_rows", "user_days")

    def __init__(self) -> None:
        self.minute_rows: list[RollupRow] = []
        self.hours: dict[tuple[Key, int], _Agg] = {}
        self.days: dict[tuple[Key, int], _Agg] = {}
        self.commands: list[CommandRow] = []
        self.user_days: list[UserRow] = []

    @staticmethod
    def merge(target: dict[tuple[Key, int], _Agg], slot: tuple[Key, int], a: _Agg) -> None:
        h = target.get(slot)
        if h is None:
            h = target[slot] = _Agg()
        h.add_value(a.count, a.sum, a.min, a.max)
        if a.buckets is not None:
            h.add_buckets(a.buckets)


def _fanout(key: Key) -> Iterable[Key]:
    """The key itself plus its "all guilds" / "all commands" aggregates."""
    metric, guild, command, shard, kind = key
    yield key
    if guild:
        yield (metric, 0, command, shard, kind)
    if command:
        yield (metric, guild, "", shard, "")
        if guild:
            yield (metric, 0, "", shard, "")


class Recorder:
    """Counters, gauges, histograms, messages, commands and distinct users, aggregated per minute.

    ``salt`` is the per-install secret used to hash user ids (the store keeps it; it may be set
    later with :meth:`set_salt`, but :meth:`drain` needs it); ``clock`` supplies "now" where the
    caller does not.
    """

    def __init__(self, *, salt: bytes | None = None, clock: Clock = system_clock) -> None:
        self._salt = salt
        self._clock = clock
        self._cur = _Window(int(clock() // 60) * 60)
        self._sealed: list[_Window] = []
        self._known_commands: set[str] = set()
        self._known_metrics: set[str] = set()
        # hashes seen in the current minute / hour, per guild (0 = all), for distinct counts
        # as sets of plain ints (guild << 64 | unsigned hash): a set of millions of tuples at
        # 100,000 guilds made every full garbage collection of the process take 100+ ms
        self._seen_minute: tuple[int, set[int]] = (self._cur.minute, set())
        self._seen_hour: tuple[int, set[int]] = (self._cur.minute // 3600 * 3600, set())
        self._seen_day: tuple[int, set[int]] = (
            self._cur.minute // 86400 * 86400,
            set(),
        )
        self._hash_cache: dict[int, int] = {}
        self.last_gauges: dict[Key, float] = {}
        """The latest value of every gauge (for live views)."""
        self.totals: dict[str, float] = {}
        """Per-metric totals since start (all guilds), updated at drain."""
        self.dropped_labels = 0
        # per-guild x per-command daily rows, by the hour they came from (see drain)
        self._held_days: dict[int, dict[tuple[Key, int], _Agg]] = {}
        self.on_drain: list[Callable[[Batch], None]] = []
        """Called with every drained batch (the Prometheus exposition keeps cumulative totals)."""

    # -- hot path -----------------------------------------------------------------------------

    def message(self, guild_id: int, user_id: int) -> None:
        """One message from a user (never its content). ``guild_id`` 0 for direct messages."""
        w = self._cur
        w.messages[guild_id] += 1
        w.users.add((guild_id, user_id))

    def messages_bulk(self, guild_id: int, count: int, user_ids: Iterable[int] = ()) -> None:
        """``count`` messages at once from ``user_ids`` (for backfills and simulations)."""
        w = self._cur
        w.messages[guild_id] += count
        w.users.update((guild_id, u) for u in user_ids)

    def own_message(self, guild_id: int) -> None:
        """One message sent by the bot itself (counted apart from users' messages)."""
        self._cur.own[guild_id] += 1

    def user_seen(self, guild_id: int, user_id: int) -> None:
        """Mark a user active without a message (a command, a voice join...)."""
        self._cur.users.add((guild_id, user_id))

    def inc(
        self,
        metric: str,
        value: float = 1.0,
        *,
        guild: int = 0,
        command: str = "",
        shard: int = -1,
        kind: str = "",
    ) -> None:
        """Add ``value`` to a counter."""
        c = self._cur.counters
        key = (metric, guild, command, shard, kind)
        c[key] = c.get(key, 0.0) + value

    def observe(
        self,
        metric: str,
        value: float,
        *,
        guild: int = 0,
        command: str = "",
        shard: int = -1,
        kind: str = "",
    ) -> None:
        """One observation into a histogram (latencies in milliseconds by convention)."""
        key = (metric, guild, command, shard, kind)
        try:
            h = self._cur.hists[key]
        except KeyError:
            h = self._cur.hists[key] = _new_hist()
        h[0] += value
        if value < h[1]:
            h[1] = value
        if value > h[2]:
            h[2] = value
        h[bisect_left(_BOUNDS, value) + 3] += 1

    def gauge(
        self,
        metric: str,
        value: float,
        *,
        guild: int = 0,
        command: str = "",
        shard: int = -1,
        kind: str = "",
    ) -> None:
        """A gauge sample; a minute keeps the samples' count, sum, min and max."""
        g = self._cur.gauges
        key = (metric, guild, command, shard, kind)
        agg = g.get(key)
        if agg is None:
            g[key] = [1, value, value, value]
        else:
            agg[0] += 1
            agg[1] += value
            if value < agg[2]:
                agg[2] = value
            if value > agg[3]:
                agg[3] = value
        self.last_gauges[key] = value

    def command(
        self,
        name: str,
        kind: str,
        guild_id: int,
        user_id: int,
        latency_ms: float,
        ok: bool,
        *,
        error_type: str = "",
        first_response_ms: float | None = None,
        ts: float | None = None,
    ) -> None:
        """One completed command invocation (prefix, slash, context menu...).

        ``first_response_ms`` is the time from the interaction's creation to its first response;
        over 3 s it counts as a missed deadline. ``ts`` defaults to now.
        """
        when = self._clock() if ts is None else ts
        w = self._cur
        w.commands.append((when, guild_id, name, kind, latency_ms, ok, user_id, error_type))
        self.observe("command_latency_ms", latency_ms, guild=guild_id, command=name, kind=kind)
        if not ok:
            self.inc("command_errors", guild=guild_id, command=name, kind=kind)
        if first_response_ms is not None:
            self.observe(
                "interaction_first_response_ms", first_response_ms, guild=guild_id, command=name
            )
            if first_response_ms > DEADLINE_MS:
                self.inc("interaction_deadline_missed", guild=guild_id, command=name)
        w.users.add((guild_id, user_id))

    def counter(
        self, metric: str, *, guild: int = 0, command: str = "", shard: int = -1, kind: str = ""
    ) -> BoundCounter:
        """A counter bound to fixed labels: the cheapest way to count one series often."""
        return BoundCounter(self, (metric, guild, command, shard, kind))

    def histogram(
        self, metric: str, *, guild: int = 0, command: str = "", shard: int = -1, kind: str = ""
    ) -> BoundHistogram:
        """A histogram bound to fixed labels: the cheapest way to observe one series often."""
        return BoundHistogram(self, (metric, guild, command, shard, kind))

    # -- windows ------------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        """Open a new window if the minute has changed since the current one began."""
        minute = int((self._clock() if now is None else now) // 60) * 60
        if minute != self._cur.minute:
            self._sealed.append(self._cur)
            self._cur = _Window(minute)

    @property
    def pending_windows(self) -> int:
        return len(self._sealed) + 1

    @property
    def has_salt(self) -> bool:
        return bool(self._salt)

    def set_salt(self, salt: bytes) -> None:
        """Set the per-install salt (from the store) once it is known."""
        self._salt = salt
        self._hash_cache.clear()

    def trim(self, max_windows: int) -> int:
        """Drop the oldest sealed windows beyond ``max_windows``; returns events dropped.

        Used only while nothing can be drained (the store never opened), to bound memory.
        """
        dropped = 0
        while len(self._sealed) > max_windows:
            w = self._sealed.pop(0)
            dropped += (
                sum(w.messages.values())
                + len(w.counters)
                + len(w.gauges)
                + len(w.hists)
                + len(w.commands)
            )
        return dropped

    def swap(self, now: float | None = None, *, final: bool = False) -> Closed:
        """Close every window (the current one too) and hand them over: O(1), on the loop.

        The returned :class:`Closed` goes to :meth:`aggregate`, which runs elsewhere (the
        flusher runs it in a worker thread). Recording continues into a fresh window.
        """
        self.tick(now)
        windows, self._sealed = [*self._sealed, self._cur], []
        self._cur = _Window(self._cur.minute)
        return Closed(windows, self._clock() if now is None else now, final, self._cur.minute)

    def drain(self, now: float | None = None, *, final: bool = False) -> Batch:
        """:meth:`swap` and :meth:`aggregate` in one call (tests, backfills, simulations)."""
        return self.aggregate(self.swap(now, final=final))

    def aggregate(self, closed: Closed) -> Batch:
        """The rows of closed windows: rollups, fan-out, histogram blobs, hashed users.

        Runs off the event loop (one caller at a time: the flusher holds its lock); it is the
        only reader and writer of the recorder's drain-side state (label sets, distinct-user
        sets, held daily rows, totals), so it needs no lock of its own.

        Per-guild x per-command daily rows are held back and released once their hour is over
        (all of them on ``final``, at shutdown), with ``day_watermark`` saying up to when they
        are complete: merging them into the store on every flush would cost a histogram merge
        per row per flush. Queries add the raw invocations after the watermark; a crash loses
        at most the current hour of that daily breakdown, which the raw invocations still hold.
        """
        final = closed.final
        out = _Drained()
        for window in closed.windows:
            self._drain_window(window, out)
        current_hour = closed.current_minute // 3600 * 3600
        watermark: float | None = None
        if final or any(h < current_hour for h in self._held_days):
            release = [h for h in self._held_days if final or h < current_hour]
            for h in release:
                for slot, agg in self._held_days.pop(h).items():
                    out.merge(out.days, slot, agg)
            # exclusive end of what the released rows cover: the current hour's start, or on
            # ``final`` just past now (a raw row stamped "now" is in the released rows)
            watermark = (closed.now + 0.001) if final else current_hour
        batch = Batch(
            minute_rows=tuple(out.minute_rows),
            hour_rows=tuple(a.row(k, ts) for (k, ts), a in out.hours.items()),
            day_rows=tuple(a.row(k, ts) for (k, ts), a in out.days.items()),
            commands=tuple(out.commands),
            user_days=tuple(out.user_days),
            day_watermark=watermark,
        )
        for listener in self.on_drain:
            listener(batch)
        return batch

    def _hash(self, user_id: int) -> int:
        if not self._salt:
            raise RuntimeError("Recorder has no salt yet: open the store and call set_salt()")
        cache = self._hash_cache
        h = cache.get(user_id)
        if h is None:
            if len(cache) > 200_000:
                cache.clear()
            h = cache[user_id] = hash_user(self._salt, user_id)
        return h

    def _label(self, key: Key) -> Key | None:
        """Bound the label set: fold unknown commands past the cap, drop unknown metrics."""
        metric, guild, command, shard, kind = key
        if metric not in self._known_metrics:
            if len(self._known_metrics) >= MAX_METRICS:
                self.dropped_labels += 1
                return None
            self._known_metrics.add(metric)
        if command and command not in self._known_commands:
            if len(self._known_commands) >= MAX_COMMANDS:
                return (metric, guild, "(other)", shard, kind)
            self._known_commands.add(command)
        return key

    def _drain_window(self, w: _Window, out: _Drained) -> None:
        ts = w.minute
        hour = ts // 3600 * 3600
        day = ts // 86400 * 86400
        aggs: dict[Key, _Agg] = {}

        def agg_for(key: Key) -> _Agg:
            a = aggs.get(key)
            if a is None:
                a = aggs[key] = _Agg()
            return a

        for src, metric in ((w.messages, "messages"), (w.own, "messages_own")):
            for guild, n in src.items():
                for k in _fanout((metric, guild, "", -1, "")):
                    agg_for(k).add_value(n, float(n), 1.0, 1.0)
        for raw_key, value in w.counters.items():
            labelled = self._label(raw_key)
            if labelled is not None:
                for k in _fanout(labelled):
                    agg_for(k).add_value(round(value), value, value, value)
        for raw_key, (samples, total, lo, hi) in w.gauges.items():
            labelled = self._label(raw_key)
            if labelled is not None:
                agg_for(labelled).add_value(int(samples), total, lo, hi)
        for raw_key, hist in w.hists.items():
            labelled = self._label(raw_key)
            if labelled is None:
                continue
            dense = hist[3:]
            sparse = {i: int(dense[i]) for i in compress(_INDICES, dense)}
            count = sum(sparse.values())
            if not count:
                continue
            for k in _fanout(labelled):
                a = agg_for(k)
                a.add_value(count, hist[0], hist[1], hist[2])
                a.add_buckets(sparse)

        totals = self.totals  # since start, for live views
        for key, a in aggs.items():
            if key[1] == 0 and key[2] == "":
                totals[key[0]] = totals.get(key[0], 0.0) + a.sum

        for key, a in aggs.items():
            # per-guild x per-command series are kept per day only: per minute or hour they
            # would multiply the rows by the number of guilds (README, "Storage")
            if not (key[1] and key[2]):
                out.minute_rows.append(a.row(key, ts))
                out.merge(out.hours, (key, hour), a)
                out.merge(out.days, (key, day), a)
            else:
                out.merge(self._held_days.setdefault(hour, {}), (key, day), a)

        self._drain_users(w, ts, out)

        for when, guild, name, kind, latency, ok, user_id, err in w.commands:
            label = name if name in self._known_commands else "(other)"
            out.commands.append(
                (int(when * 1000), guild, label, kind, latency, int(ok), self._hash(user_id), err)
            )

    def _drain_users(self, w: _Window, ts: int, out: _Drained) -> None:
        """Distinct users: count only hashes new to this minute / hour / day.

        The minute, hour and day rows of metric ``users`` hold exact distinct counts per
        period (within one process run); ``user_days`` keeps the hashes of all guilds' users
        per day for exact multi-day counts and D1/D7 retention.
        """
        hour = ts // 3600 * 3600
        day = ts // 86400 * 86400
        if self._seen_minute[0] != ts:
            self._seen_minute = (ts, set())
        if self._seen_hour[0] != hour:
            self._seen_hour = (hour, set())
        if self._seen_day[0] != day:
            self._seen_day = (day, set())
        hashed = self._hash
        pairs: set[int] = set()
        for guild, user_id in w.users:
            uh = hashed(user_id) & _MASK64
            pairs.add(uh)
            if guild:
                pairs.add(guild << 64 | uh)
        new: list[collections.Counter[int]] = []
        for seen in (self._seen_minute[1], self._seen_hour[1], self._seen_day[1]):
            fresh = pairs - seen
            seen |= fresh
            new.append(collections.Counter(p >> 64 for p in fresh))
            if seen is self._seen_day[1]:
                out.user_days.extend(
                    (day, 0, p - _TWO64 if p >= _TWO63 else p) for p in fresh if p < _TWO64
                )
        for counts, period_ts, target in zip(
            new, (ts, hour, day), (None, out.hours, out.days), strict=True
        ):
            for g, n in counts.items():
                key: Key = ("users", g, "", -1, "")
                a = _Agg()
                a.add_value(n, float(n), 0.0, 0.0)
                if target is None:
                    out.minute_rows.append(a.row(key, period_ts))
                else:
                    out.merge(target, (key, period_ts), a)
