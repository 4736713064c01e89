"""Benchmark: the dashboard's first load in headless Chromium (Debian's /usr/bin/chromium).

The dashboard runs in this process over a database with 8 days of activity. Each run uses a
fresh browser context: it signs in through a one-time link, then loads ``/`` with the HTTP cache
disabled (a cold first load) and waits until all five charts are drawn. Prints one JSON object
last (medians over the runs):

- ``page_bytes`` - every byte the load transferred: the page, scripts, styles, the chart
  library, every API answer (compressed sizes as sent, headers included) and the WebSocket
  frames received until the charts were drawn (target <= 200 KB);
- ``first_chart_ms`` - from the start of the navigation to the first chart drawn (the page's
  ``first-chart`` performance mark) (target <= 1,000 ms);
- ``all_charts_ms`` - until all five charts are drawn.

    python -m benchmarks.page
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import emit, machine
from monitoring import Config, Monitor
from tests.web.seed import NAMES, seed_store
from web import DASHBOARD, create_app, start_site

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUNS = 5
CHARTS = 5
TARGET_BYTES = 200 * 1024
TARGET_FIRST_CHART_MS = 1000.0
DRAWN = f"document.querySelectorAll('.chart[data-drawn=\"true\"]').length === {CHARTS}"


async def _until(page: Any, expression: str, seconds: float = 20.0) -> float:
    """Poll until ``expression`` is true (the page's CSP forbids wait_for_function's eval)."""
    started = time.perf_counter()
    while not await page.evaluate(expression):
        if time.perf_counter() - started > seconds:
            raise TimeoutError(expression)
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


async def _one_load(browser: Any, app: Any) -> dict[str, float]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await context.new_page()
        link = await app[DASHBOARD].issue_login("benchmark", None)
        await page.goto(link)
        async with page.expect_navigation():
            await page.click("#sign-in")
        await _until(page, DRAWN)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        sizes: dict[str, float] = {}
        frames: list[int] = []
        counting = True

        def finished(event: dict[str, Any]) -> None:
            if counting:
                sizes[event["requestId"]] = event["encodedDataLength"]

        def frame(event: dict[str, Any]) -> None:
            if counting:
                frames.append(len(event["response"]["payloadData"].encode()) + 4)

        cdp.on("Network.loadingFinished", finished)
        cdp.on("Network.webSocketFrameReceived", frame)
        await page.goto(app[DASHBOARD].base_url + "/", wait_until="commit")
        await _until(page, DRAWN)
        await _until(page, "document.getElementById('conn').textContent === 'live'")
        await page.wait_for_load_state("networkidle")
        counting = False
        marks = await page.evaluate(
            "[performance.getEntriesByName('first-chart')[0].startTime, performance.now()]"
        )
        return {
            "page_bytes": sum(sizes.values()) + sum(frames),
            "first_chart_ms": marks[0],
            "requests": len(sizes),
        }
    finally:
        await context.close()


async def _run(runs: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(db_path=Path(tmp) / "monitoring.db", websocket_update_interval=2.0)
        monitor = Monitor(config)
        await monitor.start(background=False)
        await seed_store(monitor.store, time.time())
        app = create_app(monitor, guild_names=lambda: dict(NAMES))
        runner = await start_site(app, "127.0.0.1", 0, api_key=None)
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    await _one_load(browser, app)  # warm up the browser process itself
                    results = [await _one_load(browser, app) for _ in range(runs)]
                finally:
                    await browser.close()
        finally:
            await runner.cleanup()
            await monitor.stop()
    return {
        "page_bytes": int(statistics.median(r["page_bytes"] for r in results)),
        "first_chart_ms": round(statistics.median(r["first_chart_ms"] for r in results), 1),
        "first_chart_ms_runs": [round(r["first_chart_ms"], 1) for r in results],
        "requests": int(statistics.median(r["requests"] for r in results)),
        "target_page_bytes": TARGET_BYTES,
        "target_first_chart_ms": TARGET_FIRST_CHART_MS,
        "runs": runs,
        **machine(),
    }


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    if not CHROMIUM.exists():
        sys.stderr.write(f"error: {CHROMIUM} is missing (apt-get install -y chromium)\n")
        return 1
    emit(asyncio.run(_run(RUNS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
