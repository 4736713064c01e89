"""Hosting the app: the bind safety check and an AppRunner/TCPSite pair with its public URL."""

from __future__ import annotations

import logging
import socket

from aiohttp import web

from .network import Network
from .network import is_loopback_host as is_loopback
from .state import DASHBOARD

__all__ = ["UnsafeBindError", "check_bind", "is_loopback", "start_site"]

log = logging.getLogger(__name__)


class UnsafeBindError(RuntimeError):
    """A non-loopback address was asked for without an API key."""


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without an API key."""
    if not is_loopback(host) and not api_key:
        raise UnsafeBindError(
            f"refusing to serve the dashboard on {host!r} without ANALYTICS_API_KEY: a "
            "non-loopback address is reachable from other machines. Set ANALYTICS_API_KEY "
            "(16+ characters) or bind 127.0.0.1."
        )


MAX_LINE_BYTES = 256 * 1024


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1" if host != "::" else "[::1]"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


async def start_site(
    app: web.Application, host: str, port: int, *, api_key: str | None, public_url: str = ""
) -> web.AppRunner:
    """Check the bind, start ``app`` on ``host:port`` and set its base URL.

    Returns the runner; ``await runner.cleanup()`` stops the site, closes every WebSocket with
    GOING_AWAY and runs the app's cleanup. Raises :class:`UnsafeBindError` or ``OSError``.
    """
    check_bind(host, api_key)
    # request lines and headers up to MAX_LINE_BYTES are read, so that an oversized one gets the
    # app's JSON 414/431 instead of the HTTP parser's plain 400 and a logged traceback
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0,
                           max_line_size=MAX_LINE_BYTES, max_field_size=MAX_LINE_BYTES)  # fmt: skip
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = port
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    for sock in sockets:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            bound = sock.getsockname()[1]
            break
    dash = app[DASHBOARD]
    dash.base_url = public_url.rstrip("/") or f"http://{_url_host(host)}:{bound}"
    dash.network = Network(dash.config.trusted_proxies, bind_host=host,
                           public_urls=(public_url, dash.config.dashboard_url))  # fmt: skip
    log.info("monitoring dashboard on %s (listening on %s:%d)", dash.base_url, host, bound)
    return runner
