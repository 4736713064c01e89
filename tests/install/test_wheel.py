"""The built wheel, installed (not editable) into a fresh virtual environment, inside a host bot
that has its own ``cogs/``, ``utils/`` and extension: the way users install the product."""

from __future__ import annotations

import json
import shutil
import socket
import zipfile
from pathlib import Path

import pytest

from tests.install.venvs import REPO, build_wheel, make_venv, pip_install, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

HOSTBOT = Path(__file__).with_name("hostbot")
EXTEND_PATH = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(root)
    python = make_venv(root / "venv")
    pip_install(python, str(wheel))  # dependencies resolved from the wheel's metadata
    return wheel, python


def test_the_wheel_holds_the_product_and_nothing_else(wheel_venv: tuple[Path, Path]) -> None:
    wheel, _ = wheel_venv
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"cogs", "monitoring", "web"}
    assert "cogs/__init__.py" not in names  # a namespace package, merges with the host's cogs/
    assert "cogs/monitoring/__init__.py" in names
    for asset in REPO.joinpath("assets").rglob("*"):
        if asset.is_file():
            assert f"web/assets/{asset.relative_to(REPO / 'assets').as_posix()}" in names
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("discord-monitoring-report", "discord-monitoring-dashboard",
                   "discord-monitoring-export"):  # fmt: skip
        assert script in scripts


def _host_bot(tmp_path: Path, *, regular_cogs: str | None) -> Path:
    folder = tmp_path / "mybot"
    shutil.copytree(HOSTBOT, folder, ignore=shutil.ignore_patterns("__pycache__"))
    if regular_cogs is not None:
        (folder / "cogs" / "__init__.py").write_text(regular_cogs, encoding="utf-8")
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_host_bot(python: Path, folder: Path) -> dict:
    env_file = folder / "monitoring.toml"  # the host's own config file, as users write one
    env_file.write_text(
        f'db_path = "{folder / "data" / "monitoring.db"}"\n'
        f"dashboard_port = {_free_port()}\n"
        'chart_executor = "thread"\n',
        encoding="utf-8",
    )
    out = run([str(python), "bot.py"], cwd=folder, timeout=120)
    return json.loads(out.strip().splitlines()[-1])


def _check(report: dict, python: Path, folder: Path) -> None:
    site = python.parent.parent
    assert report["extensions"] == ["cogs.monitoring", "cogs.music"]
    assert report["extensions_after"] == []
    assert report["reply"] == "Now playing: Song 2"
    paths = report["paths"]
    assert Path(paths["utils"]).parent == folder / "utils"  # the host's utils, not ours
    assert str(folder / "cogs") in paths["cogs"]
    assert any(p.startswith(str(site)) for p in paths["cogs"])
    for package in ("monitoring", "web"):
        assert paths[package].startswith(str(site)), paths[package]  # the installed package
    assert report["dashboard_problem"] is None
    pages = report["pages"]
    assert pages["/healthz"][0] == 200
    assert pages["/"][0] == 200 and "<!doctype html>" in pages["/"][2].lower()
    app_js = (REPO / "assets" / "app.js").stat().st_size
    assert pages["/assets/app.js"][:2] == [200, app_js]
    assert pages["/assets/vendor/uPlot.iife.min.js"][0] == 200
    assert report["metrics_lines"], "bot.monitor.inc() never reached /metrics"
    assert report["metrics_lines"] == ["discord_custom_songs_played_total 1"]
    assert (folder / "data" / "monitoring.db").stat().st_size > 0


def test_a_host_bot_with_a_namespace_cogs_folder(
    wheel_venv: tuple[Path, Path], tmp_path: Path
) -> None:
    _, python = wheel_venv
    folder = _host_bot(tmp_path, regular_cogs=None)
    _check(_run_host_bot(python, folder), python, folder)


def test_a_host_bot_whose_cogs_is_a_regular_package_adds_one_line(
    wheel_venv: tuple[Path, Path], tmp_path: Path
) -> None:
    _, python = wheel_venv
    folder = _host_bot(tmp_path, regular_cogs=f'"""My cogs."""\n{EXTEND_PATH}')
    _check(_run_host_bot(python, folder), python, folder)


def test_without_that_line_a_regular_cogs_package_hides_ours(
    wheel_venv: tuple[Path, Path], tmp_path: Path
) -> None:
    _, python = wheel_venv
    folder = _host_bot(tmp_path, regular_cogs='"""My cogs."""\n')
    with pytest.raises(AssertionError, match=r"ExtensionNotFound: Extension 'cogs\.monitoring'"):
        _run_host_bot(python, folder)


def test_console_scripts_run_and_the_repository_only_parts_are_not_installed(
    wheel_venv: tuple[Path, Path], tmp_path: Path
) -> None:
    _, python = wheel_venv
    bin_dir = python.parent
    for script in ("discord-monitoring-report", "discord-monitoring-dashboard",
                   "discord-monitoring-export"):  # fmt: skip
        assert "usage:" in run([str(bin_dir / script), "--help"], cwd=tmp_path)
    for package in ("sandbox", "benchmarks", "tests"):
        probe = f"import importlib.util as u; print(u.find_spec({package!r}))"
        assert run([str(python), "-c", probe], cwd=tmp_path).strip() == "None"
