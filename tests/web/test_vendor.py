"""The vendored chart library is the one package-lock.json pins, byte for byte as recorded."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "assets" / "vendor"
FRONTEND = ROOT / "web" / "frontend"


def _recorded() -> list[tuple[str, str, str, str]]:
    lines = (VENDOR / "VERSIONS.txt").read_text().splitlines()
    rows = [tuple(line.split()) for line in lines if line and not line.startswith("#")]
    assert rows and all(len(r) == 4 for r in rows)
    return rows  # type: ignore[return-value]


def test_vendored_files_match_recorded_hashes() -> None:
    for _package, _version, name, sha in _recorded():
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == sha, f"{name} changed since it was vendored: run web/frontend/vendor.sh"


def test_recorded_version_is_the_pinned_one() -> None:
    package = json.loads((FRONTEND / "package.json").read_text())
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    pinned = package["dependencies"]["uplot"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version"
    locked = lock["packages"]["node_modules/uplot"]
    assert locked["version"] == pinned and locked["integrity"].startswith("sha512-")
    assert {(r[0], r[1]) for r in _recorded()} == {("uplot", pinned)}
    banner = (VENDOR / "uPlot.iife.min.js").read_text()[:200]
    assert f"(v{pinned})" in banner


def test_vendor_script_is_reproducible_and_uses_the_lock() -> None:
    script = FRONTEND / "vendor.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "npm ci" in text and "package-lock.json" in text and "mktemp" in text


def test_page_loads_only_local_files() -> None:
    html = (ROOT / "assets" / "index.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline script
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers
    js = (ROOT / "assets" / "app.js").read_text()
    assert "innerHTML" not in js and "outerHTML" not in js and "insertAdjacentHTML" not in js
    assert "document.write" not in js and "eval(" not in js
