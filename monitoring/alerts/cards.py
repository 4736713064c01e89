"""What alert and error posts say, as presentation-neutral :class:`~.delivery.Card` s.

The adapter supplies two small hooks so that text stays neutral here: ``mention(user_id)`` and
``when(ts)`` (the cog passes Discord's ``<@id>`` and ``<t:ts:f>`` forms; the defaults are plain
text in the configured time zone). Cards respect the limits of a chat embed (title 256,
description 4096, field 1024, 25 fields, 10 cards and 6,000 characters per message).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from ..errors import ErrorGroup, redact
from .delivery import Card, CardField
from .engine import FLAP_FIRES, FLAP_HOLD, FLAP_WINDOW, Silence
from .state import Incident

__all__ = [
    "COLOURS",
    "MAX_CARDS",
    "MAX_TOTAL",
    "CardStyle",
    "alert_cards",
    "duration_words",
    "error_cards",
    "fit_total",
    "format_value",
]

log = logging.getLogger(__name__)

COLOURS = {"critical": 0xE74C3C, "warning": 0xE67E22, "info": 0x3498DB, "resolved": 0x2ECC71}
MAX_CARDS = 10
MAX_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD = 1024
_ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


@dataclasses.dataclass(frozen=True, slots=True)
class CardStyle:
    """How the adapter wants people and times written."""

    tz: ZoneInfo = dataclasses.field(default_factory=lambda: ZoneInfo("UTC"))
    mention: Callable[[int], str] | None = None
    when: Callable[[float], str] | None = None

    def who(self, user_id: int) -> str:
        return self.mention(user_id) if self.mention else f"user {user_id}"

    def at(self, ts: float) -> str:
        if self.when:
            return self.when(ts)
        return dt.datetime.fromtimestamp(ts, self.tz).strftime("%Y-%m-%d %H:%M %Z")


def duration_words(seconds: float) -> str:
    s = int(max(0, round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "ms":
        return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"
    if unit == "s":
        return duration_words(value)
    if unit == "count":
        return f"{value:.0f}"
    if unit == "/min":
        return f"{value:.1f}/min"
    return f"{value:.4g}{(' ' + unit) if unit else ''}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _threshold(i: Incident) -> str:
    unit = i.unit if i.unit != "/min" else ""
    text = f"{i.comparison} {format_value(i.threshold, unit)}"
    if i.resolve_threshold is not None and i.resolve_threshold != i.threshold:
        back = "≤" if i.comparison in (">", ">=") else "≥"
        text += f" (resolves {back} {format_value(i.resolve_threshold, unit)})"
    return text


def _title(i: Incident, state: str) -> str:
    key = f" ({i.key})" if i.key else ""
    if state == "resolved":
        return _cut(f"✅ RESOLVED · {i.rule}{key}", MAX_TITLE)
    icon = _ICONS.get(i.severity, "⚪")
    prefix = "STILL FIRING" if state == "repeat" else i.severity.upper()
    return _cut(f"{icon} {prefix} · {i.rule}{key}", MAX_TITLE)


def incident_card(
    i: Incident,
    style: CardStyle,
    now: float,
    *,
    repeat: bool = False,
    silenced: Silence | None = None,
) -> Card:
    """One incident: firing (severity colour) or resolved (green, with how long it lasted)."""
    anomaly = i.kind == "anomaly"
    if anomaly:
        headline = i.detail
        value_text = f"{i.value:.1f} robust SDs from usual" if i.value is not None else "no data"
        thr = f"{i.comparison} {i.threshold:g} robust SDs"
    elif i.resolved is not None:
        back = "no data" if i.note == "no data" else f"back to **{format_value(i.value, i.unit)}**"
        headline = f"{i.label}: {back}"
        value_text = format_value(i.value, i.unit)
        thr = _threshold(i)
    else:
        headline = f"{i.label}: **{format_value(i.value, i.unit)}**"
        if i.detail:
            headline += f"\n{i.detail}"
        value_text = format_value(i.value, i.unit)
        thr = _threshold(i)
    fields = [
        CardField("Value" if i.active else "Last value", _cut(value_text, MAX_FIELD)),
        CardField("Threshold", _cut(thr, MAX_FIELD)),
        CardField("Since", style.at(i.started)),
    ]
    if i.resolved is not None:
        lasted = f"{duration_words(i.resolved - i.started)} (until {style.at(i.resolved)})"
        if i.note == "while offline":
            lasted += "\nresolved while the bot was offline"
        elif i.note:
            lasted += f"\n{i.note}"
        fields.append(CardField("Lasted", _cut(lasted, MAX_FIELD)))
        if i.peak is not None and not anomaly:
            fields.append(CardField("Peak", format_value(i.peak, i.unit)))
    else:
        fields.append(CardField("Firing for", duration_words(now - i.started)))
    if i.flapping:
        fields.append(
            CardField(
                "Flapping",
                f"fired {FLAP_FIRES}+ times within {duration_words(FLAP_WINDOW)}; resolves only "
                f"after {duration_words(FLAP_HOLD)} back to normal",
                inline=False,
            )
        )
    if i.acked_by is not None:
        verb = "Muted until resolved by" if i.muted else "Acknowledged by"
        fields.append(CardField("Handled", f"{verb} {style.who(i.acked_by)}", inline=False))
    if silenced is not None and i.active:
        by = f" by {style.who(silenced.by)}" if silenced.by else ""
        fields.append(
            CardField("Silenced", f"rule silenced until {style.at(silenced.until)}{by}", False)
        )
    state = "resolved" if i.resolved is not None else ("repeat" if repeat else "firing")
    colour = COLOURS["resolved"] if i.resolved is not None else COLOURS.get(i.severity, 0)
    return Card(
        title=_title(i, state),
        description=_cut(headline, MAX_DESCRIPTION),
        colour=colour,
        fields=tuple(fields),
        footer=f"incident #{i.id} · {i.severity}",
        timestamp=i.started,
    )


def summary_card(rest: Sequence[Incident], budget: int) -> Card:
    """The incidents that did not get a card of their own, one line each, as many as fit."""
    firing = sum(1 for i in rest if i.active)
    title = f"+{len(rest)} more alerts ({firing} firing, {len(rest) - firing} resolved)"
    lines: list[str] = []
    used = len(title) + 40
    for n, i in enumerate(rest):
        mark = "✅" if not i.active else _ICONS.get(i.severity, "⚪")
        key = f" ({i.key})" if i.key else ""
        line = f"{mark} {i.rule}{key}: {format_value(i.value, i.unit)}"
        if used + len(line) + 1 > min(budget, MAX_DESCRIPTION - 40):
            lines.append(f"… and {len(rest) - n} more")
            break
        lines.append(line)
        used += len(line) + 1
    worst = "critical" if any(i.severity == "critical" and i.active for i in rest) else "warning"
    return Card(
        title=_cut(title, MAX_TITLE),
        description="\n".join(lines),
        colour=COLOURS["resolved"] if not firing else COLOURS[worst],
    )


def card_length(card: Card) -> int:
    return (
        len(card.title)
        + len(card.description)
        + len(card.footer)
        + sum(len(f.name) + len(f.value) for f in card.fields)
    )


def alert_cards(
    incidents: Sequence[Incident],
    style: CardStyle,
    now: float,
    *,
    repeat: bool = False,
    silences: Mapping[str, Silence] | None = None,
) -> tuple[Card, ...]:
    """Cards for one grouped post: up to nine incidents in full, the rest summarised."""
    if len(incidents) <= MAX_CARDS:
        shown, rest = list(incidents), []
    else:
        shown, rest = list(incidents[: MAX_CARDS - 1]), list(incidents[MAX_CARDS - 1 :])
    live = {k: v for k, v in (silences or {}).items() if v.until > now}
    cards = [incident_card(i, style, now, repeat=repeat, silenced=live.get(i.rule)) for i in shown]
    if rest:
        used = sum(card_length(c) for c in cards)
        cards.append(summary_card(rest, MAX_TOTAL - used - 100))
    return fit_total(tuple(cards))


def error_cards(
    groups: Sequence[ErrorGroup], style: CardStyle, secrets: Sequence[str] = ()
) -> tuple[Card, ...]:
    """One card per new error group: type, where, count and a shortened, redacted traceback."""
    cards: list[Card] = []
    shown = list(groups[:MAX_CARDS])
    per_card = max(200, min(1500, (MAX_TOTAL - 600 * len(shown)) // max(1, len(shown))))
    for g in shown:
        where = f" in /{g.command}" if g.command else (f" in {g.location}" if g.location else "")
        trace = redact(g.traceback, secrets)
        if len(trace) > per_card:
            trace = "…" + trace[-(per_card - 1) :]
        message = redact(g.message, secrets)
        description = (f"{_cut(message, 300)}\n" if message else "") + f"```py\n{trace}\n```"
        fields = [
            CardField("Count", str(g.count)),
            CardField("First seen", style.at(g.first_seen)),
            CardField("Last seen", style.at(g.last_seen)),
        ]
        if g.location:
            fields.append(CardField("Where", _cut(g.location, 100)))
        if g.guild:
            fields.append(CardField("Guild", str(g.guild)))
        cards.append(
            Card(
                title=_cut(f"🐞 {g.type}{where}", MAX_TITLE),
                description=_cut(description, MAX_DESCRIPTION),
                colour=COLOURS["critical"],
                fields=tuple(fields),
                footer=f"error group {g.fingerprint}",
                timestamp=g.first_seen,
            )
        )
    if len(groups) > MAX_CARDS:
        log.warning("%d new error groups at once; posting the first %d", len(groups), MAX_CARDS)
    return fit_total(tuple(cards))


def fit_total(cards: tuple[Card, ...], limit: int = MAX_TOTAL) -> tuple[Card, ...]:
    """Shorten the longest descriptions until the cards fit ``limit`` characters together."""
    cards = cards[:MAX_CARDS]
    total = sum(card_length(c) for c in cards)
    out = list(cards)
    while total > limit:
        index = max(range(len(out)), key=lambda k: len(out[k].description))
        card = out[index]
        if len(card.description) > 1:
            keep = max(1, len(card.description) - (total - limit))
            out[index] = dataclasses.replace(card, description=_cut(card.description, keep))
        else:
            index = max(range(len(out)), key=lambda k: card_length(out[k]))
            card = out[index]
            out[index] = dataclasses.replace(card, fields=card.fields[: len(card.fields) // 2])
            if not card.fields:
                out.pop(index)
        total = sum(card_length(c) for c in out)
    return tuple(out)
