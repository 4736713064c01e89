"""The alert service: signals -> engine -> history -> outbox, and the actions people take.

Discord-free: the cog gives it a :class:`~.delivery.Destination` and a :class:`~.cards.CardStyle`,
calls :meth:`AlertService.evaluate` and :meth:`AlertService.deliver` from its loops, and forwards
button presses and ``/alerts`` to :meth:`act`, :meth:`silence_rule` and :meth:`unsilence_rule`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..anomaly import AnomalyDetector
from ..errors import ErrorGroup
from ..health import HealthResult, HealthStatus
from .cards import CardStyle, alert_cards, duration_words, error_cards
from .delivery import Destination, LogDestination, Outbox, OutgoingMessage
from .engine import EngineState, Transition, acknowledge, evaluate, mute, silence, unsilence
from .rules import SEVERITIES, Rule, parse_rules
from .signals import SignalSource
from .state import AlertStore, ErrorPost, Incident, MessageRef

__all__ = ["ActionResult", "AlertService"]

log = logging.getLogger(__name__)

ACTIONS = ("ack", "silence", "mute")
ERROR_EDIT_INTERVAL = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    message: str


def _order(i: Incident) -> tuple[int, int, int]:
    return (int(not i.active), -SEVERITIES.index(i.severity), i.id)


class AlertService:
    """Everything about alerts that is not Discord. ``await start(now)`` before the rest."""

    def __init__(
        self,
        monitor: Any,
        *,
        destination: Destination | None = None,
        rules: Sequence[Rule] | None = None,
        style: CardStyle | None = None,
        interval: float = 15.0,
        per_minute: int | None = None,
        group_wait: float = 10.0,
        secrets: Sequence[str] = (),
    ) -> None:
        config = monitor.config
        self.monitor = monitor
        self.clock: Callable[[], float] = monitor.clock
        self.rules = tuple(rules) if rules is not None else parse_rules(config)
        self.rules_by_name = {r.name: r for r in self.rules}
        self.db = AlertStore(monitor.store)
        self.signals = SignalSource(monitor, self.rules, AnomalyDetector(monitor.store, config.tz))
        self.destination: Destination = destination or LogDestination()
        self.style = style or CardStyle(tz=config.tz)
        monitor.errors.add_secrets(*secrets)  # scrubbed from stored and posted tracebacks
        self.interval = interval
        self.outbox = Outbox(
            self.destination,
            render=self._render,
            render_edit=self._render_edit,
            posted=self._posted,
            edited=self._edited,
            per_minute=per_minute or int(getattr(config, "alert_max_posts_per_minute", 4)),
            group_wait=group_wait,
        )
        self.state = EngineState()
        self.incidents: dict[int, Incident] = {}
        self.messages: dict[int, MessageRef] = {}
        self.shown_in: dict[int, set[int]] = {}
        self.error_posts: dict[str, ErrorPost] = {}
        self.wake: Callable[[], None] | None = None
        self.last_eval: float | None = None
        self.started = False
        self._lock = asyncio.Lock()

    # -- start-up -----------------------------------------------------------------------------

    async def start(self, now: float) -> None:
        """Load state and history; queue what a previous run did not get to deliver."""
        await self.db.ensure_schema()
        self.state = await self.db.load_engine()
        for incident in await self.db.open_incidents():
            self.incidents[incident.id] = incident
        for ref in await self.db.open_messages():
            self._track(ref)
        shown = {i for ref in self.messages.values() for i in ref.items}
        for incident in await self.db.incidents(shown - set(self.incidents)):
            self.incidents[incident.id] = incident
        self.error_posts = await self.db.error_posts()
        for incident in self.incidents.values():
            pending = incident.active and incident.notify and not incident.muted
            if pending and not self.shown_in.get(incident.id):
                self.outbox.enqueue("alert", incident.id, now)
        for ref in self.messages.values():
            if not any(self._is_active(i) for i in ref.items):
                self.outbox.request_edit(ref.message_id, now)
        for group in list(self.monitor.errors.groups.values()):
            if group.fingerprint not in self.error_posts and now - group.last_seen < 86400:
                self.outbox.enqueue("error", group.fingerprint, now)
        raw = await self.db.meta("last_eval")
        self.last_eval = float(raw) if raw else None
        self.started = True
        firing = sum(1 for a in self.state.alerts.values() if a.phase == "firing")
        log.info(
            "alerts: %d rules, %d firing, %d waiting to post",
            len(self.rules),
            firing,
            self.outbox.waiting,
        )

    def _track(self, ref: MessageRef) -> None:
        self.messages[ref.message_id] = ref
        for item in ref.items:
            self.shown_in.setdefault(int(item), set()).add(ref.message_id)

    def _is_active(self, incident_id: int) -> bool:
        incident = self.incidents.get(int(incident_id))
        return incident is not None and incident.active

    # -- evaluation ---------------------------------------------------------------------------

    async def evaluate(self, now: float) -> tuple[Transition, ...]:
        """One round: observe, evaluate, record, queue the posts and edits it calls for."""
        async with self._lock:
            observations = await self.signals.observe(now)
            before = self.state
            result = evaluate(
                self.rules, before, observations, now, offline_after=max(300.0, 4 * self.interval)
            )
            changed = self._apply(result.transitions, now)
            self.state = result.state
            for alert in self.state.alerts.values():
                incident = self.incidents.get(alert.incident)
                if alert.phase == "firing" and incident is not None and incident.active:
                    self.incidents[alert.incident] = dataclasses.replace(
                        incident, value=alert.value, peak=alert.peak, detail=alert.detail
                    )
            await self.db.commit(
                before, self.state, incidents=changed, meta={"last_eval": str(now)}
            )
            self.last_eval = now
            self._evict()
        if result.transitions and self.wake is not None:
            self.wake()
        return result.transitions

    def _apply(self, transitions: Iterable[Transition], now: float) -> list[Incident]:
        changed: dict[int, Incident] = {}
        for t in transitions:
            a, rule = t.alert, t.rule
            incident = self.incidents.get(a.incident)
            if t.kind == "firing":
                if incident is None:
                    incident = Incident(
                        id=a.incident, rule=rule.name, key=a.key, severity=rule.severity,
                        label=rule.label, comparison=rule.comparison, threshold=rule.threshold,
                        unit=rule.unit, started=a.since, fired=a.fired_at or now, value=a.value,
                        peak=a.peak, detail=a.detail, flapping=a.flapping, notify=t.notify,
                        resolve_threshold=rule.resolve_threshold, kind=rule.kind,
                    )  # fmt: skip
                else:
                    incident = dataclasses.replace(incident, notify=True)
                if t.notify:
                    self.outbox.enqueue("alert", incident.id, now)
            elif incident is None:
                continue  # resolved or repeated, but its incident was never recorded
            elif t.kind == "repeat":
                incident = dataclasses.replace(incident, repeats=incident.repeats + 1)
                self.outbox.enqueue("repeat", incident.id, now)
            else:
                incident = dataclasses.replace(
                    incident, resolved=now, note=t.note, value=a.value, peak=a.peak
                )
                for message_id in self.shown_in.get(incident.id, ()):
                    self.outbox.request_edit(message_id, now)
            self.incidents[incident.id] = incident
            changed[incident.id] = incident
        return list(changed.values())

    def _evict(self) -> None:
        """Forget resolved incidents no open message or waiting post still shows."""
        queued = {int(i.ref) for i in self.outbox.items if i.kind in ("alert", "repeat")}
        for incident_id, incident in list(self.incidents.items()):
            if (
                not incident.active
                and incident_id not in queued
                and not self.shown_in.get(incident_id)
            ):
                del self.incidents[incident_id]

    # -- delivery -----------------------------------------------------------------------------

    async def deliver(self, now: float) -> float:
        """Send what is due; the seconds until the outbox wants to run again."""
        return await self.outbox.run_once(now)

    async def _render(self, kind: str, refs: Sequence[Any]) -> OutgoingMessage:
        now = self.clock()
        if kind == "error":
            groups = [g for fp in refs if (g := self.monitor.errors.groups.get(fp)) is not None]
            return OutgoingMessage(error_cards(groups, self.style, self.monitor.errors.secrets))
        incidents = sorted((self.incidents[i] for i in refs if i in self.incidents), key=_order)
        cards = alert_cards(
            incidents, self.style, now, repeat=kind == "repeat", silences=self.state.silences
        )
        actions = ACTIONS if any(i.active for i in incidents) else ()
        return OutgoingMessage(cards, actions=actions)

    async def render_message(self, message_id: int) -> OutgoingMessage | None:
        """What a tracked message should show now (None if it is not ours)."""
        return await self._render_edit(message_id)

    async def _render_edit(self, message_id: int) -> OutgoingMessage | None:
        ref = self.messages.get(message_id)
        if ref is not None:
            return await self._render(ref.kind, ref.items)
        fps = [fp for fp, post in self.error_posts.items() if post.message_id == message_id]
        if not fps:
            return None
        return await self._render("error", fps)

    async def _posted(
        self, kind: str, refs: Sequence[Any], message_id: int, channel_id: int, now: float
    ) -> None:
        if kind == "error":
            posts = []
            for fp in refs:
                group = self.monitor.errors.groups.get(fp)
                count = group.count if group is not None else 0
                posts.append(ErrorPost(fp, message_id, channel_id, count, now))
            self.error_posts.update({p.fingerprint: p for p in posts})
            await self.db.commit(None, None, error_posts=posts)
            return
        ids = tuple(int(r) for r in refs)
        ref = MessageRef(message_id, channel_id, "alert", ids, now)
        closed = not any(self._is_active(i) for i in ids)
        if closed:
            ref = dataclasses.replace(ref, closed=True)
        else:
            self._track(ref)
        await self.db.commit(None, None, messages=[ref])
        if closed:
            self._evict()

    async def _edited(self, message_id: int, now: float) -> None:
        ref = self.messages.get(message_id)
        if ref is None:
            changed = [
                dataclasses.replace(p, shown_count=g.count, updated=now)
                for p in self.error_posts.values()
                if p.message_id == message_id
                and (g := self.monitor.errors.groups.get(p.fingerprint)) is not None
            ]
            self.error_posts.update({p.fingerprint: p for p in changed})
            await self.db.commit(None, None, error_posts=changed)
            return
        if any(self._is_active(i) for i in ref.items):
            return
        del self.messages[message_id]
        for item in ref.items:
            self.shown_in.get(int(item), set()).discard(message_id)
        await self.db.commit(None, None, messages=[dataclasses.replace(ref, closed=True)])
        self._evict()

    # -- error groups (ErrorTracker callbacks: sync, cheap) ------------------------------------

    def on_error_new(self, group: ErrorGroup) -> None:
        self.outbox.enqueue("error", group.fingerprint, self.clock())
        if self.wake is not None:
            self.wake()

    def on_error_repeat(self, group: ErrorGroup) -> None:
        post = self.error_posts.get(group.fingerprint)
        if post is not None:
            self.outbox.request_edit(
                post.message_id, max(self.clock(), post.updated + ERROR_EDIT_INTERVAL)
            )

    # -- actions ------------------------------------------------------------------------------

    async def act(self, action: str, message_id: int, user_id: int, now: float) -> ActionResult:
        """A button on an alert post: ``ack``, ``silence`` (the rules, 1 h) or ``mute``."""
        if action not in ACTIONS:
            raise ValueError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
        async with self._lock:
            ref = self.messages.get(message_id) or await self.db.message(message_id)
            if ref is None or ref.kind != "alert":
                return ActionResult(False, "This message is not an alert I am tracking.")
            active = [self.incidents[int(i)] for i in ref.items if self._is_active(i)]
            if not active:
                return ActionResult(False, "These alerts have already resolved.")
            ids = [i.id for i in active]
            before = self.state
            rules = sorted({i.rule for i in active})
            if action == "ack":
                self.state = acknowledge(self.state, ids, user_id)
                changes: dict[str, Any] = {"acked_by": user_id}
                text = f"Acknowledged {len(ids)} alert(s): no reminders until they resolve."
            elif action == "mute":
                self.state = mute(self.state, ids, user_id)
                changes = {"acked_by": user_id, "muted": True}
                text = f"Muted {len(ids)} alert(s) until they resolve."
            else:
                for rule in rules:
                    self.state = silence(self.state, rule, now + 3600, user_id, "button")
                changes = {}
                text = f"Silenced {', '.join(rules)} for 1 h."
            updated = [dataclasses.replace(i, **changes) for i in active] if changes else []
            self.incidents.update({i.id: i for i in updated})
            await self.db.commit(before, self.state, incidents=updated)
            for mid in {m for i in ids for m in self.shown_in.get(i, ())} | {message_id}:
                self.outbox.request_edit(mid, now)
        if self.wake is not None:
            self.wake()
        log.info("alerts %s by user %d on message %d: %s", action, user_id, message_id, text)
        return ActionResult(True, text)

    def _rule(self, name: str) -> Rule:
        rule = self.rules_by_name.get(name)
        if rule is None:
            known = ", ".join(sorted(self.rules_by_name)) or "none"
            raise ValueError(f"no alert rule named {name!r}; rules: {known}")
        return rule

    async def silence_rule(self, name: str, seconds: float, by: int | None, now: float) -> float:
        """Silence a rule for ``seconds`` (1 min to 30 days); returns until when."""
        self._rule(name)
        if not 60 <= seconds <= 30 * 86400:
            raise ValueError(f"{duration_words(seconds)}: silence for 1 minute to 30 days")
        async with self._lock:
            before = self.state
            self.state = silence(self.state, name, now + seconds, by, "command")
            await self.db.commit(before, self.state)
        return now + seconds

    async def unsilence_rule(self, name: str) -> bool:
        """Lift a rule's silence; False when it was not silenced."""
        self._rule(name)
        async with self._lock:
            if name not in self.state.silences:
                return False
            before = self.state
            self.state = unsilence(self.state, name)
            await self.db.commit(before, self.state)
        return True

    # -- views --------------------------------------------------------------------------------

    def active(self) -> list[Incident]:
        return sorted((i for i in self.incidents.values() if i.active), key=_order)

    async def history(self, limit: int = 10) -> list[Incident]:
        return await self.db.recent_incidents(limit)

    async def health(self, name: str = "alert delivery") -> HealthResult:
        problem = await self.destination.check()
        now = self.clock()
        if problem is not None:
            log.warning("alert delivery: %s", problem)
            return HealthResult(name, HealthStatus.UNHEALTHY, problem, float(self.outbox.waiting))
        return self.outbox.health_result(name, now)
