"""/rates/live in real headless Chromium (Debian's, no download): it connects, shows the
latest rate with its history, then a new rate as soon as another process stores it — and,
fed by the live feed of a real worker and beat, a new KuCoin rate within one live interval
without a single Alpha Vantage call."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from tests.quotes.conftest import PUSH_TIMEOUT, Frames, ws_url
from tests.support.browser import chromium
from tests.support.processes import REPO, AsgiServer, CeleryWorker
from websockets.sync.client import connect

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from cryptotrack.simulators.kucoin import KucoinSimulator

pytestmark = pytest.mark.slow

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
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 900, "height": 640})


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


LEVEL1 = "/api/v1/market/orderbook/level1"
# The live feed's interval in the worker test, shortened from the minute of production.
LIVE_INTERVAL_SECONDS = 2
# The first live quote waits for the worker and beat to start (seconds on a loaded machine).
WORKER_START_TIMEOUT = 60.0


def test_live_page_shows_a_new_kucoin_rate_within_one_live_interval_without_alpha_vantage(
    quotes_env: dict[str, str],
    av_sim: AlphaVantageSimulator,
    browser_page: Any,
) -> None:
    from cryptotrack.quotes.models import Quote

    with KucoinSimulator(seed=1) as kucoin:
        kucoin.set_ticker("BTC-USDT", "64100.25")
        env = {
            **quotes_env,
            "KUCOIN_SPOT_URL": kucoin.url,
            "KUCOIN_TIMEOUT_SECONDS": "2",
            "QUOTES_LIVE_SOURCES": "kucoin",
            "QUOTES_PAIRS": "BTC/USD",
            "QUOTES_LIVE_INTERVAL_SECONDS": str(LIVE_INTERVAL_SECONDS),
            "QUOTES_INTERVAL_SECONDS": "3600",
            "ALPHAVANTAGE_DAILY_QUOTA": "0",  # the start-up fetch must not reach Alpha Vantage
        }
        page = browser_page
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        live = Quote.objects.filter(source=Quote.Source.KUCOIN, trigger=Quote.Trigger.LIVE)

        with (
            AsgiServer(env) as server,
            CeleryWorker(env, beat=True, concurrency=1) as worker,
            connect(ws_url(server, "from_currency=BTC&to_currency=USD"), open_timeout=5) as second,
            connect(ws_url(server, "from_currency=BTC&to_currency=USD"), open_timeout=5) as third,
        ):
            watchers = [Frames(second), Frames(third)]  # two more clients than the browser
            page.goto(f"{server.url}/rates/live")
            expect_text(page, "#status", "live", timeout=5)
            try:
                expect_text(page, "#rate", "64,100.25", timeout=WORKER_START_TIMEOUT)
            except AssertionError:
                print(worker.log()[-5000:])
                raise

            # The next tick (at most one interval away) reads the new price; the push then
            # takes up to PUSH_TIMEOUT on a loaded machine.
            kucoin.set_ticker("BTC-USDT", "64321.5", best_bid="64321.4", best_ask="64321.6")
            expect_text(page, "#rate", "64,321.5", timeout=LIVE_INTERVAL_SECONDS + PUSH_TIMEOUT)
            expect_text(page, "#bid", "64,321.4", timeout=1)
            expect_text(page, "#ask", "64,321.6", timeout=1)
            ticks = off_the_browser_loop(live.count)
            page.goto("about:blank")  # leave before the server stops
            for watcher in watchers:
                _, frame = watcher.next(timeout=PUSH_TIMEOUT)
                assert frame["source"] == "kucoin"

        # One ticker request per tick (one pair) for three clients; the worker may have
        # been stopped between a tick's request and its insert.
        stored = off_the_browser_loop(live.count)
        assert ticks <= stored <= kucoin.request_count(path=LEVEL1) <= stored + 1
    assert av_sim.counter.count() == 0
    assert errors == []


def expect_text(page: Any, selector: str, text: str, *, timeout: float) -> None:
    """Wait up to ``timeout`` seconds for ``selector`` to show exactly ``text``."""
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_have_text(text, timeout=timeout * 1000)


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
