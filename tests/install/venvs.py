"""Build the wheel and make virtual environments for the install tests, as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

__all__ = ["REPO", "build_wheel", "declared_floors", "make_venv", "pip_install", "run"]

REPO = Path(__file__).resolve().parents[2]
_ANYWHERE = shutil.ignore_patterns("__pycache__", ".*_cache", "*.egg-info", "node_modules")
_AT_ROOT = {".git", "build", "dist", "data", "reports", "test-artifacts"}


def _not_source(folder: str, names: list[str]) -> set[str]:
    """Caches and outputs anywhere; local state only at the top (``monitoring/reports`` is code)."""
    ignored = set(_ANYWHERE(folder, names))
    if Path(folder) == REPO:
        ignored |= {n for n in names if n in _AT_ROOT or n.startswith(".venv")}
    return ignored


def run(cmd: list[str], *, cwd: Path | None = None, timeout: float = 300) -> str:
    """Run a command; on failure raise with its whole output (the test then says why)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc.stdout


def build_wheel(out: Path) -> Path:
    """Build the wheel from a copy of the source tree (no stale ``build/`` can leak into it)."""
    source = out / "source"
    shutil.copytree(REPO, source, ignore=_not_source)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)])
    (wheel,) = out.glob("*.whl")
    return wheel


def make_venv(path: Path) -> Path:
    """A fresh virtual environment with pip; returns its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pip_install(python: Path, *args: str) -> None:
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args])


def declared_floors() -> list[str]:
    """``name==floor`` for every runtime dependency declared in pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = []
    for requirement in project["dependencies"]:
        name, _, rest = requirement.partition(">=")
        if not rest:
            raise AssertionError(f"{requirement!r} declares no floor (name>=version)")
        pins.append(f"{name.strip()}=={rest.split(',')[0].strip()}")
    return pins
