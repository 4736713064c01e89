"""``python -m sandbox``: serve the offline Discord emulator and its view until interrupted.

Point a discord.py bot at it with :func:`sandbox.patch_discord` (REST base ``/api/v10``,
gateway ``ws://HOST:PORT/gateway``) and open ``http://HOST:PORT/`` to watch what it posts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import struct
import zlib

from .emulator import DiscordEmulator
from .models import RecordedFile

__all__ = ["main", "seed_demo"]

log = logging.getLogger(__name__)


def _solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return (
        signature
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def seed_demo(emulator: DiscordEmulator) -> None:
    """Put a few bot messages into the world so the view has something to show without a bot."""
    world = emulator.world
    guild = emulator.guild(0)
    bot = world.bot_user.id
    general = guild.channel_named("general").id
    alerts = guild.channel_named("alerts").id
    world.create_message(general, emulator.member_user.id, {"content": "is the bot alive?"})
    world.create_message(
        general, bot, {"content": "Yes, **all systems nominal** since <t:1767225600:R>."}
    )
    embed = {
        "title": "CPU high on db-1",
        "description": "Load is **94%** for 5 minutes.",
        "color": 0xE74C3C,
        "fields": [
            {"name": "Host", "value": "db-1", "inline": True},
            {"name": "CPU", "value": "94%", "inline": True},
            {"name": "Since", "value": "<t:1767225600:t>", "inline": True},
        ],
        "image": {"url": "attachment://cpu.png"},
        "footer": {"text": "sandbox demo"},
    }
    buttons = [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 3, "label": "Acknowledge", "custom_id": "ack"},
                {"type": 2, "style": 2, "label": "Silence 1h", "custom_id": "silence"},
            ],
        }
    ]
    chart = RecordedFile("files[0]", "cpu.png", "image/png", _solid_png(320, 120, (88, 101, 242)))
    body = {
        "embeds": [embed],
        "components": buttons,
        "attachments": [{"id": 0, "filename": "cpu.png"}],
    }
    world.create_message(alerts, bot, body, [chart])


async def _serve(args: argparse.Namespace) -> None:
    emulator = DiscordEmulator(shard_count=args.shards, guild_count=args.guilds)
    await emulator.start(args.host, args.port)
    if args.seed:
        seed_demo(emulator)
    log.info(
        "sandbox view: %s/  REST: %s  gateway: %s",
        emulator.base_url,
        emulator.api_base,
        emulator.gateway_url,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--shards", type=int, default=1, help="shard count /gateway/bot reports")
    parser.add_argument("--guilds", type=int, default=3)
    parser.add_argument("--seed", action="store_true", help="pre-fill channels with demo messages")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
