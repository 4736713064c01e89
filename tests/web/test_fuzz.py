"""Schemathesis against the running dashboard: every operation of ``/api/openapi.json``, every
check, positive and negative data, as the owner (API key), as a guild manager (session cookie)
and anonymously, with a fixed seed. Any finding fails the suite.

Excluded, and why:
- ``/ws``: schemathesis speaks plain HTTP. A request with the documented handshake headers is
  switched to a WebSocket (101), which it reports as a failure, and one without them is a
  documented 400. The socket is tested by ``test_ws.py``, ``test_session_lifetime.py`` and
  ``test_contract.py``.
- ``ignored_auth``, for the manager only: the session travels as a fixed ``Cookie`` header, so
  the check's "invalid credentials" variants (an empty key header, an ``Authorization`` of another
  scheme) still carry the valid cookie, and the schema documents that such a header is not a key
  and the cookie is used. For the owner the check runs: a wrong key is refused even beside a
  valid cookie.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitoring import Config, FakeClock, Monitor
from web import DASHBOARD, create_app, start_site

from .conftest import NOW
from .seed import G1, NAMES

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fuzz")]

API_KEY = "fuzz-api-key-0123456789"
ST = Path(sys.executable).with_name("st")
EXAMPLES = 25


@pytest.fixture
async def dashboard(tmp_path: Path, seeded_db: Path) -> AsyncIterator[tuple[str, str]]:
    if not ST.exists():
        pytest.fail(f"schemathesis is not installed ({ST}); run make install")
    db = tmp_path / "monitoring.db"
    shutil.copyfile(seeded_db, db)
    config = Config(
        db_path=db,
        api_key=API_KEY,
        anonymous_requests_per_minute=100_000,  # the fuzzer is one address
        signin_attempts_per_minute=1000,
    )
    monitor = Monitor(config, clock=FakeClock(NOW))
    await monitor.start(background=False)
    app = create_app(monitor, guild_names=lambda: dict(NAMES))
    runner = await start_site(app, "127.0.0.1", 0, api_key=API_KEY)
    dash = app[DASHBOARD]
    redeemed = await dash.sessions.redeem(
        await dash.sessions.issue_login("manager", G1, 304_987_654_321_000_042)
    )
    assert redeemed is not None
    try:
        yield dash.base_url, redeemed[0]
    finally:
        await runner.cleanup()
        await monitor.stop()


async def _schemathesis(base: str, *extra: str) -> None:
    # run in an empty folder of its own: schemathesis keeps a cache in the working directory,
    # which must neither land in the repository nor carry one run's findings into the next
    with tempfile.TemporaryDirectory() as workdir:
        proc = await asyncio.create_subprocess_exec(
            str(ST), "run", f"{base}/api/openapi.json",
            "--checks", "all", "--mode", "all", "--max-examples", str(EXAMPLES), "--seed", "1",
            "--generation-database", "none", "--workers", "1", "--exclude-path", "/ws",
            "--request-timeout", "10", *extra,
            cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, f"schemathesis found problems:\n{text[-12000:]}"
    assert "Tested: 12" in text, text[-3000:]  # every operation but /ws


async def test_the_owner_with_an_api_key(dashboard: tuple[str, str]) -> None:
    base, _ = dashboard
    await _schemathesis(base, "-H", f"Authorization: Bearer {API_KEY}")


async def test_a_guild_manager_with_a_session(dashboard: tuple[str, str]) -> None:
    base, session = dashboard
    await _schemathesis(
        base, "-H", f"Cookie: monitor_session={session}", "--exclude-checks", "ignored_auth"
    )


async def test_anonymous(dashboard: tuple[str, str]) -> None:
    base, _ = dashboard
    await _schemathesis(base)
