"""``GET /ws``: the live feed's WebSocket endpoint (authenticated like the API, Origin checked)."""

from __future__ import annotations

import logging

from aiohttp import WSMsgType, web

from .audit import safe_path
from .auth import AUDITED, PRINCIPAL, Principal
from .errors import ApiError
from .feed import CLOSE_TOO_MANY, Client
from .login import check_origin
from .params import check_known, parse_guild
from .state import DASHBOARD

__all__ = ["routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.get("/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    principal = request.get(PRINCIPAL)
    if not isinstance(principal, Principal):
        raise ApiError(401, "unauthorized", "authentication required")
    check_origin(request)
    check_known(request.query, ("guild",))
    guild = principal.resolve_guild(parse_guild(request.query.get("guild")))
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(400, "websocket_expected", "send a WebSocket upgrade (Upgrade: websocket)")
    transport = request.transport
    if transport is None:  # the peer went away during the handshake
        raise ApiError(400, "gone", "connection closed")
    dash = request.app[DASHBOARD]
    address = dash.network.client_key(request)
    cap = dash.config.websocket_max_per_client
    same_identity = same_address = 0
    for open_client in list(dash.feed.clients):
        same_identity += open_client.principal.identity == principal.identity
        same_address += open_client.address == address
    ws = web.WebSocketResponse(compress=False, heartbeat=30.0, timeout=3.0, max_msg_size=4096)
    await ws.prepare(request)
    if same_identity >= cap or same_address >= cap:
        whose = "this sign-in" if same_identity >= cap else "this address"
        reason = f"too many live connections for {whose} (at most {cap}); close another tab"
        log.info("refused a live socket for %s from %s: %s", principal.who, address, reason)
        await ws.close(code=CLOSE_TOO_MANY, message=reason.encode())
        return ws
    dash.audit.record(
        principal.who,
        principal.scope,
        "GET",
        safe_path(request.path, request.query_string),
        101,
        address,
    )
    request[AUDITED] = True
    client = Client(ws, transport, principal, guild, address=address)
    await dash.feed.add(client)
    try:
        async for msg in ws:  # the feed is one-way; anything the client sends is ignored
            if msg.type == WSMsgType.ERROR:
                log.debug("live client error: %s", ws.exception())
    finally:
        dash.feed.discard(client)
    return ws
