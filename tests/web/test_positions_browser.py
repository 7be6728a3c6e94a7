"""The positions page (the dashboard) in real Chromium against `make run`'s embedded default
(in-memory channel layer: the ASGI process watches the tracking rows for its sockets), and
/ws/positions on that same default with a plain WebSocket client."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from websockets.sync.client import connect

from tests.support.browser import assert_accessible, screenshot
from tests.web.conftest import TRACKING_INTERVAL_SECONDS, Stack, Trader, sign_up

# A poll every interval, then at most one watcher tick (0.5 s) and a page update; the
# margin is for a 2-core machine running other suites.
ONE_INTERVAL_MS = (TRACKING_INTERVAL_SECONDS + 3) * 1000


def start_tracking(stack: Stack, trader: Trader) -> None:
    answer = httpx.post(f"{stack.url}/api/v1/tracking", json={}, headers=trader.headers)
    assert answer.status_code in {200, 201}, answer.text


def simulator(stack: Stack, path: str, body: dict[str, Any]) -> Any:
    answer = httpx.post(f"{stack.simulator_url()}/_sim/{path}", json=body, timeout=10)
    answer.raise_for_status()
    return answer.json()


def test_positions_show_and_a_mark_price_change_appears_without_reload(
    signed_in: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    page = signed_in
    start_tracking(stack, trader)
    table = page.locator("#positions-table")
    expect(table.locator("tbody tr")).to_have_count(2, timeout=ONE_INTERVAL_MS * 2)
    expect(table).to_contain_text("XBTUSDTM")
    expect(table).to_contain_text("ETHUSDTM")
    expect(page.get_by_role("status")).to_contain_text("Live")
    page.evaluate("window.notReloaded = true")

    simulator(stack, "config", {"drift": 0})  # the demo key's marks drift; hold them
    simulator(stack, "mark-prices", {"symbol": "XBTUSDTM", "price": "71234.5"})

    mark = table.locator('tr[data-key$=":XBTUSDTM:long"] [data-field="mark_price"]')
    expect(mark).to_have_text("71234.5", timeout=ONE_INTERVAL_MS)
    assert page.evaluate("window.notReloaded === true"), "updated in place, not reloaded"
    row = table.locator('tr[data-key$=":XBTUSDTM:long"]')
    expect(row.get_by_role("link", name="XBTUSDTM")).to_have_attribute(
        "href", f"/positions/{row.get_attribute('data-key').split(':')[0]}/XBTUSDTM/long"
    )
    # Rendered before tracking started: the account's state and its button follow live.
    accounts = page.locator("#accounts-table")
    expect(accounts).to_contain_text("Active")
    expect(accounts.get_by_role("button", name="Stop tracking")).to_be_visible()
    expect(accounts.get_by_role("button", name="Start tracking")).to_be_hidden()

    assert_accessible(page)
    screenshot(page, "positions")

    page.set_viewport_size({"width": 375, "height": 800})
    # Nothing sticks out of the page; wide content scrolls inside its own box (the tables'
    # .table-wrap, the main navigation).
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter((el) => !el.closest('.table-wrap'))
            .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
            .map((el) => el.tagName + '.' + el.className)"""
    )
    assert overflow == [], overflow
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "positions-375")


def test_stop_and_start_tracking_from_the_page(
    signed_in: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    page = signed_in
    start_tracking(stack, trader)
    page.reload()
    accounts = page.locator("#accounts-table")

    accounts.get_by_role("button", name="Stop tracking").click()

    expect(page.get_by_role("status").first).to_contain_text("stopped")
    expect(accounts).to_contain_text("Tracking stopped")
    answer = httpx.get(f"{stack.url}/api/v1/tracking", headers=trader.headers)
    assert answer.json()["state"] == "stopped"

    accounts.get_by_role("button", name="Start tracking").click()

    expect(accounts.get_by_role("button", name="Stop tracking")).to_be_visible()
    answer = httpx.get(f"{stack.url}/api/v1/tracking", headers=trader.headers)
    assert answer.json()["state"] == "active"


def test_embedded_default_socket_sends_only_its_users_polls(stack: Stack) -> None:
    alice, bob = sign_up(stack), sign_up(stack)
    for trader in (alice, bob):
        start_tracking(stack, trader)
    alice_accounts = {
        account["id"]
        for account in httpx.get(
            f"{stack.url}/api/v1/exchange-accounts", headers=alice.headers
        ).json()["results"]
    }
    url = stack.url.replace("http://", "ws://") + "/ws/positions"

    frames = []
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"token": alice.access}))
        deadline = time.monotonic() + TRACKING_INTERVAL_SECONDS * 4 + 5
        while (
            time.monotonic() < deadline
            and sum(f["type"] == "positions" and f["count"] == 2 for f in frames) < 2
        ):
            frames.append(json.loads(ws.recv(timeout=deadline - time.monotonic())))

    assert frames[0]["type"] == "snapshot"
    polled = [f for f in frames if f["type"] == "positions" and f["count"] == 2]
    assert len(polled) >= 2, frames
    for frame in frames:
        assert {a["id"] for a in frame["accounts"]} <= alice_accounts
        assert {row["account"]["id"] for row in frame["results"]} <= alice_accounts
