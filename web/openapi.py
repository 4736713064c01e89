"""The OpenAPI 3.1 description of the dashboard's API (served at ``/api/openapi.json``).

The response schemas are real JSON Schemas: the tests validate every endpoint's answers
against them, so this document cannot drift from the code unnoticed.
"""

from __future__ import annotations

import logging
from typing import Any

from monitoring.store.base import RESOLUTIONS

from .params import MAX_HOURS, MAX_POINTS, SNOWFLAKE_PATTERN

__all__ = ["openapi_spec"]

log = logging.getLogger(__name__)

_NUM = {"type": ["number", "null"]}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


def _series(*names: str, nullable: bool = False) -> dict[str, Any]:
    item = _NUM if nullable else {"type": "number"}
    props: dict[str, Any] = {"ts": {"type": "array", "items": _INT}}
    props.update({n: {"type": "array", "items": item} for n in names})
    return _obj(props)


_GUILD = {
    "name": "guild",
    "in": "query",
    "required": False,
    "description": "A guild id (17 to 19 digits, no leading zero, below 2^63). Absent: every "
    "guild the caller may see; a guild manager's session always means their guild (another id "
    "is 403).",
    "schema": {"type": "string", "pattern": SNOWFLAKE_PATTERN},
}
_HOURS = {
    "name": "hours",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HOURS, "default": 24},
}
_ERROR = _obj(
    {"error": _STR, "message": _STR, "parameter": _STR, "allowed": _STR},
    ["error", "message"],
)
_HEALTH = _obj(
    {
        "status": {"enum": ["healthy", "degraded", "unhealthy", "unknown"]},
        "timestamp": _OPT_STR,
        "note": _OPT_STR,
        "services": {
            "type": "object",
            "additionalProperties": _obj(
                {
                    "status": {"enum": ["healthy", "degraded", "unhealthy"]},
                    "message": _STR,
                    "value": _NUM,
                    "duration_ms": _NUM,
                }
            ),
        },
    }
)
_METRICS = _obj(
    {
        "window_seconds": _INT,
        "messages_processed": _INT,
        "commands": _INT,
        "errors": _INT,
        "average_response_time": _NUM,
        "p50_response_time": _NUM,
        "p95_response_time": _NUM,
        "error_rate": _NUM,
        "active_users": _INT,
    }
)
_UPDATE = _obj(
    {
        "type": {"const": "update"},
        "timestamp": _STR,
        "mode": {"enum": ["live", "readonly"]},
        "guild": _OPT_STR,
        "metrics": _METRICS,
        "system": {"type": ["object", "null"]},
        "health": _HEALTH,
    }
)
_HISTORICAL = _obj(
    {
        "period": _STR,
        "hours": _INT,
        "step": _INT,
        "guild": _OPT_STR,
        "start_time": _STR,
        "end_time": _STR,
        "series_end_time": _STR,
        "timeline": _obj(
            {
                "messages_over_time": _obj({"total": _INT, "series": _series("count")}),
                "response_times": _obj(
                    {
                        "average": _NUM,
                        "p50": _NUM,
                        "p95": _NUM,
                        "p99": _NUM,
                        "series": _series("p50", "p95", "mean", nullable=True),
                    }
                ),
                "error_rates": _obj(
                    {
                        "current": _NUM,
                        "errors": _INT,
                        "commands": _INT,
                        "series": _series("errors", "commands"),
                    }
                ),
                "active_users": _obj(
                    {"peak": _INT, "distinct": _INT, "per": _STR, "series": _series("users")}
                ),
                "voice_usage": _obj({"total_minutes": _NUM, "series": _series("minutes")}),
            }
        ),
        "aggregates": _obj(
            {
                "total_messages": _INT,
                "avg_response_time": _NUM,
                "p95_response_time": _NUM,
                "error_rate": _NUM,
                "commands": _INT,
                "peak_users": _INT,
                "distinct_users": _INT,
                "total_voice_minutes": _NUM,
            }
        ),
    }
)
_COMMANDS = _obj(
    {
        "hours": _INT,
        "guild": _OPT_STR,
        "start_time": _STR,
        "end_time": _STR,
        "commands": {
            "type": "array",
            "items": _obj(
                {
                    "command": _STR,
                    "count": _INT,
                    "errors": _INT,
                    "error_rate": {"type": "number"},
                    "mean_ms": _NUM,
                    "p50_ms": _NUM,
                    "p95_ms": _NUM,
                    "p99_ms": _NUM,
                }
            ),
        },
    }
)
_INSIGHTS = _obj(
    {
        "generated_at": _STR,
        "performance": {"type": "object"},
        "user_behavior": {"type": "object"},
        "system_health": {"type": "object"},
        "recommendations": {"type": "array", "items": {"type": "object"}},
    }
)
_ALERTS = _obj({"alerts": {"type": "array", "items": {"type": "object"}}, "count": _INT})
_GUILDS = _obj(
    {
        "guilds": {"type": "array", "items": _obj({"id": _STR, "name": _OPT_STR})},
        "names_known": {"type": "boolean"},
    }
)
_SESSION = _obj(
    {
        "who": _STR,
        "method": {"enum": ["api_key", "session"]},
        "scope": _STR,
        "guild": _OPT_STR,
        "mode": {"enum": ["live", "readonly"]},
        "update_interval": {"type": "number"},
    }
)
_AUDIT = _obj(
    {
        "persisted": {"type": "boolean"},
        "entries": {
            "type": "array",
            "items": _obj(
                {
                    "timestamp": _STR,
                    "who": _STR,
                    "scope": _STR,
                    "method": _STR,
                    "path": _STR,
                    "status": _INT,
                    "remote": _STR,
                    "count": _INT,
                }
            ),
        },
    }
)

