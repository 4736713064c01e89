"""The dashboard's own tables (login tokens, sessions, audit log), as the ``web`` component.

Registered at import; :func:`web.app.create_app` calls ``store.migrate()`` at startup because the
store is usually opened (by the monitor) before this module is imported.
"""

from __future__ import annotations

import logging

from monitoring.store.schema import register_migrations

__all__ = ["WEB_MIGRATIONS"]

log = logging.getLogger(__name__)

WEB_MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS web_login_tokens (
        token_hash TEXT PRIMARY KEY,
        who TEXT NOT NULL,
        guild INTEGER,
        expires REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS web_sessions (
        token_hash TEXT PRIMARY KEY,
        who TEXT NOT NULL,
        guild INTEGER,
        created REAL NOT NULL,
        expires REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS web_audit (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        who TEXT NOT NULL,
        scope TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        remote TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS web_audit_ts ON web_audit (ts)
    """,
    # the Discord user behind each session (revoke all of a user's sessions; re-check their
    # rights), and when those rights were last checked
    """
    ALTER TABLE web_login_tokens ADD COLUMN user_id INTEGER;
    ALTER TABLE web_sessions ADD COLUMN user_id INTEGER;
    ALTER TABLE web_sessions ADD COLUMN checked REAL NOT NULL DEFAULT 0;
    CREATE INDEX IF NOT EXISTS web_sessions_user ON web_sessions (user_id)
    """,
    # repeated anonymous failures from one address within a minute are one row with a count
    """
    ALTER TABLE web_audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1
    """,
]

register_migrations("web", WEB_MIGRATIONS)
