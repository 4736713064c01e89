"""The names of ``/metrics``: which recorded metric becomes which Prometheus family.

Shared by the exposition (:mod:`monitoring.exposition`), the alert-rule export
(:mod:`monitoring.promrules`) and the Grafana dashboard (:mod:`monitoring.grafana`), so the three
cannot drift apart. Counters end in ``_total``, durations are in seconds, labels are ``command``,
``kind``, ``shard`` (and ``cluster``, added by the formatter).
"""

from __future__ import annotations

import dataclasses
import logging
import re

from . import histogram

__all__ = [
    "COMMANDS_TOTAL",
    "COUNTERS",
    "GATEWAY",
    "GAUGES",
    "GENERIC_EDGES",
    "HISTOGRAMS",
    "HOST_METRICS",
    "LAG_EDGES",
    "LATENCY_EDGES",
    "LIVE_METRICS",
    "MAX_COMMAND_LABELS",
    "MAX_CUSTOM",
    "OTHER",
    "Family",
    "Labels",
    "Sample",
    "Spec",
    "custom_name",
]

log = logging.getLogger(__name__)

MAX_COMMAND_LABELS = 100
"""Distinct ``command`` label values; later command names are exported as ``(other)``."""
MAX_CUSTOM = 50
"""The host bot's own metrics exported (``discord_custom_*``); later names are left out."""
OTHER = "(other)"

LATENCY_EDGES = tuple(range(80, 209, 8))
"""Bucket bounds (indices into :data:`monitoring.histogram.BOUNDS`) for latencies in ms:
1.024 ms to 67.1 s, each twice the previous."""
LAG_EDGES = tuple(range(64, 193, 8))
"""Event-loop lag: 0.256 ms to 16.8 s."""
GENERIC_EDGES = tuple(range(0, len(histogram.BOUNDS), 16))
"""A custom histogram in unknown units: 0.001 to 4.3e6, each four times the previous."""

Labels = tuple[tuple[str, str], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    """One line of the exposition: ``name + suffix{labels} value``."""

    suffix: str
    labels: Labels
    value: float


@dataclasses.dataclass(frozen=True, slots=True)
class Family:
    """One metric family: its name, type (counter, gauge, histogram), help and samples."""

    name: str
    type: str
    help: str
    samples: tuple[Sample, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """How one recorded metric becomes a Prometheus family.

    ``labels`` are taken from the row (``command``, ``kind``, ``shard``); ``per_command`` reads
    the per-command rows instead of the all-commands row; ``scale`` converts units (ms to s);
    ``edges`` are the histogram's bucket bounds (indices into the core's bounds).
    """

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()
    per_command: bool = False
    scale: float = 1.0
    edges: tuple[int, ...] = ()

    def bounds(self) -> list[float]:
        return [histogram.BOUNDS[i] * self.scale for i in self.edges]


_CMD = ("command", "kind")
COUNTERS: dict[str, Spec] = {
    "messages": Spec("discord_messages_total", "counter", "Messages from users (not content)."),
    "messages_own": Spec("discord_bot_messages_total", "counter", "Messages the bot sent."),
    "event_errors": Spec("discord_event_errors_total", "counter", "Errors in event listeners."),
    "guild_joins": Spec("discord_guild_joins_total", "counter", "Guilds the bot joined."),
    "guild_leaves": Spec("discord_guild_leaves_total", "counter", "Guilds the bot left."),
    "member_joins": Spec("discord_member_joins_total", "counter", "Members who joined a guild."),
    "member_leaves": Spec("discord_member_leaves_total", "counter", "Members who left a guild."),
    "voice_minutes": Spec(
        "discord_voice_seconds_total", "counter", "Time members spent in voice.", scale=60.0
    ),
    "voice_sessions": Spec("discord_voice_sessions_total", "counter", "Voice sessions started."),
}
COUNTERS.update(
    {
        "command_errors": Spec(
            "discord_command_errors_total", "counter", "Commands that failed.", _CMD, True
        ),
        "command_user_errors": Spec(
            "discord_command_user_errors_total",
            "counter",
            "Commands refused for the user's input, permissions or cooldown.",
            _CMD,
            True,
        ),
        "interaction_deadline_missed": Spec(
            "discord_interaction_deadline_missed_total",
            "counter",
            "Interactions answered after Discord's 3 s deadline (or never).",
            ("command",),
            True,
        ),
        "gateway_identify": Spec(
            "discord_gateway_identifies_total", "counter", "Gateway IDENTIFYs.", ("shard",)
        ),
        "gateway_resume": Spec(
            "discord_gateway_resumes_total", "counter", "Gateway sessions resumed.", ("shard",)
        ),
        "gateway_disconnect": Spec(
            "discord_gateway_disconnects_total", "counter", "Gateway disconnections.", ("shard",)
        ),
    }
)
"""Recorded counters, by the core's metric name."""

HISTOGRAMS: dict[str, Spec] = {
    "command_latency_ms": Spec(
        "discord_command_latency_seconds",
        "histogram",
        "Command latency, from invocation to completion.",
        _CMD,
        True,
        1e-3,
        LATENCY_EDGES,
    ),
    "interaction_first_response_ms": Spec(
        "discord_interaction_first_response_seconds",
        "histogram",
        "Time from an interaction's creation to its first response.",
        scale=1e-3,
        edges=LATENCY_EDGES,
    ),
    "loop_lag_ms": Spec(
        "discord_event_loop_lag_seconds",
        "histogram",
        "How late the event loop wakes up (sampled twice a second).",
        scale=1e-3,
        edges=LAG_EDGES,
    ),
}
"""Recorded histograms, by the core's metric name."""

COMMANDS_TOTAL = Spec(
    "discord_commands_total", "counter", "Commands run (prefix, slash, context menus).", _CMD
)
GATEWAY = Spec(
    "discord_gateway_latency_seconds", "gauge", "Gateway heartbeat latency per shard.", ("shard",)
)
GAUGES: dict[str, Spec] = {
    "guilds": Spec("discord_guilds", "gauge", "Guilds the bot is in."),
    "members": Spec("discord_members", "gauge", "Members across the bot's guilds."),
    "voice_active": Spec("discord_voice_active_members", "gauge", "Members in voice channels."),
    "flush_ms": Spec(
        "discord_monitor_flush_duration_seconds",
        "gauge",
        "Duration of the last database flush.",
        scale=1e-3,
    ),
}
"""Recorded gauges read live (the latest value), by the core's metric name."""

LIVE_METRICS = {
    "users",
    "monitor_dropped_rows",
    "net_sent_bytes",
    "net_recv_bytes",
    "gateway_latency_ms",
}
HOST_METRICS = {
    "cpu_percent",
    "memory_percent",
    "process_rss_mb",
    "process_cpu_percent",
    "disk_percent",
}
_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")


def custom_name(metric: str, kind: str) -> tuple[str, float]:
    """The Prometheus name and unit scale of one of the host bot's own metrics."""
    base = _NAME_RE.sub("_", metric).strip("_").lower() or "metric"
    scale = 1.0
    if base.endswith("_ms"):
        base, scale = base[:-3] + "_seconds", 1e-3
    if kind == "counter":
        base = base.removesuffix("_total") + "_total"
    return f"discord_custom_{base}", scale
