"""Charts as pure functions ``render_*(..., theme) -> bytes`` (PNG) on ``matplotlib.figure.Figure``.

No pyplot and no global state: every call builds its own :class:`~matplotlib.figure.Figure` with an
Agg canvas, so renders are safe in any thread or worker process. This module imports matplotlib;
import it lazily (``monitoring`` itself never does) or, better, render through
:class:`monitoring.chart_pool.ChartRenderer`, which runs these functions off the event loop.

Themes: charts sit on an opaque "card" so they read the same on Discord's dark (#313338) and light
(#FFFFFF) backgrounds; a transparent background would leave dark text on a dark client or the
reverse. ``"discord"`` is a dark slate card (the default: it matches the dark client and stands out
as a card on the light one); ``"light"`` is a pale card for light pages and printed reports.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import warnings
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .analysis import Line, Panel

__all__ = ["THEMES", "Theme", "render_timeseries"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Theme:
    """Colours of one chart theme."""

    card: str
    text: str
    muted: str
    grid: str
    palette: tuple[str, ...]
    threshold: str


THEMES: dict[str, Theme] = {
    "discord": Theme(
        card="#232428",
        text="#F2F3F5",
        muted="#B5BAC1",
        grid="#3A3C42",
        palette=("#6E8BFF", "#F0B232", "#3BD17F", "#FF6B6E", "#D38BFF"),
        threshold="#FF6B6E",
    ),
    "light": Theme(
        card="#F7F8FA",
        text="#1E1F22",
        muted="#4E5058",
        grid="#D9DBE0",
        palette=("#3B5BDB", "#C77700", "#1E8E4E", "#D1242F", "#8B3FD9"),
        threshold="#D1242F",
    ),
}

_DPI = 100
_WIDTH_PX = 960
_PANEL_PX = 250
_HEADER_PX = 78
_FOOTER_PX = 40
_DAY = 86400.0


def _theme(name: str) -> Theme:
    try:
        return THEMES[name]
    except KeyError:
        raise ValueError(f"theme {name!r}: expected one of {', '.join(THEMES)}") from None


def _compact(value: float, _pos: object = None) -> str:
    """Tick labels like 950, 1.2k, 3.4M."""
    magnitude = abs(value)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= div:
            text = f"{value / div:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    if magnitude and magnitude < 10 and not float(value).is_integer():
        return f"{value:.1f}"
    return f"{value:.0f}"


def _dense(
    points: Sequence[tuple[int, float]], step: int, *, fill: float | None, edge: bool = False
) -> tuple[list[float], list[float]]:
    """x (matplotlib date numbers) and y; a missing step becomes ``fill`` (NaN breaks a line).

    ``edge`` adds the last step's right edge, so a step-drawn area shows its last step.
    """
    xs: list[float] = []
    ys: list[float] = []
    prev: int | None = None
    gap = math.nan if fill is None else fill
    for ts, value in points:
        if prev is not None and step and ts - prev > step:
            if fill is None:
                xs.append((prev + step) / _DAY)
                ys.append(gap)
            else:
                for missing in range(prev + step, ts, step):
                    xs.append(missing / _DAY)
                    ys.append(gap)
        xs.append(ts / _DAY)
        ys.append(value)
        prev = ts
    if edge and prev is not None and step:
        xs.append((prev + step) / _DAY)  # the last step's right edge (clipped by the x range)
        ys.append(ys[-1])
    return xs, ys


def _draw_line(ax: object, line: Line, colour: str, step: int, theme: Theme) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    step = line.step or step
    if line.style == "bars":
        xs, ys = _dense(line.points, step, fill=0.0)
        width = step / _DAY * 0.8 if step else 0.01
        ax.bar(xs, ys, width=width, color=colour, alpha=0.85, label=line.label, align="edge")
        return
    if line.style == "area":
        xs, ys = _dense(line.points, step, fill=0.0, edge=True)
        ax.fill_between(xs, ys, color=colour, alpha=0.25, linewidth=0, step="post")
        ax.step(xs, ys, where="post", color=colour, linewidth=1.6, label=line.label)
        return
    xs, ys = _dense(line.points, step, fill=None)
    ax.plot(xs, ys, color=colour, linewidth=1.8, label=line.label)
    # a point with no neighbour would be invisible as a line: mark those alone
    lone = [
        (x, y)
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
        if not math.isnan(y)
        and (i == 0 or math.isnan(ys[i - 1]))
        and (i == len(ys) - 1 or math.isnan(ys[i + 1]))
    ]
    if lone:
        ax.plot([x for x, _ in lone], [y for _, y in lone], "o", color=colour, markersize=3.5)


def _style_axes(ax: object, theme: Theme, tz: ZoneInfo, start: float, end: float) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    ax.set_facecolor(theme.card)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(theme.grid)
    ax.tick_params(colors=theme.muted, labelsize=10, length=0, pad=6)
    ax.grid(True, axis="y", color=theme.grid, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_compact))
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=4, min_n_ticks=2))
    locator = mdates.AutoDateLocator(tz=tz, minticks=4, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=tz, show_offset=False)
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(start / _DAY, end / _DAY)


def render_timeseries(
    panels: Sequence[Panel],
    *,
    title: str,
    theme: str = "discord",
    subtitle: str = "",
    start: float | None = None,
    end: float | None = None,
    step: int = 0,
    tz: str = "UTC",
    footer: str = "",
) -> bytes:
    """A PNG of stacked panels sharing the time axis.

    ``start``/``end`` (epoch seconds) fix the x range (default: the data's); ``step`` is the
    series resolution in seconds (bars and areas fill missing steps with zero, lines break).
    Titles are drawn as plain text (no math parsing), so names with ``$`` are safe.
    """
    th = _theme(theme)
    zone = ZoneInfo(tz)
    panels = list(panels) or [Panel("No data", "", ())]
    all_ts = [ts for p in panels for line in p.lines for ts, _ in line.points]
    lo = start if start is not None else (min(all_ts) if all_ts else 0.0)
    hi = end if end is not None else (max(all_ts) if all_ts else lo + 3600)
    if hi <= lo:
        hi = lo + max(step, 60)

    height_px = _HEADER_PX + _PANEL_PX * len(panels) + _FOOTER_PX
    fig = Figure(figsize=(_WIDTH_PX / _DPI, height_px / _DPI), dpi=_DPI, facecolor=th.card)
    FigureCanvasAgg(fig)
    top = 1 - _HEADER_PX / height_px
    bottom = _FOOTER_PX / height_px
    fig.subplots_adjust(left=0.075, right=0.97, top=top, bottom=bottom, hspace=0.42)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    fig.text(
        0.012,
        1 - 14 / height_px,
        title,
        color=th.text,
        fontsize=15,
        fontweight="bold",
        va="top",
        parse_math=False,
    )
    if subtitle:
        fig.text(
            0.012,
            1 - 40 / height_px,
            subtitle,
            color=th.muted,
            fontsize=10.5,
            va="top",
            parse_math=False,
        )
    if footer:
        fig.text(
            0.988, 6 / height_px, footer, color=th.muted, fontsize=8.5, ha="right", va="bottom"
        )

    for ax, panel in zip(axes, panels, strict=True):
        _style_axes(ax, th, zone, lo, hi)
        label = f"{panel.title} ({panel.unit})" if panel.unit else panel.title
        ax.set_title(
            label, loc="left", color=th.text, fontsize=11.5, pad=6, y=1.0, parse_math=False
        )
        drawn = 0
        for index, line in enumerate(panel.lines):
            if not line.points:
                continue
            _draw_line(ax, line, th.palette[index % len(th.palette)], step, th)
            drawn += 1
        peak = max((v for line in panel.lines for _, v in line.points), default=0.0)
        # a reference line far above the data would flatten it: draw it only when relevant
        if panel.threshold is not None and peak >= 0.4 * panel.threshold:
            ax.axhline(panel.threshold, color=th.threshold, linestyle="--", linewidth=1.2)
            if panel.threshold_label:
                ax.annotate(
                    panel.threshold_label,
                    xy=(0.0, panel.threshold),
                    xycoords=("axes fraction", "data"),
                    xytext=(4, 3),
                    textcoords="offset points",
                    ha="left",
                    color=th.threshold,
                    fontsize=9,
                )
        if not drawn:
            ax.text(
                0.5,
                0.5,
                "no data for this period",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color=th.muted,
                fontsize=11,
            )
            ax.set_ylim(0, 1)
            ax.set_yticks([])
        else:
            low = min((v for line in panel.lines for _, v in line.points), default=0.0)
            top = max(ax.get_ylim()[1], peak * 1.15, 1.0)
            if panel.unit == "%":
                top = min(top, 105.0) if peak <= 100 else top
            ax.set_ylim(min(0.0, low), top)
            if all(float(v).is_integer() for line in panel.lines for _, v in line.points):
                # whole counts (joins, errors): no 0.6 or 1.2 ticks
                ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=4, min_n_ticks=2, integer=True))
            if drawn > 1 or any(line.label for line in panel.lines if line.points):
                legend = ax.legend(
                    loc="lower right",
                    bbox_to_anchor=(1.0, 1.0),
                    fontsize=9,
                    frameon=True,
                    facecolor=th.card,
                    edgecolor=th.grid,
                    labelcolor=th.text,
                    ncols=min(drawn, 4),
                    borderaxespad=0.2,
                )
                legend.get_frame().set_alpha(0.85)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # a name with emoji or a script DejaVu lacks draws boxes; not worth a warning per chart
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        fig.savefig(buf, format="png", facecolor=th.card, pil_kwargs={"compress_level": 3})
    return buf.getvalue()