_STEP = {
    "name": "step",
    "in": "query",
    "required": False,
    "description": f"Seconds per point. Where it would give more than {MAX_POINTS} points, the "
    "finest listed step that fits is used; past the minute rows' retention it is rounded up to "
    "whole hours. The answer's `step` says which was used. Default: about 300 points.",
    "schema": {"type": "integer", "enum": list(RESOLUTIONS)},
}


def _limit(default: int, hi: int) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": hi, "default": default},
    }


_ERRORS = {
    400: "A bad, unknown or repeated parameter (named in the body)",
    401: "No or wrong credentials",
    403: "Outside the caller's guild or rights, or a cross-site Origin",
    414: "The query string is too long",
    421: "Not one of this dashboard's host names",
    429: "Too many requests without valid credentials from this address (see Retry-After)",
    431: "The request's headers are too large",
    503: "Database or module unavailable",
}
_AUTHENTICATED = (400, 401, 403, 414, 421, 429, 431, 503)


_WS_HANDSHAKE = [
    {"name": name, "in": "header", "required": True, "schema": schema}
    for name, schema in (
        ("Upgrade", {"type": "string", "enum": ["websocket"]}),
        ("Connection", {"type": "string", "enum": ["Upgrade"]}),
        ("Sec-WebSocket-Version", {"type": "string", "enum": ["13"]}),
        ("Sec-WebSocket-Key", {"type": "string", "pattern": "^[A-Za-z0-9+/]{21}[AQgw]==$"}),
    )
]
"""The handshake headers a WebSocket client sends (without them /ws answers 400)."""


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": _STR}}}


def _errors(*codes: int) -> dict[str, Any]:
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {str(code): {"description": _ERRORS[code], **ref} for code in codes}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, schema: dict[str, Any], params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {"200": _json(schema), **_errors(*_AUTHENTICATED)},
        }
    }


