"""REST side of the emulator: every ``/api/v{n}/...`` request is recorded, rate-limited,
possibly fault-injected, then routed to a handler."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .http_support import ApiError, RateLimiter, json_response, parse_body
from .models import RecordedRequest
from .rest_basic import BasicHandlers
from .rest_messages import MessageHandlers
from .routing import Call, Route, Router

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

__all__ = ["RestApi"]

log = logging.getLogger(__name__)


class RestApi:
    """Routes ``/api/v{n}/...`` requests; records, rate-limits and fault-injects every one."""

    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.router = Router()
        MessageHandlers(emulator).register(self.router)
        BasicHandlers(emulator).register(self.router)

    # -- entry point ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info.get("tail", "")
        method = request.method
        body, files = await parse_body(request)
        record = RecordedRequest(
            method, path, body, files, query=dict(request.query), content_type=request.content_type
        )
        self.emu.requests.append(record)
        route, params = self.router.match(method, path)
        template = route.template if route else path
        major = params.get("channel_id") or params.get("guild_id") or ""
        major += (
            params.get("webhook_id", "")
            + params.get("webhook_token", "")
            + params.get("interaction_id", "")
        )
        limiter = self.emu.rate_limiter
        headers, retry_after = limiter.take(method, template, major)
        response = self._fault_response(record, headers)
        if response is None and retry_after is not None:
            log.warning("bucket exhausted for %s %s; answering 429", method, path)
            response = RateLimiter.too_many_requests(headers, retry_after)
        if response is None:
            response = await self._route_response(route, Call(request, params, body, files, record))
            response.headers.update(headers)
        response.headers["Via"] = "1.1 google"
        record.status = response.status
        return response

    def _fault_response(
        self, record: RecordedRequest, headers: dict[str, str]
    ) -> web.Response | None:
        rule = self.emu._take_fault(record.method, record.path)
        if rule is None:
            return None
        record.injected = True
        if rule.kind == "429":
            return RateLimiter.too_many_requests(
                headers, rule.retry_after, is_global=rule.is_global
            )
        return json_response(
            {"message": f"{rule.status}: injected failure", "code": 0}, status=rule.status
        )

    async def _route_response(self, route: Route | None, call: Call) -> web.Response:
        if route is None:
            log.warning("sandbox: unhandled route %s %s", call.record.method, call.record.path)
            return json_response({"message": "404: Not Found", "code": 0}, status=404)
        if route.auth and not self._authorized(call.request):
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        if self.emu.reject_invalid:
            errors = self.emu._validate(call.record)
            if errors:
                detail = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": e} for e in errors]}
                return json_response(
                    {"message": "Invalid Form Body", "code": 50035, "errors": detail}, 400
                )
        try:
            result = await route.handler(call)
        except ApiError as exc:
            return json_response(exc.body(), status=exc.status)
        if result is None:
            return web.Response(status=204)
        if isinstance(result, web.Response):
            return result
        return json_response(result)

    def _authorized(self, request: web.Request) -> bool:
        value = request.headers.get("Authorization", "")
        if not value.startswith("Bot "):
            return False
        return self.emu.token is None or value[4:] == self.emu.token
