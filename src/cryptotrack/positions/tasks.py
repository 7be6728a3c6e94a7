"""Celery tasks of position tracking: thin wrappers that call services.

Poll batches are idempotent per slot (see ``polling.claim_slots``), so at-least-once
delivery (acks late, reject on worker lost) never polls a subscription twice in a slot.
"""

from __future__ import annotations

from celery import shared_task

from cryptotrack.positions import dispatch, polling, services


@shared_task(name="cryptotrack.positions.tasks.dispatch_due_subscriptions")
def dispatch_due_subscriptions() -> int:
    return dispatch.dispatch_due_subscriptions().subscriptions


@shared_task(name="cryptotrack.positions.tasks.poll_subscriptions")
def poll_subscriptions(batch: list[tuple[int, str]]) -> int:
    return polling.poll_batch(batch=[(int(i), str(slot)) for i, slot in batch]).polled


@shared_task(name="cryptotrack.positions.tasks.purge_position_history")
def purge_position_history() -> int:
    return services.purge_position_history()
