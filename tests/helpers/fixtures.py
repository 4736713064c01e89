"""Pytest fixtures for cog tests: a dpytest-configured bot and an interaction recorder.

Use from a conftest with ``from tests.helpers.fixtures import *`` or
``pytest_plugins = ["tests.helpers.fixtures"]`` (root conftest only).
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord.ext import commands

from tests.helpers.slash import (
    ChannelMessageRecorder,
    InteractionResult,
    RecordingWebhookAdapter,
    install_channel_message_recorder,
    install_slash_support,
    invoke_slash,
    press_button,
)

__all__ = [
    "DpyEnv",
    "channel_messages",
    "dpy_bot",
    "dpy_channel",
    "dpy_env",
    "dpy_guild",
    "dpy_member",
    "dpy_owner",
    "slash_recorder",
]


def _first_member_of(guild: discord.Guild) -> discord.Member:
    config = dpytest.get_config()
    return next(m for m in config.members if m.guild == guild)


async def _dpytest_cleanup() -> None:
    """``dpytest.cleanup()`` if available (dpytest >= 0.7.1), else its equivalent."""
    await dpytest.empty_queue()
    cleanup = getattr(dpytest, "cleanup", None)
    if cleanup is not None:
        await cleanup()
        return
    # dpytest 0.7.0 writes uploaded files to ./dpytest_<n>.dat and never removes them.
    for leftover in pathlib.Path.cwd().glob("dpytest_*.dat"):
        with contextlib.suppress(OSError):
            leftover.unlink()


@pytest_asyncio.fixture
async def dpy_bot() -> AsyncIterator[commands.Bot]:
    """A ``commands.Bot`` (prefix ``!``, all intents) configured by dpytest.

    2 guilds x (1 text + 1 voice channel, 3 members). In each guild the first
    configured member is the guild owner (so has ``manage_guild``); the others only
    have dpytest's default ``@everyone`` permissions. Slash support is installed
    (``state._command_tree = bot.tree``). Add cogs with ``await dpy_bot.add_cog(...)``.
    Channel messages are validated against ``MessageCreateRequest``; violations fail the
    test at teardown (use the ``channel_messages`` fixture to inspect or ``.clear()`` them).
    """
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.all())
    await bot._async_setup_hook()
    dpytest.configure(bot, guilds=2, text_channels=1, members=3)
    install_slash_support(bot)
    channel_recorder = install_channel_message_recorder(bot)
    for guild in bot.guilds:
        guild.owner_id = _first_member_of(guild).id
    try:
        yield bot
    finally:
        await _dpytest_cleanup()
    channel_recorder.assert_valid()


@pytest.fixture
def channel_messages(dpy_bot: commands.Bot) -> ChannelMessageRecorder:
    """Channel messages the bot sent (``.requests``: JSON + files), validated against the spec."""
    return install_channel_message_recorder(dpy_bot)


@pytest.fixture
def dpy_guild(dpy_bot: commands.Bot) -> discord.Guild:
    """The first dpytest guild."""
    return dpytest.get_config().guilds[0]


@pytest.fixture
def dpy_channel(dpy_guild: discord.Guild) -> discord.TextChannel:
    """The first text channel of :func:`dpy_guild`."""
    return dpy_guild.text_channels[0]


@pytest.fixture
def dpy_owner(dpy_guild: discord.Guild) -> discord.Member:
    """The owner of :func:`dpy_guild` (has every permission, incl. manage_guild)."""
    owner = dpy_guild.owner
    assert owner is not None
    return owner


@pytest.fixture
def dpy_member(dpy_guild: discord.Guild) -> discord.Member:
    """An ordinary member of :func:`dpy_guild` (no manage_guild)."""
    return next(m for m in dpy_guild.members if m.id != dpy_guild.owner_id and not m.bot)


@dataclass
class DpyEnv:
    """The dpytest world of one test, with shortcuts for interactions in guild 0."""

    bot: commands.Bot
    guild: discord.Guild
    channel: discord.TextChannel
    owner: discord.Member
    member: discord.Member

    async def slash(
        self, name: str, *, member: discord.Member | None = None, **kwargs: Any
    ) -> InteractionResult:
        """:func:`invoke_slash` in :attr:`channel`, as :attr:`member` unless given."""
        kwargs.setdefault("guild", self.guild)
        kwargs.setdefault("channel", self.channel)
        return await invoke_slash(self.bot, name, member=member or self.member, **kwargs)

    async def press(
        self,
        message: discord.Message | Mapping[str, Any] | int,
        custom_id: str,
        *,
        member: discord.Member | None = None,
        values: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> InteractionResult:
        """:func:`press_button` as :attr:`member` unless given (bare ids: in :attr:`channel`)."""
        if isinstance(message, int):
            kwargs.setdefault("channel", self.channel)
        return await press_button(
            self.bot, message, custom_id, member=member or self.member, values=values, **kwargs
        )


@pytest.fixture
def dpy_env(
    dpy_bot: commands.Bot,
    dpy_guild: discord.Guild,
    dpy_channel: discord.TextChannel,
    dpy_owner: discord.Member,
    dpy_member: discord.Member,
) -> DpyEnv:
    """:class:`DpyEnv` bundling bot, guild 0, its text channel, owner and a plain member."""
    return DpyEnv(dpy_bot, dpy_guild, dpy_channel, dpy_owner, dpy_member)


@pytest.fixture
def slash_recorder() -> Iterator[RecordingWebhookAdapter]:
    """Record interaction replies (validated against Discord's spec) for the test."""
    with RecordingWebhookAdapter(validate=True).installed() as recorder:
        yield recorder
