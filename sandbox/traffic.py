"""The traffic model behind the simulator: who does what, when, how fast, and what goes wrong.

Pure and seeded (no I/O, no discord import): :meth:`TrafficModel.plan` turns a time slice into
events (messages, command invocations with latency and outcome, voice joins and leaves, member
joins, gateway reconnects). The backfill feeds a week of one-minute slices into the core's
recorder with a fake clock; the live driver plays one-second slices through the emulator.

- **Rhythm**: activity follows the local hour (quiet at 05:00, a lunch bump, an evening peak
  around 21:00) and the weekday (Friday and the weekend busier, Monday quieter); 1.0 is the mean.
- **Users**: each guild has members with Zipf-like activity (a few people write most messages);
  some members are in two guilds.
- **Commands**: a mix with log-normal latencies (fast lookups, a slower external API, a slow
  generator that defers) and small baseline error rates.
- **Incidents** change the conditions for a while: an error burst (one command fails often), a
  latency incident (every command slower, gateway heartbeats late), a gateway reconnect.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
import logging
import math
import random
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "COMMANDS",
    "CommandProfile",
    "Conditions",
    "DatabaseTimeout",
    "Incident",
    "Invocation",
    "Scale",
    "SimulatedFailure",
    "Slice",
    "TrackUnavailable",
    "TrafficModel",
    "UpstreamTimeout",
    "activity",
    "failure",
]

log = logging.getLogger(__name__)


class SimulatedFailure(Exception):
    """A failure of a simulated command (the demo bot raises these on purpose)."""


class UpstreamTimeout(SimulatedFailure):
    """An external API did not answer in time."""


class DatabaseTimeout(SimulatedFailure):
    """The bot's own database was too slow."""


class TrackUnavailable(SimulatedFailure):
    """The music provider could not stream the track."""


_FAILURES: dict[str, type[SimulatedFailure]] = {
    cls.__name__: cls for cls in (UpstreamTimeout, DatabaseTimeout, TrackUnavailable)
}


def failure(error_type: str, command: str) -> SimulatedFailure:
    """The exception a failed run of ``command`` raises."""
    cls = _FAILURES.get(error_type, SimulatedFailure)
    return cls(f"/{command}: {cls.__doc__ or 'simulated failure'}".rstrip("."))


