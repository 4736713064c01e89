"""Fixtures for the sandbox (Discord emulator) tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from discord.ext import commands

from sandbox import DiscordEmulator
from tests.sandbox.sandbox_helpers import bot_intents


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    """A started emulator; discord.py is patched to talk to it for the duration of the test."""
    async with DiscordEmulator() as emu:
        yield emu


@pytest.fixture
def make_bot() -> Callable[..., commands.Bot]:
    def factory(**kwargs: Any) -> commands.Bot:
        kwargs.setdefault("command_prefix", "!")
        kwargs.setdefault("intents", bot_intents())
        kwargs.setdefault("guild_ready_timeout", 0.05)
        return commands.Bot(**kwargs)

    return factory
