from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitoring import FakeClock, Recorder
from monitoring.store.sqlite import SQLiteStore

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC, a Thursday


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "monitoring.db"


@pytest.fixture
async def store(db_path: Path, clock: FakeClock) -> AsyncIterator[SQLiteStore]:
    st = SQLiteStore(db_path, clock=clock, busy_timeout_ms=50)
    await st.open()
    yield st
    await st.close()


@pytest.fixture
def recorder(store: SQLiteStore, clock: FakeClock) -> Recorder:
    return Recorder(salt=store.salt, clock=clock)
