"""Signing in and out in a real browser: the sign-in page at ``/``, inline errors, the
dashboard after, a session that ends with the browser unless "remember me" is ticked."""

from __future__ import annotations

from typing import Any

from tests.support.browser import assert_accessible, screenshot
from tests.web.conftest import Stack, Trader, sign_in


def test_root_shows_the_sign_in_page_which_is_accessible(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.url}/")

    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert_accessible(page)
    screenshot(page, "sign-in")


def test_a_wrong_password_is_said_inline_and_keeps_the_username(
    page: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{stack.url}/")
    page.get_by_label("Username").fill(trader.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("do not match")
    expect(page.get_by_label("Username")).to_have_value(trader.username)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_sign_in_leads_to_the_dashboard_and_sign_out_back(
    page: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    sign_in(page, stack, trader)
    session = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    assert session["expires"] == -1, "without 'remember me' the session ends with the browser"
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Positions")

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{stack.url}/alerts")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "next=%2Falerts" in page.url


def test_remember_me_keeps_the_session_past_the_browser(
    page: Any, stack: Stack, trader: Trader
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{stack.url}/")
    page.get_by_label("Username").fill(trader.username)
    page.get_by_label("Password").fill(trader.password)
    page.get_by_label("Remember me on this device").check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    session = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    assert session["expires"] > 0
    assert session["httpOnly"]
