"""HTTP adapter: the dashboard's aiohttp app factory, JSON API, WebSocket feed and sign-in.

``create_app(monitor, ...)`` builds the application; the cog hosts it with
:func:`web.server.start_site`, and ``python -m web --db FILE`` views a database read-only.
"""

from __future__ import annotations

from .app import create_app
from .auth import Principal
from .server import UnsafeBindError, check_bind, start_site
from .state import DASHBOARD, Dashboard

__all__ = [
    "DASHBOARD",
    "Dashboard",
    "Principal",
    "UnsafeBindError",
    "check_bind",
    "create_app",
    "start_site",
]