@dataclasses.dataclass(frozen=True, slots=True)
class CommandProfile:
    """One slash command of the simulated bot: popularity, latency and failure behaviour."""

    name: str
    description: str
    weight: float
    median_ms: float
    sigma: float
    """Shape of the log-normal latency (0.3: tight, 0.6: long tail)."""
    error_rate: float
    error_type: str
    """The exception class name its failures raise (see :mod:`sandbox.demo_bot`)."""
    options: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Required string options and the values users type."""


COMMANDS: tuple[CommandProfile, ...] = (
    CommandProfile(
        "play", "Play a track in your voice channel", 30, 180, 0.5, 0.01, "TrackUnavailable",
        {"query": ("lofi beats", "daft punk", "rain sounds", "synthwave mix", "jazz piano")},
    ),
    CommandProfile("rank", "Show your rank card", 18, 60, 0.4, 0.004, "DatabaseTimeout"),
    CommandProfile(
        "weather", "Weather forecast for a city", 12, 420, 0.6, 0.03, "UpstreamTimeout",
        {"city": ("Berlin", "Lagos", "Osaka", "Lima", "Toronto", "Oslo")},
    ),
    CommandProfile("quote", "A random quote from this server", 9, 35, 0.5, 0.005, "DatabaseTimeout"),
    CommandProfile("help", "What this bot can do", 10, 12, 0.3, 0.0, "SimulatedFailure"),
    CommandProfile("ping", "Is the bot alive?", 8, 4, 0.3, 0.0, "SimulatedFailure"),
    CommandProfile(
        "poll", "Start a poll", 6, 90, 0.4, 0.01, "DatabaseTimeout",
        {"question": ("pizza or tacos?", "movie night friday?", "new emoji?")},
    ),
    CommandProfile(
        "imagine", "Draw a picture from a prompt", 5, 1900, 0.45, 0.04, "UpstreamTimeout",
        {"prompt": ("a cat astronaut", "sunset over tokyo", "a tiny dragon")},
    ),
)  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Scale:
    """How busy the simulated bot is, at activity 1.0 (the mean over a week)."""

    messages_per_minute: float = 15.0
    """Per guild of weight 1 (the first guild; later guilds are quieter)."""
    commands_per_minute: float = 12.0
    """Over all guilds."""
    voice_sessions_per_hour: float = 4.0
    """Per guild of weight 1."""
    voice_minutes_mean: float = 25.0
    member_joins_per_day: float = 12.0
    """Per guild of weight 1."""
    reconnects_per_day: float = 3.0
    """Per shard, besides the incidents."""
    gateway_ms: float = 42.0
    """Typical heartbeat latency."""


@dataclasses.dataclass(frozen=True, slots=True)
class Incident:
    """Something going wrong from ``start`` to ``end`` (epoch seconds)."""

    kind: str
    """``errors`` (``command`` fails at ``error_rate``), ``latency`` (commands ``factor`` times
    slower, heartbeats ``gateway_ms`` late) or ``reconnect`` (every shard reconnects at start)."""
    start: float
    end: float
    command: str = ""
    error_rate: float = 0.5
    factor: float = 6.0
    gateway_ms: float = 650.0

    def active(self, ts: float) -> bool:
        return self.start <= ts < self.end


@dataclasses.dataclass(frozen=True, slots=True)
class Conditions:
    """The state of the world at one moment, as incidents leave it."""

    latency_factor: float = 1.0
    gateway_ms: float | None = None
    """Heartbeat latency forced by an incident (None: normal)."""
    failing: Mapping[str, float] = dataclasses.field(default_factory=dict)
    """Command -> error rate while an error burst lasts."""
    incidents: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Invocation:
    """One command use: who, where, and how it will go."""

    at: float
    guild: int
    user: int
    command: str
    latency_ms: float
    ok: bool
    error_type: str
    options: Mapping[str, str]


@dataclasses.dataclass(slots=True)
class Slice:
    """Everything that happens from ``start`` for ``seconds`` (event times are epoch seconds)."""

    start: float
    seconds: float
    conditions: Conditions
    messages: list[tuple[float, int, int]] = dataclasses.field(default_factory=list)
    """(at, guild, author)."""
    commands: list[Invocation] = dataclasses.field(default_factory=list)
    voice_joins: list[tuple[float, int, int]] = dataclasses.field(default_factory=list)
    voice_leaves: list[tuple[float, int, int]] = dataclasses.field(default_factory=list)
    member_joins: list[tuple[float, int]] = dataclasses.field(default_factory=list)
    reconnects: list[tuple[float, int]] = dataclasses.field(default_factory=list)
    """(at, shard)."""


# -- rhythm -------------------------------------------------------------------------------------

_WEEKDAY = (0.9, 0.95, 1.0, 1.0, 1.12, 1.3, 1.25)  # Monday .. Sunday


def _daily(hour: float) -> float:
    """Unnormalised activity by local hour: night trough, lunch bump, evening peak."""

    def bump(centre: float, width: float) -> float:
        d = (hour - centre + 12) % 24 - 12
        return math.exp(-0.5 * (d / width) ** 2)

    return 0.18 + 0.55 * bump(13.0, 2.5) + 1.25 * bump(21.0, 2.8)


_DAILY_MEAN = sum(_daily(h / 4) for h in range(96)) / 96
_WEEK_MEAN = sum(_WEEKDAY) / 7


def activity(ts: float, tz: dt.tzinfo = dt.UTC) -> float:
    """Relative activity at ``ts`` in local time ``tz`` (the weekly mean is 1.0)."""
    local = dt.datetime.fromtimestamp(ts, tz)
    hour = local.hour + local.minute / 60
    return _daily(hour) / _DAILY_MEAN * _WEEKDAY[local.weekday()] / _WEEK_MEAN


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class _Picker:
    """Weighted choice over a fixed list, by cumulative weights (O(log n) per pick)."""

    def __init__(self, items: Sequence[int], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))

    def add(self, item: int, weight: float) -> None:
        self.items.append(item)
        self.cum.append((self.cum[-1] if self.cum else 0.0) + weight)

    def pick(self, rng: random.Random) -> int:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]

    def picks(self, rng: random.Random, k: int) -> list[int]:
        return rng.choices(self.items, cum_weights=self.cum, k=k)


class TrafficModel:
    """Seeded traffic for ``members`` (guild id -> member user ids, in order of activity).

    ``shards``: how many gateway shards reconnect; ``tz``: the users' local time zone.
    ``rhythm(ts)``: the activity level at ``ts`` (default :func:`activity` in ``tz``, which
    follows the hour and weekday); a test of live traffic passes a constant, so what it sees
    does not depend on when it runs.
    """

    def __init__(
        self,
        members: Mapping[int, Sequence[int]],
        *,
        seed: int = 7,
        scale: Scale | None = None,
        commands: Sequence[CommandProfile] = COMMANDS,
        shards: int = 1,
        tz: dt.tzinfo = dt.UTC,
        rhythm: Callable[[float], float] | None = None,
    ) -> None:
        if not members or not all(members.values()):
            raise ValueError("the traffic model needs at least one guild with members")
        self.rng = random.Random(seed)
        self.scale = scale or Scale()
        self.commands = {c.name: c for c in commands}
        self.shards = shards
        self.tz = tz
        self._rhythm = rhythm
        self.guilds = list(members)
        self.guild_weight = {g: 1.0 / (1 + 0.7 * i) for i, g in enumerate(self.guilds)}
        self._guild_picker = _Picker(range(len(self.guilds)), list(self.guild_weight.values()))
        self._users = {
            g: _Picker(list(users), [1.0 / (rank + 1) ** 0.9 for rank in range(len(users))])
            for g, users in members.items()
        }
        self._commands = _Picker(range(len(commands)), [c.weight for c in commands])
        self._command_list = list(commands)
        self.incidents: list[Incident] = []
        self.in_voice: dict[tuple[int, int], float] = {}
        """(guild, user) -> when they will leave."""

    def level(self, ts: float) -> float:
        """The activity level at ``ts`` (1.0 is the weekly mean)."""
        return activity(ts, self.tz) if self._rhythm is None else self._rhythm(ts)

    # -- incidents ------------------------------------------------------------------------------

    def add_incident(self, incident: Incident) -> None:
        self.incidents.append(incident)

    def forget_incidents(self, before: float) -> None:
        """Drop incidents that ended before ``before``."""
        self.incidents = [i for i in self.incidents if i.end >= before]

    def schedule_incidents(self, start: float, end: float) -> list[Incident]:
        """Random incidents for a backfill: most days an error burst, some days a latency
        incident with reconnects. Returns (and adds) them."""
        rng = random.Random(self.rng.random())
        made: list[Incident] = []
        day = start
        while day < end:
            if rng.random() < 0.8:
                at = day + rng.uniform(0, 86400)
                profile = rng.choice([c for c in self._command_list if c.options])
                made.append(
                    Incident(
                        "errors", at, at + rng.uniform(8, 25) * 60,
                        command=profile.name, error_rate=rng.uniform(0.3, 0.6),
                    )
                )  # fmt: skip
            if rng.random() < 0.45:
                at = day + rng.uniform(0, 86400)
                length = rng.uniform(15, 40) * 60
                made.append(
                    Incident(
                        "latency", at, at + length, factor=rng.uniform(4, 9),
                        gateway_ms=rng.uniform(400, 900),
                    )
                )  # fmt: skip
                made.append(Incident("reconnect", at + length / 2, at + length / 2 + 1))
            day += 86400
        self.incidents.extend(i for i in made if i.start < end)
        return made

    def conditions(self, ts: float) -> Conditions:
        factor, gateway = 1.0, None
        failing: dict[str, float] = {}
        names: list[str] = []
        for incident in self.incidents:
            if not incident.active(ts):
                continue
            names.append(incident.kind)
            if incident.kind == "errors":
                failing[incident.command] = max(
                    failing.get(incident.command, 0.0), incident.error_rate
                )
            elif incident.kind == "latency":
                factor = max(factor, incident.factor)
                gateway = max(gateway or 0.0, incident.gateway_ms)
        return Conditions(factor, gateway, failing, tuple(names))

    # -- what one command does ----------------------------------------------------------------

    def outcome(
        self, command: str, ts: float, conditions: Conditions | None = None
    ) -> tuple[float, str]:
        """(latency in ms, error type or "") of one run of ``command`` at ``ts``."""
        profile = self.commands[command]
        cond = self.conditions(ts) if conditions is None else conditions
        rng = self.rng
        latency = rng.lognormvariate(math.log(profile.median_ms), profile.sigma)
        latency *= cond.latency_factor
        rate = max(profile.error_rate, cond.failing.get(command, 0.0))
        error = profile.error_type if rng.random() < rate else ""
        if error and rate > profile.error_rate:
            latency = max(latency, profile.median_ms * 3)  # failures in a burst are timeouts
        return min(latency, 14_000.0), error

    def gateway_latency(self, ts: float, shard: int, conditions: Conditions | None = None) -> float:
        """Heartbeat latency (ms) of ``shard`` at ``ts``."""
        cond = self.conditions(ts) if conditions is None else conditions
        forced = cond.gateway_ms
        base = forced if forced is not None else self.scale.gateway_ms * (1 + 0.15 * shard)
        return base * self.rng.lognormvariate(0, 0.12)

    # -- planning -------------------------------------------------------------------------------

    def member_added(self, guild: int, user: int) -> None:
        """A newcomer: rarely active at first."""
        self._users[guild].add(user, 0.02)

    def plan(self, start: float, seconds: float) -> Slice:
        """What happens from ``start`` for ``seconds``."""
        rng, scale = self.rng, self.scale
        level = self.level(start + seconds / 2)
        minutes = seconds / 60
        out = Slice(start, seconds, self.conditions(start))

        def when() -> float:
            return start + rng.random() * seconds

        for guild in self.guilds:
            weight = self.guild_weight[guild]
            users = self._users[guild]
            count = _poisson(rng, scale.messages_per_minute * weight * level * minutes)
            out.messages += [
                (start + rng.random() * seconds, guild, user) for user in users.picks(rng, count)
            ]
            joins = _poisson(rng, scale.voice_sessions_per_hour * weight * level * minutes / 60)
            for _ in range(joins):
                user = users.pick(rng)
                if (guild, user) not in self.in_voice:
                    at = when()
                    self.in_voice[(guild, user)] = at + 60 * rng.expovariate(
                        1 / scale.voice_minutes_mean
                    )
                    out.voice_joins.append((at, guild, user))
            day_share = seconds / 86400
            for _ in range(_poisson(rng, scale.member_joins_per_day * weight * level * day_share)):
                out.member_joins.append((when(), guild))
        end = start + seconds
        for (guild, user), leave_at in list(self.in_voice.items()):
            if leave_at < end:
                del self.in_voice[(guild, user)]
                out.voice_leaves.append((max(start, leave_at), guild, user))

        for _ in range(_poisson(rng, scale.commands_per_minute * level * minutes)):
            at = when()
            guild = self.guilds[self._guild_picker.pick(rng)]
            profile = self._command_list[self._commands.pick(rng)]
            latency, error = self.outcome(profile.name, at, out.conditions)
            options = {k: rng.choice(v) for k, v in profile.options.items()}
            out.commands.append(
                Invocation(
                    at, guild, self._users[guild].pick(rng), profile.name, latency,
                    not error, error, options,
                )
            )  # fmt: skip

        for shard in range(self.shards):
            if rng.random() < scale.reconnects_per_day * seconds / 86400:
                out.reconnects.append((when(), shard))
        for incident in self.incidents:
            if incident.kind == "reconnect" and start <= incident.start < end:
                out.reconnects.extend((incident.start, s) for s in range(self.shards))
        for events in (out.messages, out.voice_joins, out.member_joins, out.reconnects):
            events.sort()
        out.commands.sort(key=lambda i: i.at)
        return out
