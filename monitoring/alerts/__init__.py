"""Alerts: rules as data, a pure engine, SQLite-backed state, grouped and rate-limited delivery.

- :mod:`.rules` - :class:`Rule`, the built-in rules and ``[[alert_rules]]`` validation
  (:func:`parse_rules` raises :class:`~monitoring.ConfigError` naming the rule and field).
- :mod:`.engine` - :func:`evaluate`: rules + state + observations + now -> transitions.
- :mod:`.signals` - each rule's current value from live readings and the store.
- :mod:`.state` - persistence (incidents, silences, messages, report runs).
- :mod:`.delivery` - cards, destinations, the rate-limited :class:`Outbox`.
- :mod:`.service` - :class:`AlertService`, used by the Discord cog.
"""

from __future__ import annotations

from .delivery import Card, CardField, DeliveryError, Destination, LogDestination, OutgoingMessage
from .engine import AlertState, EngineState, Observation, Transition, evaluate
from .rules import Rule, default_rules, parse_rules
from .service import ActionResult, AlertService
from .state import AlertStore, Incident

__all__ = [
    "ActionResult",
    "AlertService",
    "AlertState",
    "AlertStore",
    "Card",
    "CardField",
    "DeliveryError",
    "Destination",
    "EngineState",
    "Incident",
    "LogDestination",
    "Observation",
    "OutgoingMessage",
    "Rule",
    "Transition",
    "default_rules",
    "evaluate",
    "parse_rules",
]
