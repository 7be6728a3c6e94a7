"""The alerts and channels pages in real Chromium against `make run`: a bad value is said
next to its field, a good alert is listed, a position alert too; a webhook channel is
added, its secret shown once, and a test send reaches a real receiver, signed."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from cryptotrack.notify import webhooks
from tests.support.browser import assert_accessible, screenshot
from tests.web.conftest import PASSWORD, Stack, Trader, simulator_key

pytestmark = pytest.mark.slow


@pytest.fixture
def trader(stack: Stack) -> Trader:
    """A trader with an email address (alerts are refused without one)."""
    username = f"alerts{secrets.token_hex(4)}"
    body = {
        "name": "Alert Trader",
        "username": username,
        "password": PASSWORD,
        "email": f"{username}@example.com",
        "kucoin": simulator_key(stack),
    }
    created = httpx.post(f"{stack.url}/api/v1/auth/signup", json=body, timeout=10)
    assert created.status_code == 201, created.text
    tokens = httpx.post(
        f"{stack.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    ).json()
    return Trader(username=username, password=PASSWORD, access=tokens["access"])


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
    for path in ["/alerts", "/channels", "/channels/deliveries"]:
        page.goto(f"{stack.url}{path}")
        assert page.evaluate(OVERFLOWING) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    screenshot(page, "alerts-375")
