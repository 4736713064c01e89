"""Glue between discord.py and the emulator: URL patching and running a bot for a test."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

__all__ = ["patch_discord", "run_bot"]

log = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")


@contextlib.contextmanager
def patch_discord(api_base: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST base (``Route.BASE``) and default gateway at the emulator.

    Restores the previous values on exit, so patches nest.
    """
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    previous = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    log.debug("discord.py patched: REST %s, gateway %s", api_base, gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = previous


async def _no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
    return None


@contextlib.asynccontextmanager
async def run_bot(
    api_base: str,
    gateway_url: str,
    bot: ClientT,
    *,
    token: str = "sandbox-token",
    timeout: float = 10.0,  # noqa: ASYNC109
    fast: bool = True,
) -> AsyncIterator[ClientT]:
    """Start ``bot`` against the emulator, wait until it is ready, close it afterwards.

    With ``fast`` the 2 s ``guild_ready_timeout`` is cut to 0.05 s and the 5 s delay
    between shard IDENTIFYs is skipped (both only matter against the real Discord).
    """
    client: Any = bot
    if fast:
        state = getattr(client, "_connection", None)
        if state is not None and getattr(state, "guild_ready_timeout", 0) > 0.05:
            state.guild_ready_timeout = 0.05
        client.before_identify_hook = _no_identify_delay
    with patch_discord(api_base, gateway_url):
        task = asyncio.create_task(client.start(token), name="sandbox-bot")
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not client.is_ready():
                if task.done():
                    task.result()  # re-raise the start-up failure
                    raise RuntimeError("bot.start() returned before the bot became ready")
                if loop.time() > deadline:
                    raise TimeoutError(f"bot not ready after {timeout}s")
                await asyncio.sleep(0.01)
            yield bot
        finally:
            await client.close()
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
