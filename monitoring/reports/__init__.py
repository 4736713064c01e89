"""Reports: the daily report (content, schedule, chart) and the CLI performance report.

- :mod:`.build` - :func:`build_report`: totals with comparisons, commands, errors, uptime.
- :mod:`.schedule` - when the daily report is due (pure; exactly once per local day).
- :mod:`.daily` - the daily report's content and cards, :class:`DailyReportScheduler`.
- :mod:`.render` - Markdown and JSON forms; :mod:`.chart` - PNG charts (imports matplotlib).
- :mod:`.cli` - ``python -m monitoring.report``; :mod:`.sample_data` - synthetic metrics.
"""

from __future__ import annotations

from .build import Comparison, Report, Total, build_report
from .schedule import DueReport, due_report, scheduled_at

__all__ = [
    "Comparison",
    "DueReport",
    "Report",
    "Total",
    "build_report",
    "due_report",
    "scheduled_at",
]
