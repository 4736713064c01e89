"""``python -m web --db data/monitoring.db``: view a monitoring database read-only.

No bot is needed: the file is opened read-only (the bot may keep writing it), guilds are shown
by id, and nothing is written back: sessions live in memory and audit entries go to the log.
A one-time sign-in link for the browser is printed at start; scripts can use ANALYTICS_API_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from aiohttp import web

from monitoring.config import Config, ConfigError, load_config
from monitoring.core import Monitor
from monitoring.store.base import StoreError
from monitoring.store.sqlite import SQLiteStore

from .app import create_app
from .server import UnsafeBindError, start_site
from .state import DASHBOARD

__all__ = ["main", "parse_args"]

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m web",
        description="Serve the monitoring dashboard for a database file, read-only, without "
        "a bot. Prints a one-time sign-in link; API clients use ANALYTICS_API_KEY.",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="the monitoring database (default: MONITOR_DB_PATH or data/monitoring.db)",
    )
    parser.add_argument(
        "--host", default=None, help="address to bind (default: ANALYTICS_DASHBOARD_HOST)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to bind, 0 for any free port (default: ANALYTICS_DASHBOARD_PORT)",
    )
    parser.add_argument(
        "--url", default="", help="public base URL for links, if behind a proxy (optional)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.port is not None and not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: expected a port from 0 to 65535")
    return args


def _config(args: argparse.Namespace) -> Config:
    env = dict(os.environ)
    env["ANALYTICS_DASHBOARD_ENABLED"] = "false"  # the bind check below is ours, not load_config's
    config = load_config(env)
    changes: dict[str, object] = {}
    if args.db is not None:
        changes["db_path"] = args.db
    if args.host is not None:
        changes["dashboard_host"] = args.host
    if args.port is not None:
        changes["dashboard_port"] = args.port
    return config.replace(**changes)


async def _open_store(app: web.Application) -> AsyncIterator[None]:
    store = app[DASHBOARD].store
    await store.open()
    try:
        yield
    finally:
        await store.close()


async def serve(config: Config, public_url: str = "") -> None:
    store = SQLiteStore(config.db_path, readonly=True)
    monitor = Monitor(config, store=store)
    app = create_app(monitor, live=False)
    app.cleanup_ctx.insert(0, _open_store)
    runner = await start_site(
        app,
        config.dashboard_host,
        config.dashboard_port,
        api_key=config.api_key,
        public_url=public_url,
    )
    try:
        link = await app[DASHBOARD].issue_login("cli", None)
        sys.stdout.write(
            f"Dashboard for {config.db_path} (read-only) at {app[DASHBOARD].base_url}\n"
            f"Sign in (one-time link, expires in 5 minutes):\n  {link}\n"
        )
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = _config(args)
        if not config.db_path.is_file():
            sys.stderr.write(f"error: {config.db_path}: no such database file\n")
            return 2
        asyncio.run(serve(config, args.url))
    except (ConfigError, UnsafeBindError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except StoreError as exc:
        sys.stderr.write(f"error: cannot open the database: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"error: cannot listen: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
