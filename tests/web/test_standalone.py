"""``python -m web --db FILE``: read-only viewing without a bot."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitoring import Config, FakeClock, Monitor
from monitoring.store.sqlite import SQLiteStore
from web import DASHBOARD, create_app

from .conftest import NOW
from .seed import G1

ROOT = Path(__file__).resolve().parents[2]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db_copy(seeded_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "copy.db"
    shutil.copyfile(seeded_db, db)
    return db


def _unchanged(db: Path, before: str) -> bool:
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return _digest(db) == before


async def test_readonly_app_serves_the_file_and_writes_nothing(
    aiohttp_client: Any, db_copy: Path
) -> None:
    db = db_copy
    before = _digest(db)
    clock = FakeClock(NOW)
    store = SQLiteStore(db, readonly=True, clock=clock)
    await store.open()
    monitor = Monitor(Config(db_path=db), clock=clock, store=store)
    app = create_app(monitor, live=False)
    client = await aiohttp_client(app)
    dash = app[DASHBOARD]
    token = await dash.sessions.issue_login("cli", None)
    resp = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert resp.status == 303
    real = await (await client.get("/api/metrics/realtime")).json()
    assert real["mode"] == "readonly"
    assert real["system"] is None  # no live process to read
    assert real["metrics"]["messages_processed"] > 0
    health = await (await client.get("/api/health/status")).json()
    assert health["status"] == "unknown" and health["services"] == {}
    assert "read-only" in health["note"]
    hist = await (await client.get(f"/api/metrics/historical?hours=24&guild={G1}")).json()
    assert hist["aggregates"]["total_messages"] > 0
    guilds = await (await client.get("/api/guilds")).json()
    assert guilds["names_known"] is False
    assert all(g["name"] is None for g in guilds["guilds"])  # standalone shows ids
    assert dash.audit.persist is False and dash.audit.pending == 0  # audit went to the log
    await client.close()
    await store.close()
    assert await asyncio.to_thread(_unchanged, db, before)


def _clean_env() -> dict[str, str]:
    """This process's environment without monitoring settings (and no monitoring.toml: cwd)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ANALYTICS_", "MONITOR_"))}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web", *args],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help() -> None:
    out = _run("--help")
    assert out.returncode == 0
    assert "--db" in out.stdout and "read-only" in out.stdout


def test_missing_database_is_an_error(tmp_path: Path) -> None:
    out = _run("--db", str(tmp_path / "nope.db"))
    assert out.returncode == 2
    assert "no such database file" in out.stderr


def test_public_address_without_key_is_refused(seeded_db: Path) -> None:
    out = _run("--db", str(seeded_db), "--host", "0.0.0.0", "--port", "0")
    assert out.returncode == 2
    assert "ANALYTICS_API_KEY" in out.stderr


def test_bad_port_is_refused(seeded_db: Path) -> None:
    out = _run("--db", str(seeded_db), "--port", "70000")
    assert out.returncode == 2
    assert "--port" in out.stderr


async def test_cli_serves_and_stops_cleanly(db_copy: Path) -> None:
    db = db_copy
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "web",
        "--db",
        str(db),
        "--port",
        "0",
        cwd=ROOT,
        env=_clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        text = ""
        async with asyncio.timeout(30):
            while "token=" not in text:
                line = await proc.stdout.readline()
                if not line:
                    break
                text += line.decode()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/login\?token=([\w-]+)", text)
        assert match, text
        base, token = match.groups()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            assert (await session.get(f"{base}/healthz")).status == 200
            assert (await session.get(f"{base}/api/session")).status == 401
            resp = await session.post(f"{base}/login", data={"token": token})
            assert resp.status == 200 and resp.url.path == "/"  # followed the 303 to the page
            me = await (await session.get(f"{base}/api/session")).json()
            assert me["mode"] == "readonly" and me["scope"] == "all"
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            code = await proc.wait()
        assert code == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
