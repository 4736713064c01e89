"""HTTP errors of the JSON API: always a real status and a body naming what was wrong."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

__all__ = ["ApiError", "BadParameter", "json_error"]

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as JSON: ``{"error": code, "message": ..., **extra}`` with ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> web.Response:
        response = json_error(self.status, self.code, self.message, **self.extra)
        response.headers.update(self.headers)
        return response


class BadParameter(ApiError):
    """A query parameter is missing, malformed, out of range or unknown (HTTP 400)."""

    def __init__(self, parameter: str, allowed: str, message: str | None = None) -> None:
        super().__init__(
            400,
            "bad_parameter",
            message or f"invalid value for {parameter!r}; allowed: {allowed}",
            parameter=parameter,
            allowed=allowed,
        )


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """A JSON error response (never with status 200)."""
    if status < 400:
        raise ValueError(f"an error response needs a 4xx/5xx status, got {status}")
    return web.json_response({"error": code, "message": message, **extra}, status=status)
