"""What /stats and /health answer, built from the core's values (no interaction needed).

:func:`build_stats` runs the queries and the off-loop chart render; :func:`stats_message` turns the
result into ``send_message`` keyword arguments that respect the channel's permissions. The
benchmark (``python -m benchmarks.stats_command``) times exactly these two.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Callable
from typing import Any

import discord

from monitoring.analysis import StatsSummary, period_seconds, step_for
from monitoring.chart_pool import ChartRenderer, StatsRequest
from monitoring.recommendations import Recommendation, add_process_facts, recommend

from . import embeds

__all__ = ["CHART_FILE", "NO_DATA", "StatsReply", "build_stats", "stats_message"]

log = logging.getLogger(__name__)

CHART_FILE = "stats.png"
NO_DATA = "No data yet for this period."
COLLECTION_OFF = (
    "Metrics collection is off (`METRICS_ENABLED=false`): these are the numbers stored before, "
    "and nothing new is recorded."
)


@dataclasses.dataclass(frozen=True, slots=True)
class StatsReply:
    """A computed /stats answer."""

    summary: StatsSummary
    recommendations: tuple[Recommendation, ...]
    png: bytes | None
    chart_error: str | None = None


def _step_label(step: int) -> str:
    for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if step % unit == 0:
            return f"{step // unit}-{name} steps"
    return f"{step}-second steps"


async def build_stats(
    monitor: Any,
    renderer: ChartRenderer,
    *,
    metric: str,
    period: str,
    now: float,
    guild: int | None,
    scope: str,
    shards: int | None = None,
    theme: str = "discord",
) -> StatsReply:
    """Summary, recommendations and chart for one /stats request.

    The queries and the chart run off the event loop (see :mod:`monitoring.chart_pool`). Store
    failures propagate (:class:`~monitoring.store.base.StoreError`); a chart failure is logged
    and leaves the reply without a chart.
    """
    title = f"{embeds.METRIC_LABEL[metric]} \N{MIDDLE DOT} last {embeds.PERIOD_LABEL[period]}"
    request = StatsRequest(
        metric=metric,
        period=period,
        now=now,
        guild=guild,
        facts_period=min(period_seconds(period), 86400),
        shards=shards,
        chart={
            "title": title,
            "theme": theme,
            "subtitle": f"{scope} \N{MIDDLE DOT} {_step_label(step_for(period))} \N{MIDDLE DOT} "
            "times in UTC",
        },
    )
    result = await renderer.stats(request, store=monitor.store)
    summary = result.summary
    if metric == "errors":
        groups = monitor.errors.top(n=50, since=summary.start)
        top = tuple(g for g in groups if guild is None or g.guild == guild)[:3]
        summary = dataclasses.replace(
            summary, top_errors=top, has_data=summary.has_data or bool(top)
        )
    facts = add_process_facts(result.facts, monitor)
    recs = tuple(recommend(facts, monitor.config))
    return StatsReply(summary, recs, result.png, result.chart_error)


def stats_message(
    reply: StatsReply,
    *,
    scope: str,
    can_embed: bool = True,
    can_attach: bool = True,
    guild_name: Callable[[int], str | None] = lambda _gid: None,
) -> dict[str, Any]:
    """Keyword arguments for ``send_message``/``followup.send``.

    Without Embed Links: a plain-text answer that says which permission is missing. Without
    Attach Files: the embeds without the chart, and a note saying so.
    """
    summary = reply.summary
    if not summary.has_data:
        return {"content": NO_DATA}
    if not can_embed:
        text = (
            "I can't show embeds here: I need the **Embed Links** permission in this channel.\n\n"
            + embeds.stats_text(summary, scope=scope)
        )
        return {"content": text[:2000]}
    notes: list[str] = []
    files: list[discord.File] = []
    image: str | None = None
    if reply.png is not None and can_attach:
        files.append(discord.File(io.BytesIO(reply.png), filename=CHART_FILE))
        image = CHART_FILE
    elif reply.png is not None:
        notes.append("Chart left out: I need the **Attach Files** permission in this channel.")
    elif reply.chart_error:
        notes.append("The chart could not be drawn this time (the error was logged).")
    main = embeds.stats_embed(summary, scope=scope, guild_name=guild_name, image=image)
    found = embeds.fit_embeds([main, embeds.recommendations_embed(reply.recommendations)])
    kwargs: dict[str, Any] = {"embeds": found}
    if files:
        kwargs["files"] = files
    if notes:
        kwargs["content"] = "\n".join(notes)
    return kwargs
