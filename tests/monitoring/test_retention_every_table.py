"""Retention covers the feature tables too: error groups, alert history and report runs go once
they are older than METRICS_RETENTION_DAYS; open incidents and live state are kept."""

from __future__ import annotations

from pathlib import Path

from monitoring import FakeClock
from monitoring.alerts.state import AlertStore, Incident
from monitoring.errors import ErrorGroup, ErrorTracker
from monitoring.store.sqlite import SQLiteStore

DAY = 86400.0
NOW = 1_767_225_600.0


def _incident(id: int, fired: float, resolved: float | None) -> Incident:
    return Incident(id=id, rule="cpu_high", key="cpu_high", severity="warning", label="CPU",
                    comparison=">", threshold=80.0, unit="%", started=fired, fired=fired,
                    resolved=resolved)  # fmt: skip


def _group(fp: str, last_seen: float) -> ErrorGroup:
    return ErrorGroup(fp, "ValueError", "bad", "x.py:f", "tb", last_seen - 10, last_seen, 3, 0, "")


async def test_feature_tables_are_trimmed_with_the_rollups(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db", clock=FakeClock(NOW), retention_days=30)
    await store.open()
    try:
        alerts = AlertStore(store)
        await alerts.ensure_schema()
        await store.migrate()
        await alerts.commit(None, None, incidents=[
            _incident(1, NOW - 40 * DAY, NOW - 39 * DAY),  # resolved long ago: goes
            _incident(2, NOW - 40 * DAY, None),  # still open: stays
            _incident(3, NOW - 2 * DAY, NOW - DAY),  # recent: stays
        ])  # fmt: skip
        tracker = ErrorTracker(clock=FakeClock(NOW))
        tracker.groups = {"old": _group("old", NOW - 31 * DAY), "new": _group("new", NOW - DAY)}
        tracker._dirty = {"old", "new"}
        await tracker.save(store)
        deleted = await store.apply_retention(NOW)
        assert deleted >= 2
        left = [(i.fired, i.resolved) for i in await alerts.incidents_where("1 ORDER BY id")]
        assert left == [(NOW - 40 * DAY, None), (NOW - 2 * DAY, NOW - DAY)]
        rows = await store.fetchall("SELECT fingerprint FROM error_groups")
        assert rows == [("new",)]
    finally:
        await store.close()


def test_the_tracker_forgets_groups_past_retention() -> None:
    tracker = ErrorTracker(clock=FakeClock(NOW))
    tracker.groups = {"old": _group("old", NOW - 31 * DAY), "new": _group("new", NOW - DAY),
                      "unsaved": _group("unsaved", NOW - 40 * DAY)}  # fmt: skip
    tracker._dirty = {"unsaved"}  # not written yet: kept until it is
    assert tracker.forget_before(NOW - 30 * DAY) == 1
    assert set(tracker.groups) == {"new", "unsaved"}
