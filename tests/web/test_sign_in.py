"""The web sign-in takes the API's path: the same throttle, lockout and audit; a ``next``
that leaves the site is ignored; pages need a session and are never cached."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from cryptotrack.audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD as PASSWORD


@pytest.fixture
def browser_client() -> Client:
    return Client(enforce_csrf_checks=True)


def post_sign_in(client: Client, **data: str) -> Any:
    client.get("/")  # sets the CSRF cookie, as the browser gets it with the form
    token = client.cookies["csrftoken"].value
    return client.post("/sign-in", {"csrfmiddlewaretoken": token, **data})


@pytest.mark.django_db
def test_signed_in_root_is_the_dashboard_and_never_cached(
    browser_client: Client, user: Any
) -> None:
    post_sign_in(browser_client, username=user.username, password=PASSWORD)

    response = browser_client.get("/")

    assert response.status_code == 200
    assert b"Sign out" in response.content
    assert "no-store" in response["Cache-Control"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_sign_in_without_the_csrf_token_is_refused(browser_client: Client, user: Any) -> None:
    response = browser_client.post("/sign-in", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 403


@pytest.mark.django_db
def test_sign_in_is_audited_as_web(browser_client: Client, user: Any) -> None:
    post_sign_in(browser_client, username=user.username, password=PASSWORD)

    event = AuditEvent.objects.filter(user=user).order_by("-id").first()
    assert event is not None
    assert event.kind == "login_succeeded"
    assert event.details.get("via") == "web"


@pytest.mark.django_db
def test_the_lockout_of_the_api_holds_on_the_form(
    browser_client: Client, user: Any, settings: Any
) -> None:
    settings.LOGIN_LOCKOUT_FAILURES = 2
    for _ in range(2):
        assert (
            post_sign_in(browser_client, username=user.username, password="wrong").status_code
            == 400
        )

    locked = post_sign_in(browser_client, username=user.username, password=PASSWORD)

    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert int(locked["Retry-After"]) > 0
    assert b"Sign out" not in locked.content


@pytest.mark.django_db
def test_the_sign_in_throttle_of_the_api_holds_on_the_form(
    browser_client: Client, user: Any, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "login": "2/min",
        },
    }
    for _ in range(2):
        post_sign_in(browser_client, username="nobody", password="wrong")

    throttled = post_sign_in(browser_client, username=user.username, password=PASSWORD)

    assert throttled.status_code == 429
    assert b"Too many sign-in attempts" in throttled.content


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/alerts"])
def test_next_only_leads_within_the_site(browser_client: Client, user: Any, target: str) -> None:
    response = post_sign_in(browser_client, username=user.username, password=PASSWORD, next=target)

    assert response.status_code == 302
    assert response["Location"] == (
        target if target.startswith("/") and not target.startswith("//") else "/"
    )


@pytest.mark.django_db
def test_pages_send_anonymous_browsers_to_sign_in(browser_client: Client) -> None:
    response = browser_client.get("/settings")

    assert response.status_code == 302
    assert response["Location"] == "/?next=%2Fsettings"


@pytest.mark.django_db
def test_an_htmx_request_after_the_session_ended_is_told_where_to_go(
    browser_client: Client,
) -> None:
    response = browser_client.get("/alerts", HTTP_HX_REQUEST="true")

    assert response.status_code == 401
    assert response["HX-Redirect"] == "/?next=%2Falerts"


@pytest.mark.django_db
def test_sign_out_needs_post(browser_client: Client, user: Any) -> None:
    post_sign_in(browser_client, username=user.username, password=PASSWORD)

    assert browser_client.get("/sign-out").status_code == 405
    assert b"Sign out" in browser_client.get("/").content
