"""`channels` on price and position alerts: set on create, changed by PATCH, answered;
only the caller's channel ids; hostile values are 400 on `channels`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from cryptotrack.notify.models import Channel
from cryptotrack.simulators.coingecko import CoinGeckoSimulator

pytestmark = pytest.mark.django_db


def channels_of(user: Any, *names: str) -> list[int]:
    return [
        Channel.objects.create(user=user, kind="email", name=name, config={"address": "a@b.c"}).pk
        for name in names
    ]


def new_alert(client: APIClient, channels: Any) -> Any:
    body = {
        "coin": "bitcoin",
        "currency": "usd",
        "target_price": "70000",
        "direction": "above",
        "channels": channels,
    }
    # json.dumps escapes a lone surrogate (\\ud800), as a hostile client may send it.
    return client.post("/api/v1/alerts", json.dumps(body), content_type="application/json")


def test_price_alert_channels_are_set_changed_and_answered(
    coingecko: CoinGeckoSimulator, user: Any, user_client: APIClient
) -> None:
    one, two = channels_of(user, "a", "b")
    created = new_alert(user_client, [two, one])
    assert created.status_code == 201, created.content
    assert created.json()["channels"] == [one, two]
    alert_id = created.json()["id"]
    changed = user_client.patch(f"/api/v1/alerts/{alert_id}", {"channels": [two]}, format="json")
    assert changed.json()["channels"] == [two]
    assert user_client.get("/api/v1/alerts").json()["results"][0]["channels"] == [two]
    back = user_client.patch(f"/api/v1/alerts/{alert_id}", {"channels": []}, format="json")
    assert back.json()["channels"] == []
    untouched = user_client.patch(
        f"/api/v1/alerts/{alert_id}", {"target_price": "71000"}, format="json"
    )
    assert untouched.json()["channels"] == []
    assert new_alert(user_client, None).status_code == 400
    assert (
        user_client.post(
            "/api/v1/alerts",
            {"coin": "bitcoin", "currency": "usd", "target_price": "1", "direction": "above"},
            format="json",
        ).json()["channels"]
        == []
    )


@pytest.mark.parametrize(
    "channels",
    [
        "not a list",
        ["x"],
        [True],
        [0],
        [-1],
        [2**63],
        [10**30],
        [1.5],
        [[1]],
        [{"id": 1}],
        list(range(1, 30)),
    ],
)
def test_hostile_channel_lists_are_400_on_channels(
    coingecko: CoinGeckoSimulator, user_client: APIClient, channels: Any
) -> None:
    answer = new_alert(user_client, channels)
    assert answer.status_code == 400, answer.content
    assert "channels" in answer.json()["errors"]


def test_a_lone_surrogate_in_channels_is_a_400_not_a_500(
    coingecko: CoinGeckoSimulator, user_client: APIClient
) -> None:
    answer = new_alert(user_client, ["\ud800"])
    assert answer.status_code == 400
    assert answer.json()["detail"]


def test_another_users_channel_is_refused_on_both_kinds_of_alert(
    coingecko: CoinGeckoSimulator,
    user: Any,
    user_client: APIClient,
    make_user: Callable[..., Any],
) -> None:
    (mine,) = channels_of(user, "mine")
    (theirs,) = channels_of(make_user(), "theirs")
    refused = new_alert(user_client, [mine, theirs])
    assert refused.status_code == 400
    assert str(theirs) in refused.json()["errors"]["channels"][0]
    position = user_client.post(
        "/api/v1/position-alerts",
        {"kind": "event", "events": ["opened"], "channels": [theirs]},
        format="json",
    )
    assert position.status_code == 400
    assert "channels" in position.json()["errors"]


def test_position_alert_channels_are_set_and_a_change_does_not_rearm(
    user: Any, user_client: APIClient
) -> None:
    one, two = channels_of(user, "a", "b")
    created = user_client.post(
        "/api/v1/position-alerts",
        {"kind": "liquidation_distance", "threshold_percent": "5", "channels": [one]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["channels"] == [one]
    path = f"/api/v1/position-alerts/{created.json()['id']}"
    changed = user_client.patch(path, {"channels": [one, two]}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["channels"] == [one, two]
    assert changed.json()["threshold_percent"] == "5"
    assert user_client.get("/api/v1/position-alerts").json()["results"][0]["channels"] == [
        one,
        two,
    ]
