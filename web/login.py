"""Browser sign-in: the one-time link from ``/dashboard`` becomes a session cookie.

``GET /login?token=...`` shows a page with one button (so a link preview that fetches the URL
cannot burn the token); its form posts the token to ``POST /login``, which redeems it and sets
an HttpOnly, SameSite=Strict cookie. ``POST /logout`` ends the session.
"""

from __future__ import annotations

import html
import logging
import re

from aiohttp import web

from .auth import AUDIT_WHO, PRINCIPAL, SECURE_SESSION_COOKIE, SESSION_COOKIE, session_cookie
from .errors import ApiError, BadParameter
from .ratelimit import RateLimiter
from .state import DASHBOARD

__all__ = ["check_origin", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Bot monitoring</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/style.css">
</head>
<body class="login">
<main class="login-box">
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = _PAGE.format(title=html.escape(title), body=body)
    # no-referrer: the sign-in page's URL holds the token; no request from it may carry it on
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return web.Response(text=text, status=status, content_type="text/html", headers=headers)


def check_origin(request: web.Request) -> None:
    """Refuse a cross-site browser request (CSRF on POST, cross-site WebSocket hijacking).

    Browsers always send ``Origin`` on these requests; it must name this server. Clients
    without ``Origin`` (scripts using the API key) are not browsers and pass.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if origin == "null" and request.headers.get("Sec-Fetch-Site") == "same-origin":
        # the sign-in page's no-referrer policy makes browsers send "Origin: null" with its
        # form; the browser's own fetch metadata (which no page can forge) says it is ours
        return
    dash = request.app[DASHBOARD]
    allowed = {f"{request.scheme}://{request.host}"}
    if dash.base_url:
        allowed.add(dash.base_url.rstrip("/"))
    if origin not in allowed:
        raise ApiError(403, "bad_origin", f"requests from {origin!r} are not allowed")


def _token(raw: str | None) -> str:
    if raw is None or not _TOKEN_RE.match(raw):
        raise BadParameter("token", "the one-time token from the /dashboard command's link")
    return raw


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    token = _token(request.query.get("token"))
    body = (
        "<p>Sign in to this bot's monitoring dashboard. The link works once and expires "
        "five minutes after it was issued.</p>\n"
        '<form method="post" action="/login">\n'
        f'<input type="hidden" name="token" value="{html.escape(token)}">\n'
        '<button type="submit" id="sign-in">Sign in</button>\n'
        "</form>"
    )
    return _page("Sign in", body)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    dash = request.app[DASHBOARD]
    wait = dash.signin_limit.spend(dash.network.client_key(request))
    if wait:
        request[AUDIT_WHO] = "rate-limited"
        retry = RateLimiter.retry_after(wait)
        body = f"<p>Too many sign-in attempts from this address. Try again in {retry} s.</p>"
        response = _page("Slow down", body, status=429)
        response.headers["Retry-After"] = retry
        return response
    form = await request.post()
    raw = form.get("token")
    token = _token(raw if isinstance(raw, str) else None)
    redeemed = await dash.sessions.redeem(token)
    if redeemed is None:
        request[AUDIT_WHO] = "login-failed"
        body = (
            "<p>This sign-in link has expired or was already used. Run <code>/dashboard</code> "
            "in Discord again to get a new one.</p>"
        )
        return _page("Link expired", body, status=401)
    session_id, principal = redeemed
    if not await dash.rights_hold(principal, float("-inf"), dash.clock()):  # asks Discord now
        request[AUDIT_WHO] = "login-refused"
        body = (
            "<p>You no longer have <strong>Manage Server</strong> on the server this link was "
            "for, so it cannot be opened.</p>"
        )
        return _page("Access ended", body, status=403)
    request[PRINCIPAL] = principal
    response = web.Response(status=303, headers={"Location": "/"})
    secure = dash.network.is_https(request) or dash.base_url.startswith("https://")
    response.set_cookie(
        SECURE_SESSION_COOKIE if secure else SESSION_COOKIE,
        session_id,
        max_age=int(dash.sessions.session_ttl),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure,
    )
    log.info("dashboard session started for %s (%s)", principal.who, principal.scope)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    dash = request.app[DASHBOARD]
    session_id = session_cookie(request)
    if session_id:
        await dash.sessions.revoke(session_id)
    response = web.Response(status=303, headers={"Location": "/"})
    response.del_cookie(SESSION_COOKIE, path="/")
    if SECURE_SESSION_COOKIE in request.cookies:
        response.del_cookie(SECURE_SESSION_COOKIE, path="/", secure=True)
    return response
