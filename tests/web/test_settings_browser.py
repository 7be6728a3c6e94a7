"""Settings, sign-up and rates in a real browser: an API key shown once that works and stops
after revoke, sign-up with a KuCoin key, the rates chart and live value; each page passes
axe and is kept as a screenshot; nothing overflows a 375 px screen."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.browser import assert_accessible, screenshot
from tests.web.conftest import PASSWORD, Stack, Trader, simulator_key

# Elements sticking out of the viewport, except inside a box that scrolls sideways on its own
# (a .table-wrap, the main navigation).
OVERFLOWING = """() => {
  const scrolls = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(a).overflowX)) return true;
    }
    return false;
  };
  return [...document.querySelectorAll("body *")]
    .filter((el) => !el.closest(".visually-hidden, .skip-link") && !scrolls(el))
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
    .map((el) => el.tagName + (el.id ? "#" + el.id : "") + "." + el.className);
}"""


def me_with_key(stack: Stack, key: str) -> int:
    return httpx.get(f"{stack.url}/api/v1/me", headers={"X-API-Key": key}, timeout=10).status_code


def test_an_api_key_is_shown_once_works_and_stops_after_revoke(
    signed_in: Any, stack: Stack
) -> None:
    from playwright.sync_api import expect

    page = signed_in
    page.goto(f"{stack.url}/settings")
    assert_accessible(page)
    page.get_by_label("Key name").fill("browser script")
    page.get_by_role("button", name="Create key").click()

    secret = page.locator(".secret-once")
    expect(secret).to_be_visible()
    key = secret.inner_text().strip()
    assert key.startswith("ctk_")
    assert me_with_key(stack, key) == 200
    assert_accessible(page)
    screenshot(page, "settings")

    page.goto(f"{stack.url}/settings")
    expect(page.locator(".secret-once")).to_have_count(0)
    assert key not in page.content()
    page.get_by_role("button", name="Revoke browser script").click()

    expect(page.get_by_role("status").first).to_contain_text("revoked")
    expect(page.get_by_role("button", name="Revoke browser script")).to_have_count(0)
    assert me_with_key(stack, key) in {401, 403}


def test_sign_up_through_the_page_with_a_kucoin_key(page: Any, stack: Stack) -> None:
    from playwright.sync_api import expect

    key = simulator_key(stack)
    page.goto(f"{stack.url}/sign-up")
    expect(page.get_by_text("Use a read-only key.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "sign-up")

    page.get_by_label("Name", exact=True).fill("Page Trader")
    page.get_by_label("Username").fill("bad name")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("API key").fill(key["api_key"])
    page.get_by_label("API secret").fill(key["api_secret"])
    page.get_by_label("API passphrase").fill(key["api_passphrase"])
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("API secret")).to_have_value("")
    assert key["api_secret"] not in page.content()
    assert_accessible(page)

    username = f"page{key['api_key'][:8]}"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("API secret").fill(key["api_secret"])
    page.get_by_label("API passphrase").fill(key["api_passphrase"])
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{stack.url}/settings")
    accounts = page.locator("#exchange-accounts table")
    expect(accounts).to_contain_text("default")
    expect(accounts).to_contain_text(f"…{key['api_key'][-4:]}")
    expect(accounts).to_contain_text("Valid")
    for secret in key.values():
        assert secret not in page.content()


def test_the_rates_page_shows_the_chart_and_the_live_value(signed_in: Any, stack: Stack) -> None:
    from playwright.sync_api import expect

    page = signed_in
    page.goto(f"{stack.url}/rates")

    expect(page.locator("#rates")).to_have_attribute("data-connection", "live")
    expect(page.locator("#rates-chart canvas")).to_be_visible()
    expect(page.locator("#live-rate")).not_to_have_text("—")
    page.get_by_role("button", name="Refresh now").click()
    expect(page.get_by_role("status").first).to_contain_text("Refreshed")
    expect(page.locator("#rates")).to_have_attribute("data-connection", "live")
    assert_accessible(page)
    screenshot(page, "rates")


def test_the_account_pages_and_audit_log_are_accessible(
    signed_in: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    page = signed_in
    accounts = httpx.get(f"{stack.url}/api/v1/exchange-accounts", headers=trader.headers).json()
    account_id = accounts["results"][0]["id"]
    page.goto(f"{stack.url}/settings/exchange-accounts/{account_id}")
    expect(page.get_by_role("heading", name="Rename or replace the key")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Label").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Give a `label` and/or a new key.")
    assert_accessible(page)
    page.goto(f"{stack.url}/settings/exchange-accounts/{account_id}/delete")
    assert_accessible(page)
    page.goto(f"{stack.url}/settings/audit")
    expect(page.locator("table")).to_contain_text("Signed up")
    assert_accessible(page)
    screenshot(page, "settings-audit")


def test_the_pages_fit_a_375_px_screen(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/settings", "/rates", "/settings/audit"):
        page.goto(f"{stack.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(OVERFLOWING) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    screenshot(page, "settings-audit-375")
