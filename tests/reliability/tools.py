"""Helpers for tests that need real tools: promtool, a Prometheus server, free ports.

A missing tool fails the test with the command that installs it (never a skip): the Prometheus
tests are part of ``make test``, which installs Debian's ``prometheus`` package when missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

__all__ = ["free_port", "prometheus_server", "promtool", "query", "require_tool", "wait_for"]

INSTALL_HINT = (
    "install Debian's prometheus package: `apt-get install -y prometheus` "
    "(`make test` does it when missing)"
)


def require_tool(name: str) -> str:
    """The path of ``name``, or fail the test with how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return path


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``promtool args...`` (30 s at most)."""
    return subprocess.run(
        [require_tool("promtool"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(predicate: Any, *, within: float, what: str, every: float = 0.2) -> Any:
    """Await ``predicate()`` until it returns something truthy; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:.0f}s waiting for {what}", pytrace=False)
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def prometheus_server(config_yaml: str, workdir: Path) -> AsyncIterator[str]:
    """A Prometheus server on a free loopback port with its own storage; yields its base URL."""
    binary = require_tool("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(config_yaml, encoding="utf-8")
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                if proc.returncode is not None:
                    text = (workdir / "prometheus.log").read_text(errors="replace")
                    pytest.fail(f"prometheus exited ({proc.returncode}):\n{text[-2000:]}")
                try:
                    async with session.get(f"{url}/-/ready") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_for(ready, within=30, what="prometheus to be ready")
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def query(session: aiohttp.ClientSession, url: str, promql: str) -> list[dict[str, Any]]:
    """The result vector of an instant query (fails the test on a query error)."""
    async with session.get(f"{url}/api/v1/query", params={"query": promql}) as resp:
        body = await resp.json()
    if body.get("status") != "success":
        pytest.fail(f"query {promql!r} failed: {body}", pytrace=False)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result
