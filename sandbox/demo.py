"""``python bot.py --demo`` (``make demo``): the whole system offline, no token, no network.

Backfills a week of simulated history into its own database (``data/demo.db``, recreated each
run), starts the Discord emulator, the real bot with the monitoring extension and its dashboard
(all on 127.0.0.1), prints the dashboard's sign-in link and the sandbox view, runs ``/stats`` and
``/health`` once, then keeps live traffic going with an incident every few minutes (alerts post
to ``#alerts`` and resolve; the daily report posts to ``#reports`` a couple of minutes in) until
Ctrl-C or ``--demo-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from monitoring import Config, Monitor

from .demo_bot import DemoCommands
from .emulator import DiscordEmulator
from .models import InteractionRecord
from .simulator import LiveTraffic, backfill, populate
from .traffic import Incident, TrafficModel

__all__ = ["DEMO_RULES", "DemoOptions", "build_parser", "demo_config", "main", "run_demo"]

log = logging.getLogger(__name__)

DEMO_RULES: tuple[dict[str, Any], ...] = (
    {"name": "error_rate", "threshold": 0.15, "resolve_threshold": 0.05, "for": "30s"},
    {
        "name": "command_latency",
        "threshold": 4000,
        "resolve_threshold": 2500,
        "for": "30s",
        "window": "1m",
    },
)
"""Built-in rules made quicker (and, for a small bot's few commands a minute, less jumpy), so
the demo's incidents fire and resolve within minutes."""


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    db: Path = Path("data/demo.db")
    days: float = 7.0
    dashboard_port: int = 8080
    sandbox_port: int = 8765
    shards: int = 2
    guilds: int = 3
    seconds: float | None = None
    """Stop after this many seconds (None: until Ctrl-C)."""
    incident_every: float = 360.0
    seed: int = 7


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python bot.py --demo",
        description="Run the bot, its dashboard and a simulated Discord offline (no token).",
    )
    parser.add_argument("--demo-seconds", type=float, metavar="N", help="exit after N seconds")
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("data/demo.db"),
        help="database file, recreated each run; its name must start with 'demo'",
    )
    parser.add_argument("--days", type=float, default=7.0, help="days to backfill (default 7)")
    parser.add_argument("--port", type=int, default=8080, help="dashboard port (0: any free)")
    parser.add_argument(
        "--sandbox-port", type=int, default=8765, help="emulator and view port (0: any free)"
    )
    parser.add_argument(
        "--shards", type=int, default=2, choices=range(1, 5), help="gateway shards (default 2)"
    )
    parser.add_argument(
        "--guilds", type=int, default=3, choices=range(1, 5), help="servers (default 3)"
    )
    parser.add_argument(
        "--incident-every",
        type=float,
        default=360.0,
        metavar="S",
        help="seconds between incident cycles (0: none)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the simulation")
    parser.add_argument("--verbose", action="store_true", help="show the components' INFO logs")
    return parser


def _free(port: int) -> int:
    """``port`` if it can be bound on 127.0.0.1, else 0 (any free port)."""
    if port == 0:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def demo_config(
    db: Path, emulator: DiscordEmulator, dashboard_port: int, *, now: float | None = None
) -> Config:
    """The monitoring settings of the demo (environment and monitoring.toml are ignored)."""
    now = time.time() if now is None else now
    report_at = dt.datetime.fromtimestamp(now + 150, dt.UTC)
    return Config(
        db_path=db,
        dashboard_host="127.0.0.1",
        dashboard_port=dashboard_port,
        alert_channel_id=emulator.channel_id("alerts"),
        report_channel_id=emulator.channel_id("reports"),
        report_time=dt.time(report_at.hour, report_at.minute),
        timezone="UTC",
        error_spike_window_seconds=60,
        alert_rules=DEMO_RULES,
    )


def evening_zone(now: float, hour: int = 19) -> dt.tzinfo:
    """A fixed-offset zone where it is about ``hour`` o'clock at ``now``.

    The simulated community lives there, so the demo is busy whenever it runs (the evening
    peak is near) and its charts still show a real daily rhythm.
    """
    utc_hour = dt.datetime.fromtimestamp(now, dt.UTC).hour
    offset = (hour - utc_hour + 12) % 24 - 12  # -12 .. +11 hours
    return dt.timezone(dt.timedelta(hours=offset))


def _remove_database(db: Path) -> None:
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


