"""The dashboard's typed application state and the live data it shares between requests.

:class:`Dashboard` is stored under the :data:`DASHBOARD` app key. It owns the sessions, the
audit log, the live feed, a short cache of the live cards per scope (the store only changes when
the flusher writes, so every client and request within a few seconds shares one set of queries)
and the latest health verdicts (polled in the background so the feed never waits on a check).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from monitoring.clock import Clock
from monitoring.config import Config
from monitoring.core import Monitor
from monitoring.health import HealthResult
from monitoring.store.base import StoreError

from .audit import AuditLog
from .auth import Principal
from .data import iso, realtime_metrics, system_payload
from .feed import CLOSE_RIGHTS_LOST, CLOSE_SESSION_ENDED, Feed
from .network import Network
from .ratelimit import RateLimiter
from .sessions import Sessions, hash_token
from .sources import ShardsFn, collect_health, health_payload, insights_payload

__all__ = [
    "DASHBOARD",
    "RIGHTS_RECHECK_SECONDS",
    "Authorize",
    "Dashboard",
    "GuildNames",
]

log = logging.getLogger(__name__)

GuildNames = Callable[[], dict[int, str]]
Authorize = Callable[[int, int], Awaitable[bool | None]]
"""(user id, guild id) -> may that user still manage that guild? None: cannot tell right now."""

RIGHTS_RECHECK_SECONDS = 900.0
"""A manager's rights are re-checked against Discord at least this often while they are used."""

METRICS_MAX_AGE = 5.0
"""Seconds a scope's live cards are reused when the flusher has written nothing new."""
HEALTH_EVERY = 10.0
"""Seconds between background health checks for the live feed."""
INSIGHTS_MAX_AGE = 60.0
"""Seconds one scope and range's insights are reused."""


@dataclasses.dataclass(slots=True)
class _Cached:
    version: int
    at: float
    value: dict[str, Any]


