"""HTTP plumbing for the REST emulator: JSON responses, body parsing, rate limits, fault injection."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from .models import RecordedFile

__all__ = [
    "ApiError",
    "FaultRule",
    "RateLimiter",
    "json_response",
    "parse_body",
]

log = logging.getLogger(__name__)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json`` (no charset).

    discord.py compares the header verbatim; aiohttp's ``json_response`` would append a charset.
    """
    response = web.Response(body=json.dumps(data).encode(), status=status, headers=headers)
    response.headers["Content-Type"] = "application/json"
    return response


class ApiError(Exception):
    """Raised by handlers to answer with a Discord-style JSON error."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


async def parse_body(request: web.Request) -> tuple[Any, list[RecordedFile]]:
    """Decode a JSON, multipart/form-data (``payload_json`` + ``files[n]``) or form body."""
    content_type = request.content_type
    files: list[RecordedFile] = []
    if content_type.startswith("multipart/"):
        payload: Any = None
        fields: dict[str, str] = {}
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):  # nested multipart: not used by Discord
                continue
            name = part.name or ""
            raw = await part.read(decode=False)
            if part.filename is not None or name.startswith("files["):
                part_type = part.headers.get("Content-Type", "application/octet-stream")
                files.append(RecordedFile(name, part.filename or name, part_type, bytes(raw)))
            elif name == "payload_json":
                payload = json.loads(bytes(raw).decode() or "null")
            else:
                fields[name] = bytes(raw).decode(errors="replace")
        if payload is None and fields:
            payload = fields
        return payload, files
    if content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        return {k: str(v) for k, v in form.items()}, files
    raw = await request.read()
    if not raw:
        return None, files
    try:
        return json.loads(raw), files
    except ValueError:
        return raw.decode(errors="replace"), files


@dataclass
class FaultRule:
    kind: str  # "429" or "5xx"
    pattern: str
    remaining: int
    retry_after: float = 1.0
    status: int = 502
    is_global: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.pattern in f"{method} {path}"


@dataclass
class _Bucket:
    remaining: int
    reset_at: float


class RateLimiter:
    """Per-route buckets producing Discord's X-RateLimit-* headers (and real 429s when exhausted)."""

    def __init__(self, limit: int = 50, window: float = 1.0, enforce: bool = True) -> None:
        self.limit = limit
        self.window = window
        self.enforce = enforce
        self._buckets: dict[str, _Bucket] = {}

    @staticmethod
    def bucket_hash(method: str, template: str) -> str:
        return hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:32]

    def take(self, method: str, template: str, major: str) -> tuple[dict[str, str], float | None]:
        """Consume one request; returns (headers, retry_after if the bucket is exhausted)."""
        bucket_hash = self.bucket_hash(method, template)
        key = f"{bucket_hash}:{major}"
        now = time.time()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            bucket = _Bucket(remaining=self.limit, reset_at=now + self.window)
            self._buckets[key] = bucket
        retry_after: float | None = None
        if bucket.remaining <= 0 and self.enforce:
            retry_after = max(bucket.reset_at - now, 0.001)
        else:
            bucket.remaining = max(bucket.remaining - 1, 0)
        headers = self.headers(bucket_hash, bucket.remaining, bucket.reset_at - now)
        return headers, retry_after

    def headers(self, bucket_hash: str, remaining: int, reset_after: float) -> dict[str, str]:
        reset_after = max(reset_after, 0.0)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }

    @staticmethod
    def too_many_requests(
        headers: dict[str, str], retry_after: float, *, is_global: bool = False, scope: str = "user"
    ) -> web.Response:
        headers = dict(headers)
        headers.update(
            {
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Scope": "global" if is_global else scope,
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            }
        )
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        return json_response(body, status=429, headers=headers)
