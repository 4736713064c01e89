"""``GET /metrics``: the Prometheus text exposition (format 0.0.4) of a running monitor.

What is exported is decided in :mod:`monitoring.exposition`; this module formats it and guards
the route. Access, as configured:

- with ``MONITOR_METRICS_TOKEN`` set, only requests carrying ``Authorization: Bearer <token>``
  (compared in constant time) are answered; others get 401;
- without it, only clients on this machine: a loopback client address, where forwarded headers
  count only from the proxies in ``MONITOR_TRUSTED_PROXIES`` (a request a trusted proxy relays
  is local only if the proxy says its client is), and a proxy header from any other peer
  (``X-Forwarded-For``/``Forwarded``/``X-Real-IP``) means the client is unknown; others get 403.

The dashboard's API key is not accepted here, and the metrics token opens nothing else: the
credential Prometheus holds can read counters, never the dashboard's data.

Mount it on the dashboard app with :func:`add_metrics_route`, or serve it alone with
:func:`create_metrics_app` (a process without the dashboard).
"""

from __future__ import annotations

import gzip
import hmac
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiohttp import web

from monitoring.config import Config
from monitoring.exposition import Family, collect, cumulative_for

from .network import Network
from .state import DASHBOARD

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_MAX_GUILDS",
    "METRICS_PATH",
    "add_metrics_route",
    "check_access",
    "create_metrics_app",
    "format_families",
    "metrics_handler",
    "render_exposition",
]

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_PATH = "/metrics"
DEFAULT_MAX_GUILDS = 50
GZIP_MIN_BYTES = 1400

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ShardsFn = Callable[[], Sequence[Any]]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _value(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def format_families(
    families: Iterable[Family], const_labels: Sequence[tuple[str, str]] = ()
) -> str:
    """The text exposition of ``families``; ``const_labels`` (``cluster``) go on every sample.

    Labels with an empty value are left out (Prometheus treats both the same).
    """
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for sample in family.samples:
            labels = [(k, v) for k, v in sample.labels if v and k != "le"]
            labels += [(k, v) for k, v in const_labels if v]
            labels += [(k, v) for k, v in sample.labels if k == "le"]
            text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
            name = family.name + sample.suffix
            lines.append(f"{name}{{{text}}} {_value(sample.value)}" if text else
                         f"{name} {_value(sample.value)}")  # fmt: skip
    lines.append("")
    return "\n".join(lines)


def render_exposition(
    monitor: Any,
    *,
    per_guild: bool = False,
    max_guilds: int = DEFAULT_MAX_GUILDS,
    shards: ShardsFn | None = None,
    now: float | None = None,
) -> str:
    """The whole ``/metrics`` answer for ``monitor``, with its ``cluster`` label if configured.

    ``per_guild`` adds per-guild counters for the ``max_guilds`` busiest guilds; ``shards``
    returns the gateway shards (``ShardState``) of a running bot.
    """
    families = collect(monitor, per_guild=per_guild, max_guilds=max_guilds, shards=shards, now=now)
    cluster = getattr(monitor.config, "cluster", "")
    return format_families(families, (("cluster", cluster),) if cluster else ())


def check_access(
    request: web.BaseRequest, token: str | None, network: Network | None = None
) -> web.Response | None:
    """None when ``request`` may read the metrics, else the 401/403 answer to send."""
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8"), token.encode("utf-8")
        ):
            return None
        return web.Response(
            status=401,
            text="send Authorization: Bearer <MONITOR_METRICS_TOKEN>\n",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if (network or Network()).is_local(request):
        return None
    return web.Response(
        status=403,
        text="/metrics answers this machine only; set MONITOR_METRICS_TOKEN to scrape it from "
        "elsewhere\n",
    )


def metrics_handler(
    monitor: Any, config: Config | None = None, *, shards: ShardsFn | None = None
) -> Handler:
    """The ``GET /metrics`` handler over ``monitor`` (settings from ``config`` or its own)."""
    cfg = monitor.config if config is None else config
    token = cfg.metrics_token
    per_guild, max_guilds = cfg.metrics_per_guild, cfg.metrics_max_guilds
    cumulative_for(monitor.recorder, per_guild=per_guild)  # count from now on, not first scrape
    network = Network(cfg.trusted_proxies)

    async def handle(request: web.Request) -> web.StreamResponse:
        dash = request.app.get(DASHBOARD)  # the dashboard's, which start_site keeps current
        denied = check_access(request, token, dash.network if dash is not None else network)
        if denied is not None:
            log.info("/metrics refused to %s (%d)", request.remote, denied.status)
            return denied
        text = render_exposition(monitor, per_guild=per_guild, max_guilds=max_guilds,
                                 shards=shards)  # fmt: skip
        body = text.encode("utf-8")
        headers = {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
        if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    return handle


def add_metrics_route(
    app: web.Application,
    monitor: Any,
    config: Config | None = None,
    *,
    shards: ShardsFn | None = None,
    path: str = METRICS_PATH,
) -> None:
    """Mount ``GET /metrics`` on ``app`` (the dashboard's app factory calls this)."""
    app.router.add_get(path, metrics_handler(monitor, config, shards=shards))


def create_metrics_app(
    monitor: Any, config: Config | None = None, *, shards: ShardsFn | None = None
) -> web.Application:
    """A tiny app serving only ``/metrics`` (for a process that runs no dashboard)."""
    app = web.Application(client_max_size=1024)
    add_metrics_route(app, monitor, config, shards=shards)
    return app
