"""Hooks for what discord.py does not dispatch as events: app-command errors, event-handler
errors and the moment an interaction is first answered.

discord.py has no ``on_app_command_error`` event and no "interaction answered" event, so the cog
wraps three documented override points on the instances (never on the classes):
``CommandTree.interaction_check`` (runs before every application command: start the clock),
``CommandTree.on_error`` and ``Client.on_error``. Each wrapper calls what was there before, so a
host bot's own handlers keep working; :meth:`Hooks.uninstall` puts the originals back (only if
nobody replaced the wrapper since, in which case the wrapper turns itself into a pass-through).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

__all__ = ["Hooks", "TimedResponse", "first_response_at", "time_first_response"]

log = logging.getLogger(__name__)

_SLOT: Any = vars(discord.InteractionResponse)["_response_type"]  # the base class's slot
wall_clock = time.time
"""Wall clock compared with the interaction's snowflake time (Discord's clock); tests patch it."""


class TimedResponse(discord.InteractionResponse):
    """An ``InteractionResponse`` that notes (wall clock) when its first response was sent.

    Every way of answering (send_message, defer, send_modal, edit_message...) ends by setting
    ``_response_type``; the property below records the first time that happens.
    """

    __slots__ = ("first_at",)

    def __init__(self, parent: discord.Interaction) -> None:
        self.first_at: float | None = None
        super().__init__(parent)

    @property
    def _response_type(self) -> Any:
        return _SLOT.__get__(self, type(self))

    @_response_type.setter
    def _response_type(self, value: Any) -> None:
        if value is not None and self.first_at is None:
            self.first_at = wall_clock()
        _SLOT.__set__(self, value)


def time_first_response(interaction: discord.Interaction) -> bool:
    """Make ``interaction.response`` a :class:`TimedResponse` (before anything answered it)."""
    try:
        if interaction.response.is_done():
            return False
        interaction._cs_response = TimedResponse(interaction)  # type: ignore[attr-defined]
    except AttributeError:  # a discord.py without the slot: timing is simply not measured
        return False
    return True


def first_response_at(interaction: discord.Interaction) -> float | None:
    """Wall-clock time of the first response, if it was timed."""
    return getattr(interaction.response, "first_at", None)


AppErrorFn = Callable[[discord.Interaction, app_commands.AppCommandError], Awaitable[None]]
CheckFn = Callable[[discord.Interaction], Awaitable[bool]]
EventErrorFn = Callable[..., Awaitable[None]]


class Hooks:
    """Installs and removes the three wrappers. The callbacks are the cog's recorders."""

    def __init__(
        self,
        bot: discord.Client,
        tree: app_commands.CommandTree[Any] | None,
        *,
        on_app_start: Callable[[discord.Interaction], None],
        on_app_error: Callable[[discord.Interaction, app_commands.AppCommandError], None],
        on_event_error: Callable[[str, BaseException], None],
    ) -> None:
        self.bot = bot
        self.tree = tree
        self._on_app_start = on_app_start
        self._on_app_error = on_app_error
        self._on_event_error = on_event_error
        self._saved: list[tuple[object, str, bool, Any, Any]] = []
        self.active = False

    def _patch(self, obj: object, attr: str, wrapper: Any) -> None:
        had = attr in vars(obj)
        self._saved.append((obj, attr, had, vars(obj).get(attr), wrapper))
        setattr(obj, attr, wrapper)

    def install(self) -> None:
        """Wrap ``tree.interaction_check``, ``tree.on_error`` and ``bot.on_error``."""
        if self.active:
            return
        self.active = True
        if self.tree is not None:
            tree = self.tree
            check_before: CheckFn = tree.interaction_check
            error_before: AppErrorFn = tree.on_error

            async def interaction_check(interaction: discord.Interaction) -> bool:
                if self.active and interaction.type is discord.InteractionType.application_command:
                    self._on_app_start(interaction)
                return await check_before(interaction)

            async def on_error(
                interaction: discord.Interaction, error: app_commands.AppCommandError
            ) -> None:
                if self.active:
                    self._on_app_error(interaction, error)
                await error_before(interaction, error)

            self._patch(tree, "interaction_check", interaction_check)
            self._patch(tree, "on_error", on_error)

        event_error_before: EventErrorFn = self.bot.on_error

        async def on_event_error(event_method: str, /, *args: Any, **kwargs: Any) -> None:
            exc = sys.exc_info()[1]
            if self.active and exc is not None:
                self._on_event_error(event_method, exc)
            await event_error_before(event_method, *args, **kwargs)

        self._patch(self.bot, "on_error", on_event_error)

    def uninstall(self) -> None:
        """Restore the originals; a wrapper someone else wrapped again stays as a pass-through."""
        self.active = False
        for obj, attr, had, before, wrapper in reversed(self._saved):
            if vars(obj).get(attr) is not wrapper:
                log.debug("%s.%s was replaced after us; leaving a pass-through", obj, attr)
                continue
            if had:
                setattr(obj, attr, before)
            else:
                delattr(obj, attr)
        self._saved.clear()
