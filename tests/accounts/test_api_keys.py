"""Personal API keys: shown once, read-only, revocable, private to their owner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from cryptotrack.accounts.models import ApiKey

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/me/api-keys"


def _create(client: APIClient, name: str = "script") -> dict[str, Any]:
    response = client.post(KEYS, {"name": name}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_key_is_shown_once_and_stored_only_as_hash(user_client: APIClient) -> None:
    created = _create(user_client)

    assert created["key"].startswith("ctk_")
    listed = user_client.get(KEYS).json()
    assert listed["count"] == 1
    assert "key" not in listed["results"][0]
    assert listed["results"][0]["prefix"] == created["prefix"]
    stored = ApiKey.objects.get()
    assert created["key"] not in {stored.key_hash, stored.prefix}


def test_api_key_reads_but_does_not_write(user_client: APIClient, user: Any) -> None:
    key = _create(user_client)["key"]
    script = APIClient()
    script.credentials(HTTP_X_API_KEY=key)

    assert script.get("/api/v1/me").json()["username"] == user.username
    refused = script.post(KEYS, {"name": "another"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "api_key_read_only"
    assert ApiKey.objects.count() == 1


def test_revoked_key_stops_working(user_client: APIClient) -> None:
    created = _create(user_client)
    script = APIClient()
    script.credentials(HTTP_X_API_KEY=created["key"])
    assert script.get("/api/v1/me").status_code == 200

    assert user_client.delete(f"{KEYS}/{created['id']}").status_code == 204

    response = script.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert user_client.get(KEYS).json()["count"] == 0


def test_wrong_key_with_a_real_prefix_is_rejected(user_client: APIClient) -> None:
    created = _create(user_client)
    forged = created["key"][:-4] + "AAAA"
    script = APIClient()
    script.credentials(HTTP_X_API_KEY=forged)
    assert script.get("/api/v1/me").status_code == 401


def test_another_users_key_is_404_and_untouched(
    user_client: APIClient, make_user: Callable[..., Any], client_for: Callable[[Any], APIClient]
) -> None:
    created = _create(user_client)
    other = client_for(make_user())

    assert other.delete(f"{KEYS}/{created['id']}").status_code == 404
    assert other.get(KEYS).json()["count"] == 0
    assert ApiKey.objects.get().revoked_at is None


def test_key_name_is_required(user_client: APIClient) -> None:
    response = user_client.post(KEYS, {}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]
