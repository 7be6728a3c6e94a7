"""The deliveries' outbox in this process against the messaging simulator: the 24 h retry
window, Retry-After honoured, the sweep of stalled deliveries, a deleted alert's delivery
cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cryptotrack.alerts.models import Alert
from cryptotrack.notify import deliveries
from cryptotrack.notify.models import Channel, Delivery
from cryptotrack.notify.outcome import Attempt, Verdict
from cryptotrack.simulators.messengers.simulator import MessengersSimulator
from tests.notify.test_deliveries_api import price_firing

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(settings: Any) -> Iterator[MessengersSimulator]:
    with MessengersSimulator() as simulator:
        settings.WEBHOOK_ALLOW_PRIVATE = True
        settings.NOTIFY_TIMEOUT_SECONDS = 2
        yield simulator


def webhook_delivery(user: Any, url: str) -> Delivery:
    name = f"hook {Channel.objects.count()}"
    hook = Channel.objects.create(user=user, kind="webhook", name=name, config={"url": url})
    _, (made,) = deliveries.route_price_firings([price_firing(user, [hook]).pk])
    return Delivery.objects.get(pk=made)


def test_a_retry_within_the_window_goes_back_to_pending_and_after_it_fails(
    user: Any, sim: MessengersSimulator
) -> None:
    fresh = webhook_delivery(user, f"{sim.base_url}/webhooks/a")
    sim.inject_fault("error", status=503, times=1, path="/webhooks/a")
    outcome = deliveries.deliver_deliveries([fresh.pk])
    assert [pk for pk, _ in outcome.later] == [fresh.pk]
    fresh.refresh_from_db()
    assert (fresh.state, fresh.attempts) == ("pending", 1)

    old = webhook_delivery(user, f"{sim.base_url}/webhooks/a")
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    sim.inject_fault("error", status=503, times=1, path="/webhooks/a")
    outcome = deliveries.deliver_deliveries([old.pk])
    assert (outcome.failed, outcome.later) == ([old.pk], [])
    old.refresh_from_db()
    assert old.state == "failed"
    assert list(old.attempts_made.values_list("outcome", flat=True)) == ["retry"]
    assert Channel.objects.get(pk=old.channel_id).consecutive_failures == 1


def test_the_next_try_is_never_sooner_than_retry_after(user: Any, settings: Any) -> None:
    settings.NOTIFY_RETRY_MAX_SECONDS = 1.0
    row = webhook_delivery(user, "https://hooks.example.com/x")
    row.attempts = 1
    asked = Attempt(Verdict.RETRY, status=429, retry_after=30.0)
    assert deliveries.DELIVERIES.next_try(row, asked) == 30.0
    assert deliveries.DELIVERIES.next_try(row, Attempt(Verdict.RETRY)) <= 1.0


def test_the_sweep_requeues_a_delivery_whose_sender_died(user: Any) -> None:
    row = webhook_delivery(user, "https://hooks.example.com/x")
    past = timezone.now() - timedelta(minutes=5)
    Delivery.objects.filter(pk=row.pk).update(state="sending", attempts=1, due_at=past)
    queued: list[list[int]] = []
    assert deliveries.requeue_stalled(enqueue=queued.append) == 1
    assert queued == [[row.pk]]
    assert Delivery.objects.get(pk=row.pk).state == "pending"


def test_a_deleted_alerts_delivery_is_cancelled_unsent(user: Any, sim: MessengersSimulator) -> None:
    row = webhook_delivery(user, f"{sim.base_url}/webhooks/a")
    Alert.objects.filter(pk=row.notification.alert_id).update(status="deleted")
    assert deliveries.deliver_deliveries([row.pk]).cancelled == [row.pk]
    assert sim.counter.count(path="/webhooks/a") == 0
