"""Alert state and history in SQLite, beside the metrics (``register_migrations("alerts")``).

What is kept, so that a restart neither re-announces nor forgets anything:

- ``alert_state``: the engine's :class:`~monitoring.alerts.engine.AlertState` per alert (JSON).
- ``alert_silences``: silenced rules and until when.
- ``alert_incidents``: one row per incident (fired -> resolved), the history ``/alerts`` shows.
- ``alert_messages``: which channel message shows which incidents (or error groups), so a
  resolve edits the right message and the buttons work after a restart.
- ``alert_error_posts``: the message posted for each error group and the count it shows.
- ``alert_meta``: the next incident number, when the engine last ran, report bookkeeping.
- ``report_runs``: one row per local report day: exactly one daily report per day.

Every change of one evaluation round is written in one transaction (:meth:`AlertStore.commit`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from ..store.schema import register_migrations, register_retention
from .engine import AlertState, EngineState, Silence

__all__ = ["AlertStore", "ErrorPost", "Incident", "MessageRef", "ReportRun"]

log = logging.getLogger(__name__)

register_migrations(
    "alerts",
    [
        """
        CREATE TABLE IF NOT EXISTS alert_state (
            rule TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
            PRIMARY KEY (rule, key)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS alert_silences (
            rule TEXT PRIMARY KEY, until REAL NOT NULL, by_user INTEGER, reason TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS alert_incidents (
            id INTEGER PRIMARY KEY, rule TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
            fired REAL NOT NULL, resolved REAL
        );
        CREATE INDEX IF NOT EXISTS alert_incidents_fired ON alert_incidents (fired);
        CREATE TABLE IF NOT EXISTS alert_messages (
            message_id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, kind TEXT NOT NULL,
            items TEXT NOT NULL, created REAL NOT NULL, closed INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS alert_error_posts (
            fingerprint TEXT PRIMARY KEY, message_id INTEGER NOT NULL, channel_id INTEGER NOT NULL,
            shown_count INTEGER NOT NULL, updated REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS alert_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS report_runs (
            day TEXT PRIMARY KEY, scheduled REAL NOT NULL, status TEXT NOT NULL,
            posted_at REAL, late INTEGER NOT NULL DEFAULT 0, message_id INTEGER
        )
        """
    ],
)
register_retention(
    "alerts",
    [  # history only: open incidents, live alert state and silences are kept
        ("alert_incidents", "DELETE FROM alert_incidents WHERE resolved < ?"),
        ("alert_messages", "DELETE FROM alert_messages WHERE closed = 1 AND created < ?"),
        ("alert_error_posts", "DELETE FROM alert_error_posts WHERE updated < ?"),
        ("report_runs", "DELETE FROM report_runs WHERE scheduled < ?"),
    ],
)


@dataclasses.dataclass(frozen=True, slots=True)
class Incident:
    """One firing of one alert, from fired to resolved: what posts and ``/alerts`` show."""

    id: int
    rule: str
    key: str
    severity: str
    label: str
    comparison: str
    threshold: float
    unit: str
    started: float
    fired: float
    value: float | None = None
    peak: float | None = None
    detail: str = ""
    resolved: float | None = None
    note: str = ""
    flapping: bool = False
    acked_by: int | None = None
    muted: bool = False
    notify: bool = True
    repeats: int = 0
    resolve_threshold: float | None = None
    kind: str = "threshold"
    """The rule's kind: ``"threshold"`` or ``"anomaly"`` (value = deviation, detail = words)."""

    @property
    def active(self) -> bool:
        return self.resolved is None

    @property
    def duration(self) -> float | None:
        return None if self.resolved is None else self.resolved - self.started


@dataclasses.dataclass(frozen=True, slots=True)
class MessageRef:
    """A posted message and what it shows: incident ids (``kind="alert"``) or fingerprints."""

    message_id: int
    channel_id: int
    kind: str
    items: tuple[Any, ...]
    created: float
    closed: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorPost:
    fingerprint: str
    message_id: int
    channel_id: int
    shown_count: int
    updated: float


@dataclasses.dataclass(frozen=True, slots=True)
class ReportRun:
    day: str
    """The local date the report is for (ISO), the key that makes it once a day."""
    scheduled: float
    status: str
    """``"pending"`` (claimed, not yet confirmed posted) or ``"sent"``."""
    posted_at: float | None = None
    late: bool = False
    message_id: int | None = None


def _state_json(alert: AlertState) -> str:
    return json.dumps(dataclasses.asdict(alert), separators=(",", ":"))


def _state_from(data: str) -> AlertState:
    raw = json.loads(data)
    raw["fires"] = tuple(raw.get("fires", ()))
    return AlertState(**raw)


def _incident_from(data: str) -> Incident:
    return Incident(**json.loads(data))


class AlertStore:
    """Reads and writes the alert tables through a :class:`~monitoring.store.sqlite.SQLiteStore`."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def ensure_schema(self) -> None:
        """Apply the alert migrations if the store was opened before this module was imported."""
        migrate = getattr(self.store, "migrate", None)
        if migrate is not None:
            await migrate()

    # -- loading ------------------------------------------------------------------------------

    async def load_engine(self) -> EngineState:
        rows = await self.store.fetchall("SELECT data FROM alert_state")
        alerts = {}
        for (data,) in rows:
            alert = _state_from(data)
            alerts[(alert.rule, alert.key)] = alert
        silences = {
            r[0]: Silence(r[0], float(r[1]), r[2], r[3])
            for r in await self.store.fetchall(
                "SELECT rule, until, by_user, reason FROM alert_silences"
            )
        }
        top = await self.store.fetchall("SELECT COALESCE(MAX(id), 0) FROM alert_incidents")
        counter = int(await self.meta("next_incident") or 1)
        return EngineState(alerts, silences, max(counter, int(top[0][0]) + 1))

    async def meta(self, key: str) -> str | None:
        rows = await self.store.fetchall("SELECT value FROM alert_meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self.store.transaction() as conn:
            await _set_meta(conn, key, value)

    async def incidents_where(self, sql: str, params: Sequence[Any] = ()) -> list[Incident]:
        rows = await self.store.fetchall(f"SELECT data FROM alert_incidents WHERE {sql}", params)
        return [_incident_from(r[0]) for r in rows]

    async def open_incidents(self) -> list[Incident]:
        return await self.incidents_where("resolved IS NULL ORDER BY id")

    async def recent_incidents(self, limit: int = 10) -> list[Incident]:
        return await self.incidents_where("1 ORDER BY fired DESC, id DESC LIMIT ?", (limit,))

    async def incidents(self, ids: Iterable[int]) -> list[Incident]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        return await self.incidents_where(f"id IN ({marks}) ORDER BY id", wanted)

    async def open_messages(self) -> list[MessageRef]:
        rows = await self.store.fetchall(
            "SELECT message_id, channel_id, kind, items, created FROM alert_messages "
            "WHERE closed = 0 ORDER BY created"
        )
        return [MessageRef(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4]) for r in rows]

    async def message(self, message_id: int) -> MessageRef | None:
        rows = await self.store.fetchall(
            "SELECT message_id, channel_id, kind, items, created, closed FROM alert_messages "
            "WHERE message_id = ?",
            (message_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return MessageRef(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], bool(r[5]))

    async def error_posts(self) -> dict[str, ErrorPost]:
        rows = await self.store.fetchall(
            "SELECT fingerprint, message_id, channel_id, shown_count, updated FROM alert_error_posts"
        )
        return {r[0]: ErrorPost(*r) for r in rows}

    async def report_runs(self, limit: int = 10) -> list[ReportRun]:
        rows = await self.store.fetchall(
            "SELECT day, scheduled, status, posted_at, late, message_id FROM report_runs "
            "ORDER BY day DESC LIMIT ?",
            (limit,),
        )
        return [ReportRun(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    # -- writing ------------------------------------------------------------------------------

    async def commit(
        self,
        before: EngineState | None,
        after: EngineState | None,
        *,
        incidents: Iterable[Incident] = (),
        messages: Iterable[MessageRef] = (),
        error_posts: Iterable[ErrorPost] = (),
        meta: dict[str, str] | None = None,
    ) -> None:
        """Write what changed between two engine states plus the given records, atomically."""
        state_rows: list[tuple[str, str, str]] = []
        deleted: list[tuple[str, str]] = []
        silence_rows: list[tuple[str, float, int | None, str]] = []
        unsilenced: list[tuple[str]] = []
        if after is not None:
            old = before.alerts if before is not None else {}
            for key, alert in after.alerts.items():
                if old.get(key) != alert:
                    state_rows.append((alert.rule, alert.key, _state_json(alert)))
            deleted = [key for key in old if key not in after.alerts]
            old_s = before.silences if before is not None else {}
            silence_rows = [
                (s.rule, s.until, s.by, s.reason)
                for name, s in after.silences.items()
                if old_s.get(name) != s
            ]
            unsilenced = [(name,) for name in old_s if name not in after.silences]
            meta = {**(meta or {}), "next_incident": str(after.next_incident)}
        incident_rows = [
            (i.id, i.rule, i.key, json.dumps(dataclasses.asdict(i)), i.fired, i.resolved)
            for i in incidents
        ]
        message_rows = [
            (
                m.message_id,
                m.channel_id,
                m.kind,
                json.dumps(list(m.items)),
                m.created,
                int(m.closed),
            )
            for m in messages
        ]
        post_rows = [dataclasses.astuple(p) for p in error_posts]
        async with self.store.transaction() as conn:
            if state_rows:
                await conn.executemany(
                    "INSERT OR REPLACE INTO alert_state (rule, key, data) VALUES (?, ?, ?)",
                    state_rows,
                )
            if deleted:
                await conn.executemany(
                    "DELETE FROM alert_state WHERE rule = ? AND key = ?", deleted
                )
            if silence_rows:
                await conn.executemany(
                    "INSERT OR REPLACE INTO alert_silences (rule, until, by_user, reason) "
                    "VALUES (?, ?, ?, ?)",
                    silence_rows,
                )
            if unsilenced:
                await conn.executemany("DELETE FROM alert_silences WHERE rule = ?", unsilenced)
            if incident_rows:
                await conn.executemany(
                    "INSERT OR REPLACE INTO alert_incidents (id, rule, key, data, fired, resolved) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    incident_rows,
                )
            if message_rows:
                await conn.executemany(
                    "INSERT OR REPLACE INTO alert_messages (message_id, channel_id, kind, items, "
                    "created, closed) VALUES (?, ?, ?, ?, ?, ?)",
                    message_rows,
                )
            if post_rows:
                await conn.executemany(
                    "INSERT OR REPLACE INTO alert_error_posts (fingerprint, message_id, "
                    "channel_id, shown_count, updated) VALUES (?, ?, ?, ?, ?)",
                    post_rows,
                )
            for name, value in (meta or {}).items():
                await _set_meta(conn, name, value)

    async def save_report_run(self, run: ReportRun) -> None:
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO report_runs (day, scheduled, status, posted_at, late, "
                "message_id) VALUES (?, ?, ?, ?, ?, ?)",
                (run.day, run.scheduled, run.status, run.posted_at, int(run.late), run.message_id),
            )

    async def report_run(self, day: str) -> ReportRun | None:
        rows = await self.store.fetchall(
            "SELECT day, scheduled, status, posted_at, late, message_id FROM report_runs "
            "WHERE day = ?",
            (day,),
        )
        if not rows:
            return None
        r = rows[0]
        return ReportRun(r[0], r[1], r[2], r[3], bool(r[4]), r[5])


async def _set_meta(conn: Any, key: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO alert_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
