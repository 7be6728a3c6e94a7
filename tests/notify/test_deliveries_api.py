"""`GET /api/v1/deliveries`: the caller's delivery log, newest first, with each attempt;
filters validated; API keys may read; the routing of firings to channels that fills it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cryptotrack.alerts.models import Alert, AlertNotification, PositionAlert, PositionAlertFiring
from cryptotrack.notify import deliveries
from cryptotrack.notify.models import Channel, Delivery, DeliveryAttempt

pytestmark = pytest.mark.django_db


def channel(user: Any, kind: str = "webhook", name: str = "hook") -> Channel:
    return Channel.objects.create(
        user=user, kind=kind, name=name, config={"url": "https://hooks.example.com/x"}
    )


def price_firing(user: Any, channels: list[Channel]) -> AlertNotification:
    alert = Alert.objects.create(
        user=user, coin="bitcoin", currency="usd", target_price=Decimal(70000), direction="above"
    )
    alert.channels.set(channels)
    now = timezone.now()
    return AlertNotification.objects.create(
        alert=alert,
        coin="bitcoin",
        currency="usd",
        direction="above",
        target_price=Decimal(70000),
        triggered_price=Decimal("70500.5"),
        triggered_at=now,
        due_at=now,
    )


def position_firing(user: Any, channels: list[Channel]) -> PositionAlertFiring:
    alert = PositionAlert.objects.create(user=user, kind="event", events=["opened"])
    alert.channels.set(channels)
    now = timezone.now()
    return PositionAlertFiring.objects.create(
        alert=alert,
        symbol="XBTUSDTM",
        side="long",
        size=Decimal(2),
        kind="event",
        event_kind="opened",
        mark_price=Decimal("70000.1"),
        fired_at=now,
        due_at=now,
    )


def test_a_firing_with_channels_is_routed_to_them_and_one_without_is_emailed(
    user: Any,
) -> None:
    hook, mail = channel(user), channel(user, "email", "mail")
    routed = price_firing(user, [hook, mail])
    emailed = price_firing(user, [])
    emails, made = deliveries.route_price_firings([routed.pk, emailed.pk])
    assert emails == [emailed.pk]
    assert sorted(Delivery.objects.filter(pk__in=made).values_list("channel_id", flat=True)) == [
        hook.pk,
        mail.pk,
    ]
    routed.refresh_from_db()
    assert (routed.state, routed.last_error) == ("cancelled", deliveries.ROUTED)
    assert AlertNotification.objects.get(pk=emailed.pk).state == "pending"
    ids = set(Delivery.objects.values_list("delivery_id", flat=True))
    assert len(ids) == 2
    assert all(i.startswith("dlv_") for i in ids)


def test_the_message_says_what_fired_with_its_fields_as_data(user: Any) -> None:
    firing = position_firing(user, [channel(user)])
    _, (made,) = deliveries.route_position_firings([firing.pk])
    message = deliveries.message_of(Delivery.objects.get(pk=made))
    assert message.event == "position_alert.fired"
    assert message.title.startswith("Position alert: XBTUSDTM long")
    assert "was opened" in message.text
    assert message.data["alert_id"] == firing.alert_id
    assert (message.data["size"], message.data["mark_price"]) == ("2", "70000.1")
    assert message.data["fired_at"] == firing.fired_at.isoformat()
    assert "state" not in message.data
    assert "attempts" not in message.data


def test_the_log_lists_the_callers_deliveries_newest_first_with_attempts(
    user: Any, user_client: APIClient, make_user: Callable[..., Any]
) -> None:
    hook, tg = channel(user), channel(user, "telegram", "tg")
    deliveries.route_price_firings([price_firing(user, [hook]).pk])
    deliveries.route_position_firings([position_firing(user, [tg]).pk])
    stranger = make_user()
    deliveries.route_price_firings([price_firing(stranger, [channel(stranger)]).pk])
    first = Delivery.objects.filter(channel=hook).get()
    Delivery.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    at = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=first, at=at, outcome="retry", status_code=503, error="HTTP 503", retry_after=2.0
    )

    page = user_client.get("/api/v1/deliveries")
    assert page.status_code == 200
    body = page.json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert newest["alert"]["type"] == "position"
    assert newest["channel"] == {"id": tg.pk, "kind": "telegram", "name": "tg"}
    assert oldest["delivery_id"] == first.delivery_id
    assert oldest["alert"] == {"type": "price", "id": first.notification.alert_id}
    assert oldest["status"] == "pending"
    (attempt,) = oldest["attempts"]
    assert (attempt["outcome"], attempt["status_code"], attempt["retry_after"]) == (
        "retry",
        503,
        2.0,
    )
    assert set(oldest) == {
        "id",
        "delivery_id",
        "channel",
        "alert",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "last_error",
    }

    def ids(query: str) -> list[int]:
        answer = user_client.get(f"/api/v1/deliveries?{query}")
        assert answer.status_code == 200, answer.content
        return [row["id"] for row in answer.json()["results"]]

    assert ids(f"channel={hook.pk}") == [first.pk]
    assert ids("alert_type=position") == [newest["id"]]
    assert ids(f"alert_type=price&alert={first.notification.alert_id}") == [first.pk]
    assert ids("status=sent") == []
    assert ids("channel=999999") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("channel=abc", "channel"),
        ("channel=0", "channel"),
        ("channel=99999999999999999999999", "channel"),
        ("channel=NaN", "channel"),
        ("status=delivered", "status"),
        ("alert_type=margin", "alert_type"),
        ("alert=1", "alert_type"),
        ("alert_type=price&alert=-1", "alert"),
        ("alert_type=price&alert=%ED%A0%80", "alert"),
    ],
)
def test_bad_filters_are_400_naming_the_field(
    user_client: APIClient, query: str, field: str
) -> None:
    answer = user_client.get(f"/api/v1/deliveries?{query}")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"]


def test_an_api_key_may_read_the_log(user: Any, user_client: APIClient) -> None:
    deliveries.route_price_firings([price_firing(user, [channel(user)]).pk])
    key = user_client.post("/api/v1/me/api-keys", {"name": "ro"}, format="json").json()["key"]
    reader = APIClient()
    reader.credentials(HTTP_X_API_KEY=key)
    assert reader.get("/api/v1/deliveries").json()["count"] == 1
    assert APIClient().get("/api/v1/deliveries").status_code == 401