def _describe(record: InteractionRecord) -> str:
    message = record.original
    if message is None:
        return f"answered (type {record.response_type})"
    parts = []
    for embed in message.embeds:
        parts.append(f"embed “{embed.get('title', '')}”")
    for attachment in message.attachments:
        parts.append(f"{attachment.filename} ({attachment.size // 1024} KB)")
    if message.content and not parts:
        parts.append(repr(message.content[:60]))
    return ", ".join(parts) or "an empty message"


class _Console:
    """The demo's user-facing output (the only place the demo prints)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.perf_counter()

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


async def _ask(emu: DiscordEmulator, name: str, timeout: float = 30.0) -> InteractionRecord:  # noqa: ASYNC109
    record = await emu.slash_command(
        emu.guild(0).id, emu.channel_id("general"), emu.guild_owner.id, name
    )
    return await emu.wait_for_response(record, timeout=timeout)


def _incident_line(incident: Incident) -> str:
    when = dt.datetime.fromtimestamp(incident.start).strftime("%H:%M:%S")
    if incident.kind == "errors":
        return (
            f"  {when}  incident: /{incident.command} fails {incident.error_rate:.0%} of the time"
        )
    if incident.kind == "latency":
        return (
            f"  {when}  incident: commands {incident.factor:.0f}x slower, "
            f"gateway heartbeats {incident.gateway_ms:.0f} ms late"
        )
    return f"  {when}  incident: gateway reconnect"


async def _watch(emu: DiscordEmulator, console: _Console, channels: Sequence[str]) -> None:
    """Print what the bot posts or edits in ``channels`` (alerts, reports) as it happens."""
    seen: dict[int, str] = {}  # message id -> titles last printed
    ids = {emu.channel_id(name): name for name in channels}
    while True:
        for channel_id, name in ids.items():
            for message in emu.messages(channel_id):
                title = " | ".join(str(e.get("title", "")) for e in message.embeds[:3])
                if seen.get(message.id) == title:
                    continue  # unchanged, or an edit that only updated numbers
                verb = "edited" if message.id in seen else "posted"
                seen[message.id] = title
                when = dt.datetime.now().strftime("%H:%M:%S")
                console.say(f"  {when}  #{name} {verb}: {title or message.content[:80]}")
        await asyncio.sleep(1.0)


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo until Ctrl-C (SIGINT), SIGTERM or ``options.seconds``; the exit status."""
    console = _Console(out)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)  # not on Windows: Ctrl-C cancels instead
            handled.append(sig)
    try:
        return await _run(options, console, stop, handled)
    finally:
        _restore_signals(loop, handled)


async def _run(
    options: DemoOptions, console: _Console, stop: asyncio.Event, handled: list[signal.Signals]
) -> int:
    emu = DiscordEmulator(
        shard_count=options.shards, guild_count=options.guilds, heartbeat_interval=5.0
    )
    members, chat, voice = populate(emu.world, seed=options.seed)
    model = TrafficModel(
        members, seed=options.seed, shards=options.shards, tz=evening_zone(time.time())
    )
    _remove_database(options.db)
    console.say(f"Backfilling {options.days:g} days of history into {options.db} ...")
    filled = await backfill(options.db, model, days=options.days)
    console.say(
        f"  {filled.messages:,} messages, {filled.commands:,} commands ({filled.errors:,} failed), "
        f"{filled.incidents} incidents in {filled.seconds:.1f} s"
    )
    if stop.is_set():
        return 0
    await emu.start("127.0.0.1", _free(options.sandbox_port))
    traffic = LiveTraffic(
        emu, model, chat=chat, voice=voice, incident_every=options.incident_every or None
    )
    try:
        config = demo_config(options.db, emu, _free(options.dashboard_port))
        bot = await _make_bot(config, options, model)
        async with emu.run_bot(bot, timeout=60):
            new_link = await _introduce(emu, bot, console)
            console.say(
                f"Ready in {console.elapsed():.1f} s. Live traffic in #general, #alerts, "
                f"#reports, #chat; an incident every {options.incident_every:g} s; the daily "
                f"report posts at {config.report_time:%H:%M} UTC."
            )
            if new_link is not None and sys.stdin.isatty():
                console.say("Press Enter for a new sign-in link, Ctrl-C to stop.")
            else:
                console.say("Ctrl-C to stop.")
            traffic.on_incident.append(lambda i: console.say(_incident_line(i)))
            traffic.start()
            watcher = asyncio.create_task(_watch(emu, console, ("alerts", "reports")))
            try:
                loop = asyncio.get_running_loop()
                with _stdin_links(loop, console, new_link), contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=options.seconds)
                _restore_signals(loop, handled)  # a second Ctrl-C interrupts the shutdown
                console.say("Stopping ...")
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                await traffic.stop()
    finally:
        await traffic.stop()
        await emu.stop()
    stats = traffic.stats
    console.say(
        f"Sent {stats.messages:,} messages, {stats.commands:,} commands, "
        f"{stats.voice_joins} voice joins, {stats.reconnects} reconnects. "
        f"Spec violations: {_violations(emu)}. Stopped cleanly."
    )
    return 0


