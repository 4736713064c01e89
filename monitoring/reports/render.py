"""A :class:`~monitoring.reports.build.Report` as Markdown (people) or a JSON dict (machines).

Command names, error messages and locations come from users' servers and code: every such text
is escaped before it goes into Markdown.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from .build import Report, Total

__all__ = ["report_dict", "report_markdown"]

log = logging.getLogger(__name__)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def md(text: str) -> str:
    """Escape Markdown syntax (and collapse newlines) in untrusted text."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _when(ts: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _pct(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    return f"{ratio:+.0%}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


def _total_row(t: Total, comparisons: int) -> str:
    cells = [md(t.label), f"{t.value:,.0f}"]
    for i in range(comparisons):
        cells += [f"{t.before[i]:,.0f}", _pct(t.change(i))]
    return "| " + " | ".join(cells) + " |"


def report_markdown(report: Report, charts: Mapping[str, str] | None = None) -> str:
    """The report as a Markdown document; ``charts`` maps titles to relative image paths."""
    tz = ZoneInfo(report.timezone)
    ins = report.insights
    lines = [
        f"# {md(report.title)}",
        "",
        f"**Period:** {_when(report.start, tz)} to {_when(report.end, tz)} ({report.timezone})  ",
        f"**Generated:** {_when(report.generated_at, tz)}",
        "",
        "## Executive summary",
        "",
    ]
    if not report.has_data:
        lines.append("- No activity was recorded in this period.")
    if ins is not None and report.has_data:
        p, u = ins.performance, ins.user_behavior
        score = "n/a" if p.efficiency_score is None else f"{p.efficiency_score:.0f}/100"
        rate = "n/a" if p.error_rate is None else f"{p.error_rate:.1%}"
        lines += [
            f"- Response times **{p.response_time_status}** (p95 {_ms(p.p95_ms)}), errors "
            f"**{p.error_rate_status}** ({rate}), efficiency {score}, trend **{p.trend}**",
            f"- {u.active_users:,} distinct users; D1 retention {_pct_plain(u.retention.d1)}, "
            f"D7 {_pct_plain(u.retention.d7)}; engagement "
            f"{'n/a' if u.engagement_score is None else f'{u.engagement_score:.0f}/100'}",
        ]
        lines += [f"- Bottleneck: {md(b)}" for b in p.bottlenecks]
    uptime = "n/a" if report.uptime is None else f"{report.uptime:.2%}"
    lines += [
        f"- Uptime {uptime}; shard reconnects {report.reconnects} (resumed {report.resumes}, "
        f"new sessions {report.identifies})",
        "",
        "## Totals",
        "",
    ]
    header = ["Metric", "This period"]
    for comparison in report.comparisons:
        header += [md(comparison.label), "Change"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    n = len(report.comparisons)
    lines += [_total_row(t, n) for t in (*report.totals, report.distinct_users)]
    lines += ["", "## Commands", ""]
    if report.top_commands:
        lines += [
            "| Command | Calls | Errors | Error rate | p50 | p95 | p99 |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in report.top_commands:
            lines.append(
                f"| /{md(c.command)} | {c.count:,} | {c.errors:,} | {c.error_rate:.1%} | "
                f"{_ms(c.p50)} | {_ms(c.p95)} | {_ms(c.p99)} |"
            )
    else:
        lines.append("No commands were run.")
    if report.slowest_commands:
        lines += ["", "### Slowest commands (p95)", ""]
        lines += [
            f"- /{md(c.command)}: {_ms(c.p95)} over {c.count:,} calls"
            for c in report.slowest_commands
        ]
    lines += ["", "## Errors", ""]
    if report.top_errors:
        lines += ["| Error | Where | Count | First seen | Last seen |", "|---|---|---|---|---|"]
        for g in report.top_errors:
            where = f"/{g.command}" if g.command else g.location
            lines.append(
                f"| {md(g.type)}: {md(g.message[:120])} | {md(where)} | {g.count:,} | "
                f"{_when(g.first_seen, tz)} | {_when(g.last_seen, tz)} |"
            )
    else:
        lines.append("No errors recorded.")
    lines += ["", "## User engagement", ""]
    if report.peak_hours:
        lines.append(
            "Peak hours: " + ", ".join(f"{h:02d}:00 ({n:,} events)" for h, n in report.peak_hours)
        )
    if ins is not None:
        features = ", ".join(
            f"/{md(name)} ({count:,})" for name, count in ins.user_behavior.popular_features
        )
        lines += [
            f"Popular features: {features or 'none'}",
            f"Retention trend: {ins.user_behavior.user_retention}",
        ]
        recs = ins.recommendations
        lines += ["", "## Recommendations", ""]
        if not recs:
            lines.append("Nothing to recommend: no rule matched.")
        for r in recs:
            get = r.get if isinstance(r, Mapping) else lambda k, _r=r: getattr(_r, k, "")
            lines.append(
                f"- **[{md(str(get('priority')))}] {md(str(get('title')))}**: "
                f"{md(str(get('description')))} *Action:* {md(str(get('action')))}"
            )
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{md(title)}]({path})" for title, path in charts.items()]
    return "\n".join(lines) + "\n"


def _pct_plain(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.0%}"


def _total_dict(t: Total, labels: Sequence[str]) -> dict[str, Any]:
    return {
        "label": t.label,
        "value": t.value,
        "compared": {
            label: {"value": t.before[i], "change": t.change(i)} for i, label in enumerate(labels)
        },
    }


def report_dict(report: Report, charts: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The report as plain JSON types."""
    labels = [c.label for c in report.comparisons]
    return {
        "title": report.title,
        "period": {
            "start": _iso(report.start),
            "end": _iso(report.end),
            "timezone": report.timezone,
        },
        "generated_at": _iso(report.generated_at),
        "late": report.late,
        "has_data": report.has_data,
        "totals": [_total_dict(t, labels) for t in report.totals],
        "distinct_users": _total_dict(report.distinct_users, labels),
        "commands": [
            {
                "command": c.command,
                "count": c.count,
                "errors": c.errors,
                "error_rate": round(c.error_rate, 4),
                "p50_ms": c.p50,
                "p95_ms": c.p95,
                "p99_ms": c.p99,
                "mean_ms": c.mean,
            }
            for c in report.top_commands
        ],
        "slowest_commands": [
            {"command": c.command, "count": c.count, "p95_ms": c.p95}
            for c in report.slowest_commands
        ],
        "errors": [
            {
                "fingerprint": g.fingerprint,
                "type": g.type,
                "message": g.message,
                "location": g.location,
                "command": g.command,
                "count": g.count,
                "first_seen": _iso(g.first_seen),
                "last_seen": _iso(g.last_seen),
            }
            for g in report.top_errors
        ],
        "peak_hours": [{"hour": h, "events": n} for h, n in report.peak_hours],
        "uptime": report.uptime,
        "gateway": {
            "reconnects": report.reconnects,
            "resumes": report.resumes,
            "identifies": report.identifies,
        },
        "insights": report.insights.to_dict() if report.insights is not None else None,
        "charts": dict(charts or {}),
    }
