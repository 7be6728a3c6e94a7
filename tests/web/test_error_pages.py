"""A browser that meets an error on a page gets a page; a client of the API gets JSON,
whatever its Accept header says."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_missing_page_is_a_page_for_a_browser(client: Client) -> None:
    response = client.get("/no-such-page", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Page not found" in response.content
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_another_users_object_is_the_same_page_as_a_missing_one(
    client: Client, make_user: Any
) -> None:
    owner, intruder = make_user(), make_user()
    from cryptotrack.accounts.services import exchange_account_store
    from cryptotrack.exchanges.kucoin import KucoinCredentials

    theirs = exchange_account_store(
        user=owner, credentials=KucoinCredentials("k" * 12, "s" * 12, "p" * 6), label="main"
    )
    client.login(username=intruder.username, password=STRONG_PASSWORD)

    of_theirs = client.get(f"/settings/exchange-accounts/{theirs.pk}", HTTP_ACCEPT=BROWSER_ACCEPT)
    missing = client.get("/settings/exchange-accounts/987654321", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert of_theirs.status_code == missing.status_code == 404
    assert b"Page not found" in of_theirs.content
    assert b"Sign out" in of_theirs.content  # still inside the app, navigation and all


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "application/json", ""])
def test_the_api_answers_json_errors_whatever_is_accepted(client: Client, accept: str) -> None:
    response = client.get("/api/v1/no-such-endpoint", HTTP_ACCEPT=accept)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_client_that_does_not_ask_for_html_gets_json_off_the_api_too(client: Client) -> None:
    response = client.get("/no-such-page", HTTP_ACCEPT="application/json")

    assert response.json() == {"detail": "No such path: /no-such-page", "code": "not_found"}
