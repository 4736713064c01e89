"""The lowest dependency versions that pyproject.toml declares are the ones tested: a fresh
virtual environment gets exactly those floors, and the core and cog tests run in it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.install.venvs import REPO, declared_floors, make_venv, pip_install, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("floors")]

INNER_TIMEOUT_S = 600
"""The inner run (installs, then all of tests/monitoring and tests/cogs in one process) may take
this long; the suite-wide 240 s per-test timeout would cut it off first on a loaded machine."""

# Not needed by the core and cog tests (the browser and fuzz tests run in the main environment).
_SKIPPED_TEST_TOOLS = ("playwright", "schemathesis")


def _test_tools() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [
        r for r in project["optional-dependencies"]["test"] if not r.startswith(_SKIPPED_TEST_TOOLS)
    ]


@pytest.mark.timeout(INNER_TIMEOUT_S + 300)
def test_core_and_cog_tests_pass_on_the_declared_floors(tmp_path: Path) -> None:
    floors = declared_floors()
    constraints = tmp_path / "floors.txt"
    constraints.write_text("\n".join(floors) + "\n", encoding="utf-8")
    python = make_venv(tmp_path / "venv")
    # the floors are constraints too, so a test tool that needs newer versions fails loudly
    pip_install(python, "-c", str(constraints), *floors, *_test_tools())
    installed = {
        p["name"].lower(): p["version"]
        for p in json.loads(run([str(python), "-m", "pip", "list", "--format=json"]))
    }
    for pin in floors:
        name, version = pin.split("==")
        assert installed.get(name.lower()) == version, (pin, installed.get(name.lower()))
    out = run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/monitoring", "tests/cogs"],
        cwd=REPO,
        timeout=INNER_TIMEOUT_S,
    )  # fmt: skip
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