async def _make_bot(config: Config, options: DemoOptions, model: TrafficModel) -> Any:
    """The real bot of ``bot.py`` (sharded with several shards) plus the demo's commands."""
    import bot as bot_module  # bot.py at the project root

    bot = bot_module.make_bot(sharded=options.shards > 1)
    bot.monitor = Monitor(config)  # type: ignore[attr-defined]  # the extension uses this one
    await bot.add_cog(DemoCommands(model.outcome))  # synced with the extension's commands
    return bot


async def _introduce(
    emu: DiscordEmulator, bot: Any, console: _Console
) -> Callable[[], Awaitable[str]] | None:
    """Print the URLs and a sign-in link, run /stats and /health once; the link minter."""
    from web import DASHBOARD

    dashboard = bot.get_cog("Dashboard")
    app = getattr(dashboard, "app", None)
    new_link: Callable[[], Awaitable[str]] | None = None
    console.say()
    if app is None:
        problem = getattr(dashboard, "problem", None) or "the dashboard cog is not loaded"
        console.say(f"The dashboard is not running: {problem}.")
    else:
        dash = app[DASHBOARD]

        async def new_link() -> str:
            return str(await dash.issue_login("demo (bot owner)", None))

        console.say(f"Dashboard:     {dash.base_url}/")
        console.say(f"Sign in (once, within 5 minutes): {await new_link()}")
    console.say(f"Sandbox view:  {emu.base_url}/  (what the bot posted in Discord)")
    for name in ("stats", "health"):
        answer = await _ask(emu, name)
        console.say(f"/{name} answered: {_describe(answer)}")
    return new_link


def _violations(emu: DiscordEmulator, limit: int = 5000) -> str:
    """How many of the bot's requests broke Discord's API spec (checked for shorter runs)."""
    if len(emu.requests) > limit:
        return f"not checked ({len(emu.requests):,} requests)"
    try:
        return str(len(emu.validation_errors()))
    except OSError as exc:  # DISCORD_API_SPEC names a file that is not there
        return f"not checked (no Discord API spec at {exc.filename or 'DISCORD_API_SPEC'})"


def _restore_signals(loop: asyncio.AbstractEventLoop, handled: list[signal.Signals]) -> None:
    while handled:
        loop.remove_signal_handler(handled.pop())


@contextlib.contextmanager
def _stdin_links(
    loop: asyncio.AbstractEventLoop, console: _Console, new_link: Callable[[], Any] | None
) -> Any:
    """While active, Enter on a terminal prints a fresh one-time sign-in link."""
    if new_link is None or not sys.stdin.isatty():
        yield
        return
    pending: set[asyncio.Task[None]] = set()

    async def show() -> None:
        console.say(f"Sign in: {await new_link()}")

    def on_line() -> None:
        if not sys.stdin.readline():
            loop.remove_reader(sys.stdin.fileno())
            return
        task = loop.create_task(show())
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_reader(sys.stdin.fileno(), on_line)
    except (NotImplementedError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        loop.remove_reader(sys.stdin.fileno())
        for task in pending:
            task.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python bot.py --demo [options]``; the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.db.name.startswith("demo"):
        parser.error(
            f"--db {args.db}: the demo deletes and recreates its database, so its file "
            "name must start with 'demo' (such as data/demo.db)"
        )
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    if not args.verbose:
        root.setLevel(logging.WARNING)
        # the demo's commands fail on purpose; their tracebacks would drown the console
        logging.getLogger("discord.app_commands.tree").setLevel(logging.CRITICAL)
        # the demo bot never joins voice: PyNaCl/davey are not needed
        logging.getLogger("discord.client").addFilter(
            lambda record: "voice will NOT be supported" not in record.getMessage()
        )
    options = DemoOptions(
        db=args.db,
        days=args.days,
        dashboard_port=args.port,
        sandbox_port=args.sandbox_port,
        shards=args.shards,
        guilds=args.guilds,
        seconds=args.demo_seconds,
        incident_every=args.incident_every,
        seed=args.seed,
    )
    try:
        return asyncio.run(run_demo(options))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
