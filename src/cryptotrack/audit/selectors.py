"""Reading the audit log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cryptotrack.audit.models import AuditEvent


def audit_event_list(*, user: Any, kind: str | None = None) -> QuerySet[AuditEvent]:
    """The user's events, newest first; only ``kind`` when given."""
    events = AuditEvent.objects.filter(user=user).order_by("-at", "-id")
    if kind:
        events = events.filter(kind=kind)
    return events
