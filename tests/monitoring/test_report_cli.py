"""``python -m monitoring.report``: Markdown, JSON, charts, progress, and clear failures."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring import FakeClock, histogram
from monitoring.recorder import Batch
from monitoring.reports.cli import run
from monitoring.reports.render import md
from monitoring.reports.sample_data import synthetic_batch
from monitoring.store.sqlite import SQLiteStore

NOW = 1_767_225_600.0 + 20 * 86400  # 2026-01-21 00:00 UTC
NOW_ISO = "2026-01-21T00:00:00+00:00"


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "monitoring.db"
    evil = "x|y`<img src=x>"

    async def fill() -> None:
        store = SQLiteStore(path, clock=FakeClock(NOW))
        await store.open()
        await store.write(synthetic_batch(NOW, days=14))
        blob = histogram.encode({histogram.bucket_index(50.0): 90_000})
        row = (
            "command_latency_ms",
            0,
            evil,
            -1,
            "",
            int(NOW - 7200),
            90_000,
            4.5e6,
            50.0,
            50.0,
            blob,
        )
        await store.write(Batch(minute_rows=(row,), hour_rows=(row,)))
        await store.close()

    asyncio.run(fill())
    return path


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = asyncio.run(run(list(args), stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_markdown_report_with_charts(filled_db: Path, tmp_path: Path) -> None:
    code, out, err = _run("--db", str(filled_db), "--out", str(tmp_path), "--now", NOW_ISO)
    assert code == 0, err
    paths = [Path(p) for p in out.split()]
    report = paths[0]
    assert report.name == "performance_report_20260121_000000.md"
    text = report.read_text(encoding="utf-8")
    for heading in ("## Executive summary", "## Totals", "## Commands", "## Errors",
                    "## User engagement", "## Recommendations", "## Charts"):  # fmt: skip
        assert heading in text
    assert "| Messages |" in text and "previous 7 days" in text
    assert "x\\|y\\`\\<img src=x\\>" in text  # untrusted names are escaped
    assert re.search(r"(?<!\\)<img", text) is None  # only the escaped form
    charts = paths[1:]
    assert [p.parent for p in charts] == [tmp_path / "charts"] * 2
    for chart in charts:
        assert chart.read_bytes().startswith(b"\x89PNG")
        assert f"]({chart.relative_to(tmp_path)})" in text
    assert "[1/3] opening" in err and "[3/3] drawing charts" in err


def test_json_for_machines(filled_db: Path, tmp_path: Path) -> None:
    code, out, _ = _run(
        "--db", str(filled_db), "--out", str(tmp_path), "--now", NOW_ISO, "--format", "json",
        "--days", "3", "--no-charts", "--quiet",
    )  # fmt: skip
    assert code == 0
    data = json.loads(Path(out.split()[0]).read_text(encoding="utf-8"))
    assert data["period"] == {
        "start": "2026-01-18T00:00:00Z", "end": "2026-01-21T00:00:00Z", "timezone": "UTC",
    }  # fmt: skip
    assert data["totals"][0]["label"] == "Messages"
    assert "previous 3 days" in data["totals"][0]["compared"]
    assert {c["command"] for c in data["commands"]} >= {"play", "ping"}
    assert data["insights"]["performance"]["response_time_status"] in ("fast", "normal")
    assert data["charts"] == {}


def test_missing_database(tmp_path: Path) -> None:
    code, out, err = _run("--db", str(tmp_path / "nope.db"), "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert "no monitoring database at" in err and "MONITOR_DB_PATH" in err


def test_not_a_monitoring_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello, not sqlite", encoding="utf-8")
    code, _, err = _run("--db", str(path), "--out", str(tmp_path))
    assert code == 2 and "not a SQLite database" in err
    assert path.read_text(encoding="utf-8") == "hello, not sqlite"  # left untouched


def test_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"

    async def create() -> None:
        store = SQLiteStore(path)
        await store.open()
        await store.close()

    asyncio.run(create())
    code, out, err = _run("--db", str(path), "--out", str(tmp_path / "r"), "--quiet")
    assert code == 1 and out == ""
    assert "nothing to report: no metrics recorded" in err
    assert not (tmp_path / "r").exists()


def test_bad_options(tmp_path: Path) -> None:
    assert _run("--days", "0")[0] == 2
    code, _, err = _run("--now", "yesterday", "--db", str(tmp_path / "x.db"))
    assert code == 2 and "--now 'yesterday'" in err


def test_markdown_escaping() -> None:
    assert md("a|b*c_`d` [x](y)\nnext") == "a\\|b\\*c\\_\\`d\\` \\[x\\]\\(y\\) next"


def test_module_entry_point(filled_db: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitoring.report", "--db", str(filled_db), "--out", str(tmp_path),
         "--now", NOW_ISO, "--days", "1", "--no-charts"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(".md")
