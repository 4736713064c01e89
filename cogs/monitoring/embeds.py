"""Formatting the core's answers for Discord: embeds and plain-text fallbacks. No statistics here.

Every text that can come from outside the bot's code (guild names, error messages, custom check
names) is markdown-escaped and cut to Discord's limits; :func:`fit_embeds` keeps a message under
the 6,000-character total of all its embeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import discord

from monitoring.analysis import KeyNumber, StatsSummary
from monitoring.health import HealthResult, HealthStatus
from monitoring.healthchecks import HealthReport
from monitoring.recommendations import Recommendation
from monitoring.store.base import Change

__all__ = [
    "EMBED_TOTAL_LIMIT",
    "error_embed",
    "fit_embeds",
    "fmt",
    "health_embed",
    "recommendations_embed",
    "stats_embed",
    "stats_text",
]

log = logging.getLogger(__name__)

EMBED_TOTAL_LIMIT = 6000
COLOUR_INFO = discord.Colour(0x5865F2)
STATUS_COLOUR = {
    HealthStatus.HEALTHY: discord.Colour(0x23A55A),
    HealthStatus.DEGRADED: discord.Colour(0xF0B232),
    HealthStatus.UNHEALTHY: discord.Colour(0xF23F43),
}
STATUS_ICON = {
    HealthStatus.HEALTHY: "\N{LARGE GREEN CIRCLE}",
    HealthStatus.DEGRADED: "\N{LARGE YELLOW CIRCLE}",
    HealthStatus.UNHEALTHY: "\N{LARGE RED CIRCLE}",
}
PRIORITY_ICON = {
    "high": "\N{LARGE RED CIRCLE}",
    "medium": "\N{LARGE ORANGE CIRCLE}",
    "low": "\N{LARGE BLUE CIRCLE}",
}
PRIORITY_COLOUR = {
    "high": discord.Colour(0xF23F43),
    "medium": discord.Colour(0xF0B232),
    "low": COLOUR_INFO,
}
PERIOD_LABEL = {"1h": "hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days"}
METRIC_LABEL = {
    "messages": "Messages",
    "commands": "Commands",
    "latency": "Latency",
    "errors": "Errors",
    "users": "Users",
    "voice": "Voice",
    "system": "System",
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _safe(text: str, limit: int = 100) -> str:
    """Outside text, markdown-escaped and cut."""
    return _cut(discord.utils.escape_mentions(discord.utils.escape_markdown(text)), limit)


def fmt(value: float | None, unit: str = "") -> str:
    """A number for people: 1,234 · 12.5 % · 340 ms · 1.25 s · 3.5 h · 12/h."""
    if value is None:
        return "\N{EM DASH}"
    if unit == "ms":
        if value >= 1000:
            return f"{value / 1000:.2f} s"
        return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "min":
        return f"{value / 60:,.1f} h" if value >= 120 else f"{value:,.0f} min"
    if unit == "MB":
        return f"{value / 1024:,.2f} GB" if value >= 2048 else f"{value:,.1f} MB"
    if unit == "/h":
        return f"{value:,.1f}/h" if value < 100 else f"{value:,.0f}/h"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def fmt_change(change: Change | None) -> str:
    if change is None:
        return "\N{EM DASH}"
    ratio = change.ratio
    if ratio is None:
        return "new this period" if change.current else "\N{EM DASH}"
    if abs(ratio) < 0.005:
        return "no change"
    arrow = "\N{BLACK UP-POINTING TRIANGLE}" if ratio > 0 else "\N{BLACK DOWN-POINTING TRIANGLE}"
    return f"{arrow} {ratio:+.0%}".replace("-", "\N{MINUS SIGN}")


def _key(n: KeyNumber) -> str:
    return f"**{fmt(n.value, n.unit)}**"


def stats_embed(
    s: StatsSummary,
    *,
    scope: str,
    guild_name: Callable[[int], str | None] = lambda _gid: None,
    image: str | None = None,
) -> discord.Embed:
    """The key numbers of a summary; ``image`` is the attachment's file name, if any."""
    title = f"\N{BAR CHART} {METRIC_LABEL[s.metric]} \N{EM DASH} last {PERIOD_LABEL[s.period]}"
    start, end = int(s.start), int(s.end)
    embed = discord.Embed(
        title=title,
        description=f"{scope} \N{MIDDLE DOT} <t:{start}:f> \N{RIGHTWARDS ARROW} <t:{end}:t>",
        colour=COLOUR_INFO,
    )
    for n in s.totals:
        embed.add_field(name=n.label, value=_key(n), inline=True)
    if s.p50 is not None:
        embed.add_field(
            name=f"{s.percentile_label.capitalize()} percentiles",
            value=f"p50 **{fmt(s.p50, 'ms')}** \N{MIDDLE DOT} p95 **{fmt(s.p95, 'ms')}**"
            f" \N{MIDDLE DOT} p99 **{fmt(s.p99, 'ms')}**",
            inline=False,
        )
    if s.error_rate is not None:
        embed.add_field(name="Error rate", value=f"**{s.error_rate:.1%}**", inline=True)
    if s.change is not None:
        embed.add_field(
            name=f"Change in {s.change_label}",
            value=f"**{fmt_change(s.change)}** vs the previous {PERIOD_LABEL[s.period]}",
            inline=True,
        )
    if s.top_commands:
        lines = [
            f"`/{_cut(c.command, 40)}` {c.count:,} runs \N{MIDDLE DOT} p95 {fmt(c.p95, 'ms')}"
            + (f" \N{MIDDLE DOT} {c.error_rate:.0%} failed" if c.errors else "")
            for c in s.top_commands
        ]
        embed.add_field(name="Top commands", value=_cut("\n".join(lines), 1024), inline=False)
    if s.top_guilds:
        lines = []
        for item in s.top_guilds:
            name = guild_name(int(item.label)) or f"server {item.label}"
            lines.append(f"{_safe(name, 60)} \N{EM DASH} {fmt(item.aggregate.sum)}")
        embed.add_field(name="Busiest servers", value=_cut("\n".join(lines), 1024), inline=False)
    if s.top_errors:
        lines = [
            f"`{_cut(g.type, 40)}` \N{MULTIPLICATION SIGN}{g.count:,}"
            + (f" in `/{_cut(g.command, 40)}`" if g.command else "")
            + f": {_safe(g.message, 120)}"
            for g in s.top_errors
        ]
        embed.add_field(
            name="Most frequent errors", value=_cut("\n".join(lines), 1024), inline=False
        )
    if image:
        embed.set_image(url=f"attachment://{image}")
    embed.set_footer(
        text="Times in UTC on the chart \N{MIDDLE DOT} message content is never stored"
    )
    return embed


