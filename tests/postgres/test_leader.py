"""Leader election by PostgreSQL advisory lock, against a real server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time

import asyncpg

from monitoring.leader import AdvisoryLockLeadership, SoloLeadership


async def test_one_leader_at_a_time_and_release_on_close(pg_dsn: str) -> None:
    a = AdvisoryLockLeadership(pg_dsn, "alpha")
    b = AdvisoryLockLeadership(pg_dsn, "beta")
    try:
        assert await a.check()
        assert not await b.check()
        assert await a.check(), "the leader keeps the lead on later checks"
        assert not await b.check()
        assert await b.leader() == "alpha"
        await a.close()
        assert await b.check()
        assert await a.leader() == "beta"
        assert not await a.check()
    finally:
        await a.close()
        await b.close()


async def test_lost_session_hands_the_lead_over(pg_dsn: str) -> None:
    a = AdvisoryLockLeadership(pg_dsn, "alpha")
    b = AdvisoryLockLeadership(pg_dsn, "beta")
    admin = await asyncpg.connect(pg_dsn)
    try:
        assert await a.check()
        killed = await admin.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'discord-bot-monitoring leader:alpha'"
        )
        assert killed
        assert await b.check(), "the lock went with the terminated session"
        assert not await a.check(), "the old leader notices it lost the lead"
        assert not a.held
        assert await b.leader() == "beta"
    finally:
        await admin.close()
        await a.close()
        await b.close()


async def test_sigkilled_leader_process_is_replaced(pg_dsn: str) -> None:
    holder = textwrap.dedent(
        f"""
        import asyncio, sys
        from monitoring.leader import AdvisoryLockLeadership
        async def main():
            lead = AdvisoryLockLeadership({pg_dsn!r}, "doomed")
            assert await lead.check()
            sys.stdout.write("leader\\n"); sys.stdout.flush()
            await asyncio.sleep(3600)
        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", holder, stdout=asyncio.subprocess.PIPE, cwd=os.getcwd()
    )
    b = AdvisoryLockLeadership(pg_dsn, "survivor")
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.strip() == b"leader"
        assert not await b.check()
        assert await b.leader() == "doomed"
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
        # the server ends the dead process's session when its socket closes; poll the condition
        deadline = time.monotonic() + 10
        while not await b.check():
            assert time.monotonic() < deadline, "the lead was not handed over after SIGKILL"
            await asyncio.sleep(0.05)
        assert await b.leader() == "survivor"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await b.close()


async def test_unreachable_database_is_not_the_leader() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        lead = AdvisoryLockLeadership(f"postgresql://x@127.0.0.1:{port}/x", "alpha", timeout=2)
        assert not await lead.check()
        assert await lead.leader() is None
        await lead.close()


async def test_solo_is_always_the_leader() -> None:
    solo = SoloLeadership("main")
    assert await solo.check()
    assert await solo.leader() == "main"
    await solo.close()


def test_key_must_fit_bigint() -> None:
    import pytest

    with pytest.raises(ValueError, match="64-bit"):
        AdvisoryLockLeadership("postgresql://x/y", "a", key=2**63)
