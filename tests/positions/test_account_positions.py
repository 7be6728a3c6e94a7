"""A user with two exchange accounts (two simulator keys with different positions):
each tracked on its own, positions labelled and filterable, a revoked key pausing its
account only, renames seen at once, deletes removing positions but not history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import caches

from cryptotrack.accounts import services as accounts
from cryptotrack.accounts import user_cache
from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.positions import cache as positions_cache
from cryptotrack.positions.models import Position, PositionSnapshot, TrackingSubscription
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.positions.conftest import Trader
from tests.positions.test_polling import _poll, _positions

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class TwoAccounts:
    trader: Trader
    client: Any
    main: ExchangeAccount
    sub: ExchangeAccount
    sub_key: str


@pytest.fixture
def two_accounts(
    make_trader: Callable[..., Trader], kucoin_sim: KucoinSimulator, client_for: Any
) -> TwoAccounts:
    """A trader whose ``default`` account holds a long XBT and whose ``Sub 1`` a short ETH."""
    trader = make_trader()
    sub_credentials = KucoinCredentials(
        f"sub-{trader.user.pk:05d}-key", "sub-secret-0123456789", "sub-pass"
    )
    kucoin_sim.add_key(
        sub_credentials.api_key, sub_credentials.api_secret, sub_credentials.api_passphrase
    )
    sub = accounts.exchange_account_create(
        user=trader.user, label="Sub 1", credentials=sub_credentials
    )
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", side="long", size=2)
    kucoin_sim.open_position(sub_credentials.api_key, "ETHUSDTM", side="short", size=5)
    return TwoAccounts(
        trader=trader,
        client=client_for(trader.user),
        main=trader.user.exchange_accounts.get(label="default"),
        sub=sub,
        sub_key=sub_credentials.api_key,
    )


def _track_both(two: TwoAccounts) -> tuple[TrackingSubscription, TrackingSubscription]:
    for account in (two.main, two.sub):
        response = two.client.post(
            f"/api/v1/exchange-accounts/{account.pk}/tracking", {}, format="json"
        )
        assert response.status_code == 201, response.json()
    return (
        TrackingSubscription.objects.get(account=two.main),
        TrackingSubscription.objects.get(account=two.sub),
    )


def _labelled(body: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((p["account"]["label"], p["symbol"]) for p in body["results"])


def test_both_accounts_positions_show_labelled_and_filter_by_account(
    two_accounts: TwoAccounts, make_trader: Callable[..., Trader], client_for: Any
) -> None:
    two = two_accounts
    main, sub = _track_both(two)
    assert main.pk != sub.pk

    _poll(main, sub)

    everything = _positions(two.client)
    assert everything["source"] == "cache"
    assert _labelled(everything) == [("Sub 1", "ETHUSDTM"), ("default", "XBTUSDTM")]
    assert {p["account"]["id"] for p in everything["results"]} == {two.main.pk, two.sub.pk}
    only_sub = _positions(two.client, f"?account={two.sub.pk}")
    assert _labelled(only_sub) == [("Sub 1", "ETHUSDTM")]
    assert _labelled(_positions(two.client, f"?account={two.sub.pk}&symbol=XBTUSDTM")) == []
    # Another user's account id finds nothing, like an unknown symbol; a non-id is a 400.
    stranger = client_for(make_trader().user)
    assert _positions(stranger, f"?account={two.sub.pk}")["results"] == []
    assert two.client.get("/api/v1/positions?account=sub").status_code == 400
    history = two.client.get(f"/api/v1/positions/history?account={two.main.pk}").json()
    assert {(s["account"]["label"], s["symbol"]) for s in history["results"]} == {
        ("default", "XBTUSDTM")
    }


def test_database_fallback_answers_the_same_as_the_cache(two_accounts: TwoAccounts) -> None:
    two = two_accounts
    _poll(*_track_both(two))
    cached = _positions(two.client)

    caches["live"].delete(positions_cache.user_key(two.trader.user.pk))
    from_db = _positions(two.client)

    assert from_db["source"] == "database"
    assert from_db["results"] == cached["results"]
    assert _positions(two.client, f"?account={two.main.pk}")["source"] == "cache"  # refilled


def test_each_account_has_its_own_schedule_and_tracking_state(
    two_accounts: TwoAccounts,
) -> None:
    two = two_accounts
    main, _ = _track_both(two)
    url = f"/api/v1/exchange-accounts/{two.sub.pk}/tracking"

    assert two.client.delete(url).status_code == 204

    assert two.client.get(url).json()["state"] == "stopped"
    assert two.client.get("/api/v1/tracking").json()["state"] == "active"  # the default one
    main.refresh_from_db()
    assert main.state == "active"
    again = two.client.post(url, {"symbols": ["ETHUSDTM"]}, format="json")
    assert again.status_code == 201
    assert again.json()["symbols"] == ["ETHUSDTM"]


def test_revoking_one_accounts_key_pauses_that_account_only(
    two_accounts: TwoAccounts, kucoin_sim: KucoinSimulator
) -> None:
    two = two_accounts
    main, sub = _track_both(two)
    kucoin_sim.remove_key(two.sub_key)

    _poll(main, sub)

    sub_status = two.client.get(f"/api/v1/exchange-accounts/{two.sub.pk}/tracking").json()
    main_status = two.client.get(f"/api/v1/exchange-accounts/{two.main.pk}/tracking").json()
    assert sub_status["state"] == "paused"
    assert sub_status["last_error"]["kind"] == "invalid_credentials"
    assert main_status["state"] == "active"
    assert main_status["last_error"] is None
    assert two.client.get(f"/api/v1/exchange-accounts/{two.sub.pk}").json()["status"] == "invalid"
    assert two.client.get(f"/api/v1/exchange-accounts/{two.main.pk}").json()["status"] == "valid"

    # A new valid key on that account resumes it.
    kucoin_sim.add_key("sub-new-key-0001", "sub-new-secret-0001", "sub-new-pass")
    patched = two.client.patch(
        f"/api/v1/exchange-accounts/{two.sub.pk}",
        {
            "api_key": "sub-new-key-0001",
            "api_secret": "sub-new-secret-0001",
            "api_passphrase": "sub-new-pass",
        },
        format="json",
    )
    assert patched.status_code == 200
    sub.refresh_from_db()
    assert sub.state == "active"


def test_a_rename_shows_in_the_next_read(two_accounts: TwoAccounts) -> None:
    two = two_accounts
    _poll(*_track_both(two))
    assert ("Sub 1", "ETHUSDTM") in _labelled(_positions(two.client))

    renamed = two.client.patch(
        f"/api/v1/exchange-accounts/{two.sub.pk}", {"label": "Hedges"}, format="json"
    )

    assert renamed.status_code == 200
    assert _labelled(_positions(two.client)) == [("Hedges", "ETHUSDTM"), ("default", "XBTUSDTM")]
    history = two.client.get(f"/api/v1/positions/history?account={two.sub.pk}").json()
    assert {s["account"]["label"] for s in history["results"]} == {"Hedges"}


def test_delete_removes_positions_and_tracking_but_keeps_history(
    two_accounts: TwoAccounts,
) -> None:
    two = two_accounts
    _poll(*_track_both(two))

    assert two.client.delete(f"/api/v1/exchange-accounts/{two.sub.pk}").status_code == 204

    assert _labelled(_positions(two.client)) == [("default", "XBTUSDTM")]
    assert not Position.objects.filter(symbol="ETHUSDTM").exists()
    assert TrackingSubscription.objects.filter(user=two.trader.user).count() == 1
    history = two.client.get("/api/v1/positions/history?symbol=ETHUSDTM").json()
    assert history["count"] >= 1
    assert {(s["account"]["id"], s["account"]["label"]) for s in history["results"]} == {
        (None, "Sub 1")
    }
    assert two.client.get(f"/api/v1/exchange-accounts/{two.sub.pk}").status_code == 404


def test_delete_with_purge_removes_history_too(two_accounts: TwoAccounts) -> None:
    two = two_accounts
    _poll(*_track_both(two))

    response = two.client.delete(f"/api/v1/exchange-accounts/{two.sub.pk}?purge=true")

    assert response.status_code == 204
    assert not PositionSnapshot.objects.filter(symbol="ETHUSDTM").exists()
    assert PositionSnapshot.objects.filter(symbol="XBTUSDTM").exists()  # the other account's
    assert (
        two.client.delete(f"/api/v1/exchange-accounts/{two.main.pk}?purge=maybe").status_code == 400
    )


def test_cached_positions_of_two_accounts_cost_no_query(
    two_accounts: TwoAccounts, django_assert_num_queries: Any
) -> None:
    two = two_accounts
    _poll(*_track_both(two))
    caches["live"].delete(user_cache.cache_key(two.trader.user.pk))  # sign-in's tombstone
    _positions(two.client)  # caches the JWT's user

    with django_assert_num_queries(0):
        body = _positions(two.client)

    assert body["count"] == 2
    assert body["source"] == "cache"


def test_tracking_without_a_default_account_answers_as_without_credentials(
    make_user: Callable[..., Any], client_for: Any, kucoin_sim: KucoinSimulator
) -> None:
    user = make_user()
    kucoin_sim.add_key("only-sub-key-0001", "only-sub-secret-01", "pass")
    accounts.exchange_account_create(
        user=user,
        label="sub",
        credentials=KucoinCredentials("only-sub-key-0001", "only-sub-secret-01", "pass"),
    )
    client = client_for(user)

    assert client.get("/api/v1/tracking").json()["state"] == "stopped"
    refused = client.post("/api/v1/tracking", {}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "no_credentials"
    assert client.delete("/api/v1/tracking").status_code == 204
