"""A throwaway PostgreSQL server for tests: ``initdb`` into a temporary folder, ``pg_ctl`` on
loopback, stopped and deleted afterwards.

The server binaries come from ``$PG_BIN`` when set, else the newest
``/usr/lib/postgresql/<version>/bin`` (Debian's ``postgresql`` package, which ``make test``
installs when missing), else ``PATH``. PostgreSQL refuses to run as root, so under root the
cluster belongs to the unprivileged ``postgres`` user the Debian package creates.

When the binaries are missing or the server does not start, :class:`PostgresUnavailable` says why
and what to install; tests that need the server fail with that message (they are not skipped).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailable", "find_bindir", "running_server"]

SUPERUSER = "monitor"
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """The test server cannot be started; the message names the cause and the fix."""


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``."""
    candidates: list[Path] = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()],
        reverse=True,
    )
    candidates.extend(Path(p) for p in versions)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's 'postgresql' "
        "package (make test does it as root: apt-get install -y postgresql) or set PG_BIN to "
        "the folder that holds them"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class PostgresServer:
    """A running test server: connect with :attr:`dsn` (database ``postgres``) or
    :meth:`new_database`."""

    bindir: Path
    root: Path
    port: int
    run_as: pwd.struct_passwd | None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(
        self, *args: str, timeout: float = START_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.run_as is not None:
            kwargs = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            check=False,
            **kwargs,
        )

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.logfile.read_text(errors="replace")[-2000:]
        return ""

    def start(self) -> None:
        done = self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if done.returncode:
            raise PostgresUnavailable(f"initdb failed ({done.returncode}): {done.stderr.strip()}")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        done = self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", options, "-w", "start"
        )
        if done.returncode:
            raise PostgresUnavailable(
                f"pg_ctl start failed ({done.returncode}): {done.stderr.strip()}\n"
                f"server log:\n{self._log_tail()}"
            )

    def stop(self) -> None:
        if self.datadir.exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    async def new_database(self) -> str:
        """Create an empty database and return its DSN (each test gets its own)."""
        import asyncpg

        name = f"t_{uuid.uuid4().hex[:16]}"
        conn = await asyncpg.connect(self.dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.dsn(name)


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root, and PostgreSQL refuses to run as root: the 'postgres' user that "
            "Debian's postgresql package creates is missing (apt-get install -y postgresql)"
        ) from None


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Start a server for the duration of the block; stopped and deleted afterwards."""
    bindir = find_bindir()
    user = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="monitoring-pg-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    last: PostgresUnavailable | None = None
    for _ in range(3):  # another process may take the free port between choice and bind
        server = PostgresServer(bindir, root, _free_port(), user)
        try:
            server.start()
        except PostgresUnavailable as exc:
            last = exc
            server._run("pg_ctl", "-D", str(server.datadir), "-m", "immediate", "stop")
            shutil.rmtree(server.datadir, ignore_errors=True)
            continue
        try:
            yield server
        finally:
            server.stop()
        return
    shutil.rmtree(root, ignore_errors=True)
    assert last is not None
    raise last
