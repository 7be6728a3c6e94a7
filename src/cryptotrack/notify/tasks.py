"""Celery tasks of notify: thin wrappers that take ids, call one service, own the retries."""

from __future__ import annotations

from celery import shared_task

from cryptotrack.notify import deliveries


@shared_task(name="cryptotrack.notify.tasks.send_deliveries", acks_late=True)
def send_deliveries(delivery_ids: list[int]) -> None:
    """Deliver these rows to their channels; each one to try again gets a task of its own,
    due when its backoff (or the receiver's ``Retry-After``) ends.

    Safe to run twice for the same ids: each delivery is claimed before it is sent.
    """
    outcome = deliveries.deliver_deliveries(delivery_ids)
    for delivery_id, delay in outcome.later:
        send_deliveries.apply_async(args=([delivery_id],), countdown=delay)
