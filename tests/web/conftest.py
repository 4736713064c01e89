"""Fixtures for the dashboard tests: a seeded monitor (fake clock), the app and its clients."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from monitoring import Config, FakeClock, Monitor
from monitoring.store.sqlite import SQLiteStore
from web import DASHBOARD, create_app
from web.auth import SESSION_COOKIE

from .seed import G1, NAMES, seed_store

NOW = 1_767_225_600.0 + 14 * 3600 + 30  # 2026-01-01 14:00:30 UTC
API_KEY = "test-api-key-0123456789"

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with 8 days of metrics ending at NOW, built once and copied per test."""
    path = tmp_path_factory.mktemp("seed") / "seeded.db"

    async def build() -> None:
        store = SQLiteStore(path, clock=FakeClock(NOW))
        await store.open()
        await seed_store(store, NOW)
        await store.checkpoint()
        await store.close()

    asyncio.run(build())
    return path


@pytest.fixture
def config(tmp_path: Path, seeded_db: Path) -> Config:
    db = tmp_path / "monitoring.db"
    shutil.copyfile(seeded_db, db)
    return Config(
        db_path=db,
        api_key=API_KEY,
        websocket_update_interval=0.2,
        flush_interval_seconds=0.5,
    )


@pytest.fixture
async def monitor(config: Config, clock: FakeClock) -> AsyncIterator[Monitor]:
    mon = Monitor(config, clock=clock)
    await mon.start(background=False)
    yield mon
    await mon.stop()


@pytest.fixture
def app(monitor: Monitor) -> web.Application:
    return create_app(monitor, guild_names=lambda: dict(NAMES))


@pytest.fixture
async def client(aiohttp_client: ClientFactory, app: web.Application) -> TestClient[Any, Any]:
    return await aiohttp_client(app)


def key_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


async def sign_in(
    client: TestClient[Any, Any], guild: int | None, who: str = "tester", user_id: int | None = None
) -> str:
    """Issue a login token, redeem it through the real endpoints, return the session id."""
    dash = client.app[DASHBOARD]
    token = await dash.sessions.issue_login(who, guild, user_id)
    resp = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    cookie = resp.cookies[SESSION_COOKIE]
    client.session.cookie_jar.clear()  # requests name their credentials explicitly
    return cookie.value


def cookie_headers(session_id: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session_id}"}


@pytest.fixture
async def owner_headers(client: TestClient[Any, Any]) -> dict[str, str]:
    """Cookie header of the bot owner's session (every guild)."""
    return cookie_headers(await sign_in(client, None, "owner"))


@pytest.fixture
async def manager_headers(client: TestClient[Any, Any]) -> dict[str, str]:
    """Cookie header of a guild manager's session (guild G1 only)."""
    return cookie_headers(await sign_in(client, G1, "manager"))
