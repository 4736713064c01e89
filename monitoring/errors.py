"""Errors grouped by fingerprint (exception type + the top frames of our code), with redaction.

The tracker keeps groups in memory and persists them (``error_groups`` table) through the store's
write transaction. Tracebacks are shortened and scrubbed of secrets (Discord tokens, bearer
tokens, named secrets, known values; see :mod:`monitoring.redaction`) before they are kept or
shown.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import traceback
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from .clock import Clock, system_clock
from .redaction import redact
from .store.schema import register_migrations, register_retention

__all__ = ["ErrorGroup", "ErrorTracker", "fingerprint", "redact", "short_traceback"]

log = logging.getLogger(__name__)

register_migrations(
    "errors",
    [
        """
        CREATE TABLE IF NOT EXISTS error_groups (
            fingerprint TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            message TEXT NOT NULL,
            location TEXT NOT NULL,
            traceback TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            count INTEGER NOT NULL,
            guild INTEGER NOT NULL,
            command TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS error_groups_last_seen ON error_groups (last_seen)
        """
    ],
)
register_retention("errors", [("error_groups", "DELETE FROM error_groups WHERE last_seen < ?")])


def _frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(tb)) if tb else []


def _is_library(filename: str) -> bool:
    return "site-packages" in filename or "/lib/python3" in filename


def fingerprint(exc: BaseException, depth: int = 3) -> str:
    """A stable id for "the same error": type plus the innermost frames outside libraries.

    Line numbers are left out so that an unrelated edit above does not split a group.
    """
    frames = _frames(exc.__traceback__)
    own = [f for f in frames if not _is_library(f.filename)] or frames
    parts = [type(exc).__module__ + "." + type(exc).__qualname__]
    parts += [f"{f.filename.rsplit('/', 1)[-1]}:{f.name}" for f in own[-depth:]]
    return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:16]


def short_traceback(exc: BaseException, limit: int = 1500, secrets: Iterable[str] = ()) -> str:
    """The traceback's last lines, redacted, at most ``limit`` characters."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = redact(text, secrets)
    if len(text) > limit:
        text = "…" + text[-(limit - 1) :]
    return text


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorGroup:
    """All occurrences of one fingerprint."""

    fingerprint: str
    type: str
    message: str
    location: str
    traceback: str
    first_seen: float
    last_seen: float
    count: int
    guild: int = 0
    command: str = ""


class ErrorTracker:
    """Groups exceptions by fingerprint; new groups are announced to listeners.

    ``on_new`` callbacks receive the :class:`ErrorGroup` the first time a fingerprint is seen
    (the alerts module posts it); later occurrences only raise the count.
    """

    def __init__(self, *, clock: Clock = system_clock, secrets: Iterable[str] = ()) -> None:
        self.clock = clock
        self.secrets: tuple[str, ...] = ()
        self.add_secrets(*secrets)
        self.groups: dict[str, ErrorGroup] = {}
        self._dirty: set[str] = set()
        self.on_new: list[Callable[[ErrorGroup], Any]] = []
        self.on_repeat: list[Callable[[ErrorGroup], Any]] = []

    def add_secrets(self, *values: str | None) -> None:
        """Values to scrub by value from every message and traceback (the bot token, keys)."""
        self.secrets = tuple(dict.fromkeys([*self.secrets, *(v for v in values if v)]))

    def record(
        self, exc: BaseException, *, where: str = "", guild: int = 0, command: str = ""
    ) -> ErrorGroup:
        """Count one exception; returns its (updated) group."""
        now = self.clock()
        fp = fingerprint(exc)
        group = self.groups.get(fp)
        if group is None:
            frames = _frames(exc.__traceback__)
            location = where or (f"{frames[-1].name}" if frames else "unknown")
            group = ErrorGroup(
                fingerprint=fp,
                type=type(exc).__name__,
                message=redact(str(exc), self.secrets)[:300],
                location=location[:100],
                traceback=short_traceback(exc, secrets=self.secrets),
                first_seen=now,
                last_seen=now,
                count=1,
                guild=guild,
                command=command[:100],
            )
            self.groups[fp] = group
            self._dirty.add(fp)
            for cb in self.on_new:
                cb(group)
        else:
            group = dataclasses.replace(group, last_seen=now, count=group.count + 1)
            self.groups[fp] = group
            self._dirty.add(fp)
            for cb in self.on_repeat:
                cb(group)
        return group

    def top(self, n: int = 5, since: float = 0.0) -> list[ErrorGroup]:
        """Most frequent groups seen since ``since``."""
        recent = [g for g in self.groups.values() if g.last_seen >= since]
        return sorted(recent, key=lambda g: (-g.count, -g.last_seen))[:n]

    def forget_before(self, cut: float) -> int:
        """Drop groups last seen before ``cut`` (retention; a saved group's row goes with the
        store's retention run); returns how many were dropped."""
        old = [fp for fp, g in self.groups.items() if g.last_seen < cut and fp not in self._dirty]
        for fp in old:
            del self.groups[fp]
        return len(old)

    async def load(self, store: Any) -> None:
        """Load persisted groups (``store`` is a SQLiteStore)."""
        rows = await store.fetchall(
            "SELECT fingerprint, type, message, location, traceback, first_seen, last_seen, "
            "count, guild, command FROM error_groups"
        )
        for r in rows:
            self.groups.setdefault(r[0], ErrorGroup(*r))

    async def save(self, store: Any) -> None:
        """Persist groups changed since the last save (one transaction)."""
        if not self._dirty:
            return
        dirty = [self.groups[fp] for fp in self._dirty if fp in self.groups]
        async with store.transaction() as conn:
            await conn.executemany(
                "INSERT INTO error_groups (fingerprint, type, message, location, traceback, "
                "first_seen, last_seen, count, guild, command) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET last_seen = excluded.last_seen, "
                "count = excluded.count",
                [dataclasses.astuple(g) for g in dirty],
            )
        self._dirty.clear()
