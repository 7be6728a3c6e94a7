"""The audit log in the admin: listed, filtered by kind and date, searched; never edited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cryptotrack.accounts.models import User
from cryptotrack.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/audit/auditevent/"


@pytest.fixture
def admin_client(client: Client, make_user: Callable[..., Any]) -> Client:
    admin = make_user(username="auditor")
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def _event(user: Any, kind: str, ip: str) -> AuditEvent:
    return AuditEvent.objects.create(user=user, kind=kind, at=timezone.now(), ip_address=ip)


def test_admin_lists_filters_and_searches_events(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    ada, bob = make_user(username="ada"), make_user(username="bob")
    _event(ada, "login_failed", "203.0.113.9")
    _event(bob, "api_key_created", "198.51.100.20")

    def shown(query: str) -> set[str]:
        response = admin_client.get(f"{CHANGELIST}{query}")
        assert response.status_code == 200
        return {u for u in ("ada", "bob") if f">{u}<" in response.content.decode()}

    assert shown("") == {"ada", "bob"}
    assert shown("?kind__exact=login_failed") == {"ada"}
    assert shown("?q=bob") == {"bob"}
    assert shown("?q=203.0.113") == {"ada"}
    assert shown("?at__gte=2000-01-01") == {"ada", "bob"}


def test_admin_cannot_add_change_or_delete_events(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    event = _event(make_user(), "signup", "203.0.113.9")

    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    post = admin_client.post(f"{CHANGELIST}{event.pk}/change/", {"kind": "login_failed"})
    assert post.status_code == 403
    assert admin_client.post(f"{CHANGELIST}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).kind == "signup"
