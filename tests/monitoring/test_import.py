"""`import monitoring` must stay free of Discord, HTTP, database and plotting imports."""

from __future__ import annotations

import subprocess
import sys


def test_import_monitoring_pulls_no_heavy_modules() -> None:
    code = (
        "import sys, monitoring, monitoring.store, monitoring.errors;"
        "bad = sorted(m for m in ('discord', 'aiohttp', 'aiosqlite', 'matplotlib')"
        " if m in sys.modules);"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import monitoring pulled in: {out.stdout.strip()}"
