"""Traffic simulator: a week of history in seconds, then live traffic through the emulator.

- :func:`populate` gives the emulator's guilds a crowd (members with names, some in two guilds)
  and a ``chat`` channel for their chatter, before the bot connects.
- :func:`backfill` writes ``days`` of history into a database through the core's own API: a
  :class:`~monitoring.FakeClock`, the :class:`~monitoring.Recorder` (messages in bulk, every
  command invocation, gauges, histograms) drained hourly into
  :meth:`SQLiteStore.write <monitoring.store.sqlite.SQLiteStore.write>`, with the incidents the
  model schedules (error bursts, latency incidents, reconnects).
- :class:`LiveTraffic` plays the same model in real time as Discord events sent to the real bot:
  messages, slash commands, voice joins and leaves, member joins, forced gateway reconnects and
  late heartbeats, with an incident every ``incident_every`` seconds so alerts fire and resolve.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitoring import FakeClock, Recorder
from monitoring.errors import ErrorTracker

from .models import Channel, Member
from .traffic import Incident, SimulatedFailure, Slice, TrafficModel, failure

if TYPE_CHECKING:
    from .emulator import DiscordEmulator
    from .world import World

__all__ = ["BackfillResult", "LiveStats", "LiveTraffic", "backfill", "populate", "trim_channel"]

log = logging.getLogger(__name__)

DEFER_AFTER_MS = 1000.0
"""The demo bot defers an answer it expects to take longer than this (see demo_bot)."""

_FIRST = ("ana", "ben", "chloe", "dev", "emma", "finn", "gia", "hugo", "ines", "jay", "kai",
          "lena", "milo", "nora", "omar", "pia", "quinn", "rosa", "sami", "tara", "uma",
          "vik", "wren", "xia", "yara", "zoe")  # fmt: skip
_WORDS = ("gg", "anyone up?", "lol", "that build is wild", "brb", "nice!", "who's playing tonight",
          "check #announcements", "same", "ok", "haha yes", "wait what", "good morning",
          "new patch looks good", "hi all", "thanks!", "see you later")  # fmt: skip


def populate(
    world: World, *, per_guild: int = 80, shared: float = 0.2, seed: int = 7
) -> tuple[dict[int, list[int]], dict[int, int], dict[int, int]]:
    """Add members and a ``chat`` channel to every guild of ``world`` (before the bot connects).

    Returns (members per guild, most active first; chat channel per guild; voice channel per
    guild). The seeded owner and member are the first members of every guild.
    """
    rng = random.Random(seed)
    members: dict[int, list[int]] = {}
    chat: dict[int, int] = {}
    voice: dict[int, int] = {}
    previous: list[int] = []
    for index, guild in enumerate(world.guilds.values()):
        general = guild.channel_named("general")
        channel = Channel(
            id=world.snowflakes.next(),
            name="chat",
            guild_id=guild.id,
            position=3,
            parent_id=general.parent_id,
            topic="where the simulated members talk",
        )
        guild.channels[channel.id] = channel
        chat[guild.id] = channel.id
        voice[guild.id] = next(c.id for c in guild.channels.values() if c.type == 2)
        ids = [world.guild_owner.id, world.member_user.id]
        for n in range(per_guild):
            if previous and rng.random() < shared:
                user_id = rng.choice(previous)  # also a member of an earlier guild
            else:
                name = f"{rng.choice(_FIRST)}{index}{n:02d}"
                user_id = world.add_user(name, name.title()).id
            if user_id not in ids:
                ids.append(user_id)
            guild.members.setdefault(user_id, Member(user_id))
        members[guild.id] = ids
        previous = ids[2:]
    return members, chat, voice


# -- backfill -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class BackfillResult:
    """What a backfill wrote."""

    start: float
    end: float
    messages: int
    commands: int
    errors: int
    incidents: int
    seconds: float
    """Wall-clock time it took."""


def _record_slice(
    rec: Recorder, errors: ErrorTracker, clock: FakeClock, model: TrafficModel, s: Slice
) -> tuple[int, int]:
    """Feed one minute into the recorder as the cog and the samplers would; (messages, errors)."""
    authors: dict[int, list[int]] = collections.defaultdict(list)
    for _at, guild, user in s.messages:
        authors[guild].append(user)
    for guild, users in authors.items():
        rec.messages_bulk(guild, len(users), set(users))
    failed = 0
    for c in s.commands:
        first = 20 + 40 * model.rng.random() if c.latency_ms > DEFER_AFTER_MS else c.latency_ms + 30
        rec.command(c.command, "slash", c.guild, c.user, c.latency_ms, c.ok,
                    error_type=c.error_type, first_response_ms=first, ts=c.at)  # fmt: skip
        if c.ok:
            rec.own_message(c.guild)
        else:
            failed += 1
            clock.set(c.at)
            try:
                raise failure(c.error_type, c.command)
            except SimulatedFailure as exc:  # with a traceback, as the bot would record it
                errors.record(exc, where=f"/{c.command}", guild=c.guild, command=c.command)
    for _at, guild, user in s.voice_joins:
        rec.inc("voice_sessions", guild=guild)
        rec.user_seen(guild, user)
    for _at, guild in s.member_joins:
        rec.inc("member_joins", guild=guild)
    for _at, shard in s.reconnects:
        rec.inc("gateway_disconnect", shard=shard)
        rec.inc("gateway_resume", shard=shard)
    # voice minutes and the samplers' gauges, as the cog's loops record them every minute
    in_voice: collections.Counter[int] = collections.Counter(g for g, _u in model.in_voice)
    for guild in model.guilds:
        rec.gauge("voice_active", float(in_voice[guild]), guild=guild)
        if in_voice[guild]:
            rec.inc("voice_minutes", float(in_voice[guild]), guild=guild)
    rec.gauge("voice_active", float(sum(in_voice.values())))
    rec.gauge("guilds", float(len(model.guilds)))
    rng, level = model.rng, model.level(s.start)
    slow = s.conditions.latency_factor > 1
    for _ in range(6):
        rec.gauge("cpu_percent", min(100.0, 6 + 14 * level + rng.uniform(0, 6) + 25 * slow))
        rec.gauge("process_cpu_percent", min(100.0, 2 + 8 * level + rng.uniform(0, 3)))
        rec.gauge("memory_percent", 38 + 4 * level + rng.uniform(0, 1.5))
        rec.gauge("process_rss_mb", 92 + 10 * level + rng.uniform(0, 4))
        rec.gauge("disk_percent", 41.0 + (s.start % 604800) / 604800)
    # the real samplers observe loop lag 120 times and gateway latency 12 times a minute; fewer
    # observations give the same percentiles and keep a week's backfill to a few seconds
    for _ in range(10):
        rec.observe("loop_lag_ms", rng.expovariate(1 / (2.5 if not slow else 9.0)))
    for shard in range(model.shards):
        for _ in range(3):
            latency = model.gateway_latency(s.start, shard, s.conditions)
            rec.observe("gateway_latency_ms", latency, shard=shard)
    return len(s.messages), failed


async def backfill(
    path: str | Path,
    model: TrafficModel,
    *,
    days: float = 7.0,
    now: float | None = None,
    minute_retention_days: int = 2,
    raw_retention_hours: int = 24,
) -> BackfillResult:
    """Write ``days`` of simulated history up to the current minute into the database at ``path``.

    Minute rows and raw command rows older than their retention are not written at all (the
    store would delete them at once), and before the minute retention the recorder's window
    spans a whole hour (hourly and daily rollups come out the same), so a week takes seconds.
    """
    from monitoring.store.sqlite import SQLiteStore

    started = time.perf_counter()
    end = int((time.time() if now is None else now) // 60) * 60
    start = end - int(days * 86400) // 60 * 60
    clock = FakeClock(start)
    store = SQLiteStore(
        path,
        clock=clock,
        minute_retention_days=minute_retention_days,
        raw_retention_hours=raw_retention_hours,
    )
    await store.open()
    try:
        rec = Recorder(salt=store.salt, clock=clock)
        errors = ErrorTracker(clock=clock)
        incidents = model.schedule_incidents(start, end)
        minute_cut = end - minute_retention_days * 86400
        raw_cut_ms = (end - raw_retention_hours * 3600) * 1000
        messages = commands = failed = 0
        ts = start
        while ts < end:
            clock.set(ts)
            if ts >= minute_cut or ts % 3600 == 0:
                rec.tick(ts)
            piece = model.plan(ts, 60.0)
            n, f = _record_slice(rec, errors, clock, model, piece)
            messages, commands, failed = messages + n, commands + len(piece.commands), failed + f
            ts += 60
            if (ts - start) % 3600 == 0 or ts >= end:
                clock.set(ts)
                batch = rec.drain(ts)
                await store.write(
                    dataclasses.replace(
                        batch,
                        minute_rows=tuple(r for r in batch.minute_rows if r[5] >= minute_cut),
                        commands=tuple(c for c in batch.commands if c[0] >= raw_cut_ms),
                    )
                )
        await errors.save(store)
        await store.apply_retention(end)
        await store.checkpoint()
    finally:
        await store.close()
    model.forget_incidents(end)
    result = BackfillResult(
        start, end, messages, commands, failed, len(incidents), time.perf_counter() - started
    )
    log.info(
        "backfilled %.0f days: %d messages, %d commands (%d failed), %d incidents in %.1f s",
        days, messages, commands, failed, len(incidents), result.seconds,
    )  # fmt: skip
    return result


# -- live -----------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class LiveStats:
    """What the live driver has sent so far."""

    messages: int = 0
    commands: int = 0
    voice_joins: int = 0
    voice_leaves: int = 0
    member_joins: int = 0
    reconnects: int = 0
    incidents: int = 0
    skipped: int = 0
    """Events the emulator refused (the bot was between connections)."""


_SKIPPABLE = (RuntimeError, ValueError, KeyError, ConnectionError)
KEEP_MESSAGES = 500
"""Messages kept per ``#chat`` channel in a long run (the view lists them all)."""


