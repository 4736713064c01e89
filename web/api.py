"""The JSON API's handlers. Each validates its parameters (400 naming the parameter), resolves
the caller's guild scope (403 outside it) and answers from the core."""

from __future__ import annotations

import gzip
import json
import logging
from typing import Any

from aiohttp import web

from .auth import PRINCIPAL, Principal
from .data import commands_payload, guilds_payload, historical_payload, iso
from .errors import ApiError, BadParameter
from .login import check_origin
from .openapi import openapi_spec
from .params import check_known, parse_guild, parse_hours, parse_int, parse_snowflake, parse_step
from .sources import alerts_payload
from .state import DASHBOARD, Dashboard

__all__ = ["json_response", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

GZIP_MIN_BYTES = 1400


def json_response(request: web.Request, data: Any, *, status: int = 200) -> web.Response:
    """JSON, gzip-compressed when large and the client accepts it."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode("utf-8")
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def _ctx(request: web.Request) -> tuple[Dashboard, Principal]:
    principal = request.get(PRINCIPAL)
    if not isinstance(principal, Principal):  # the auth middleware guards /api; belt and braces
        raise ApiError(401, "unauthorized", "authentication required")
    return request.app[DASHBOARD], principal


def _owner_only(request: web.Request, what: str) -> tuple[Dashboard, Principal]:
    """The context of a route for the bot owner and API keys (a guild's session gets 403)."""
    dash, who = _ctx(request)
    if who.guild is not None:
        raise ApiError(403, "forbidden", f"{what} is for the bot owner and API keys")
    return dash, who


@routes.get("/api/session")
async def session_info(request: web.Request) -> web.Response:
    check_known(request.query, ())
    dash, who = _ctx(request)
    return json_response(
        request,
        {
            "who": who.who,
            "method": who.method,
            "scope": who.scope,
            "guild": None if who.guild is None else str(who.guild),
            "mode": dash.mode,
            "update_interval": dash.config.websocket_update_interval,
        },
    )


@routes.get("/api/guilds")
async def guilds(request: web.Request) -> web.Response:
    check_known(request.query, ())
    dash, who = _ctx(request)
    data = await guilds_payload(
        dash.monitor, now=dash.clock(), visible=who.guild, names=dash.guild_names
    )
    return json_response(request, data)


@routes.get("/api/metrics/realtime")
async def realtime(request: web.Request) -> web.Response:
    check_known(request.query, ("guild",))
    dash, who = _ctx(request)
    guild = who.resolve_guild(parse_guild(request.query.get("guild")))
    return json_response(request, await dash.update(guild, dash.clock()))


@routes.get("/api/metrics/historical")
async def historical(request: web.Request) -> web.Response:
    q = request.query
    check_known(q, ("hours", "guild", "step"))
    dash, who = _ctx(request)
    hours = parse_hours(q.get("hours"))
    step = parse_step(q.get("step"), hours)
    guild = who.resolve_guild(parse_guild(q.get("guild")))
    data = await historical_payload(
        dash.monitor, now=dash.clock(), hours=hours, step=step, guild=guild
    )
    return json_response(request, data)


@routes.get("/api/commands")
async def commands(request: web.Request) -> web.Response:
    q = request.query
    check_known(q, ("hours", "guild", "limit"))
    dash, who = _ctx(request)
    hours = parse_hours(q.get("hours"))
    limit = parse_int(q.get("limit"), "limit", 1, 500, 100)
    guild = who.resolve_guild(parse_guild(q.get("guild")))
    data = await commands_payload(
        dash.monitor, now=dash.clock(), hours=hours, guild=guild, limit=limit
    )
    return json_response(request, data)


@routes.get("/api/health/status")
async def health_status(request: web.Request) -> web.Response:
    check_known(request.query, ())
    dash, who = _ctx(request)
    await dash.refresh_health(max_age=dash.config.websocket_update_interval)
    return json_response(request, dash.health_summary(who.guild))


@routes.get("/api/analytics/insights")
async def insights(request: web.Request) -> web.Response:
    q = request.query
    check_known(q, ("guild", "days"))
    dash, who = _ctx(request)
    days = parse_int(q.get("days"), "days", 1, 90, 7)
    guild = who.resolve_guild(parse_guild(q.get("guild")))
    return json_response(request, await dash.insights(guild, days))


@routes.get("/api/alerts")
async def alerts(request: web.Request) -> web.Response:
    q = request.query
    check_known(q, ("guild",))
    dash, who = _ctx(request)
    guild = who.resolve_guild(parse_guild(q.get("guild")))
    return json_response(request, await alerts_payload(dash.monitor, guild=guild))


@routes.get("/api/audit")
async def audit(request: web.Request) -> web.Response:
    q = request.query
    check_known(q, ("limit",))
    dash, _ = _owner_only(request, "the audit log")
    limit = parse_int(q.get("limit"), "limit", 1, 1000, 100)
    entries = await dash.audit.recent(limit)
    return json_response(
        request,
        {
            "persisted": dash.audit.persist,
            "entries": [
                {
                    "timestamp": iso(e.ts),
                    "who": e.who,
                    "scope": e.scope,
                    "method": e.method,
                    "path": e.path,
                    "status": e.status,
                    "remote": e.remote,
                    "count": e.count,
                }
                for e in entries
            ],
        },
    )


@routes.post("/api/sessions/revoke")
async def revoke_sessions(request: web.Request) -> web.Response:
    """End every dashboard session of one Discord user, in every process (owner and API key)."""
    q = request.query
    check_known(q, ("user",))
    dash, who = _owner_only(request, "revoking sessions")
    check_origin(request)
    user = parse_snowflake(q.get("user"), "user")
    if user is None:
        raise BadParameter("user", "a Discord user id (required)")
    ended = await dash.sessions.revoke_user(user)
    log.info("%s revoked %d dashboard session(s) of user %d", who.who, ended, user)
    return json_response(request, {"user": str(user), "revoked": ended})


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    check_known(request.query, ())
    return json_response(request, openapi_spec())


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness only: no data, no authentication."""
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})