def stats_text(s: StatsSummary, *, scope: str) -> str:
    """A plain-text version of :func:`stats_embed` (for channels without Embed Links)."""
    lines = [f"**{METRIC_LABEL[s.metric]} \N{EM DASH} last {PERIOD_LABEL[s.period]}** ({scope})"]
    lines += [f"{n.label}: {_key(n)}" for n in s.totals]
    if s.p50 is not None:
        lines.append(
            f"{s.percentile_label.capitalize()}: p50 {fmt(s.p50, 'ms')}, p95 {fmt(s.p95, 'ms')}, "
            f"p99 {fmt(s.p99, 'ms')}"
        )
    if s.error_rate is not None:
        lines.append(f"Error rate: {s.error_rate:.1%}")
    if s.change is not None:
        lines.append(f"Change in {s.change_label}: {fmt_change(s.change)}")
    return _cut("\n".join(lines), 1500)


def recommendations_embed(recs: Sequence[Recommendation], *, limit: int = 5) -> discord.Embed:
    """Recommendations, most urgent first; an all-clear when there are none."""
    if not recs:
        return discord.Embed(
            title="\N{ELECTRIC LIGHT BULB} Recommendations",
            description="No problems found for this period.",
            colour=STATUS_COLOUR[HealthStatus.HEALTHY],
        )
    embed = discord.Embed(
        title="\N{ELECTRIC LIGHT BULB} Recommendations", colour=PRIORITY_COLOUR[recs[0].priority]
    )
    for rec in recs[:limit]:
        icon = PRIORITY_ICON.get(rec.priority, "")
        embed.add_field(
            name=_cut(f"{icon} {rec.priority.capitalize()} \N{MIDDLE DOT} {rec.title}", 256),
            value=_cut(f"{_safe(rec.description, 600)}\n**Do:** {rec.action}", 1024),
            inline=False,
        )
    if len(recs) > limit:
        embed.set_footer(text=f"{len(recs) - limit} more not shown")
    return embed


def _health_line(r: HealthResult) -> str:
    took = f" ({r.duration_ms:.0f} ms)" if r.duration_ms and r.duration_ms >= 100 else ""
    return (
        f"{STATUS_ICON[r.status]} **{_safe(r.name, 64)}** \N{EM DASH} {_safe(r.reason, 200)}{took}"
    )


def health_embed(report: HealthReport) -> discord.Embed:
    """One line per check, coloured by the worst status."""
    status = report.status
    embed = discord.Embed(
        title=f"\N{STETHOSCOPE} Health: {status.label}",
        description=_cut("\n".join(_health_line(r) for r in report.results), 4000),
        colour=STATUS_COLOUR[status],
        timestamp=discord.utils.utcnow(),
    )
    counts = {st: sum(1 for r in report.results if r.status is st) for st in HealthStatus}
    embed.set_footer(
        text=" \N{MIDDLE DOT} ".join(f"{n} {st.label}" for st, n in counts.items() if n)
    )
    return embed


def health_text(report: HealthReport) -> str:
    lines = [f"**Health: {report.status.label}**"]
    lines += [f"{r.status.label}: {r.name} \N{EM DASH} {r.reason}" for r in report.results]
    return _cut("\n".join(lines), 1900)


def error_embed(title: str, description: str) -> discord.Embed:
    return discord.Embed(
        title=f"\N{WARNING SIGN} {_cut(title, 200)}",
        description=_cut(description, 2000),
        colour=STATUS_COLOUR[HealthStatus.UNHEALTHY],
    )


def _total(embed: discord.Embed) -> int:
    size = len(embed.title or "") + len(embed.description or "")
    size += sum(len(f.name or "") + len(f.value or "") for f in embed.fields)
    size += len(embed.footer.text or "") + len(embed.author.name or "")
    return size


def fit_embeds(embeds: list[discord.Embed]) -> list[discord.Embed]:
    """Drop trailing fields of the last embeds until all embeds fit 6,000 characters together."""
    while sum(_total(e) for e in embeds) > EMBED_TOTAL_LIMIT:
        last = next((e for e in reversed(embeds) if e.fields), None)
        if last is None:
            embeds[-1].description = _cut(embeds[-1].description or "", 1000)
            break
        last.remove_field(len(last.fields) - 1)
    return embeds
