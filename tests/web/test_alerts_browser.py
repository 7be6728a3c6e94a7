"""The alerts and channels pages in real Chromium against `make run`: a bad value is said
next to its field, a good alert is listed, a position alert too; a webhook channel is
added, its secret shown once, and a test send reaches a real receiver, signed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from cryptotrack.notify import webhooks
from tests.support.browser import assert_accessible, screenshot
from tests.web.conftest import Stack, Trader, sign_up

pytestmark = pytest.mark.slow


@pytest.fixture
def trader(stack: Stack) -> Trader:
    """A trader with an email address (alerts are refused without one)."""
    return sign_up(stack, email=True)


@dataclass
class Receiver:
    """A webhook receiver: a tiny HTTP server on loopback that keeps what it was sent."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(url=f"http://127.0.0.1:{server.server_port}/hook", received=received)
    finally:
        server.shutdown()
        server.server_close()


def test_a_bad_price_is_said_inline_then_a_good_alert_is_listed(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    page.goto(f"{stack.url}/alerts")
    form = page.locator("#price-alert-form")
    form.get_by_label("Coin").fill("bitcoin")
    form.get_by_label("Currency").fill("usd")
    form.get_by_label("Target price").fill("-5")
    form.get_by_role("button", name="Create price alert").click()

    target = page.locator("#price-alert-form").get_by_label("Target price")
    expect(target).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#price-target_price-errors")).to_have_text(
        "The target price must be greater than zero."
    )
    expect(target).to_be_focused()
    assert_accessible(page)  # the form with its message
    target.fill("70000")
    page.locator("#price-alert-form").get_by_role("button", name="Create price alert").click()

    expect(page.get_by_text("Price alert created.")).to_be_visible()
    row = page.locator("#price-alerts tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("bitcoin/usd")
    expect(row).to_contain_text("active")

    position = page.locator("#position-alert-form")
    position.get_by_label("Kind").select_option("liquidation_distance")
    expect(position.get_by_label("Threshold (amount)")).to_be_hidden()
    position.get_by_label("Threshold (%)").fill("5")
    position.get_by_role("button", name="Create position alert").click()

    expect(page.get_by_text("Position alert created.")).to_be_visible()
    expect(page.locator("#position-alerts tbody tr")).to_contain_text("within 5 % of liquidation")
    assert_accessible(page)
    screenshot(page, "alerts")

    for link, heading in [
        ("bitcoin/usd", "Price alert"),
        ("Mark price near the liquidation price", "Position alert"),
    ]:
        page.goto(f"{stack.url}/alerts")
        page.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        expect(page.get_by_text("It has not fired yet.")).to_be_visible()
        assert_accessible(page)
        page.get_by_role("link", name="Delete", exact=True).click()
        assert_accessible(page)
        page.get_by_role("button", name="Delete alert").click()
        expect(page.get_by_text("deleted.")).to_be_visible()
    expect(page.get_by_text("No price alerts yet.")).to_be_visible()
    expect(page.get_by_text("No position alerts yet.")).to_be_visible()


def test_a_webhook_channel_is_added_and_a_signed_test_reaches_the_receiver(
    signed_in: Any, stack: Stack, receiver: Receiver
) -> None:
    page = signed_in
    page.goto(f"{stack.url}/channels")
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Name", exact=True).fill("my hook")
    page.get_by_label("URL", exact=True).fill(receiver.url)
    page.get_by_role("button", name="Add channel").click()

    secret = page.locator(".secret-once").inner_text().strip()
    assert secret.startswith("whsec_")
    assert_accessible(page)
    page.get_by_role("button", name="Send a test").click()

    expect(page.locator("#test-result")).to_contain_text("Test delivered (HTTP 200).")
    ((headers, body),) = receiver.received
    assert webhooks.verify(headers[webhooks.SIGNATURE_HEADER], body, secret)
    page.goto(f"{stack.url}/channels")
    expect(page.locator("#channels tbody tr")).to_contain_text("verified")
    assert secret not in page.content()
    assert page.locator(".secret-once").count() == 0
    assert_accessible(page)
    screenshot(page, "channels")
    page.get_by_role("link", name="my hook", exact=True).click()
    expect(page.get_by_text("verified", exact=True)).to_be_visible()
    assert_accessible(page)
    page.goto(f"{stack.url}/channels/deliveries")
    assert_accessible(page)


# Elements reaching past the right edge, except inside a box that scrolls sideways itself
# (.table-wrap, the main navigation).
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(up).overflowX)) return true;
    }
    return false;
  };
  return [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > width + 1 && !scrolls(el))
    .map((el) => el.tagName + (el.id ? "#" + el.id : "") + "." + el.className);
}"""


def test_the_pages_fit_a_375_px_screen(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ["/channels", "/channels/deliveries", "/alerts"]:
        page.goto(f"{stack.url}{path}")
        assert page.evaluate(OVERFLOWING) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    screenshot(page, "alerts-375")
