"""Retention deletes only old rows; a failing audit insert never fails the action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from cryptotrack.audit import tasks
from cryptotrack.audit.models import AuditEvent
from cryptotrack.audit.services import purge_audit_events
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def _event_aged(user: Any, days: float) -> AuditEvent:
    return AuditEvent.objects.create(
        user=user, kind="login_succeeded", at=timezone.now() - timedelta(days=days)
    )


def test_retention_deletes_only_rows_older_than_the_setting(user: Any, settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    old = [_event_aged(user, 31), _event_aged(user, 400)]
    kept = [_event_aged(user, 29), _event_aged(user, 0)]

    assert tasks.purge_audit_events() == len(old)

    assert set(AuditEvent.objects.values_list("id", flat=True)) == {e.id for e in kept}


def test_retention_works_through_a_backlog_in_batches(user: Any, settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 1
    AuditEvent.objects.bulk_create(
        AuditEvent(user=user, kind="login_failed", at=timezone.now() - timedelta(days=2))
        for _ in range(25)
    )
    fresh = _event_aged(user, 0)

    assert purge_audit_events(batch_size=10) == 25

    assert list(AuditEvent.objects.values_list("id", flat=True)) == [fresh.id]


def test_retention_zero_keeps_everything(user: Any, settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 0
    _event_aged(user, 5000)

    assert tasks.purge_audit_events() == 0
    assert AuditEvent.objects.count() == 1


def test_purge_is_on_the_beat_schedule() -> None:
    from cryptotrack.celery import app

    tasks_scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "cryptotrack.audit.tasks.purge_audit_events" in tasks_scheduled


@pytest.fixture
def audit_inserts_fail() -> None:
    """PostgreSQL itself refuses every insert into the audit table (a trigger; the test's
    transaction rolls it back)."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION audit_refuse() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'audit table refuses writes'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            f"CREATE TRIGGER audit_refuse BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse()"
        )


def test_sign_in_and_signup_work_while_the_audit_table_refuses_writes(
    user: Any, audit_inserts_fail: None, caplog: pytest.LogCaptureFixture
) -> None:
    client = APIClient()
    signed_in = client.post(
        "/api/v1/auth/token",
        {"username": user.username, "password": STRONG_PASSWORD},
        format="json",
    )
    signed_up = client.post(
        "/api/v1/auth/signup",
        {"name": "Bo", "username": "bo", "password": "bo-password-20271"},
        format="json",
    )

    assert signed_in.status_code == 200
    assert signed_up.status_code == 201
    assert "not recorded" in caplog.text
