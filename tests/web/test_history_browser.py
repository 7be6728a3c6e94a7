"""The position page, /balances and /events in a real browser, on data the stack's worker
recorded: tracking started through the API, polled every 2 s against the simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.browser import assert_accessible, screenshot
from tests.web.conftest import Stack, Trader

WAIT_SECONDS = 40


def api(stack: Stack, trader: Trader, path: str, **params: Any) -> Any:
    answer = httpx.get(f"{stack.url}/api/v1/{path}", params=params, headers=trader.headers)
    answer.raise_for_status()
    return answer.json()


def wait_for(what: str, found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


def start_tracking(stack: Stack, trader: Trader) -> int:
    """Track the trader's account; its id once the first poll has stored positions."""
    started = httpx.post(f"{stack.url}/api/v1/tracking", json={}, headers=trader.headers)
    assert started.status_code == 201, started.text
    positions = wait_for("the first poll", lambda: api(stack, trader, "positions")["results"])
    return int(positions[0]["account"]["id"])


def resize(stack: Stack, trader: Trader, symbol: str, size: int) -> None:
    """Change the size of one of the trader's positions on the simulator."""
    url = f"{stack.simulator_url()}/_sim/keys/{trader.api_key}/positions/{symbol}/resize"
    httpx.post(url, json={"size": size}).raise_for_status()


def history_count(stack: Stack, trader: Trader, account_id: int, since: datetime) -> int:
    rows = api(
        stack,
        trader,
        "positions/history",
        symbol="XBTUSDTM",
        account=account_id,
        since=since.isoformat(),
        per_page=100,
    )
    return sum(1 for row in rows["results"] if row["side"] == "long")


def fits_the_viewport(page: Any) -> bool:
    """Nothing wider than the window, except inside a ``.table-wrap`` or the main
    navigation (base.html's: both scroll sideways on their own)."""
    overflowing: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
             .filter((el) => !el.closest('.table-wrap, .main-nav')
                             && el.getBoundingClientRect().right
                                > document.documentElement.clientWidth + 1)
             .map((el) => el.tagName + '.' + el.className)"""
    )
    assert not overflowing, overflowing
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def test_the_position_chart_has_a_point_per_history_row_of_the_range(
    signed_in: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    page = signed_in
    account_id = start_tracking(stack, trader)
    since = datetime.now(UTC) - timedelta(hours=1)
    # History keeps a row when the position changes (or every few minutes): change its size.
    for size in (3, 4):
        rows = wait_for("a poll's history", lambda: history_count(stack, trader, account_id, since))
        resize(stack, trader, "XBTUSDTM", size)
        wait_for(
            "the resized position's history",
            lambda rows=rows: history_count(stack, trader, account_id, since) > rows,
        )

    before = history_count(stack, trader, account_id, since)
    page.goto(f"{stack.url}/positions/{account_id}/XBTUSDTM/long?range=1h")
    after = history_count(stack, trader, account_id, since)

    expect(page.get_by_role("heading", level=1)).to_contain_text("XBTUSDTM")
    expect(page.locator(".chart .uplot canvas")).to_have_count(1)
    points = int(page.get_by_test_id("chart-points").inner_text())
    assert before <= points <= after
    assert page.locator("#position-chart").get_attribute("data-points") == str(points)
    legend = page.locator(".chart .u-legend")
    expect(legend).to_contain_text("Mark price")
    expect(legend).to_contain_text("Liquidation price")
    expect(legend).to_contain_text("Unrealised PnL")
    page.get_by_text("The chart's points as a table").click()
    expect(page.locator("details tbody tr")).to_have_count(points)
    expect(page.get_by_role("link", name="1 h")).to_have_attribute("aria-current", "true")
    assert_accessible(page)
    screenshot(page, "position-detail")

    page.get_by_role("link", name="30 d").click()
    expect(page.get_by_role("link", name="30 d")).to_have_attribute("aria-current", "true")
    assert int(page.get_by_test_id("chart-points").inner_text()) >= points

    page.goto(f"{stack.url}/positions/{account_id}/XBTUSDTM/short")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


def test_events_are_listed_filtered_and_downloaded(
    signed_in: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    page = signed_in
    start_tracking(stack, trader)
    resize(stack, trader, "XBTUSDTM", 3)
    closing = f"{stack.simulator_url()}/_sim/keys/{trader.api_key}/positions/ETHUSDTM"
    httpx.delete(closing).raise_for_status()
    wait_for("two events", lambda: len(api(stack, trader, "positions/events")["results"]) >= 2)

    page.goto(f"{stack.url}/events")
    table = page.get_by_role("region", name="Position events, newest first")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("Increased")
    expect(table).to_contain_text("Closed")
    assert_accessible(page)
    screenshot(page, "events")

    page.get_by_label("Kind").select_option("closed")
    page.get_by_role("button", name="Show events").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("ETHUSDTM")
    csv_link = page.get_by_role("link", name="Download CSV")
    expect(csv_link).to_have_attribute("href", "/events.csv?kind=closed")
    download = page.request.get(f"{stack.url}/events.csv?kind=closed")
    assert download.status == 200
    lines = download.text().strip().splitlines()
    assert len(lines) == 2
    assert ",ETHUSDTM,closed," in lines[1]

    page.get_by_label("Since").fill("yesterday")
    page.get_by_role("button", name="Show events").click()
    since = page.get_by_label("Since")
    expect(since).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#since-errors")).to_be_visible()
    expect(page.get_by_role("link", name="Download CSV")).to_have_count(0)
    assert_accessible(page)


def test_balances_show_spot_and_futures_of_the_account(
    signed_in: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    page = signed_in
    start_tracking(stack, trader)
    wait_for(
        "balances read from KuCoin",
        lambda: api(stack, trader, "balances")["results"][0]["as_of"],
    )

    page.goto(f"{stack.url}/balances")

    expect(page.get_by_role("heading", level=2).first).to_be_visible()
    expect(page.get_by_role("region", name="Futures overview of default")).to_contain_text("5000")
    spot = page.get_by_role("region", name="Spot balances of default")
    expect(spot).to_contain_text("USDT")
    expect(spot).to_contain_text("BTC")
    assert page.get_by_test_id("balances-source").inner_text() in ("cache", "database")
    assert_accessible(page)
    screenshot(page, "balances")


def test_the_pages_fit_a_375_px_screen(signed_in: Any, stack: Stack, trader: Trader) -> None:
    from playwright.sync_api import expect

    page = signed_in
    account_id = start_tracking(stack, trader)
    page.set_viewport_size({"width": 375, "height": 800})
    for path in (f"/positions/{account_id}/XBTUSDTM/long", "/balances", "/events"):
        page.goto(f"{stack.url}{path}")
        expect(page.locator("main h1")).to_be_visible()
        assert fits_the_viewport(page), path
    expect(page.locator("#events-heading, #list-heading").first).to_be_visible()
    page.goto(f"{stack.url}/positions/{account_id}/XBTUSDTM/long")
    expect(page.locator(".chart .uplot")).to_be_visible()
    screenshot(page, "position-detail-375")
