"""Content-Security-Policy: on every HTML page, and no page breaks it in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.quotes.test_quotes_live_page import browser_page  # noqa: F401 - a fixture
from tests.support.processes import AsgiServer

HTML_PAGES = ["/docs", "/rates/live", "/admin/login/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", HTML_PAGES)
def test_every_html_page_has_the_policy(api_client: APIClient, settings: Any, path: str) -> None:
    page = api_client.get(path)

    assert page.status_code == 200
    assert page["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in settings.CONTENT_SECURITY_POLICY
    assert "<script>" not in page.content.decode()  # no inline script to allow


@pytest.mark.django_db
def test_json_answers_carry_no_policy(api_client: APIClient) -> None:
    assert "Content-Security-Policy" not in api_client.get("/healthz")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_page_breaks_the_policy_in_a_browser(
    live_env: dict[str, str],
    browser_page: Any,  # noqa: F811 - the imported fixture
) -> None:
    from playwright.sync_api import expect

    violations: list[str] = []
    browser_page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    with AsgiServer(live_env) as server:
        answers = {}
        # Swagger UI ran its (external) init script and rendered the schema's operations.
        answers["/docs"] = browser_page.goto(f"{server.url}/docs")
        expect(browser_page.locator(".opblock").first).to_be_visible(timeout=15000)
        # The live page's script opened its WebSocket (connect-src 'self').
        answers["/rates/live"] = browser_page.goto(f"{server.url}/rates/live")
        expect(browser_page.locator("#status")).to_have_text("live", timeout=10000)
        answers["/admin/login/"] = browser_page.goto(f"{server.url}/admin/login/")
        expect(browser_page.locator("#id_username")).to_be_visible()
        browser_page.goto("about:blank")

    for path, answer in answers.items():
        assert answer is not None
        assert "content-security-policy" in answer.headers, path
    assert violations == []