def openapi_spec() -> dict[str, Any]:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bot monitoring dashboard API",
            "version": "1.0.0",
            "description": "Read-only metrics of a discord.py bot. Authenticate with "
            "`Authorization: Bearer <ANALYTICS_API_KEY>`, `X-API-Key`, or the session cookie "
            "from the /dashboard command's one-time link (`monitor_session`, or "
            "`__Host-monitor_session` over HTTPS). A key header that is present wins over the "
            "cookie (a wrong key is 401 even beside a valid cookie); an empty one, or an "
            "`Authorization` header of another scheme than Bearer, is not a key: it is ignored "
            "and the cookie is used. Guild ids are strings. Every error is a JSON body "
            "`{error, message}` (with `parameter` and `allowed` for a bad parameter); other "
            "methods on a route get 405 with `Allow`.",
        },
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "monitor_session"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}, {"session": []}],
        "paths": {
            "/api/metrics/realtime": _op("Live cards, host readings and health", _UPDATE, [_GUILD]),
            "/api/metrics/historical": _op(
                "Chart series and totals over the last N hours",
                _HISTORICAL,
                [_HOURS, _GUILD, _STEP],
            ),
            "/api/health/status": _op("Health of every checked service (run now)", _HEALTH, []),
            "/api/analytics/insights": _op(
                "Performance, behaviour, system insights and recommendations",
                _INSIGHTS,
                [
                    _GUILD,
                    {
                        "name": "days",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 90, "default": 7},
                    },
                ],
            ),
            "/api/commands": _op(
                "Per command: invocations, errors, error rate, p50/p95/p99 latency",
                _COMMANDS,
                [_HOURS, _GUILD, _limit(100, 500)],
            ),
            "/api/alerts": _op("Alerts firing now", _ALERTS, [_GUILD]),
            "/api/guilds": _op("Guilds the caller may filter on", _GUILDS, []),
            "/api/session": _op("Who the caller is and what they may see", _SESSION, []),
            "/api/audit": _op(
                "Latest accesses (owner and API key only)", _AUDIT, [_limit(100, 1000)]
            ),
            "/api/sessions/revoke": {
                "post": {
                    "summary": "End every dashboard session of one Discord user, in every "
                    "process; their live sockets close within one update (owner and API key)",
                    "parameters": [
                        {
                            "name": "user",
                            "in": "query",
                            "required": True,
                            "description": "A Discord user id",
                            "schema": {"type": "string", "pattern": SNOWFLAKE_PATTERN},
                        }
                    ],
                    "responses": {
                        "200": _json(
                            _obj({"user": _STR, "revoked": {"type": "integer", "minimum": 0}}),
                            "How many sessions ended",
                        ),
                        **_errors(*_AUTHENTICATED),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document (no authentication)",
                    "security": [],
                    "responses": {
                        "200": _json({"type": "object"}),
                        **_errors(400, 414, 421, 429, 431),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus text exposition (live bot only; MONITOR_METRICS_TOKEN "
                    "as a bearer token, or loopback clients when none is set)",
                    "security": [],
                    "responses": {
                        "200": _text("The exposition (text/plain; version=0.0.4)"),
                        "401": _text("MONITOR_METRICS_TOKEN is set and was not sent"),
                        "403": _text("Not this machine, and no MONITOR_METRICS_TOKEN is set"),
                        **_errors(414, 421, 431),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness (no authentication, no data, any host name)",
                    "security": [],
                    "responses": {
                        "200": _json(_obj({"status": {"const": "ok"}})),
                        **_errors(414, 431),
                    },
                }
            },
            "/ws": {
                "get": {
                    "summary": "WebSocket: the realtime payload pushed every "
                    "ANALYTICS_WEBSOCKET_UPDATE_INTERVAL seconds (Origin must match). The "
                    "server closes a socket with 4401 when its session ends, 4403 when its "
                    "user loses their rights and 4429 over the per-sign-in socket cap.",
                    "parameters": [_GUILD, *_WS_HANDSHAKE],
                    "responses": {
                        "101": {"description": "Switching protocols"},
                        **_errors(*_AUTHENTICATED),
                    },
                }
            },
        },
    }
