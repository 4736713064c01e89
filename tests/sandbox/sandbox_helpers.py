"""Helpers shared by the sandbox tests (a uniquely named module, importable from the tests)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import discord

__all__ = ["bot_intents", "collector", "tiny_png"]


def collector(target: list[Any]) -> Callable[..., Awaitable[None]]:
    """A coroutine listener appending its argument (or argument tuple) to ``target``."""

    async def listener(*args: Any) -> None:
        target.append(args[0] if len(args) == 1 else args)

    return listener


def bot_intents(*, message_content: bool = True, members: bool = True) -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = message_content
    intents.members = members
    return intents


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid RGB PNG, so the view can really display it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x58\x65\xf2" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
