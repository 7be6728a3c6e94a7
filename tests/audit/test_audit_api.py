"""GET /api/v1/me/audit: the caller's own events, newest first, paginated, filterable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cryptotrack.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/me/audit"


def _add_events(user: Any, kind: str, count: int) -> list[AuditEvent]:
    start = timezone.now() - timedelta(days=1)
    return AuditEvent.objects.bulk_create(
        AuditEvent(user=user, kind=kind, at=start + timedelta(minutes=i), details={"n": i})
        for i in range(count)
    )


def test_lists_own_events_newest_first_in_the_list_envelope(
    user: Any, user_client: APIClient
) -> None:
    _add_events(user, "api_key_created", 12)

    body = user_client.get(f"{AUDIT}?per_page=5&page=1").json()

    assert body["count"] == 13  # and the sign-in of user_client
    assert (body["page"], body["per_page"], body["total_pages"]) == (1, 5, 3)
    first = body["results"][0]
    assert set(first) == {"id", "kind", "at", "ip_address", "user_agent", "details"}
    assert first["kind"] == "login_succeeded"
    assert first["ip_address"] == "127.0.0.1"
    assert [r["details"]["n"] for r in body["results"][1:]] == [11, 10, 9, 8]
    last = user_client.get(f"{AUDIT}?per_page=5&page=3").json()
    assert [r["details"]["n"] for r in last["results"]] == [2, 1, 0]


def test_kind_filter(user: Any, user_client: APIClient) -> None:
    _add_events(user, "api_key_created", 3)
    _add_events(user, "tracking_paused", 2)

    body = user_client.get(f"{AUDIT}?kind=tracking_paused").json()

    assert body["count"] == 2
    assert {r["kind"] for r in body["results"]} == {"tracking_paused"}


def test_unknown_kind_is_400_naming_the_parameter(user_client: APIClient) -> None:
    response = user_client.get(f"{AUDIT}?kind=dropped_tables")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "kind" in body["errors"]


def test_another_users_events_never_show(
    user: Any, make_user: Callable[..., Any], client_for: Callable[[Any], APIClient]
) -> None:
    _add_events(user, "api_key_created", 3)
    other = make_user()

    body = client_for(other).get(AUDIT).json()

    assert body["count"] == 1
    assert body["results"][0]["kind"] == "login_succeeded"
    assert not AuditEvent.objects.filter(user=other).exclude(kind="login_succeeded").exists()


def test_a_read_only_api_key_may_read_the_log(user: Any, user_client: APIClient) -> None:
    key = user_client.post("/api/v1/me/api-keys", {"name": "script"}, format="json").json()
    script = APIClient()
    script.credentials(HTTP_X_API_KEY=key["key"])

    body = script.get(AUDIT).json()

    assert [r["kind"] for r in body["results"]] == ["api_key_created", "login_succeeded"]
    assert body["results"][0]["details"]["prefix"] == key["prefix"]


def test_needs_authentication(api_client: APIClient) -> None:
    response = api_client.get(AUDIT)
    assert response.status_code == 401
    assert response.json()["code"]


def test_list_queries_do_not_grow_with_the_page(
    user: Any, user_client: APIClient, django_assert_max_num_queries: Any
) -> None:
    _add_events(user, "api_key_created", 60)
    user_client.get(AUDIT)  # the JWT user is cached after the first request

    for per_page in (5, 50):
        with django_assert_max_num_queries(3):  # the user (JWT), the count, the page
            response = user_client.get(f"{AUDIT}?per_page={per_page}")
        assert len(response.json()["results"]) == per_page