def trim_channel(world: World, channel_id: int, keep: int, older_than: float) -> int:
    """Forget the oldest messages of a channel beyond ``keep`` that were created before
    ``older_than`` (epoch seconds; newer ones may still be edited). Returns how many."""
    messages = world.channel_messages.get(channel_id, [])
    excess = len(messages) - keep
    if excess <= 0:
        return 0
    old = [m for m in messages[:excess] if m.created_at.timestamp() < older_than]
    if old:
        world.channel_messages[channel_id] = messages[len(old) :]
        for message in old:
            world.messages_by_id.pop(message.id, None)
    return len(old)


class LiveTraffic:
    """Plays ``model`` through ``emulator`` in real time; ``start()`` / ``await stop()``.

    ``chat`` and ``voice`` map each guild to the channel its members write in and the voice
    channel they join. With ``incident_every`` (seconds), each cycle has an error burst on
    ``/play`` after ``errors_at`` seconds and a latency incident with late heartbeats and a
    gateway reconnect after ``latency_at`` seconds, each lasting ``incident_length``.
    """

    def __init__(
        self,
        emulator: DiscordEmulator,
        model: TrafficModel,
        *,
        chat: Mapping[int, int],
        voice: Mapping[int, int],
        tick: float = 1.0,
        incident_every: float | None = 360.0,
        errors_at: float = 30.0,
        latency_at: float = 180.0,
        incident_length: float = 75.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.emulator = emulator
        self.model = model
        self.chat = dict(chat)
        self.voice = dict(voice)
        self.tick = tick
        self.incident_every = incident_every
        self.errors_at = errors_at
        self.latency_at = latency_at
        self.incident_length = incident_length
        self.clock = clock
        self.stats = LiveStats()
        self.on_incident: list[Callable[[Incident], Any]] = []
        """Called with each incident of the cycle as it begins (the demo prints them)."""
        self._announce: list[Incident] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="sandbox-live-traffic")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.emulator.set_gateway_latency(0.0)

    def schedule_cycle(self, at: float) -> list[Incident]:
        """One incident cycle starting at ``at``: an error burst, then a latency incident."""
        length = self.incident_length
        e0, l0 = at + self.errors_at, at + self.latency_at
        cycle = [
            Incident("errors", e0, e0 + length, command="play", error_rate=0.9),
            Incident("latency", l0, l0 + length, factor=8.0, gateway_ms=700.0),
            Incident("reconnect", l0 + min(5.0, length / 2), l0 + min(5.0, length / 2) + 1),
        ]
        for incident in cycle:
            self.model.add_incident(incident)
            self._announce.append(incident)
        return cycle

    def _started(self, now: float) -> None:
        """Tell ``on_incident`` about the incidents that have just begun."""
        for incident in [i for i in self._announce if i.start <= now]:
            self._announce.remove(incident)
            self.stats.incidents += 1
            for callback in self.on_incident:
                callback(incident)

    async def run(self) -> None:
        """Send events forever (cancel to stop)."""
        emu, model = self.emulator, self.model
        for guild, user in list(model.in_voice):  # still in voice from the backfill's last minute
            with contextlib.suppress(*_SKIPPABLE):
                await emu.voice_state_update(guild, user, self.voice[guild])
        t = self.clock()
        next_cycle = t
        next_gateway = t
        next_trim = t + 60
        while True:
            if self.incident_every and t >= next_cycle:
                model.forget_incidents(t)
                self.schedule_cycle(t)
                next_cycle += self.incident_every
            self._started(t)
            if t >= next_gateway:
                for shard in range(model.shards):
                    emu.set_gateway_latency(model.gateway_latency(t, shard) / 1000, shard)
                next_gateway = t + 5.0
            if t >= next_trim:
                for channel in self.chat.values():
                    trim_channel(emu.world, channel, KEEP_MESSAGES, older_than=t - 300)
                next_trim = t + 60
            piece = model.plan(t, self.tick)
            for at, send in self._events(piece):
                delay = at - self.clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    await send()
                except _SKIPPABLE as exc:
                    self.stats.skipped += 1
                    log.debug("live event skipped: %s", exc)
            t += self.tick
            delay = t - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -10 * self.tick:  # fell far behind (a suspended laptop): catch up
                t = self.clock()

    def _events(self, s: Slice) -> list[tuple[float, Callable[[], Any]]]:
        emu, stats, rng = self.emulator, self.stats, self.model.rng
        events: list[tuple[float, Callable[[], Any]]] = []

        def message(guild: int, user: int) -> Callable[[], Any]:
            async def send() -> None:
                await emu.send_message(self.chat[guild], user, rng.choice(_WORDS))
                stats.messages += 1

            return send

        def command(guild: int, user: int, name: str, options: Mapping[str, str]) -> Any:
            async def send() -> None:
                await emu.slash_command(guild, self.chat[guild], user, name, dict(options))
                stats.commands += 1

            return send

        def voice(guild: int, user: int, join: bool) -> Callable[[], Any]:
            async def send() -> None:
                channel = self.voice[guild] if join else None
                await emu.voice_state_update(guild, user, channel)
                if join:
                    stats.voice_joins += 1
                else:
                    stats.voice_leaves += 1

            return send

        def member(guild: int) -> Callable[[], Any]:
            async def send() -> None:
                name = f"{rng.choice(_FIRST)}{rng.randrange(1000, 9999)}"
                user = await emu.member_add(guild, username=name)
                self.model.member_added(guild, user)
                stats.member_joins += 1

            return send

        def reconnect(shard: int) -> Callable[[], Any]:
            async def send() -> None:
                stats.reconnects += await emu.force_reconnect(shard, mode="reconnect")

            return send

        events += [(at, message(g, u)) for at, g, u in s.messages]
        events += [(c.at, command(c.guild, c.user, c.command, c.options)) for c in s.commands]
        events += [(at, voice(g, u, True)) for at, g, u in s.voice_joins]
        events += [(at, voice(g, u, False)) for at, g, u in s.voice_leaves]
        events += [(at, member(g)) for at, g in s.member_joins]
        events += [(at, reconnect(shard)) for at, shard in s.reconnects]
        events.sort(key=lambda e: e[0])
        return events
