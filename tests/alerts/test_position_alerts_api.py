"""The position alerts API: create, list, read, change, pause, delete, re-arm, firings;
validation of every kind; privacy; API keys read only."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.alerts.models import PositionAlertFiring, PositionAlertState

pytestmark = pytest.mark.django_db

URL = "/api/v1/position-alerts"
NEAR_LIQUIDATION = {"kind": "liquidation_distance", "threshold_percent": "5"}


def _create(client: APIClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _errors(client: APIClient, body: Any, *, method: str = "post", url: str = URL) -> Any:
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"]
    assert answer["detail"]
    return answer["errors"]


def test_create_each_kind_answers_the_alert_as_stored(user_client: APIClient) -> None:
    liquidation = _create(user_client, NEAR_LIQUIDATION)
    assert liquidation == {
        "id": liquidation["id"],
        "account": None,
        "symbol": None,
        "kind": "liquidation_distance",
        "threshold_percent": "5",
        "threshold": None,
        "direction": None,
        "events": None,
        "hysteresis_percent": "10",
        "status": "active",
        "channels": [],
        "created_at": liquidation["created_at"],
        "updated_at": liquidation["updated_at"],
    }
    roe = _create(
        user_client,
        {
            "kind": "pnl_percent",
            "threshold_percent": "-20.5",
            "direction": "below",
            "symbol": "XBTUSDTM",
            "hysteresis_percent": "25",
        },
    )
    assert (roe["threshold_percent"], roe["direction"], roe["symbol"]) == (
        "-20.5",
        "below",
        "XBTUSDTM",
    )
    assert roe["hysteresis_percent"] == "25"
    amount = _create(user_client, {"kind": "pnl_amount", "threshold": 1500, "direction": "above"})
    assert (amount["threshold"], amount["threshold_percent"]) == ("1500", None)
    events = _create(user_client, {"kind": "event", "events": ["closed", "opened", "closed"]})
    assert (events["events"], events["hysteresis_percent"]) == (["closed", "opened"], None)
    assert user_client.get(f"{URL}/{events['id']}").json() == events


def test_an_alert_of_one_account_names_it(
    make_trader: Callable[..., Any], client_for: Callable[[Any], APIClient]
) -> None:
    trader = make_trader()
    client = client_for(trader.user)
    account_id = trader.user.exchange_accounts.get().pk
    created = _create(client, {**NEAR_LIQUIDATION, "account": account_id})
    assert created["account"] == {"id": account_id, "label": "default"}


def test_another_users_account_is_400_on_the_account_field(
    make_trader: Callable[..., Any], client_for: Callable[[Any], APIClient]
) -> None:
    mine, theirs = make_trader(), make_trader()
    their_account = theirs.user.exchange_accounts.get().pk
    errors = _errors(client_for(mine.user), {**NEAR_LIQUIDATION, "account": their_account})
    assert list(errors) == ["account"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"kind"}),
        ({"kind": "liquidation_distance"}, {"threshold_percent"}),
        ({"kind": "liquidation_distance", "threshold_percent": "0"}, {"threshold_percent"}),
        ({"kind": "liquidation_distance", "threshold_percent": "100.1"}, {"threshold_percent"}),
        ({**NEAR_LIQUIDATION, "threshold": "5"}, {"threshold"}),
        ({**NEAR_LIQUIDATION, "direction": "above"}, {"direction"}),
        ({**NEAR_LIQUIDATION, "events": ["closed"]}, {"events"}),
        ({"kind": "pnl_percent", "threshold_percent": "10"}, {"direction"}),
        (
            {"kind": "pnl_percent", "threshold": "10", "direction": "above"},
            {"threshold", "threshold_percent"},
        ),
        (
            {"kind": "pnl_percent", "threshold_percent": "0", "direction": "above"},
            {"threshold_percent"},
        ),
        ({"kind": "pnl_amount", "threshold_percent": "1", "direction": "up"}, {"direction"}),
        ({"kind": "pnl_amount", "threshold": "1e13", "direction": "above"}, {"threshold"}),
        ({"kind": "pnl_amount", "threshold": "NaN", "direction": "above"}, {"threshold"}),
        ({"kind": "pnl_amount", "threshold": "Infinity", "direction": "above"}, {"threshold"}),
        ({"kind": "pnl_amount", "threshold": "-inf", "direction": "above"}, {"threshold"}),
        ({"kind": "pnl_amount", "threshold": True, "direction": "above"}, {"threshold"}),
        ({"kind": "pnl_amount", "threshold": "1" * 400, "direction": "above"}, {"threshold"}),
        ({"kind": "pnl_amount", "threshold": "\u0661\u0662", "direction": "above"}, {"threshold"}),
        (
            {"kind": "pnl_amount", "threshold": {"a": [[[[1]]]]}, "direction": "above"},
            {"threshold"},
        ),
        ({"kind": "event"}, {"events"}),
        ({"kind": "event", "events": []}, {"events"}),
        ({"kind": "event", "events": ["liquidated"]}, {"events"}),
        ({"kind": "event", "events": "closed"}, {"events"}),
        (
            {"kind": "event", "events": ["closed"], "hysteresis_percent": "5"},
            {"hysteresis_percent"},
        ),
        ({**NEAR_LIQUIDATION, "hysteresis_percent": "101"}, {"hysteresis_percent"}),
        ({**NEAR_LIQUIDATION, "hysteresis_percent": "-1"}, {"hysteresis_percent"}),
        ({**NEAR_LIQUIDATION, "symbol": "xbt usdt"}, {"symbol"}),
        ({**NEAR_LIQUIDATION, "symbol": 42}, {"symbol"}),
        ({**NEAR_LIQUIDATION, "account": 2**70}, {"account"}),
        ({**NEAR_LIQUIDATION, "account": "one"}, {"account"}),
        ({"kind": "everything"}, {"kind"}),
    ],
)
def test_a_wrong_alert_is_400_naming_each_wrong_field(
    user_client: APIClient, body: dict[str, Any], fields: set[str]
) -> None:
    assert set(_errors(user_client, body)) == fields


def test_a_lone_surrogate_in_the_symbol_is_400(user_client: APIClient) -> None:
    body = json.dumps({**NEAR_LIQUIDATION, "symbol": "XBT\ud800"})  # sent as "\ud800"
    response = user_client.post(URL, body, content_type="application/json")
    assert response.status_code == 400, response.content


def test_a_body_that_is_not_an_object_is_400(user_client: APIClient) -> None:
    response = user_client.post(URL, [[[[NEAR_LIQUIDATION]]]], format="json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_alerts_are_capped_per_user_deleted_ones_not_counted(
    user_client: APIClient, settings: Any
) -> None:
    settings.POSITION_ALERTS_MAX_PER_USER = 2
    first = _create(user_client, NEAR_LIQUIDATION)
    _create(user_client, NEAR_LIQUIDATION)
    refused = user_client.post(URL, NEAR_LIQUIDATION, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "too_many_position_alerts"
    assert user_client.delete(f"{URL}/{first['id']}").status_code == 204
    _create(user_client, NEAR_LIQUIDATION)


def test_an_account_without_email_cannot_create_one(
    make_user: Callable[..., Any], client_for: Callable[[Any], APIClient]
) -> None:
    client = client_for(make_user(email=""))
    response = client.post(URL, NEAR_LIQUIDATION, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "email_required")


def test_list_filters_by_status_and_hides_deleted(user_client: APIClient) -> None:
    active = _create(user_client, NEAR_LIQUIDATION)
    paused = _create(user_client, {"kind": "event", "events": ["closed"]})
    deleted = _create(user_client, NEAR_LIQUIDATION)
    user_client.patch(f"{URL}/{paused['id']}", {"status": "paused"}, format="json")
    user_client.delete(f"{URL}/{deleted['id']}")

    def ids(query: str = "") -> list[int]:
        body = user_client.get(f"{URL}{query}").json()
        assert set(body) >= {"count", "total_pages", "page", "per_page", "results"}
        return [a["id"] for a in body["results"]]

    assert ids() == [paused["id"], active["id"]]
    assert ids("?status=paused") == [paused["id"]]
    assert ids("?status=deleted") == [deleted["id"]]
    assert user_client.get(f"{URL}?status=gone").status_code == 400
    assert user_client.get(f"{URL}?per_page=0").status_code == 400


def test_patch_changes_what_it_watches_and_re_arms_it(user_client: APIClient, user: Any) -> None:
    created = _create(user_client, NEAR_LIQUIDATION)
    PositionAlertState.objects.create(
        alert_id=created["id"],
        account=_account(user),
        symbol="XBTUSDTM",
        side="long",
        fired_at=timezone.now(),
    )
    response = user_client.patch(
        f"{URL}/{created['id']}",
        {"threshold_percent": "3", "hysteresis_percent": "50", "symbol": "ETHUSDTM"},
        format="json",
    )
    assert response.status_code == 200, response.content
    changed = response.json()
    assert (changed["threshold_percent"], changed["hysteresis_percent"], changed["symbol"]) == (
        "3",
        "50",
        "ETHUSDTM",
    )
    assert not PositionAlertState.objects.exists()
    cleared = user_client.patch(f"{URL}/{created['id']}", {"symbol": None}, format="json")
    assert cleared.json()["symbol"] is None


def test_patch_cannot_change_the_kind_or_take_another_kinds_field(user_client: APIClient) -> None:
    created = _create(user_client, NEAR_LIQUIDATION)
    url = f"{URL}/{created['id']}"
    assert set(_errors(user_client, {"direction": "above"}, method="patch", url=url)) == {
        "direction"
    }
    assert set(_errors(user_client, {"threshold_percent": "0"}, method="patch", url=url)) == {
        "threshold_percent"
    }
    assert set(_errors(user_client, {"status": "deleted"}, method="patch", url=url)) == {"status"}


def test_delete_is_soft_then_activate_and_patch_are_409(user_client: APIClient) -> None:
    created = _create(user_client, NEAR_LIQUIDATION)
    url = f"{URL}/{created['id']}"
    assert user_client.delete(url).status_code == 204
    assert user_client.delete(url).status_code == 204
    assert user_client.get(url).json()["status"] == "deleted"
    assert user_client.post(f"{url}/activate").status_code == 409
    assert user_client.patch(url, {"threshold_percent": "2"}, format="json").status_code == 409


def test_activate_resumes_a_paused_alert_and_forgets_its_fired_positions(
    user_client: APIClient, user: Any
) -> None:
    created = _create(user_client, NEAR_LIQUIDATION)
    url = f"{URL}/{created['id']}"
    assert user_client.patch(url, {"status": "paused"}, format="json").json()["status"] == "paused"
    PositionAlertState.objects.create(
        alert_id=created["id"],
        account=_account(user),
        symbol="XBTUSDTM",
        side="long",
        fired_at=timezone.now(),
    )
    response = user_client.post(f"{url}/activate")
    assert (response.status_code, response.json()["status"]) == (200, "active")
    assert not PositionAlertState.objects.exists()


def test_firings_are_listed_newest_first(user_client: APIClient, user: Any) -> None:
    created = _create(user_client, NEAR_LIQUIDATION)
    account = _account(user)
    now = timezone.now()
    for value in ("4.5", "3.9"):
        PositionAlertFiring.objects.create(
            alert_id=created["id"],
            account=account,
            account_label=account.label,
            symbol="XBTUSDTM",
            side="long",
            size=Decimal(2),
            kind="liquidation_distance",
            value=Decimal(value),
            threshold=Decimal(5),
            direction="below",
            mark_price=Decimal(60000),
            liquidation_price=Decimal(57000),
            settle_currency="USDT",
            fired_at=now,
            due_at=now,
        )
    body = user_client.get(f"{URL}/{created['id']}/firings").json()
    assert body["count"] == 2
    newest = body["results"][0]
    assert (newest["value"], newest["threshold"], newest["email_state"]) == ("3.9", "5", "pending")
    assert newest["account"] == {"id": account.pk, "label": account.label}
    assert (newest["event"], newest["event_kind"]) == (None, "")


def test_another_users_alert_is_404_everywhere(
    make_user: Callable[..., Any], client_for: Callable[[Any], APIClient]
) -> None:
    owner, intruder = client_for(make_user()), client_for(make_user())
    url = f"{URL}/{_create(owner, NEAR_LIQUIDATION)['id']}"
    for response in (
        intruder.get(url),
        intruder.patch(url, {"threshold_percent": "1"}, format="json"),
        intruder.delete(url),
        intruder.post(f"{url}/activate"),
        intruder.get(f"{url}/firings"),
        intruder.get(f"{URL}/999999999"),
    ):
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_found"
    assert intruder.get(URL).json()["count"] == 0
    assert owner.get(url).json()["status"] == "active"


def test_a_personal_api_key_may_read_but_not_write(user_client: APIClient) -> None:
    created = _create(user_client, NEAR_LIQUIDATION)
    key = user_client.post("/api/v1/me/api-keys", {"name": "script"}, format="json").json()["key"]
    script = APIClient()
    script.credentials(HTTP_X_API_KEY=key)
    url = f"{URL}/{created['id']}"
    assert script.get(URL).status_code == 200
    assert script.get(url).status_code == 200
    assert script.get(f"{url}/firings").status_code == 200
    for response in (
        script.post(URL, NEAR_LIQUIDATION, format="json"),
        script.patch(url, {"status": "paused"}, format="json"),
        script.delete(url),
        script.post(f"{url}/activate"),
    ):
        assert response.status_code == 403, response.content
    assert user_client.get(url).json()["status"] == "active"


def test_position_alerts_need_authentication(api_client: APIClient) -> None:
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, NEAR_LIQUIDATION, format="json").status_code == 401


def test_schema_documents_the_position_alert_endpoints(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert {"201", "400", "401"} <= set(paths[URL]["post"]["responses"])
    detail = paths[f"{URL}/{{alert_id}}"]
    assert {"200", "404", "409"} <= set(detail["patch"]["responses"])
    assert {"200", "404", "409"} <= set(paths[f"{URL}/{{alert_id}}/activate"]["post"]["responses"])
    assert "200" in paths[f"{URL}/{{alert_id}}/firings"]["get"]["responses"]
    components = schema["components"]["schemas"]
    assert {
        "PositionAlertOutput",
        "PositionAlertFiringOutput",
        "PositionAlertCreateInputRequest",
    } <= set(components)


def _account(user: Any) -> ExchangeAccount:
    return ExchangeAccount.objects.create(
        user=user,
        label="main",
        api_key_encrypted="x",
        api_secret_encrypted="x",
        api_passphrase_encrypted="x",
        api_key_hint="abcd",
    )
