"""POST /api/v1/me/password, and password changes from anywhere reaching the audit log."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.serializers import serialize
from django.test import Client
from rest_framework.test import APIClient

from cryptotrack.accounts.models import User
from cryptotrack.audit.models import AuditEvent
from tests.audit.conftest import BROWSER, events_of
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

PASSWORD = "/api/v1/me/password"
TOKEN = "/api/v1/auth/token"
NEW_PASSWORD = "a-brand-new-password-2027"


def _tokens(user: Any, password: str = STRONG_PASSWORD) -> Any:
    return APIClient().post(TOKEN, {"username": user.username, "password": password}, format="json")


def _client(access: str) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {access}", REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT=BROWSER
    )
    return client


def test_change_then_old_password_fails_and_new_one_works(user: Any) -> None:
    pair = _tokens(user).json()
    client = _client(pair["access"])

    response = client.post(
        PASSWORD,
        {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 204
    assert _tokens(user).status_code == 401
    assert _tokens(user, NEW_PASSWORD).status_code == 200
    [event] = events_of(user, "password_changed")
    assert (event.ip_address, event.user_agent) == ("198.51.100.4", BROWSER)
    assert event.details == {"via": "api"}
    table = serialize("json", AuditEvent.objects.all())
    assert STRONG_PASSWORD not in table
    assert NEW_PASSWORD not in table


def test_change_revokes_outstanding_refresh_tokens(user: Any) -> None:
    other_session = _tokens(user).json()
    client = _client(_tokens(user).json()["access"])

    client.post(
        PASSWORD,
        {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    refreshed = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": other_session["refresh"]}, format="json"
    )
    assert refreshed.status_code == 401


def test_wrong_current_password_is_400_and_changes_nothing(user: Any) -> None:
    client = _client(_tokens(user).json()["access"])

    response = client.post(
        PASSWORD,
        {"current_password": "not-my-password", "new_password": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 400
    assert "current_password" in response.json()["errors"]
    assert _tokens(user).status_code == 200
    assert not events_of(user, "password_changed")


@pytest.mark.parametrize("weak", ["short1", "password123", "user1-example"])
def test_weak_new_password_is_400(user: Any, weak: str) -> None:
    client = _client(_tokens(user).json()["access"])

    response = client.post(
        PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": weak}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"]["new_password"]
    assert not events_of(user, "password_changed")


def test_missing_fields_are_400(user_client: APIClient) -> None:
    response = user_client.post(PASSWORD, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"current_password", "new_password"}


def test_an_api_key_cannot_change_the_password(user_client: APIClient) -> None:
    key = user_client.post("/api/v1/me/api-keys", {"name": "script"}, format="json").json()
    script = APIClient()
    script.credentials(HTTP_X_API_KEY=key["key"])

    body = {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}
    assert script.post(PASSWORD, body, format="json").status_code == 403


def test_admin_password_form_is_recorded_with_the_admins_request(
    client: Client, user: Any, make_user: Any
) -> None:
    admin = make_user()
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    client.force_login(admin)

    response = client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        REMOTE_ADDR="192.0.2.10",
        HTTP_USER_AGENT=BROWSER,
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    [event] = events_of(user, "password_changed")
    assert (event.ip_address, event.details) == ("192.0.2.10", {"via": "admin"})


def test_changepassword_command_is_recorded_as_system(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.contrib.auth.management.commands import changepassword

    # The command reads the password twice from the terminal; answer it.
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    call_command("changepassword", user.username, stdout=io.StringIO())

    [event] = events_of(user, "password_changed")
    assert (event.ip_address, event.user_agent, event.details) == (None, "", {"via": "system"})
    assert _tokens(user, NEW_PASSWORD).status_code == 200


def test_signing_in_and_other_saves_are_not_password_changes(user: Any) -> None:
    assert _tokens(user).status_code == 200  # updates last_login
    user.name = "Renamed"
    user.save()

    assert not events_of(user, "password_changed")
