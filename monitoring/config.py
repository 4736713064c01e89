"""One typed, frozen configuration object, loaded from the environment and an optional TOML file.

Precedence: environment variable > TOML file > default. The TOML file is ``MONITOR_CONFIG`` if set,
else ``./monitoring.toml`` if it exists. TOML keys are the lower-case field names (``db_path``,
``cpu_warning_threshold``...); ``[[alert_rules]]`` tables hold custom alert rules. Every bad value
raises :class:`ConfigError` naming the variable, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["FIELDS", "Config", "ConfigError", "FieldSpec", "load_config", "settings_markdown"]

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value is missing, malformed or out of range."""


# -- parsers: each takes the raw value (str from env, or a TOML value) and returns the typed value --

Parser = Callable[[Any], Any]


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true/false (also 1/0, yes/no, on/off)")


def _int(lo: int, hi: int) -> Parser:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError(f"expected a whole number from {lo} to {hi}")
        try:
            value = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise ValueError(f"expected a whole number from {lo} to {hi}") from None
        if not lo <= value <= hi:
            raise ValueError(f"expected a whole number from {lo} to {hi}")
        return value

    parse.__doc__ = f"integer {lo}..{hi}"
    return parse


def _float(lo: float, hi: float) -> Parser:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError(f"expected a number from {lo:g} to {hi:g}")
        try:
            value = float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
        except ValueError:
            raise ValueError(f"expected a number from {lo:g} to {hi:g}") from None
        if not lo <= value <= hi:  # also rejects NaN
            raise ValueError(f"expected a number from {lo:g} to {hi:g}")
        return value

    parse.__doc__ = f"number {lo:g}..{hi:g}"
    return parse


def _choice(*options: str) -> Parser:
    def parse(raw: Any) -> str:
        text = str(raw).strip().lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    parse.__doc__ = " or ".join(options)
    return parse


def _str(raw: Any) -> str:
    return str(raw)


def _path(raw: Any) -> Path:
    text = str(raw).strip()
    if not text:
        raise ValueError("expected a file or folder path, got an empty value")
    return Path(text)


def _optional_secret(raw: Any) -> str | None:
    text = str(raw)
    if text == "":
        return None
    if text == "change_me_in_production":
        raise ValueError("replace the placeholder with a random secret of at least 16 characters")
    if len(text) < 16:
        raise ValueError("expected a secret of at least 16 characters (or empty for none)")
    return text


def _snowflake(raw: Any) -> int | None:
    text = str(raw).strip()
    if text in {"", "0"}:
        return None
    if not text.isdigit() or not 17 <= len(text) <= 20:
        raise ValueError("expected a Discord channel id (a 17-20 digit number) or empty")
    return int(text)


def _hhmm(raw: Any) -> dt.time:
    if isinstance(raw, dt.time):
        return raw
    text = str(raw).strip()
    try:
        hour_s, minute_s = text.split(":")
        return dt.time(int(hour_s), int(minute_s))
    except ValueError:
        raise ValueError("expected a 24-hour time HH:MM, such as 09:00") from None


def _timezone(raw: Any) -> str:
    text = str(raw).strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone name, such as UTC or Europe/Berlin") from None
    return text


def _host(raw: Any) -> str:
    text = str(raw).strip()
    if not text:
        raise ValueError("expected a host name or IP address, such as 127.0.0.1")
    return text


def _cluster(raw: Any) -> str:
    text = str(raw).strip()
    if len(text) > 64 or not all(ch.isalnum() or ch in "-_." for ch in text):
        raise ValueError("expected up to 64 letters, digits, '-', '_' or '.'")
    return text


def _url(raw: Any) -> str:
    """empty, or an http(s):// URL"""
    text = str(raw).strip().rstrip("/")
    if text and not (text.startswith(("http://", "https://")) and len(text) > 8):
        raise ValueError("expected an http:// or https:// URL, such as https://bot.example.org")
    if any(ch.isspace() or ch in "<>\"'" for ch in text):
        raise ValueError("expected a URL without spaces, quotes or angle brackets")
    return text


