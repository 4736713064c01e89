"""``python -m monitoring.report``: a performance report from the monitoring database.

Writes ``performance_report_<timestamp>.md`` into ``--out`` (default ``REPORTS_PATH``), or
``.json`` with ``--format json`` (default ``ANALYTICS_DATA_PATH``), and PNG charts into ``--charts`` (default
``VISUALIZATIONS_PATH``, or ``<out>/charts`` when ``--out`` is given). The database is opened
read-only, so it is safe to run beside the bot. Progress goes to stderr; ``--quiet`` hides it.

Exit codes: 0 written; 1 nothing recorded in the period; 2 no usable database or bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ..config import Config, ConfigError, load_config
from ..errors import ErrorTracker
from ..flusher import FlushStats
from ..store.base import StoreCorrupt, StoreError
from .build import Comparison, Report, build_report
from .render import report_dict, report_markdown

__all__ = ["main", "run"]

log = logging.getLogger(__name__)


class Progress:
    """Numbered steps with elapsed time, on stderr."""

    def __init__(self, total: int, stream: TextIO | None, quiet: bool) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.step = 0
        self.started = time.perf_counter()

    def __call__(self, what: str) -> None:
        self.step += 1
        if not self.quiet:
            took = time.perf_counter() - self.started
            self.stream.write(f"[{self.step}/{self.total}] {what}… ({took:.1f}s)\n")
            self.stream.flush()


@dataclasses.dataclass
class _Source:
    """What the report builder and insights need from a monitor, for an offline database."""

    store: Any
    config: Config
    errors: ErrorTracker
    clock: Any = time.time
    system: Any = dataclasses.field(default_factory=lambda: type("S", (), {"last": None})())
    flusher: Any = None

    def __post_init__(self) -> None:
        stats = FlushStats(None, None, 0, 0, 0, 0, True)
        self.flusher = type("F", (), {"stats": stats})()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m monitoring.report",
        description="Write a performance report (Markdown or JSON, with PNG charts) from the "
        "monitoring database.",
    )
    p.add_argument("--days", type=int, default=7, help="days to cover, 1-90 (default 7)")
    p.add_argument(
        "--out",
        type=Path,
        help="folder for the report (default REPORTS_PATH; ANALYTICS_DATA_PATH with --format json)",
    )
    p.add_argument("--charts", type=Path, help="folder for charts (default VISUALIZATIONS_PATH)")
    p.add_argument("--db", type=Path, help="database file (default MONITOR_DB_PATH)")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p.add_argument("--now", help="end of the period, ISO 8601 (default: now)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def _end(raw: str | None) -> float:
    if raw is None:
        return time.time()
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"--now {raw!r}: expected an ISO 8601 time such as 2024-05-14T09:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


async def _build(source: _Source, days: int, end: float, progress: Progress) -> Report:
    progress("reading totals, commands, errors and insights")
    start = end - days * 86400
    return await build_report(
        source,
        title=f"Performance report · last {days} day{'s' if days != 1 else ''}",
        start=start,
        end=end,
        comparisons=(Comparison(f"previous {days} days", start - days * 86400, start),),
        now=end,
        label=f"last {days} days",
    )


def _charts(report: Report, folder: Path, stamp: str, progress: Progress) -> dict[str, Path]:
    from .chart import render_commands_chart, render_report_chart

    progress("drawing charts")
    folder.mkdir(parents=True, exist_ok=True)
    out = {
        "Activity and latency": folder / f"activity_{stamp}.png",
        "Busiest commands": folder / f"commands_{stamp}.png",
    }
    out["Activity and latency"].write_bytes(render_report_chart(report, theme="light"))
    out["Busiest commands"].write_bytes(render_commands_chart(report))
    return out


async def run(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """The CLI, callable from tests; returns the exit code."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        if not 1 <= args.days <= 90:
            raise ValueError(f"--days {args.days}: expected 1 to 90")
        end = _end(args.now)
        config = load_config()
    except (ValueError, ConfigError) as exc:
        stderr.write(f"error: {exc}\n")
        return 2
    db = args.db or config.db_path
    default_dir = config.analytics_data_path if args.format == "json" else config.reports_path
    out_dir = args.out or default_dir
    chart_dir = args.charts or (args.out / "charts" if args.out else config.visualizations_path)
    progress = Progress(3 if not args.no_charts else 2, stderr, args.quiet)
    if not db.is_file():
        stderr.write(
            f"error: no monitoring database at {db} (run the bot first, or point MONITOR_DB_PATH "
            "or --db at the file)\n"
        )
        return 2
    from ..store.sqlite import SQLiteStore

    store = SQLiteStore(db, readonly=True, clock=lambda: end)
    try:
        progress(f"opening {db} read-only")
        await store.open()
        errors = ErrorTracker()
        await errors.load(store)
        report = await _build(_Source(store, config, errors), args.days, end, progress)
    except StoreCorrupt as exc:
        stderr.write(f"error: {exc}\n")
        return 2
    except StoreError as exc:
        stderr.write(f"error: cannot read {db}: {exc}\n")
        return 2
    finally:
        await store.close()
    if not report.has_data:
        stderr.write(
            f"nothing to report: no metrics recorded in {db} between "
            f"{dt.datetime.fromtimestamp(report.start, config.tz):%Y-%m-%d %H:%M} and "
            f"{dt.datetime.fromtimestamp(report.end, config.tz):%Y-%m-%d %H:%M} "
            f"({config.timezone}); try --days 30 or check MONITOR_DB_PATH\n"
        )
        return 1
    stamp = dt.datetime.fromtimestamp(end, config.tz).strftime("%Y%m%d_%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    charts: dict[str, str] = {}
    if not args.no_charts:
        for title, path in (
            await asyncio.to_thread(_charts, report, chart_dir, stamp, progress)
        ).items():
            try:
                charts[title] = str(path.resolve().relative_to(out_dir.resolve()))
            except ValueError:
                charts[title] = str(path.resolve())
    if args.format == "json":
        target = out_dir / f"performance_report_{stamp}.json"
        target.write_text(
            json.dumps(report_dict(report, charts), indent=2) + "\n", encoding="utf-8"
        )
    else:
        target = out_dir / f"performance_report_{stamp}.md"
        target.write_text(report_markdown(report, charts), encoding="utf-8")
    stdout.write(f"{target}\n")
    for shown in charts.values():
        stdout.write(f"{shown if Path(shown).is_absolute() else out_dir / shown}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(argv))
