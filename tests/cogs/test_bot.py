"""bot.py: arguments, the missing-token message, intents, --demo dispatch, the setup hook."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import discord
import pytest
from discord.ext import commands

import bot as bot_module


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_DB_PATH", str(tmp_path / "monitoring.db"))
    monkeypatch.setenv("ANALYTICS_DASHBOARD_ENABLED", "false")
    monkeypatch.setenv("MONITOR_CHART_EXECUTOR", "thread")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_missing_token_gets_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert bot_module.main([]) == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN is not set" in err and "--demo" in err


def test_help_documents_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bot_module.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--demo", "--sharded", "--no-members", "--prefix", "DISCORD_TOKEN"):
        assert option in out


def test_bad_settings_are_reported_before_connecting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "x" * 60)
    monkeypatch.setenv("MONITOR_CHART_EXECUTOR", "gpu")
    assert bot_module.main([]) == 2
    assert "MONITOR_CHART_EXECUTOR" in capsys.readouterr().err


def test_rejected_token_and_privileged_intents(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "x" * 60)

    def refuse(self: commands.Bot, token: str, **kwargs: object) -> None:
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(bot_module.MonitoredBot, "run", refuse)
    assert bot_module.main([]) == 1
    assert "rejected DISCORD_TOKEN" in capsys.readouterr().err

    def privileged(self: commands.Bot, token: str, **kwargs: object) -> None:
        raise discord.PrivilegedIntentsRequired(None)

    monkeypatch.setattr(bot_module.MonitoredBot, "run", privileged)
    assert bot_module.main(["--sharded"]) == 1
    assert "--no-members" in capsys.readouterr().err


def test_demo_dispatches_to_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def demo_main(argv: list[str]) -> int:
        calls.append(argv)
        return 3

    monkeypatch.setitem(sys.modules, "sandbox.demo", types.SimpleNamespace(main=demo_main))
    assert bot_module.main(["--demo", "--port", "9000"]) == 3
    assert calls == [["--port", "9000"]]


def test_demo_without_the_sandbox_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "sandbox.demo", None)
    assert bot_module.main(["--demo"]) == 2
    assert "sandbox/demo.py is missing" in capsys.readouterr().err


def test_intents_and_bot_classes() -> None:
    plain = bot_module.make_bot()
    assert isinstance(plain, bot_module.MonitoredBot)
    assert not isinstance(plain, commands.AutoShardedBot)
    assert plain.intents.members and plain.intents.voice_states and plain.intents.guild_messages
    assert not plain.intents.message_content and not plain.intents.presences
    sharded = bot_module.make_bot(sharded=True, members=False, prefix="?")
    assert isinstance(sharded, commands.AutoShardedBot)
    assert not sharded.intents.members and sharded.intents.message_content


async def test_setup_hook_loads_the_extension() -> None:
    bot = bot_module.make_bot(sync=False)
    await bot._async_setup_hook()
    await bot.setup_hook()
    try:
        assert bot.get_cog("Monitoring") is not None
        assert bot.monitor.running  # type: ignore[attr-defined]
    finally:
        await bot.unload_extension("cogs.monitoring")
    assert not bot.monitor.running  # type: ignore[attr-defined]
