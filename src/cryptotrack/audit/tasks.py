"""Celery tasks of the audit log: thin wrappers that call services."""

from __future__ import annotations

from celery import shared_task

from cryptotrack.audit import services


@shared_task(name="cryptotrack.audit.tasks.purge_audit_events")
def purge_audit_events() -> int:
    return services.purge_audit_events()
