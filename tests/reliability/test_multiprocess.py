"""Several bot processes share one SQLite file on one machine (WAL, busy timeout, ``cluster``).

Three processes start together on a fresh file (so they also race to create it), each with its own
``MONITOR_CLUSTER``, and write concurrently with a flush every 0.1 s. Every row they recorded is in
the file, attributed to its cluster, and the file is intact.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTERS = ("eu-1", "eu-2", "us-1")
MESSAGES = {"eu-1": 30_000, "eu-2": 20_000, "us-1": 25_000}


@pytest.mark.slow
def test_three_processes_write_one_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    procs = {
        cluster: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.worker",
                "fixed",
                "--db",
                str(db),
                "--cluster",
                cluster,
                "--messages",
                str(MESSAGES[cluster]),
                "--flush",
                "0.1",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cluster in CLUSTERS
    }
    reports = {}
    for cluster, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        reports[cluster] = json.loads(out.strip().splitlines()[-1])
        assert reports[cluster]["dropped"] == 0 and reports[cluster]["pending"] == 0, err

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        messages = dict(
            conn.execute(
                "SELECT cluster, SUM(sum) FROM rollup_minute WHERE metric = 'messages' "
                "AND guild = 0 AND command = '' GROUP BY cluster"
            ).fetchall()
        )
        hourly = dict(
            conn.execute(
                "SELECT cluster, SUM(sum) FROM rollup_hour WHERE metric = 'messages' "
                "AND guild = 0 AND command = '' GROUP BY cluster"
            ).fetchall()
        )
        commands = dict(
            conn.execute("SELECT cluster, COUNT(*) FROM command_log GROUP BY cluster").fetchall()
        )
        salts = conn.execute("SELECT COUNT(*) FROM meta WHERE key = 'salt'").fetchone()[0]
    assert messages == {c: float(n) for c, n in MESSAGES.items()}
    assert hourly == messages
    assert commands == {c: reports[c]["commands"] for c in CLUSTERS}
    assert salts == 1  # one salt: the processes hash users alike, so distinct counts merge
