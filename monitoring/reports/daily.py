"""The daily report: content for one local day, its cards, and an exactly-once scheduler.

:class:`DailyReportScheduler` is Discord-free: the cog gives it a
:class:`~monitoring.alerts.delivery.Destination` for ``MONITOR_REPORT_CHANNEL_ID`` and an async
``render_chart`` (the ``/stats`` chart worker process, or :func:`thread_chart`), and calls
:meth:`~DailyReportScheduler.run_once` from a loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..alerts.cards import COLOURS, CardStyle, duration_words
from ..alerts.delivery import Card, CardField, DeliveryError, Destination, OutgoingMessage
from ..alerts.state import AlertStore, ReportRun
from ..chart_pool import ChartError
from ..health import HealthStatus
from ..store.base import StoreError
from .build import Comparison, Report, Total, build_report
from .schedule import DueReport, day_bounds, due_report, seconds_until_next

__all__ = [
    "CHART_NAME",
    "DailyReportScheduler",
    "build_daily_report",
    "report_cards",
    "thread_chart",
]

log = logging.getLogger(__name__)

CHART_NAME = "daily-report.png"


async def thread_chart(report: Report) -> bytes:
    """Draw the report chart in a thread (when no chart worker process is available)."""
    from .chart import render_report_chart

    return await asyncio.to_thread(render_report_chart, report)


async def build_daily_report(monitor: Any, due: DueReport, *, now: float) -> Report:
    """The report for the day before ``due.day`` against the day before and the week before."""
    tz = monitor.config.tz
    day = due.covers
    start, end = day_bounds(day, tz)
    comparisons = (
        Comparison("day before", *day_bounds(day - dt.timedelta(days=1), tz)),
        Comparison("week before", *day_bounds(day - dt.timedelta(days=7), tz)),
    )
    return await build_report(
        monitor,
        title=f"Daily report · {day:%a %d %b %Y}",
        start=start,
        end=end,
        comparisons=comparisons,
        now=now,
        late=due.late,
        label=f"{day:%a %d %b}",
    )


def _change(ratio: float | None) -> str:
    if ratio is None:
        return "new"
    arrow = "▲" if ratio > 0.005 else ("▼" if ratio < -0.005 else "=")
    return f"{arrow} {abs(ratio):.0%}"


def _total_line(total: Total, comparisons: int) -> str:
    labels = ("d/d", "w/w")
    parts = [
        f"{_change(total.change(i))} {labels[i] if i < 2 else ''}".strip()
        for i in range(comparisons)
    ]
    return f"**{total.value:,.0f}**" + (f"  ({', '.join(parts)})" if parts else "")


def report_cards(report: Report, style: CardStyle) -> tuple[Card, ...]:
    """One card: headline numbers with day-over-day and week-over-week change, and the chart."""
    n = len(report.comparisons)
    fields = [
        CardField(t.label, _total_line(t, n)) for t in report.totals if t.value or any(t.before)
    ]
    fields.append(CardField("Distinct users", _total_line(report.distinct_users, n)))
    if report.uptime is not None:
        fields.append(CardField("Uptime", f"{report.uptime:.2%}"))
    fields.append(
        CardField(
            "Shard reconnects",
            f"{report.reconnects} (resumed {report.resumes}, new sessions {report.identifies})",
        )
    )
    if report.top_commands:
        lines = [f"`/{c.command[:40]}` {c.count:,}" for c in report.top_commands]
        fields.append(CardField("Top commands", "\n".join(lines)))
    if report.slowest_commands:
        lines = [f"`/{c.command[:40]}` p95 {c.p95 or 0:,.0f} ms" for c in report.slowest_commands]
        fields.append(CardField("Slowest (p95)", "\n".join(lines)))
    if report.top_errors:
        lines = [
            f"`{g.type[:40]}` x{g.count} {('in /' + g.command[:30]) if g.command else ''}".rstrip()
            for g in report.top_errors
        ]
        fields.append(CardField("Top errors", "\n".join(lines)[:1024], inline=False))
    if report.peak_hours:
        hours = ", ".join(f"{h:02d}:00 ({n:,})" for h, n in report.peak_hours)
        fields.append(CardField("Peak hours", hours, inline=False))
    ins = report.insights
    summary = "No activity recorded." if not report.has_data else ""
    if ins is not None and report.has_data:
        p = ins.performance
        score = f"{p.efficiency_score:.0f}/100" if p.efficiency_score is not None else "n/a"
        summary = (
            f"Responses **{p.response_time_status}**, errors **{p.error_rate_status}**, "
            f"efficiency {score}, trend {p.trend}."
        )
        if p.bottlenecks:
            summary += "\nBottlenecks: " + "; ".join(p.bottlenecks[:3])
    if report.late:
        summary = "⏰ Posted late: the bot was offline at the scheduled time.\n" + summary
    return (
        Card(
            title=f"📊 {report.title}"[:256],
            description=summary[:4096],
            colour=COLOURS["info"],
            fields=tuple(fields[:25]),
            footer=f"{report.timezone} · day before and week before for comparison",
            timestamp=report.end,
            image=CHART_NAME,
        ),
    )


class DailyReportScheduler:
    """Posts the daily report exactly once per local day; catches up late after downtime."""

    def __init__(
        self,
        monitor: Any,
        destination: Destination,
        *,
        style: CardStyle | None = None,
        render_chart: Callable[[Report], Awaitable[bytes]] | None = None,
    ) -> None:
        self.monitor = monitor
        self.destination = destination
        self.db = AlertStore(monitor.store)
        self.style = style or CardStyle(tz=monitor.config.tz)
        self.render_chart = render_chart
        self.first_run: float | None = None
        self.last_sent: dt.date | None = None
        self.last_error: str | None = None
        self.permanent = False
        self.failures = 0
        self.sent = 0

    async def start(self, now: float) -> None:
        await self.db.ensure_schema()
        raw = await self.db.meta("report_first_run")
        if raw is None:
            await self.db.set_meta("report_first_run", str(now))
            raw = str(now)
        self.first_run = float(raw)
        sent = [r for r in await self.db.report_runs(30) if r.status == "sent"]
        self.last_sent = dt.date.fromisoformat(sent[0].day) if sent else None

    async def run_once(self, now: float) -> float:
        """Post the report if one is due; returns the seconds until the next check."""
        config = self.monitor.config
        tz, at = config.tz, config.report_time
        if self.first_run is None:
            await self.start(now)
        assert self.first_run is not None
        due = due_report(now, at, tz, last_sent=self.last_sent, first_run=self.first_run)
        if due is None:
            return min(seconds_until_next(now, at, tz), 600.0)
        try:
            await self.post(due, now)
        except DeliveryError as exc:
            self.failures += 1
            self.last_error, self.permanent = exc.reason, not exc.transient
            delay = 300.0 if not exc.transient else min(30.0 * 2**self.failures, 600.0)
            log.error("daily report %s not posted (retry in %.0fs): %s", due.key, delay, exc.reason)
            return delay
        except StoreError as exc:
            self.failures += 1
            self.last_error, self.permanent = f"database: {exc}", False
            log.error("daily report %s not built: %s", due.key, exc)
            return 120.0
        return 1.0

    async def post(self, due: DueReport, now: float) -> int:
        """Claim the day, build, render, send, mark sent (exactly once per ``due.day``)."""
        run = await self.db.report_run(due.key)
        if run is not None and run.status == "sent":
            self.last_sent = max(self.last_sent or due.day, due.day)
            return run.message_id or 0
        if run is None:
            await self.db.save_report_run(
                ReportRun(due.key, due.scheduled, "pending", late=due.late)
            )
        report = await build_daily_report(self.monitor, due, now=now)
        files: tuple[tuple[str, bytes], ...] = ()
        if self.render_chart is not None:
            try:
                files = ((CHART_NAME, await self.render_chart(report)),)
            except (ChartError, ValueError, OSError) as exc:  # post the numbers without it
                log.warning("daily report chart not drawn, posting without it: %s", exc)
        cards = report_cards(report, self.style)
        if not files:
            cards = tuple(dataclasses.replace(c, image=None) for c in cards)
        message_id = await self.destination.send(OutgoingMessage(cards, files=files))
        await self.db.save_report_run(
            ReportRun(due.key, due.scheduled, "sent", now, due.late, message_id)
        )
        self.last_sent = due.day
        self.sent += 1
        self.failures, self.last_error, self.permanent = 0, None, False
        late = f" (late by {duration_words(now - due.scheduled)})" if due.late else ""
        log.info("daily report for %s posted%s", due.covers, late)
        return message_id

    def health(self) -> tuple[HealthStatus, str]:
        name = self.destination.name
        if self.last_error is not None:
            status = HealthStatus.UNHEALTHY if self.permanent else HealthStatus.DEGRADED
            return status, f"daily report to {name}: {self.last_error}"
        last = self.last_sent.isoformat() if self.last_sent else "none yet"
        return HealthStatus.HEALTHY, f"daily report to {name}: last {last}"
