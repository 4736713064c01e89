"""The alert engine: a pure function of rules, state, observations and now.

:func:`evaluate` returns the next :class:`EngineState` and the :class:`Transition` list (firing,
resolved, repeat); nothing here reads a clock, a store or a channel, so every timing rule is
tested with plain numbers.

Per alert (a rule and, for per-shard rules, a key such as ``shard=3``):

- ``ok`` -> ``pending`` when the value crosses the threshold; -> ``firing`` once it has stayed
  beyond it for ``for_seconds`` (at once when that is 0). Pending falls back to ``ok`` as soon as
  the value is not beyond the threshold.
- ``firing`` -> ``ok`` (resolved) once the value is back past ``resolve_threshold`` (hysteresis)
  and has stayed there ``resolve_after_seconds``; no data counts as back to normal.
- Flap damping: an alert that fires :data:`FLAP_FIRES` times within :data:`FLAP_WINDOW` is marked
  flapping and then resolves only after :data:`FLAP_HOLD` seconds back to normal, so a value
  dancing on the threshold makes one long incident instead of a post every minute.
- Notifications: a firing alert is announced unless its rule is silenced (it is announced when
  the silence ends, if still firing); it is repeated every ``repeat_seconds`` unless acknowledged
  or muted. Muting lasts until the incident resolves.
- After a gap (the bot was down longer than ``offline_after``), pending alerts start over, and a
  resolution found on the first evaluation is marked as having happened while offline.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from .rules import Rule

__all__ = [
    "FLAP_FIRES",
    "FLAP_HOLD",
    "FLAP_WINDOW",
    "AlertState",
    "EngineState",
    "Evaluation",
    "Observation",
    "Silence",
    "Transition",
    "acknowledge",
    "evaluate",
    "mute",
    "silence",
    "unsilence",
]

log = logging.getLogger(__name__)

FLAP_FIRES = 3
FLAP_WINDOW = 3600.0
FLAP_HOLD = 900.0

Phase = Literal["ok", "pending", "firing"]
Kind = Literal["firing", "resolved", "repeat"]
AlertKey = tuple[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class Observation:
    """A rule's current value for one key (None: no data), with optional words about it."""

    value: float | None
    detail: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class AlertState:
    """Where one alert stands. ``since`` is when the condition began (pending start)."""

    rule: str
    key: str = ""
    phase: Phase = "ok"
    since: float = 0.0
    fired_at: float | None = None
    ok_since: float | None = None
    value: float | None = None
    peak: float | None = None
    detail: str = ""
    incident: int = 0
    fires: tuple[float, ...] = ()
    flapping: bool = False
    notified: bool = False
    last_notified: float | None = None
    acked_by: int | None = None
    muted: bool = False
    last_eval: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class Silence:
    rule: str
    until: float
    by: int | None = None
    reason: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class EngineState:
    alerts: Mapping[AlertKey, AlertState] = dataclasses.field(default_factory=dict)
    silences: Mapping[str, Silence] = dataclasses.field(default_factory=dict)
    next_incident: int = 1

    def silenced(self, rule: str, now: float) -> Silence | None:
        s = self.silences.get(rule)
        return s if s is not None and s.until > now else None

    def by_incident(self, incident: int) -> AlertState | None:
        for alert in self.alerts.values():
            if alert.incident == incident and alert.phase == "firing":
                return alert
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class Transition:
    kind: Kind
    rule: Rule
    alert: AlertState
    """The alert after the transition (for ``resolved``: the incident's last firing state)."""
    at: float
    notify: bool
    note: str = ""
    """For ``resolved``: ``"no data"``, ``"rule removed"``, ``"while offline"`` or empty."""

    @property
    def duration(self) -> float:
        return self.at - self.alert.since


@dataclasses.dataclass(frozen=True, slots=True)
class Evaluation:
    state: EngineState
    transitions: tuple[Transition, ...]


def _peak(rule: Rule, peak: float | None, value: float | None) -> float | None:
    if value is None:
        return peak
    if peak is None:
        return value
    return max(peak, value) if rule.comparison in (">", ">=") else min(peak, value)