def _networks(raw: Any) -> tuple[str, ...]:
    """Comma-separated IP addresses or CIDR networks (empty: none)."""
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    networks = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise ValueError(
                f"{text!r} is not an IP address or network; expected a comma-separated list "
                "such as 127.0.0.1, 10.0.0.0/8"
            ) from None
    return tuple(networks)


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one setting is named, parsed and documented."""

    name: str
    env: str
    parse: Parser
    default: Any
    help: str


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "metrics_enabled",
        "METRICS_ENABLED",
        _bool,
        True,
        "Collect metrics at all; false: no listener, sampler or custom metric records anything, "
        "and /stats says so (stored data stays readable).",
    ),
    FieldSpec(
        "retention_days",
        "METRICS_RETENTION_DAYS",
        _int(1, 3650),
        30,
        "How long hourly rollups (and daily distinct users) are kept.",
    ),
    FieldSpec(
        "minute_retention_days",
        "MONITOR_MINUTE_RETENTION_DAYS",
        _int(1, 365),
        2,
        "How long per-minute rollups are kept (longer ranges are read from hourly rollups).",
    ),
    FieldSpec(
        "raw_retention_hours",
        "MONITOR_RAW_RETENTION_HOURS",
        _int(1, 8760),
        24,
        "How long raw command invocations are kept.",
    ),
    FieldSpec(
        "dashboard_enabled",
        "ANALYTICS_DASHBOARD_ENABLED",
        _bool,
        True,
        "Serve the web dashboard from the cog.",
    ),
    FieldSpec(
        "dashboard_host",
        "ANALYTICS_DASHBOARD_HOST",
        _host,
        "127.0.0.1",
        "Address the dashboard binds; a non-loopback address needs ANALYTICS_API_KEY.",
    ),
    FieldSpec(
        "dashboard_port", "ANALYTICS_DASHBOARD_PORT", _int(0, 65535), 8080, "Dashboard port."
    ),
    FieldSpec(
        "dashboard_url",
        "ANALYTICS_DASHBOARD_URL",
        _url,
        "",
        "Public base URL of the dashboard for /dashboard sign-in links (default: "
        "http://HOST:PORT); set it behind a reverse proxy.",
    ),
    FieldSpec(
        "api_key",
        "ANALYTICS_API_KEY",
        _optional_secret,
        None,
        "API key for the dashboard and JSON API (Bearer or X-API-Key); at least 16 characters.",
    ),
    FieldSpec(
        "websocket_update_interval",
        "ANALYTICS_WEBSOCKET_UPDATE_INTERVAL",
        _float(0.2, 3600),
        2.0,
        "Seconds between live WebSocket pushes.",
    ),
    FieldSpec(
        "error_spike_window_seconds",
        "ERROR_SPIKE_WINDOW_SECONDS",
        _int(10, 86400),
        300,
        "Window over which an error spike is judged.",
    ),
    FieldSpec(
        "performance_alerts_enabled",
        "PERFORMANCE_ALERTS_ENABLED",
        _bool,
        True,
        "Evaluate alert rules and post alerts.",
    ),
    FieldSpec(
        "cpu_warning_threshold",
        "CPU_WARNING_THRESHOLD",
        _float(1, 100),
        80.0,
        "Host CPU percent that raises a warning.",
    ),
    FieldSpec(
        "memory_warning_threshold",
        "MEMORY_WARNING_THRESHOLD",
        _float(1, 100),
        85.0,
        "Host memory percent that raises a warning.",
    ),
    FieldSpec(
        "disk_warning_threshold",
        "DISK_WARNING_THRESHOLD",
        _float(1, 100),
        90.0,
        "Disk usage percent that raises a warning.",
    ),
    FieldSpec(
        "analytics_data_path",
        "ANALYTICS_DATA_PATH",
        _path,
        Path("data/analytics"),
        "Folder for JSON analysis reports (python -m monitoring.report --format json).",
    ),
    FieldSpec("reports_path", "REPORTS_PATH", _path, Path("reports"), "Folder for CLI reports."),
    FieldSpec(
        "visualizations_path",
        "VISUALIZATIONS_PATH",
        _path,
        Path("reports/charts"),
        "Folder for report charts.",
    ),
    FieldSpec(
        "db_path",
        "MONITOR_DB_PATH",
        _path,
        Path("data/monitoring.db"),
        "SQLite database file.",
    ),
    FieldSpec(
        "flush_interval_seconds",
        "MONITOR_FLUSH_INTERVAL_SECONDS",
        _float(0.1, 300),
        2.0,
        "Seconds between batched writes to the database.",
    ),
    FieldSpec(
        "buffer_max_rows",
        "MONITOR_BUFFER_MAX_ROWS",
        _int(1000, 10_000_000),
        200_000,
        "Rows kept in memory while the database is unavailable; beyond it, rows are dropped "
        "and counted.",
    ),
    FieldSpec(
        "alert_channel_id",
        "MONITOR_ALERT_CHANNEL_ID",
        _snowflake,
        None,
        "Channel for alert posts.",
    ),
    FieldSpec(
        "report_channel_id",
        "MONITOR_REPORT_CHANNEL_ID",
        _snowflake,
        None,
        "Channel for the daily report.",
    ),
    FieldSpec(
        "report_time",
        "MONITOR_REPORT_TIME",
        _hhmm,
        dt.time(9, 0),
        "Local time (HH:MM) of the daily report.",
    ),
    FieldSpec(
        "timezone",
        "MONITOR_TIMEZONE",
        _timezone,
        "UTC",
        "IANA time zone for the daily report and hour-of-week baselines.",
    ),
    FieldSpec(
        "cluster",
        "MONITOR_CLUSTER",
        _cluster,
        "",
        "Name of this bot process's cluster, stored with every row and exported as a label.",
    ),
    FieldSpec(
        "gateway_latency_warning_ms",
        "GATEWAY_LATENCY_WARNING_MS",
        _float(10, 60_000),
        500.0,
        "Gateway latency (ms) at which a shard is degraded; 4x is unhealthy.",
    ),
    FieldSpec(
        "loop_lag_warning_ms",
        "LOOP_LAG_WARNING_MS",
        _float(1, 60_000),
        100.0,
        "Event-loop lag (ms) that is degraded (and suggests blocking code); 10x is unhealthy.",
    ),
    FieldSpec(
        "flush_lag_warning_seconds",
        "MONITOR_FLUSH_LAG_WARNING_SECONDS",
        _float(1, 86_400),
        30.0,
        "Seconds without a successful database write that are degraded; 10x is unhealthy.",
    ),
    FieldSpec(
        "error_rate_warning_percent",
        "ERROR_RATE_WARNING_PERCENT",
        _float(0.1, 100),
        5.0,
        "Command error rate (percent) that /stats recommendations call out.",
    ),
    FieldSpec(
        "slow_command_factor",
        "SLOW_COMMAND_FACTOR",
        _float(1.5, 100),
        3.0,
        "A command whose p95 latency exceeds this many times the others' median p95 is named.",
    ),
    FieldSpec(
        "identify_daily_limit_per_shard",
        "IDENTIFY_DAILY_LIMIT_PER_SHARD",
        _int(1, 1000),
        10,
        "Gateway IDENTIFYs per shard in a day above which a reconnect storm is reported.",
    ),
    FieldSpec(
        "chart_executor",
        "MONITOR_CHART_EXECUTOR",
        _choice("process", "thread"),
        "process",
        "Where /stats charts render: a worker process (keeps the event loop free) or a thread.",
    ),
    FieldSpec(
        "anomaly_k",
        "MONITOR_ANOMALY_K",
        _float(1, 100),
        4.0,
        "Anomaly alerts: deviation from the hour-of-week baseline, in robust standard deviations.",
    ),
    FieldSpec(
        "anomaly_minutes",
        "MONITOR_ANOMALY_MINUTES",
        _int(1, 1440),
        15,
        "Anomaly alerts: minutes the deviation must last before the alert fires.",
    ),
    FieldSpec(
        "alert_max_posts_per_minute",
        "MONITOR_ALERT_MAX_POSTS_PER_MINUTE",
        _int(1, 30),
        4,
        "Alert posts allowed in any minute; more alerts wait and are grouped into the next post.",
    ),
    FieldSpec(
        "metrics_token",
        "MONITOR_METRICS_TOKEN",
        _optional_secret,
        None,
        "Bearer token Prometheus sends to scrape /metrics; empty: /metrics answers loopback "
        "clients only.",
    ),
    FieldSpec(
        "trusted_proxies",
        "MONITOR_TRUSTED_PROXIES",
        _networks,
        (),
        "Reverse proxies (IPs or CIDR networks, comma-separated) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; from any other peer those headers are ignored.",
    ),
    FieldSpec(
        "websocket_max_per_client",
        "ANALYTICS_WEBSOCKET_MAX_PER_CLIENT",
        _int(1, 1000),
        5,
        "Live WebSockets one identity (session, API key) or one address may hold open at once.",
    ),
    FieldSpec(
        "anonymous_requests_per_minute",
        "ANALYTICS_ANONYMOUS_REQUESTS_PER_MINUTE",
        _int(1, 100_000),
        60,
        "Requests without valid credentials one address may make a minute before 429.",
    ),
    FieldSpec(
        "signin_attempts_per_minute",
        "ANALYTICS_SIGNIN_ATTEMPTS_PER_MINUTE",
        _int(1, 1000),
        10,
        "Sign-in attempts (POST /login) one address may make a minute before 429.",
    ),
    FieldSpec(
        "metrics_per_guild",
        "MONITOR_METRICS_PER_GUILD",
        _bool,
        False,
        "Add per-guild series (messages, commands, errors) to /metrics, for the busiest guilds.",
    ),
    FieldSpec(
        "metrics_max_guilds",
        "MONITOR_METRICS_MAX_GUILDS",
        _int(1, 1000),
        50,
        "How many guilds get per-guild series on /metrics when MONITOR_METRICS_PER_GUILD is on.",
    ),
)

_BY_NAME = {spec.name: spec for spec in FIELDS}

RETIRED_ENV = "METRICS_SAVE_INTERVAL_MINUTES"
"""The reference design's hourly save, replaced by batched writes every few seconds."""
_RETIRED_WARNING = (
    "%s=%r is not used: metrics are written every MONITOR_FLUSH_INTERVAL_SECONDS (default 2 s) "
    "instead of every N minutes, so a crash loses seconds, not an hour; remove the setting"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    """Every setting of the monitoring extension. Build with :func:`load_config`."""

    metrics_enabled: bool = True
    retention_days: int = 30
    minute_retention_days: int = 2
    raw_retention_hours: int = 24
    dashboard_enabled: bool = True
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8080
    dashboard_url: str = ""
    api_key: str | None = None
    websocket_update_interval: float = 2.0
    error_spike_window_seconds: int = 300
    performance_alerts_enabled: bool = True
    cpu_warning_threshold: float = 80.0
    memory_warning_threshold: float = 85.0
    disk_warning_threshold: float = 90.0
    analytics_data_path: Path = Path("data/analytics")
    reports_path: Path = Path("reports")
    visualizations_path: Path = Path("reports/charts")
    db_path: Path = Path("data/monitoring.db")
    flush_interval_seconds: float = 2.0
    buffer_max_rows: int = 200_000
    alert_channel_id: int | None = None
    report_channel_id: int | None = None
    report_time: dt.time = dt.time(9, 0)
    timezone: str = "UTC"
    cluster: str = ""
    gateway_latency_warning_ms: float = 500.0
    loop_lag_warning_ms: float = 100.0
    flush_lag_warning_seconds: float = 30.0
    error_rate_warning_percent: float = 5.0
    slow_command_factor: float = 3.0
    identify_daily_limit_per_shard: int = 10
    chart_executor: str = "process"
    anomaly_k: float = 4.0
    anomaly_minutes: int = 15
    alert_max_posts_per_minute: int = 4
    metrics_token: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    websocket_max_per_client: int = 5
    anonymous_requests_per_minute: int = 60
    signin_attempts_per_minute: int = 10
    metrics_per_guild: bool = False
    metrics_max_guilds: int = 50
    alert_rules: tuple[Mapping[str, Any], ...] = ()
    """Custom alert rules from ``[[alert_rules]]`` in the TOML file (validated by the alerts module)."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def dashboard_is_loopback(self) -> bool:
        host = self.dashboard_host
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (for tests and tools)."""
        return dataclasses.replace(self, **changes)


def _parse(spec: FieldSpec, raw: Any, source: str) -> Any:
    try:
        return spec.parse(raw)
    except ValueError as exc:
        # a secret is never echoed, not even a wrong one (it may be a real secret misplaced)
        shown = f"<{len(str(raw))} characters>" if spec.parse is _optional_secret else repr(raw)
        raise ConfigError(f"{source}={shown}: {exc}") from None


def load_config(
    env: Mapping[str, str] | None = None, path: str | os.PathLike[str] | None = None
) -> Config:
    """Load the configuration: environment over TOML file over defaults.

    ``env`` defaults to ``os.environ``; ``path`` to ``MONITOR_CONFIG`` or ``./monitoring.toml``.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    rules: tuple[Mapping[str, Any], ...] = ()

    toml_path: Path | None
    if path is not None:
        toml_path = Path(path)
    elif env.get("MONITOR_CONFIG"):
        toml_path = Path(env["MONITOR_CONFIG"])
    else:
        toml_path = Path("monitoring.toml") if Path("monitoring.toml").is_file() else None

    if toml_path is not None:
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"MONITOR_CONFIG={str(toml_path)!r}: file not found") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{toml_path}: not a readable TOML file: {exc}") from None
        for key, raw in data.items():
            if key == RETIRED_ENV.lower():
                log.warning(_RETIRED_WARNING, f"{toml_path}: {key}", raw)
                continue
            if key == "alert_rules":
                if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
                    raise ConfigError(f"{toml_path}: alert_rules must be an array of tables")
                rules = tuple(raw)
                continue
            spec = _BY_NAME.get(key)
            if spec is None:
                allowed = ", ".join(sorted([*_BY_NAME, "alert_rules"]))
                raise ConfigError(f"{toml_path}: unknown setting {key!r}; allowed: {allowed}")
            values[key] = _parse(spec, raw, f"{toml_path}: {key}")

    for spec in FIELDS:
        if spec.env in env:
            values[spec.name] = _parse(spec, env[spec.env], spec.env)
    if RETIRED_ENV in env:
        log.warning(_RETIRED_WARNING, RETIRED_ENV, env[RETIRED_ENV])

    config = Config(**values, alert_rules=rules)
    if not config.dashboard_is_loopback and config.dashboard_enabled and not config.api_key:
        raise ConfigError(
            f"ANALYTICS_DASHBOARD_HOST={config.dashboard_host!r}: binding the dashboard to a "
            "non-loopback address needs ANALYTICS_API_KEY (a secret of at least 16 characters)"
        )
    log.debug("configuration loaded (toml=%s)", toml_path)
    return config


def settings_markdown() -> str:
    """The settings table for the README, generated from :data:`FIELDS`."""
    lines = ["| Variable | TOML key | Default | Allowed | Meaning |", "|---|---|---|---|---|"]
    for spec in FIELDS:
        default = spec.default
        if isinstance(default, dt.time):
            default = default.strftime("%H:%M")
        allowed = spec.parse.__doc__ or {
            _bool.__name__: "true/false",
            _path.__name__: "path",
            _optional_secret.__name__: "secret, 16+ chars",
            _snowflake.__name__: "channel id",
            _hhmm.__name__: "HH:MM",
            _timezone.__name__: "IANA zone",
            _host.__name__: "host or IP",
            _cluster.__name__: "name, 64 chars",
            _networks.__name__: "IPs or CIDRs, comma-separated",
            _str.__name__: "text",
        }.get(getattr(spec.parse, "__name__", ""), "")
        shown = "" if default is None or default == () else str(default)
        lines.append(f"| `{spec.env}` | `{spec.name}` | `{shown}` | {allowed} | {spec.help} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - documentation helper
    import sys

    sys.stdout.write(settings_markdown() + "\n")
