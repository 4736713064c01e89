"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium through Playwright).

Signs in through the one-time link, waits for every chart to draw, fails on any console error
(a CSP violation is one), saves a screenshot to test-artifacts/, and proves that a guild named
``<img src=x onerror=alert(1)>`` is shown as text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitoring import Monitor
from web import DASHBOARD, create_app, start_site

from .seed import G1, NAMES, XSS_NAME

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = 5


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's chromium "
            "package (`make test` installs it; by hand: apt-get install -y chromium)",
            pytrace=False,
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def site(monitor: Monitor) -> AsyncIterator[Any]:
    monitor.system.record(await asyncio.to_thread(monitor.system.read))  # one host reading
    app = create_app(monitor, guild_names=lambda: dict(NAMES))
    runner = await start_site(app, "127.0.0.1", 0, api_key=monitor.config.api_key)
    try:
        yield app
    finally:
        await runner.cleanup()


class Console:
    """Console errors, uncaught page errors and dialogs (an XSS would open one)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("dialog", self._dialog)

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(f"{msg.text} ({msg.location.get('url', '')})")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        self._tasks.add(asyncio.ensure_future(dialog.dismiss()))


async def wait_js(page: Any, expression: str, seconds: float = 10.0) -> None:
    """Poll ``expression`` until it is true. (Playwright's wait_for_function evaluates strings
    inside the page, which the dashboard's CSP rightly forbids: no 'unsafe-eval'.)"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await page.evaluate(expression):
        if loop.time() > deadline:
            raise AssertionError(f"still false after {seconds:g}s: {expression}")
        await asyncio.sleep(0.05)


DRAWN = f"document.querySelectorAll('.chart[data-drawn=\"true\"]').length === {CHARTS}"
LIVE = "document.getElementById('conn').textContent === 'live'"


async def _sign_in(page: Any, app: Any) -> None:
    link = await app[DASHBOARD].issue_login("browser-test", None)
    await page.goto(link)
    async with page.expect_navigation():
        await page.click("#sign-in")
    await wait_js(page, DRAWN, 15)


async def test_dashboard_draws_and_shows_names_as_text(browser: Any, site: Any) -> None:
    page = await browser.new_page(viewport={"width": 1400, "height": 1600})
    console = Console(page)
    await _sign_in(page, site)
    await wait_js(page, LIVE)
    await wait_js(page, "document.getElementById('messages-processed').textContent !== '-'")
    await page.wait_for_selector("#recommendations .recommendation, #recommendations p")
    assert await page.locator("#health-services li").count() >= 1
    assert await page.locator("#commands tr").count() == 5

    # the hostile guild name is an option's text, not markup
    options = await page.eval_on_selector_all("#guild option", "els => els.map(e => e.text)")
    assert XSS_NAME in options
    assert await page.evaluate("document.querySelectorAll('img').length") == 0
    async with page.expect_response(lambda r: f"guild={G1}" in r.url and "historical" in r.url):
        await page.select_option("#guild", str(G1))
    await wait_js(page, DRAWN)
    await wait_js(page, LIVE)
    assert await page.evaluate("document.querySelectorAll('img').length") == 0

    # the time-range picker reloads the charts
    async with page.expect_response(lambda r: "hours=168" in r.url):
        await page.click(".range-btn[data-hours='168']")
    assert await page.get_attribute(".range-btn[data-hours='168']", "aria-pressed") == "true"
    await page.select_option("#guild", "")
    await wait_js(page, DRAWN)
    await page.wait_for_timeout(300)

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert console.dialogs == [], console.dialogs
    assert console.errors == [], console.errors


async def test_live_feed_reconnects_after_a_drop(browser: Any, site: Any) -> None:
    page = await browser.new_page()
    console = Console(page)
    await _sign_in(page, site)
    await wait_js(page, LIVE)
    await site[DASHBOARD].feed.close_all()  # the server drops every socket
    await wait_js(page, "document.getElementById('conn').textContent.startsWith('reconnecting')")
    await wait_js(page, LIVE, 10)
    assert console.errors == [], console.errors


async def test_signed_out_page_explains_how_to_sign_in(browser: Any, site: Any) -> None:
    page = await browser.new_page()
    await page.goto(site[DASHBOARD].base_url + "/")
    await page.wait_for_selector("#signed-out", state="visible")
    assert await page.locator("#dashboard").is_hidden()
    assert "/dashboard" in await page.text_content("#signed-out")
