"""Run a Discord bot with the monitoring extension: ``python bot.py`` (or ``make run``).

The token comes from ``DISCORD_TOKEN``; every other setting from the environment or
``monitoring.toml`` (see the README's settings table). ``python bot.py --demo`` runs the whole
system offline against the Discord emulator in ``sandbox/`` (no token needed).

Gateway intents used (enable the privileged ones in the Developer Portal, Bot -> Privileged
Gateway Intents):

- ``guilds``: servers joined and left, channels, voice channels (required);
- ``guild_messages`` and ``dm_messages``: message counts (the content is never read, so the
  privileged ``message_content`` intent stays off unless you pass ``--prefix``);
- ``voice_states``: voice minutes;
- ``members`` (privileged, "Server Members Intent"): member joins and leaves; ``--no-members``
  runs without it (those two numbers then stay at zero).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Sequence

import discord
from discord.ext import commands

from monitoring import ConfigError, load_config

__all__ = [
    "MonitoredBot",
    "MonitoredShardedBot",
    "build_parser",
    "intents",
    "main",
    "make_bot",
]

log = logging.getLogger("bot")

TOKEN_HELP = """\
DISCORD_TOKEN is not set.

  1. Create an application at https://discord.com/developers/applications
  2. Bot -> Reset Token, copy it
  3. Run:  DISCORD_TOKEN=<your token> python bot.py      (or put it in your service's environment)

To try everything offline without a token:  python bot.py --demo
"""


def intents(*, members: bool = True, message_content: bool = False) -> discord.Intents:
    """The intents the monitoring extension needs (see the module docstring)."""
    chosen = discord.Intents.default()  # guilds, guild/dm messages, voice states, ...
    chosen.members = members
    chosen.message_content = message_content
    chosen.presences = False
    return chosen


class MonitoredBot(commands.Bot):
    """A bot that loads ``cogs.monitoring`` and syncs its slash commands at start-up."""

    def __init__(self, *, sync: bool = True, sync_guild: int | None = None, **kwargs: object):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sync_commands = sync
        self.sync_guild = sync_guild

    async def setup_hook(self) -> None:
        await self.load_extension("cogs.monitoring")
        if not self.sync_commands:
            return
        if self.sync_guild is not None:
            guild = discord.Object(self.sync_guild)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("synced %d application commands", len(synced))

    async def on_ready(self) -> None:
        log.info("ready as %s in %d servers", self.user, len(self.guilds))


class MonitoredShardedBot(MonitoredBot, commands.AutoShardedBot):
    """:class:`MonitoredBot` on an AutoShardedBot (one process, every shard)."""


def make_bot(
    *,
    sharded: bool = False,
    members: bool = True,
    prefix: str | None = None,
    sync: bool = True,
    sync_guild: int | None = None,
) -> commands.Bot:
    """The bot ``main`` runs (``sharded``: an AutoShardedBot with the same set-up)."""
    command_prefix = commands.when_mentioned_or(prefix) if prefix else commands.when_mentioned
    chosen = intents(members=members, message_content=bool(prefix))
    cls = MonitoredShardedBot if sharded else MonitoredBot
    return cls(command_prefix=command_prefix, intents=chosen, sync=sync, sync_guild=sync_guild)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python bot.py",
        description="Run a Discord bot with the monitoring extension (/stats, /health, alerts, "
        "dashboard). The token is read from DISCORD_TOKEN.",
        epilog="Settings: environment variables or monitoring.toml (see README). "
        "Example: DISCORD_TOKEN=... MONITOR_DB_PATH=data/monitoring.db python bot.py",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run offline against the Discord emulator (sandbox/); no token needed",
    )
    parser.add_argument("--sharded", action="store_true", help="use AutoShardedBot")
    parser.add_argument(
        "--no-members",
        dest="members",
        action="store_false",
        help="run without the privileged Server Members intent (no member join/leave counts)",
    )
    parser.add_argument(
        "--prefix",
        metavar="TEXT",
        help="also accept prefix commands starting with TEXT (needs the Message Content intent)",
    )
    parser.add_argument(
        "--no-sync", dest="sync", action="store_false", help="don't sync slash commands at start"
    )
    parser.add_argument(
        "--sync-guild",
        type=int,
        metavar="ID",
        help="sync slash commands to this server only (they appear at once, for testing)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default: INFO, or LOG_LEVEL)",
    )
    return parser


def run_demo(argv: Sequence[str]) -> int:
    """Dispatch to ``sandbox.demo.main`` (the offline demo), if that module is installed."""
    try:
        demo = importlib.import_module("sandbox.demo")
    except ModuleNotFoundError as exc:
        if exc.name not in ("sandbox", "sandbox.demo"):
            raise
        sys.stderr.write("The offline demo is not available: sandbox/demo.py is missing.\n")
        return 2
    params = inspect.signature(demo.main).parameters
    result = demo.main(list(argv)) if params else demo.main()
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, check the token and the settings, run the bot; the exit status."""
    args, extra = build_parser().parse_known_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    if args.demo:
        return run_demo(extra)
    if extra:
        build_parser().error(f"unrecognized arguments: {' '.join(extra)}")
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        sys.stderr.write(TOKEN_HELP)
        return 2
    try:
        load_config()  # fail now, with the variable's name, rather than at extension load
    except ConfigError as exc:
        sys.stderr.write(f"Invalid setting: {exc}\n")
        return 2
    bot = make_bot(
        sharded=args.sharded,
        members=args.members,
        prefix=args.prefix,
        sync=args.sync,
        sync_guild=args.sync_guild,
    )
    try:
        bot.run(token, log_handler=None)
    except discord.LoginFailure:
        sys.stderr.write("Discord rejected DISCORD_TOKEN: check that it is the bot's token.\n")
        return 1
    except discord.PrivilegedIntentsRequired:
        sys.stderr.write(
            "Discord refused a privileged intent: enable Server Members (and Message Content if "
            "you use --prefix) in the Developer Portal, Bot -> Privileged Gateway Intents, or "
            "run with --no-members.\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
