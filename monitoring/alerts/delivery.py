"""Delivery of alert posts: grouping, rate limiting, retries and health, with no Discord import.

A :class:`Destination` is one small class per place a message can go (the cog's Discord
channel, :class:`LogDestination` here). The :class:`Outbox` holds what is waiting:

- new posts: items (incident ids, error fingerprints) queued by kind; one send takes *every*
  waiting item of a kind into one message, after a short ``group_wait`` so that alerts firing
  together arrive together;
- edits: message ids to re-render (a resolve, an acknowledgement, a new error count), coalesced
  per message.

Posts are limited to ``per_minute`` in any 60 seconds (a sliding window) and edits to their own
budget; whatever exceeds it waits, so an alert storm becomes a handful of grouped posts.
Transient failures (timeouts, 5xx, 429) are retried with exponential backoff; permanent ones (no
such channel, missing permission) keep the items, are retried every few minutes, and make
:meth:`Outbox.health` unhealthy with the reason, which ``/health`` and the log show.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..health import HealthResult, HealthStatus

__all__ = [
    "Card",
    "CardField",
    "DeliveryError",
    "Destination",
    "LogDestination",
    "Outbox",
    "OutgoingMessage",
    "RateLimit",
]

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
PERMANENT_RETRY = 300.0


@dataclasses.dataclass(frozen=True, slots=True)
class CardField:
    name: str
    value: str
    inline: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Card:
    """A presentation-neutral rich card; the cog turns it into a ``discord.Embed`` one to one."""

    title: str
    description: str = ""
    colour: int = 0
    fields: tuple[CardField, ...] = ()
    footer: str = ""
    timestamp: float | None = None
    image: str | None = None
    """File name of an attached image to show (``attachment://<name>``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class OutgoingMessage:
    cards: tuple[Card, ...]
    content: str = ""
    actions: tuple[str, ...] = ()
    """Buttons to attach: ``"ack"``, ``"silence"``, ``"mute"`` (empty: none, or removed)."""
    files: tuple[tuple[str, bytes], ...] = ()


class DeliveryError(Exception):
    """Sending failed. ``transient``: worth retrying soon; else the operator must act."""

    def __init__(
        self,
        reason: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.gone = gone
        """The message to edit no longer exists (deleted by someone): nothing to retry."""


class Destination(Protocol):
    """Where messages go. ``send`` returns the new message id."""

    @property
    def name(self) -> str:
        """Where messages go, in words (for logs and /health)."""
        ...

    @property
    def channel_id(self) -> int:
        """The channel's id (0 when there is none)."""
        ...

    async def send(self, message: OutgoingMessage) -> int: ...

    async def edit(self, message_id: int, message: OutgoingMessage) -> None: ...

    async def check(self) -> str | None:
        """None when messages can be delivered, else the reason they cannot."""
        ...


class LogDestination:
    """Alerts into the log (when no channel is configured, and in tools)."""

    name = "log"
    channel_id = 0

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("monitoring.alerts")
        self._next = 1

    async def send(self, message: OutgoingMessage) -> int:
        for card in message.cards:
            self.log.warning("ALERT %s: %s", card.title, card.description.replace("\n", " | "))
        self._next += 1
        return self._next

    async def edit(self, message_id: int, message: OutgoingMessage) -> None:
        for card in message.cards:
            self.log.info("ALERT update %s: %s", card.title, card.description.replace("\n", " | "))

    async def check(self) -> str | None:
        return None


class RateLimit:
    """At most ``events`` in any ``per`` seconds (a sliding window)."""

    def __init__(self, events: int, per: float = 60.0) -> None:
        if events < 1:
            raise ValueError(f"events={events}: expected at least 1")
        self.events = events
        self.per = per
        self._times: collections.deque[float] = collections.deque()

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.per:
            self._times.popleft()

    def wait(self, now: float) -> float:
        """Seconds until one more event is allowed (0 when it is)."""
        self._trim(now)
        if len(self._times) < self.events:
            return 0.0
        return self._times[0] + self.per - now

    def take(self, now: float) -> None:
        self._times.append(now)


@dataclasses.dataclass(slots=True)
class _Item:
    kind: str
    ref: Any
    queued: float


Render = Callable[[str, Sequence[Any]], Awaitable[OutgoingMessage]]
RenderEdit = Callable[[int], Awaitable[OutgoingMessage | None]]
Posted = Callable[[str, Sequence[Any], int, int, float], Awaitable[None]]
Edited = Callable[[int, float], Awaitable[None]]


class Outbox:
    """Waiting posts and edits, sent through one :class:`Destination` within rate limits."""

    def __init__(
        self,
        destination: Destination,
        *,
        render: Render,
        render_edit: RenderEdit,
        posted: Posted,
        edited: Edited | None = None,
        per_minute: int = 4,
        edits_per_minute: int = 10,
        group_wait: float = 10.0,
        max_items: int = 5000,
    ) -> None:
        self.destination = destination
        self.render = render
        self.render_edit = render_edit
        self.posted = posted
        self.edited_cb = edited
        self.posts = RateLimit(per_minute)
        self.edit_limit = RateLimit(edits_per_minute)
        self.group_wait = group_wait
        self.max_items = max_items
        self.items: collections.deque[_Item] = collections.deque()
        self.edits: dict[int, float] = {}
        self.failures = 0
        self.next_attempt = 0.0
        self.last_error: str | None = None
        self.permanent = False
        self.sent = 0
        self.edited = 0
        self.dropped = 0
        self.last_sent: float | None = None
        self._lock = asyncio.Lock()

    def enqueue(self, kind: str, ref: Any, now: float) -> None:
        self.items.append(_Item(kind, ref, now))
        while len(self.items) > self.max_items:
            lost = self.items.popleft()
            self.dropped += 1
            log.error("alert outbox full (%d): dropped %s %s", self.max_items, lost.kind, lost.ref)

    def discard(self, kind: str, ref: Any) -> None:
        self.items = collections.deque(i for i in self.items if (i.kind, i.ref) != (kind, ref))

    def request_edit(self, message_id: int, at: float) -> None:
        self.edits[message_id] = min(at, self.edits.get(message_id, at))

    @property
    def waiting(self) -> int:
        return len(self.items) + len(self.edits)

    def _failed(self, exc: DeliveryError, now: float, what: str) -> None:
        self.failures += 1
        first = self.last_error != exc.reason
        self.last_error = exc.reason
        self.permanent = not exc.transient
        if exc.transient:
            delay = exc.retry_after or min(2.0**self.failures, MAX_BACKOFF)
        else:
            delay = PERMANENT_RETRY
        self.next_attempt = now + delay
        level = (
            logging.ERROR if (first or not exc.transient) and self.failures < 4 else logging.WARNING
        )
        log.log(
            level,
            "alert %s to %s failed (%d in a row, %d waiting, retry in %.0fs): %s",
            what,
            self.destination.name,
            self.failures,
            self.waiting,
            delay,
            exc.reason,
        )

    def _recovered(self) -> None:
        if self.failures:
            log.info("alert delivery to %s works again", self.destination.name)
        self.failures = 0
        self.last_error = None
        self.permanent = False

    async def run_once(self, now: float) -> float:
        """Send what is due; returns the seconds until something else will be due."""
        async with self._lock:  # one sender at a time, whoever calls
            return await self._run_once(now)

    async def _run_once(self, now: float) -> float:
        if now < self.next_attempt:
            return self.next_attempt - now
        if self.items:
            first = self.items[0]
            wait = max(first.queued + self.group_wait - now, self.posts.wait(now))
            if wait <= 0:
                kind = first.kind
                batch = [i for i in self.items if i.kind == kind]
                refs = list(dict.fromkeys(i.ref for i in batch))
                try:
                    message = await self.render(kind, refs)
                    self.posts.take(now)
                    message_id = await self.destination.send(message)
                except DeliveryError as exc:
                    if exc.gone:  # retrying the same message cannot help
                        self.items = collections.deque(i for i in self.items if i.kind != kind)
                        self.dropped += len(refs)
                        log.error("alert post dropped (%d items): %s", len(refs), exc.reason)
                        return 0.0
                    self._failed(exc, now, "post")
                    return self.next_attempt - now
                self._recovered()
                self.items = collections.deque(i for i in self.items if i.kind != kind)
                self.sent += 1
                self.last_sent = now
                await self.posted(kind, refs, message_id, self.destination.channel_id, now)
                return 0.0
        due = sorted(mid for mid, at in self.edits.items() if at <= now)
        if due:
            wait = self.edit_limit.wait(now)
            if wait <= 0:
                message_id = due[0]
                del self.edits[message_id]
                update = await self.render_edit(message_id)
                if update is None:
                    return 0.0
                try:
                    self.edit_limit.take(now)
                    await self.destination.edit(message_id, update)
                except DeliveryError as exc:
                    if exc.gone:
                        log.warning("alert message %d is gone; not edited: %s", message_id, exc)
                        return 0.0
                    self.request_edit(message_id, now)
                    self._failed(exc, now, "edit")
                    return self.next_attempt - now
                self._recovered()
                self.edited += 1
                if self.edited_cb is not None:
                    await self.edited_cb(message_id, now)
                return 0.0
        return self._next_due(now)

    def _next_due(self, now: float) -> float:
        times = [600.0]
        if self.items:
            times.append(
                max(self.items[0].queued + self.group_wait - now, self.posts.wait(now), 0.05)
            )
        if self.edits:
            soonest = min(self.edits.values())
            times.append(max(soonest - now, self.edit_limit.wait(now), 0.05))
        return min(times)

    def health(self, now: float) -> tuple[HealthStatus, str]:
        """The delivery verdict for ``/health``."""
        name = self.destination.name
        if self.last_error is not None:
            status = HealthStatus.UNHEALTHY if self.permanent else HealthStatus.DEGRADED
            return status, f"{name}: {self.last_error} ({self.waiting} waiting)"
        if self.items and now - self.items[0].queued > 300:
            return (
                HealthStatus.DEGRADED,
                f"{name}: {len(self.items)} alerts waiting for the rate limit",
            )
        tail = f", {self.dropped} dropped" if self.dropped else ""
        return HealthStatus.HEALTHY, f"{name}: {self.sent} posted, {self.waiting} waiting{tail}"

    def health_result(self, check: str, now: float) -> HealthResult:
        status, reason = self.health(now)
        return HealthResult(check, status, reason, float(self.waiting))