def _step(
    rule: Rule,
    prev: AlertState,
    obs: Observation,
    now: float,
    silenced: bool,
    offline: bool,
    next_incident: int,
) -> tuple[AlertState, Transition | None]:
    value = obs.value
    breach = value is not None and rule.breached(value)
    cur = dataclasses.replace(prev, value=value, detail=obs.detail or prev.detail, last_eval=now)
    if cur.phase == "pending" and offline:
        cur = dataclasses.replace(cur, phase="ok")

    if cur.phase in ("ok", "pending"):
        if not breach:
            return dataclasses.replace(cur, phase="ok", peak=None), None
        since = cur.since if cur.phase == "pending" else now
        if now - since < rule.for_seconds:
            return dataclasses.replace(
                cur,
                phase="pending",
                since=since,
                peak=_peak(rule, cur.peak if cur.phase == "pending" else None, value),
            ), None
        fires = (*(t for t in cur.fires if now - t < FLAP_WINDOW), now)
        fired = dataclasses.replace(
            cur,
            phase="firing",
            since=since,
            fired_at=now,
            ok_since=None,
            peak=_peak(rule, cur.peak if cur.phase == "pending" else None, value),
            incident=next_incident,
            fires=fires,
            flapping=len(fires) >= FLAP_FIRES,
            notified=not silenced,
            last_notified=None if silenced else now,
            acked_by=None,
            muted=False,
        )
        return fired, Transition("firing", rule, fired, now, notify=not silenced)

    # firing
    cur = dataclasses.replace(cur, peak=_peak(rule, cur.peak, value))
    if value is None or rule.cleared(value):
        ok_since = cur.ok_since if cur.ok_since is not None else now
        hold = max(rule.resolve_after_seconds, FLAP_HOLD if cur.flapping else 0.0)
        if now - ok_since >= hold or offline:
            note = "while offline" if offline else ("no data" if value is None else "")
            resolved = dataclasses.replace(
                cur, phase="ok", ok_since=None, value=prev.value if value is None else value
            )
            transition = Transition("resolved", rule, cur, now, notify=cur.notified, note=note)
            return dataclasses.replace(
                resolved, peak=None, acked_by=None, muted=False, notified=False
            ), transition
        return dataclasses.replace(cur, ok_since=ok_since), None

    cur = dataclasses.replace(cur, ok_since=None)
    if cur.muted or silenced:
        return cur, None
    if not cur.notified:
        late = dataclasses.replace(cur, notified=True, last_notified=now)
        return late, Transition("firing", rule, late, now, notify=True)
    if (
        rule.repeat_seconds > 0
        and cur.acked_by is None
        and cur.last_notified is not None
        and now - cur.last_notified >= rule.repeat_seconds
    ):
        again = dataclasses.replace(cur, last_notified=now)
        return again, Transition("repeat", rule, again, now, notify=True)
    return cur, None


def evaluate(
    rules: Sequence[Rule],
    state: EngineState,
    observations: Mapping[str, Mapping[str, Observation]],
    now: float,
    *,
    offline_after: float = 300.0,
) -> Evaluation:
    """One evaluation round. ``observations[rule.name][key]``; a missing key means no data."""
    alerts: dict[AlertKey, AlertState] = {}
    transitions: list[Transition] = []
    next_incident = state.next_incident
    by_rule: dict[str, list[AlertState]] = {}
    for alert in state.alerts.values():
        by_rule.setdefault(alert.rule, []).append(alert)
    names = {r.name for r in rules}

    for rule in rules:
        obs = observations.get(rule.name, {})
        keys = dict.fromkeys(obs)
        for alert in by_rule.get(rule.name, ()):
            keys.setdefault(alert.key)
        silenced = state.silenced(rule.name, now) is not None
        for key in keys:
            prev = state.alerts.get((rule.name, key)) or AlertState(rule.name, key)
            offline = bool(prev.last_eval) and now - prev.last_eval > offline_after
            new, transition = _step(
                rule, prev, obs.get(key, _NO_DATA), now, silenced, offline, next_incident
            )
            if transition is not None:
                transitions.append(transition)
                if transition.kind == "firing" and new.incident == next_incident:
                    next_incident += 1
            if new.phase != "ok" or any(now - t < FLAP_WINDOW for t in new.fires):
                alerts[(rule.name, key)] = new

    for (name, key), alert in state.alerts.items():
        if name in names:
            continue
        if alert.phase == "firing":
            removed = Rule(name=name, metric="(removed)", comparison=">", threshold=0.0)
            transitions.append(
                Transition("resolved", removed, alert, now, alert.notified, note="rule removed")
            )
        log.info("alert %s/%s dropped: its rule no longer exists", name, key)

    silences = {k: s for k, s in state.silences.items() if s.until > now}
    new_state = EngineState(alerts, silences, next_incident)
    return Evaluation(new_state, tuple(transitions))


_NO_DATA = Observation(None)


def _update(state: EngineState, incidents: Iterable[int], **changes: object) -> EngineState:
    wanted = set(incidents)
    alerts = dict(state.alerts)
    for key, alert in state.alerts.items():
        if alert.phase == "firing" and alert.incident in wanted:
            alerts[key] = dataclasses.replace(alert, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(state, alerts=alerts)


def acknowledge(state: EngineState, incidents: Iterable[int], by: int) -> EngineState:
    """Acknowledged incidents are not repeated (they still resolve normally)."""
    return _update(state, incidents, acked_by=by)


def mute(state: EngineState, incidents: Iterable[int], by: int) -> EngineState:
    """Muted incidents post nothing more until they resolve."""
    return _update(state, incidents, muted=True, acked_by=by)


def silence(
    state: EngineState, rule: str, until: float, by: int | None, reason: str = ""
) -> EngineState:
    """Silence a rule until ``until``: its alerts still change state but are not announced."""
    silences = {**state.silences, rule: Silence(rule, until, by, reason)}
    return dataclasses.replace(state, silences=silences)


def unsilence(state: EngineState, rule: str) -> EngineState:
    silences = {k: s for k, s in state.silences.items() if k != rule}
    return dataclasses.replace(state, silences=silences)
