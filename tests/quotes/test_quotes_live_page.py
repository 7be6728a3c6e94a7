"""/rates/live in real headless Chromium (Debian's, no download): it connects, shows the
latest rate with its history, then a new rate as soon as another process stores it."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.quotes.conftest import PUSH_TIMEOUT
from tests.support.processes import REPO, AsgiServer

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
T = TypeVar("T")
SCREENSHOT = REPO / "test-artifacts" / "rates-live.png"


def off_the_browser_loop(work: Callable[[], T]) -> T:
    """Run Django code in a thread of its own: Playwright's sync API keeps an event loop
    running in the test's thread, where Django refuses database access."""

    def run() -> T:
        from django.db import connection

        try:
            return work()
        finally:
            connection.close()  # the thread's own connection would keep the test DB open

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(timeout=30)


@pytest.fixture
def browser_page() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is missing: `apt-get install chromium` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 640})
            yield page
        finally:
            browser.close()


def test_live_page_shows_the_rate_and_a_new_one_when_it_arrives(
    quotes_env: dict[str, str],
    av_settings: AlphaVantageSimulator,
    make_quotes: Callable[..., list[Any]],
    browser_page: Any,
    settings: Any,
) -> None:
    from django.utils import timezone
    from playwright.sync_api import expect

    from cryptotrack.quotes.models import Quote
    from cryptotrack.quotes.pairs import Pair
    from cryptotrack.quotes.services import refresh_quote

    history = off_the_browser_loop(
        lambda: make_quotes(
            40, rate=lambda i: Decimal(str(round(64000 + 400 * math.sin(i / 5) + 15 * i, 2)))
        )
    )
    av_settings.set_rate("BTC", "USD", "65432.1234", bid="65430.5", ask="65433.75")
    # This process announces on the server's channel layer (its prefix is per test).
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [quotes_env["REDIS_URL"]],
                "prefix": f"{quotes_env['CACHE_KEY_PREFIX']}:asgi",
            },
        }
    }
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    with AsgiServer(quotes_env) as server:
        page.goto(f"{server.url}/rates/live")
        expect(page.locator("#status")).to_have_text("live", timeout=5000)
        newest_stored = f"{history[-1].rate:,.4f}".rstrip("0").rstrip(".")
        # The newest quote is sent on connect, before any other frame (PUSH_TIMEOUT: margin).
        expect(page.locator("#rate")).to_have_text(newest_stored, timeout=PUSH_TIMEOUT * 1000)
        expect(page.locator("#chart-count")).to_have_text("40 quotes")

        # Another process than the server (this test) fetches and stores a quote.
        newest = off_the_browser_loop(
            lambda: (
                refresh_quote(
                    pair=Pair("BTC", "USD"),
                    trigger=Quote.Trigger.FORCED,
                    fresh_after=timezone.now(),
                ).quote
            )
        )

        expect(page.locator("#rate")).to_have_text("65,432.1234", timeout=PUSH_TIMEOUT * 1000)
        expect(page.locator("#bid")).to_have_text("65,430.5")
        expect(page.locator("#ask")).to_have_text("65,433.75")
        expect(page.locator("#chart-count")).to_have_text("41 quotes")
        expect(page.locator("#fetched")).to_have_attribute(
            "datetime", newest.fetched_at.isoformat().replace("+00:00", "Z")
        )
        points = page.locator("#chart-line").get_attribute("points") or ""
        assert len(points.split()) == 41
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.goto("about:blank")  # leave before the server stops

    assert errors == []


def test_live_page_is_public_html_with_local_assets(api_client: Any, db: None) -> None:
    page = api_client.get("/rates/live")
    script = api_client.get("/static/quotes/live.js")
    script.close()  # a file response

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "/static/quotes/live.js" in html
    assert "cdn" not in html.lower()
    assert "http://" not in html
    assert "https://" not in html
    assert script.status_code == 200
