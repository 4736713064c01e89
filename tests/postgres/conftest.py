"""A real PostgreSQL server for the tests in this folder (see ``tests/helpers/postgres.py``).

One server per test worker, started on first use; every test gets a database of its own. The
tests share an xdist group so that, under ``--dist loadgroup``, one worker runs them all and
only one server starts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.postgres import PostgresServer, running_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/postgres/" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("postgres"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with running_server() as server:
        yield server


@pytest.fixture
async def pg_dsn(pg_server: PostgresServer) -> str:
    return await pg_server.new_database()
