"""Report charts as pure functions returning PNG bytes (``matplotlib.figure.Figure``, no pyplot).

The time-series chart reuses :func:`monitoring.charts.render_timeseries` (the same look as
``/stats``): messages per hour with the comparison periods laid over it, then commands and their
p95 latency. The command bar chart is drawn here. Import this module lazily: it imports
matplotlib; run the functions off the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import io
import logging

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..charts import THEMES, render_timeseries
from .build import Report, chart_request

__all__ = ["render_commands_chart", "render_report_chart"]

log = logging.getLogger(__name__)


def render_report_chart(report: Report, *, theme: str = "discord") -> bytes:
    """Messages per hour (with the day/week before overlaid) and p95 command latency."""
    panels, kwargs = chart_request(report, theme=theme)
    return render_timeseries(panels, **kwargs)


def render_commands_chart(report: Report, *, theme: str = "light") -> bytes:
    """Horizontal bars: the busiest commands, labelled with their p95 latency."""
    th = THEMES.get(theme) or next(iter(THEMES.values()))
    stats = list(report.top_commands)[::-1]
    fig = Figure(figsize=(8, 0.6 + 0.45 * max(1, len(stats))), dpi=110, facecolor=th.card)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor(th.card)
    if stats:
        names = [f"/{c.command}" for c in stats]
        counts = [c.count for c in stats]
        bars = ax.barh(names, counts, color=th.palette[0])
        for bar, c in zip(bars, stats, strict=True):
            p95 = f"p95 {c.p95:.0f} ms" if c.p95 is not None else ""
            ax.text(
                bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  {c.count:,}  {p95}",
                va="center", color=th.text, fontsize=9, parse_math=False,
            )  # fmt: skip
        ax.set_xlim(0, max(counts) * 1.45)
    else:
        ax.text(0.5, 0.5, "No commands", ha="center", va="center", color=th.muted)
        ax.set_yticks([])
    ax.set_title("Busiest commands", loc="left", color=th.text, fontsize=12, parse_math=False)
    ax.tick_params(colors=th.muted, labelsize=9)
    for label in ax.get_yticklabels():
        label.set_color(th.text)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=th.card)
    return buf.getvalue()
