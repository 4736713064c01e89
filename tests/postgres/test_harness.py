"""The throwaway server's own behaviour: a missing install is named, not skipped."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.helpers import postgres
from tests.helpers.postgres import PostgresServer, PostgresUnavailable


def test_missing_binaries_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PG_BIN", str(tmp_path))
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    with pytest.raises(PostgresUnavailable, match="apt-get install -y postgresql"):
        postgres.find_bindir()


async def test_server_answers_on_loopback_with_a_database_per_test(
    pg_server: PostgresServer,
) -> None:
    first, second = await pg_server.new_database(), await pg_server.new_database()
    assert first != second
    assert "@127.0.0.1:" in first
    conn = await asyncpg.connect(first)
    try:
        assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
        assert (await conn.fetchval("SHOW server_version")).split(".")[0].isdigit()
    finally:
        await conn.close()