@dataclasses.dataclass(eq=False)
class Dashboard:
    """Everything the handlers need; build it with :func:`web.app.create_app`."""

    monitor: Monitor
    store: Any
    config: Config
    clock: Clock
    live: bool
    """True when hosted by the running bot; False when viewing a database file read-only."""
    sessions: Sessions
    audit: AuditLog
    feed: Feed = dataclasses.field(init=False)
    guild_names: GuildNames | None = None
    shards: ShardsFn | None = None
    """Gateway shards for the health checks (from the cog; None when standalone)."""
    base_url: str = ""
    """Where browsers reach the dashboard (set by the host once it is bound)."""
    authorize: Authorize | None = None
    """The bot's check of a manager's rights (from the cog; None when standalone)."""
    network: Network = dataclasses.field(init=False)
    """Trusted proxies and allowed Host names (set up from the config, then by start_site)."""
    anonymous_limit: RateLimiter = dataclasses.field(init=False)
    signin_limit: RateLimiter = dataclasses.field(init=False)
    health_results: list[HealthResult] = dataclasses.field(default_factory=list)
    health_checked_at: float | None = None
    _metrics: dict[int | None, _Cached] = dataclasses.field(default_factory=dict)
    _insights: dict[tuple[int | None, int], _Cached] = dataclasses.field(default_factory=dict)
    _insight_locks: dict[tuple[int | None, int], asyncio.Lock] = dataclasses.field(
        default_factory=dict
    )
    _health_lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    health_runs: int = 0
    """How many times the health checks ran (the cache's effect is visible in tests)."""

    def __post_init__(self) -> None:
        config = self.config
        self.network = Network(config.trusted_proxies, bind_host=config.dashboard_host,
                               public_urls=(config.dashboard_url,))  # fmt: skip
        self.anonymous_limit = RateLimiter(config.anonymous_requests_per_minute, clock=self.clock)
        self.signin_limit = RateLimiter(config.signin_attempts_per_minute, clock=self.clock)
        self.feed = Feed(
            self.update,
            interval=self.config.websocket_update_interval,
            clock=self.clock,
            end_sessions=self.ended_sessions,
        )

    @property
    def mode(self) -> str:
        return "live" if self.live else "readonly"

    def login_url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/login?token={token}"

    async def issue_login(self, who: str, guild: int | None, user_id: int | None = None) -> str:
        """A one-time login link (five minutes) for ``who``, scoped to ``guild`` (None = all)."""
        return self.login_url(await self.sessions.issue_login(who, guild, user_id))

    async def rights_hold(self, principal: Principal, checked: float, now: float) -> bool:
        """Does a manager still manage their guild? Asks the bot when the last check is older
        than :data:`RIGHTS_RECHECK_SECONDS`; a "no" ends the session everywhere."""
        if self.authorize is None or principal.guild is None or principal.user_id is None:
            return True  # the owner's and API keys' access is not tied to a guild role
        if now - checked < RIGHTS_RECHECK_SECONDS or principal.session is None:
            return True
        verdict = await self.authorize(principal.user_id, principal.guild)
        if verdict is False:
            await self.sessions.revoke_hash(principal.session)
            log.info("dashboard session of %s ended: no longer manages guild %d",
                     principal.who, principal.guild)  # fmt: skip
            return False
        if verdict is True:
            await self.sessions.mark_checked(principal.session, now)
        return True  # None: Discord could not tell now; ask again on the next use

    async def session_principal(self, session_id: str) -> Principal | None:
        """The caller behind a session cookie, if the session lives and its rights hold."""
        session_hash = hash_token(session_id)
        found = (await self.sessions.live([session_hash])).get(session_hash)  # one read
        if found is None:
            return None
        principal, checked = found
        return principal if await self.rights_hold(principal, checked, self.clock()) else None

    async def ended_sessions(self, session_hashes: Iterable[str]) -> dict[str, int]:
        """Sessions among these that must close now, with the WebSocket close code."""
        wanted = set(session_hashes)
        live = await self.sessions.live(wanted)
        now = self.clock()
        ended = {h: CLOSE_SESSION_ENDED for h in wanted - set(live)}
        for session_hash, (principal, checked) in live.items():
            if not await self.rights_hold(principal, checked, now):
                ended[session_hash] = CLOSE_RIGHTS_LOST
        return ended

    def names(self) -> dict[int, str]:
        return dict(self.guild_names()) if self.guild_names is not None else {}

    async def metrics(self, guild: int | None, now: float) -> dict[str, Any]:
        """The live cards for one scope, recomputed after each flush or every few seconds."""
        version = self.monitor.flusher.stats.flushed_rows
        cached = self._metrics.get(guild)
        if cached and cached.version == version and 0 <= now - cached.at < METRICS_MAX_AGE:
            return cached.value
        value = await realtime_metrics(self.monitor, now=now, guild=guild)
        self._metrics[guild] = _Cached(version, now, value)
        if len(self._metrics) > 1000:
            self._metrics.clear()
        return value

    def health_summary(self, guild: int | None = None) -> dict[str, Any]:
        """The health verdicts; a one-guild view gets the statuses without bot-wide readings."""
        return health_payload(self.health_results, self.health_checked_at, live=self.live,
                              verdicts_only=guild is not None)  # fmt: skip

    async def refresh_health(self, max_age: float = 0.0) -> list[HealthResult]:
        """Run every health check, unless a run younger than ``max_age`` seconds can answer.

        One run at a time: callers arriving during a run wait for it and share its results, so
        no request rate can run the bot's own checks (an external API ping, say) more often."""
        async with self._health_lock:
            checked = self.health_checked_at
            if checked is not None and 0 <= self.clock() - checked < max_age:
                return self.health_results
            now = self.clock()
            self.health_results = await collect_health(
                self.monitor, shards=self.shards, now=now, live=self.live
            )
            self.health_checked_at = now
            self.health_runs += 1
            return self.health_results

    async def insights(self, guild: int | None, days: int) -> dict[str, Any]:
        """``/api/analytics/insights`` for one scope and range, computed at most once a minute."""
        key = (guild, days)
        lock = self._insight_locks.setdefault(key, asyncio.Lock())
        async with lock:
            now = self.clock()
            cached = self._insights.get(key)
            if cached is not None and 0 <= now - cached.at < INSIGHTS_MAX_AGE:
                return cached.value
            value = await insights_payload(self.monitor, now=now, guild=guild, days=days)
            if len(self._insights) >= 256:  # bounded: scopes x ranges
                self._insights.clear()
                self._insight_locks = {key: lock}
            self._insights[key] = _Cached(0, now, value)
            return value

    async def update(self, guild: int | None, now: float) -> dict[str, Any]:
        """One live update (``/api/metrics/realtime`` and every WebSocket push)."""
        return {
            "type": "update",
            "timestamp": iso(now),
            "mode": self.mode,
            "guild": None if guild is None else str(guild),
            "metrics": await self.metrics(guild, now),
            # host readings are bot-wide: the all-guilds view only (a one-guild view, and so a
            # manager's, has the health verdicts instead)
            "system": system_payload(self.monitor, now=now, live=self.live and guild is None),
            "health": self.health_summary(guild),
        }

    async def poll_health(self) -> None:
        """Refresh health verdicts every ``HEALTH_EVERY`` seconds (cleanup_ctx task)."""
        while True:
            started = time.perf_counter()
            try:  # a request may have run them moments ago
                await self.refresh_health(max_age=HEALTH_EVERY - 1.0)
            except StoreError as exc:
                log.warning("health refresh failed: %s", exc)
            took = time.perf_counter() - started
            await asyncio.sleep(max(1.0, HEALTH_EVERY - took))


DASHBOARD = web.AppKey("dashboard", Dashboard)
