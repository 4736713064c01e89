"""Charts: PNG output, both themes legible on Discord's dark and light backgrounds, off-loop pool."""

from __future__ import annotations

import asyncio
import io
import math
import os
import subprocess
import sys

import pytest
from PIL import Image

from monitoring import FakeClock, Recorder
from monitoring.analysis import Line, Panel
from monitoring.chart_pool import ChartError, ChartRenderer, StatsRequest
from monitoring.charts import THEMES, render_timeseries
from monitoring.store.sqlite import SQLiteStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DARK_CLIENT, LIGHT_CLIENT = "#313338", "#FFFFFF"
START = 1_767_225_600


def _panels() -> list[Panel]:
    counts = tuple((START + i * 600, 50 + 30 * math.sin(i / 9)) for i in range(144))
    latency = tuple((ts, 100 + v) for ts, v in counts if ts % 7200)  # with gaps
    return [
        Panel("Commands", "per 10 minutes", (Line("runs", counts, "area"),)),
        Panel(
            "Latency",
            "ms",
            (Line("p95", latency), Line("lone", ((START + 600, 5.0),))),
            threshold=3000.0,
            threshold_label="3 s deadline",
        ),
    ]


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_render_is_an_opaque_card_in_both_themes(theme: str) -> None:
    png = render_timeseries(
        _panels(), title="Commands", subtitle="All servers", theme=theme, step=600
    )
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    assert image.size[0] == 960 and 500 <= image.size[1] <= 700
    # opaque everywhere: the same pixels whatever the Discord client's background
    assert image.getextrema()[3] == (255, 255)
    assert image.getpixel((2, 2))[:3] == _rgb(THEMES[theme].card)


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_theme_colours_are_legible(theme: str) -> None:
    t = THEMES[theme]
    assert _contrast(t.text, t.card) >= 7.0  # titles: WCAG AAA
    assert _contrast(t.muted, t.card) >= 4.5  # ticks and subtitles: WCAG AA
    for colour in t.palette:
        assert _contrast(colour, t.card) >= 3.0  # lines: WCAG graphics contrast
    # the card stands out as a card on at least one of Discord's backgrounds, never vanishes
    assert max(_contrast(t.card, DARK_CLIENT), _contrast(t.card, LIGHT_CLIENT)) >= 1.1


def test_empty_and_hostile_input_still_renders() -> None:
    for panels in ([], [Panel("Nothing", "", (Line("x", ()),))]):
        assert render_timeseries(panels, title="No data").startswith(PNG_MAGIC)
    # "$" would start matplotlib mathtext; emoji and RTL text must not break a render either
    png = render_timeseries(_panels(), title="$x^{2}$ \U0001f680 \u05e9\u05dc\u05d5\u05dd $")
    assert png.startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="discord, light"):
        render_timeseries(_panels(), title="x", theme="neon")


def test_importing_monitoring_does_not_import_matplotlib() -> None:
    code = (
        "import sys, monitoring.chart_pool, monitoring.analysis; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("kind", ["thread", "process"])
async def test_renderer_renders_and_reports_errors(kind: str) -> None:
    renderer = ChartRenderer(kind, timeout=60)  # type: ignore[arg-type]
    await renderer.start(warm_up=False)
    try:
        png = await renderer.render("render_timeseries", _panels(), title="t", step=600)
        assert png.startswith(PNG_MAGIC)
        with pytest.raises(ChartError, match="theme"):
            await renderer.render("render_timeseries", [], title="t", theme="neon")
        with pytest.raises(ChartError, match="not a chart function"):
            await renderer.render("os.system", "true")
    finally:
        await renderer.close()
    with pytest.raises(ChartError, match="closed"):
        await renderer.render("render_timeseries", [], title="t")


async def test_process_worker_restarts_after_a_crash_and_leaves_nothing_behind() -> None:
    before = _fds()
    renderer = ChartRenderer("process", timeout=60)
    await renderer.start(warm_up=False)
    assert (await renderer.render("render_timeseries", [], title="a")).startswith(PNG_MAGIC)
    proc = renderer._proc
    assert proc is not None
    proc.kill()
    await proc.wait()
    assert (await renderer.render("render_timeseries", [], title="b")).startswith(PNG_MAGIC)
    assert renderer.restarts == 1
    await renderer.close()
    assert renderer._proc is None
    assert _fds() <= before


async def test_cancelling_a_render_kills_the_worker_cleanly() -> None:
    renderer = ChartRenderer("process", timeout=60)
    await renderer.start(warm_up=False)
    task = asyncio.create_task(renderer.render("render_timeseries", _panels(), title="slow"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert renderer._proc is None
    assert (await renderer.render("render_timeseries", [], title="again")).startswith(PNG_MAGIC)
    await renderer.close()


async def test_stats_in_the_worker_equal_stats_on_the_loop(
    store: SQLiteStore, recorder: Recorder, clock: FakeClock
) -> None:
    for minute in range(30):
        clock.set(START + minute * 60)
        recorder.tick()
        recorder.command("ping", "slash", 5, 1, 30.0 + minute, minute % 7 != 0)
        recorder.message(5, 1)
    await store.write(recorder.drain(START + 30 * 60))
    now = START + 30 * 60 + 30
    clock.set(now)
    request = StatsRequest("commands", "1h", now, None, chart={"title": "t"})
    results = []
    for kind in ("thread", "process"):
        renderer = ChartRenderer(kind, timeout=60)  # type: ignore[arg-type]
        await renderer.start(warm_up=False)
        try:
            results.append(await renderer.stats(request, store=store))
        finally:
            await renderer.close()
    local, remote = results
    assert remote.summary == local.summary
    assert remote.facts == local.facts
    assert local.png is not None and remote.png is not None
    assert {n.label: n.value for n in remote.summary.totals}["Commands"] == 30


async def test_a_failing_worker_still_answers_without_a_chart(
    store: SQLiteStore, recorder: Recorder, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder.message(5, 1)
    await store.write(recorder.drain(clock.now + 1))
    renderer = ChartRenderer("process", timeout=60)

    async def crashed(job: str, payload: object) -> object:
        raise ChartError("chart worker failed: IncompleteReadError")

    monkeypatch.setattr(renderer, "_in_process", crashed)
    request = StatsRequest("messages", "1h", clock.now + 30, None)
    result = await renderer.stats(request, store=store)
    assert result.summary.has_data and result.png is None
    assert result.chart_error is not None and "IncompleteReadError" in result.chart_error
