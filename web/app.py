"""The app factory: ``create_app(monitor, ...) -> web.Application``.

Middlewares (outermost first): the audit log (every access but static files and /healthz), JSON
errors (an :class:`ApiError` or a store failure becomes a real status with a JSON body), then
authentication (``/api/*`` and ``/ws`` need an API key or a session). Security headers (a strict
Content-Security-Policy without inline script or style, nosniff, no framing) are added to every
response in ``on_response_prepare``. Background work (the live feed, health polling, audit
writes, session expiry) runs in ``cleanup_ctx``; sockets are closed with GOING_AWAY on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from monitoring.clock import Clock
from monitoring.config import Config
from monitoring.core import Monitor
from monitoring.store.base import StoreError

from . import api, login, ws
from .audit import AuditLog, safe_path
from .auth import (
    AUDIT_WHO,
    AUDITED,
    PRINCIPAL,
    Principal,
    api_key_from,
    key_matches,
    session_cookie,
)
from .errors import ApiError, json_error
from .ratelimit import RateLimiter
from .sessions import Sessions
from .sources import ShardsFn
from .state import DASHBOARD, Authorize, Dashboard, GuildNames
from .static import assets_dir

__all__ = ["CSP", "create_app"]

log = logging.getLogger(__name__)

ASSETS = web.AppKey("assets", Path)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
AUDIT_FLUSH_SECONDS = 2.0
HOUSEKEEPING_SECONDS = 3600.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _needs_auth(path: str) -> bool:
    return (path.startswith("/api/") and path != "/api/openapi.json") or path == "/ws"


def _audited(path: str) -> bool:
    # /metrics is scraped every few seconds by Prometheus, which has its own token or loopback
    # check; auditing each scrape would fill the table with one line an interval
    return not (path.startswith("/assets/") or path in ("/healthz", "/favicon.ico", "/metrics"))


async def authenticate(request: web.Request) -> Principal | None:
    """The caller, from an API key header or a session cookie (None: anonymous or wrong key)."""
    dash = request.app[DASHBOARD]
    key = api_key_from(request)
    if key is not None:
        if key_matches(key, dash.config.api_key):
            return Principal("api-key", "api_key", None)
        return None
    session_id = session_cookie(request)
    if session_id:
        return await dash.session_principal(session_id)
    return None


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if _audited(request.path) and not request.get(AUDITED):
            principal = request.get(PRINCIPAL)
            who = principal.who if principal else request.get(AUDIT_WHO, "anonymous")
            scope = principal.scope if principal else "-"
            path = safe_path(request.path, request.query_string)
            dash = request.app[DASHBOARD]
            remote = dash.network.client_key(request)
            dash.audit.record(who, scope, request.method, path, status, remote)


MAX_QUERY_BYTES = 4096
"""Longer query strings get 414 (the server reads up to ``server.MAX_LINE_BYTES`` to say so)."""
MAX_HEADER_BYTES = 16384
"""Requests whose headers add up to more get 431."""


def _oversized(request: web.Request) -> web.Response | None:
    """A JSON 414/431 for an oversized request line or headers (logged as one line)."""
    if len(request.query_string) > MAX_QUERY_BYTES:
        log.warning("refused a query string of %d bytes from %s",
                    len(request.query_string), request.remote)  # fmt: skip
        return json_error(414, "uri_too_long",
                          f"the query string is longer than {MAX_QUERY_BYTES} bytes")  # fmt: skip
    size = sum(len(name) + len(value) for name, value in request.raw_headers)
    if size > MAX_HEADER_BYTES:
        log.warning("refused %d bytes of request headers from %s", size, request.remote)
        return json_error(431, "headers_too_large",
                          f"the request's headers are larger than {MAX_HEADER_BYTES} bytes")  # fmt: skip
    return None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    oversized = _oversized(request)
    if oversized is not None:
        return oversized
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except StoreError as exc:
        log.warning("%s %s: store unavailable: %s", request.method, request.path, exc)
        # the reason (with the file's path) stays in the log; the answer names no path
        return json_error(503, "store_unavailable", "the metrics database cannot be read right now")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        if "Allow" in exc.headers:  # 405: which methods the route has
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        if not request.path.startswith("/api/"):
            raise
        # the API's error hook: logged with its traceback, answered with a real status
        log.exception("%s %s failed", request.method, safe_path(request.path, request.query_string))
        return json_error(500, "internal_error", "the server failed to answer; see its log")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    dash = request.app[DASHBOARD]
    if request.path != "/healthz" and not dash.network.host_allowed(request):
        raise ApiError(
            421,
            "host_not_allowed",
            f"this dashboard does not answer to the host name {request.host!r}; open it at its "
            "own address (set ANALYTICS_DASHBOARD_URL when it is behind a proxy)",
        )
    principal = await authenticate(request)
    if principal is not None:
        request[PRINCIPAL] = principal
        return await handler(request)
    if _audited(request.path):  # anonymous: a budget per address (a flood costs no writes)
        wait = dash.anonymous_limit.spend(dash.network.client_key(request))
        if wait:
            request[AUDIT_WHO] = "rate-limited"
            raise ApiError(
                429,
                "rate_limited",
                "too many requests without valid credentials from this address; "
                f"retry in {RateLimiter.retry_after(wait)} s",
                headers={"Retry-After": RateLimiter.retry_after(wait)},
            )
    if _needs_auth(request.path):
        sent_key = api_key_from(request) is not None
        raise ApiError(
            401,
            "unauthorized",
            "wrong API key"
            if sent_key
            else "send Authorization: Bearer <ANALYTICS_API_KEY> (or X-API-Key), or sign in "
            "with the link from the /dashboard command",
        )
    return await handler(request)


async def _security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _index(request: web.Request) -> web.FileResponse:
    index = request.app[ASSETS] / "index.html"
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Start the feed, health polling, audit writes and expiry; stop them all on cleanup."""
    dash = app[DASHBOARD]
    if dash.sessions.persist:
        with contextlib.suppress(ImportError):  # its tables, so /api/alerts can read them
            importlib.import_module("monitoring.alerts.state")
        try:
            await dash.store.migrate()
        except StoreError as exc:
            log.warning("dashboard tables not ready (sessions and audit kept in memory): %s", exc)
        await dash.sessions.load()
    await _first_health(dash)
    tasks = [
        asyncio.create_task(dash.feed.run(), name="dashboard-feed"),
        asyncio.create_task(dash.poll_health(), name="dashboard-health"),
        asyncio.create_task(_audit_loop(dash), name="dashboard-audit"),
        asyncio.create_task(_housekeeping(dash), name="dashboard-housekeeping"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if dash.audit.persist:
            await dash.audit.flush()


async def _first_health(dash: Dashboard) -> None:
    try:
        await dash.refresh_health()
    except StoreError as exc:
        log.warning("first health check failed: %s", exc)


async def _audit_loop(dash: Dashboard) -> None:
    while True:
        await asyncio.sleep(AUDIT_FLUSH_SECONDS)
        if dash.audit.persist:
            await dash.audit.flush()


async def _housekeeping(dash: Dashboard) -> None:
    while True:
        await dash.sessions.purge()
        await dash.audit.purge()
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


async def _close_sockets(app: web.Application) -> None:
    await app[DASHBOARD].feed.close_all()


def _mount_metrics(
    app: web.Application, monitor: Monitor, config: Config, shards: ShardsFn | None
) -> None:
    """``GET /metrics`` (Prometheus; its own token/loopback check) when that module loads."""
    try:
        prometheus = importlib.import_module("web.prometheus")
    except ImportError as exc:
        log.warning("/metrics disabled: %s", exc)
        return
    prometheus.add_metrics_route(app, monitor, config, shards=shards)


def create_app(
    monitor: Monitor,
    *,
    store: Any = None,
    config: Config | None = None,
    live: bool = True,
    guild_names: GuildNames | None = None,
    shards: ShardsFn | None = None,
    clock: Clock | None = None,
    base_url: str = "",
    authorize: Authorize | None = None,
) -> web.Application:
    """The dashboard application over ``monitor`` (its store and config unless given).

    ``live`` is False when viewing a database file read-only (``python -m web --db``): no
    process readings, and sessions and audit entries are not written to the file.
    ``guild_names`` returns the bot's guild names (the cog passes one; standalone shows ids);
    ``shards`` returns the gateway shards for the health checks; ``authorize`` re-checks a
    manager's rights with Discord (at sign-in and every 15 minutes of use). A live app also serves
    Prometheus' ``/metrics`` (:mod:`web.prometheus`, guarded by its own token).
    """
    store = monitor.store if store is None else store
    config = monitor.config if config is None else config
    clock = monitor.clock if clock is None else clock
    writable = live and not getattr(store, "readonly", False)
    dash = Dashboard(
        monitor=monitor,
        store=store,
        config=config,
        clock=clock,
        live=live,
        sessions=Sessions(store, persist=writable, clock=clock),
        audit=AuditLog(store, persist=writable, clock=clock, retention_days=config.retention_days),
        guild_names=guild_names,
        shards=shards,
        base_url=base_url,
        authorize=authorize,
    )
    app = web.Application(
        middlewares=[audit_middleware, error_middleware, auth_middleware],
        client_max_size=64 * 1024,
    )
    app[DASHBOARD] = dash
    app[ASSETS] = assets_dir()
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", _index)
    app.router.add_static("/assets/", app[ASSETS], append_version=False)
    app.add_routes(api.routes)
    app.add_routes(login.routes)
    app.add_routes(ws.routes)
    if live:
        _mount_metrics(app, monitor, config, shards)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_close_sockets)
    return app
