"""Position events through the real poll path (KuCoin simulator, in process) and their API.

Polls are recorded by ``polling.poll_batch`` as a worker records them; the list is read
through ``GET /api/v1/positions/events``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cryptotrack.accounts import services as accounts
from cryptotrack.positions import polling, services
from cryptotrack.positions.models import PositionEvent, TrackingSubscription
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.support.tracking import poll as _poll
from tests.support.tracking import track as _track

pytestmark = pytest.mark.django_db(transaction=True)


def _events(client: Any, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/positions/events{query}")
    assert response.status_code == 200, response.content
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def _kinds(client: Any, query: str = "") -> list[tuple[str, str, str, Decimal, Decimal]]:
    """(kind, symbol, side, size_before, size_after), oldest first."""
    return [
        (e["kind"], e["symbol"], e["side"], Decimal(e["size_before"]), Decimal(e["size_after"]))
        for e in reversed(_events(client, query))
    ]


@pytest.fixture
def tracked(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> tuple[Any, TrackingSubscription, Any]:
    """A trader whose tracking has made its baseline poll (no positions yet)."""
    trader = make_trader()
    subscription = _track(trader)
    _poll(subscription)
    return trader, subscription, client_for(trader.user)


def test_open_resize_close_and_flip_make_one_event_each(
    tracked: tuple[Any, TrackingSubscription, Any], kucoin_sim: KucoinSimulator
) -> None:
    trader, subscription, client = tracked
    sim_key = trader.api_key

    kucoin_sim.open_position(sim_key, "XBTUSDTM", side="long", size=2, entry_price=60000)
    _poll(subscription)
    kucoin_sim.resize_position(sim_key, "XBTUSDTM", 5)
    _poll(subscription)
    kucoin_sim.set_mark_price("XBTUSDTM", 60500)  # only the mark moves: no event
    _poll(subscription)
    kucoin_sim.resize_position(sim_key, "XBTUSDTM", 3)
    _poll(subscription)
    kucoin_sim.open_position(sim_key, "XBTUSDTM", side="short", size=4)
    _poll(subscription)
    kucoin_sim.close_position(sim_key, "XBTUSDTM")
    _poll(subscription)

    assert _kinds(client) == [
        ("opened", "XBTUSDTM", "long", 0, 2),
        ("increased", "XBTUSDTM", "long", 2, 5),
        ("reduced", "XBTUSDTM", "long", 5, 3),
        ("side_flipped", "XBTUSDTM", "short", 3, 4),
        ("closed", "XBTUSDTM", "short", 4, 0),
    ]
    newest = _events(client)[0]
    assert newest["account"]["label"] == "default"
    assert newest["settle_currency"] == "USDT"
    assert Decimal(newest["mark_price"]) == 60500
    assert newest["at"].endswith("Z")
    assert isinstance(newest["id"], int)


def _finish(kucoin_sim: KucoinSimulator, scenario: dict[str, Any]) -> None:
    """Wait (10 s at most) for a simulator scenario to finish."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [state] = [s["state"] for s in kucoin_sim.scenarios() if s["id"] == scenario["id"]]
        if state != "running":
            assert state == "finished"
            return
        time.sleep(0.01)
    raise AssertionError(f"scenario {scenario} still running")


def test_simulator_scenarios_partial_close_and_flip_make_their_events(
    tracked: tuple[Any, TrackingSubscription, Any], kucoin_sim: KucoinSimulator
) -> None:
    trader, subscription, client = tracked
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", side="long", size=10)
    _poll(subscription)

    _finish(
        kucoin_sim,
        kucoin_sim.start_scenario(
            "partial_close", trader.api_key, "XBTUSDTM", fraction=0.4, step_seconds=0.01
        ),
    )
    _poll(subscription)
    _finish(kucoin_sim, kucoin_sim.start_scenario("flip", trader.api_key, "XBTUSDTM"))
    _poll(subscription)

    assert _kinds(client) == [
        ("opened", "XBTUSDTM", "long", 0, 10),
        ("reduced", "XBTUSDTM", "long", 10, 6),
        ("side_flipped", "XBTUSDTM", "short", 6, 6),
    ]
    reduced = _events(client, "?kind=reduced")[0]
    assert Decimal(reduced["realised_pnl"]) != 0  # the closed part's fees at least


def test_first_poll_after_start_and_restart_is_a_baseline(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    trader = make_trader()
    client = client_for(trader.user)
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=1)
    kucoin_sim.open_position(trader.api_key, "ETHUSDTM", size=2)
    subscription = _track(trader)
    _poll(subscription)
    assert _events(client) == []  # already open when tracking started: no burst

    services.stop_tracking(user=trader.user)
    kucoin_sim.open_position(trader.api_key, "SOLUSDTM", size=3)  # while stopped
    kucoin_sim.close_position(trader.api_key, "ETHUSDTM")
    subscription = _track(trader)
    _poll(subscription)
    assert _events(client) == []

    kucoin_sim.resize_position(trader.api_key, "SOLUSDTM", 4)
    _poll(subscription)
    assert _kinds(client) == [("increased", "SOLUSDTM", "long", 3, 4)]


def test_a_batch_delivered_twice_makes_no_duplicate_event(
    tracked: tuple[Any, TrackingSubscription, Any], kucoin_sim: KucoinSimulator
) -> None:
    trader, subscription, client = tracked
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=1)
    batch = [(subscription.id, timezone.now().isoformat())]

    first = polling.poll_batch(batch=batch)
    again = polling.poll_batch(batch=batch)

    assert (first.polled, again.polled) == (1, 0)
    assert _kinds(client) == [("opened", "XBTUSDTM", "long", 0, 1)]


def test_each_user_lists_only_their_own_events(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, client_for: Any
) -> None:
    alice, bob = make_trader(), make_trader()
    subscriptions = _track(alice), _track(bob)
    _poll(*subscriptions)
    kucoin_sim.open_position(alice.api_key, "XBTUSDTM", size=1)
    kucoin_sim.open_position(bob.api_key, "ETHUSDTM", size=7)
    _poll(*subscriptions)

    assert [e["symbol"] for e in _events(client_for(alice.user))] == ["XBTUSDTM"]
    assert [e["symbol"] for e in _events(client_for(bob.user))] == ["ETHUSDTM"]
    bobs_account = PositionEvent.objects.get(symbol="ETHUSDTM").account_id
    assert _events(client_for(alice.user), f"?account={bobs_account}") == []


def _event(user: Any, account: Any, *, at: Any, **fields: Any) -> PositionEvent:
    values = {
        "symbol": "XBTUSDTM",
        "kind": "opened",
        "side": "long",
        "size_before": 0,
        "size_after": 1,
        "entry_price": 1,
        "mark_price": 1,
        "realised_pnl": 0,
    }
    values |= fields
    return PositionEvent.objects.create(
        user=user, account=account, account_label=account.label, at=at, **values
    )


def test_filters_and_newest_first(
    make_trader: Callable[..., Any], client_for: Any, kucoin_sim: KucoinSimulator
) -> None:
    trader = make_trader()
    client = client_for(trader.user)
    main = trader.user.exchange_accounts.get()
    other = accounts.exchange_account_store(
        user=trader.user, credentials=trader.credentials, label="hedge"
    )
    now = timezone.now().replace(microsecond=0)
    e1 = _event(trader.user, main, at=now - timedelta(hours=3))
    e2 = _event(trader.user, main, at=now - timedelta(hours=2), kind="closed", size_after=0)
    e3 = _event(trader.user, other, at=now - timedelta(hours=1), symbol="ETHUSDTM")
    e4 = _event(trader.user, main, at=now - timedelta(hours=1), kind="increased")

    def ids(query: str = "") -> list[int]:
        return [e["id"] for e in _events(client, query)]

    assert ids() == [e4.id, e3.id, e2.id, e1.id]  # -at, -id
    assert ids("?symbol=ETHUSDTM") == [e3.id]
    assert ids("?kind=closed") == [e2.id]
    assert ids(f"?account={other.pk}") == [e3.id]
    since = (now - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    until = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"?since={since}&until={until}") == [e2.id]
    page = client.get("/api/v1/positions/events?per_page=2").json()
    assert (page["count"], page["total_pages"], len(page["results"])) == (4, 2, 2)
    by_cursor = client.get(f"/api/v1/positions/events?cursor={page['next_cursor']}").json()
    assert [e["id"] for e in by_cursor["results"]] == [e2.id, e1.id]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=exploded", "kind"),
        ("since=yesterday", "since"),
        ("since=2026-01-01T00:00:00", "since"),  # no timezone
        ("until=9999-12-31T23:59:59-14:00", "until"),
        ("since=2026-02-30T00:00:00Z", "since"),
        ("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
        ("account=-1", "account"),
        ("account=%F0%9D%9F%99", "account"),  # a non-ASCII digit
        ("symbol=" + "X" * 41, "symbol"),
        ("cursor=nonsense", "cursor"),
    ],
)
def test_bad_filters_are_400_naming_the_field(
    user_client: Any, query: str, field: str, kucoin_sim: KucoinSimulator
) -> None:
    response = user_client.get(f"/api/v1/positions/events?{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_readable_with_an_api_key(user_client: Any, api_client: Any) -> None:
    created = user_client.post("/api/v1/me/api-keys", {"name": "script"}, format="json")
    assert created.status_code == 201, created.content
    response = api_client.get("/api/v1/positions/events", HTTP_X_API_KEY=created.json()["key"])
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_events_outlive_their_account_unless_purged(
    make_trader: Callable[..., Any], client_for: Any, kucoin_sim: KucoinSimulator
) -> None:
    trader = make_trader()
    client = client_for(trader.user)
    kept = accounts.exchange_account_store(
        user=trader.user, credentials=trader.credentials, label="kept"
    )
    purged = accounts.exchange_account_store(
        user=trader.user, credentials=trader.credentials, label="purged"
    )
    _event(trader.user, kept, at=timezone.now())
    _event(trader.user, purged, at=timezone.now())
    renamed = client.patch(
        f"/api/v1/exchange-accounts/{kept.pk}", {"label": "renamed"}, format="json"
    )
    assert renamed.status_code == 200, renamed.content

    assert client.delete(f"/api/v1/exchange-accounts/{kept.pk}").status_code == 204
    assert client.delete(f"/api/v1/exchange-accounts/{purged.pk}?purge=true").status_code == 204

    assert [e["account"] for e in _events(client)] == [{"id": None, "label": "renamed"}]


def test_retention_purges_old_events(
    make_trader: Callable[..., Any], settings: Any, kucoin_sim: KucoinSimulator
) -> None:
    settings.POSITIONS_HISTORY_RETENTION_DAYS = 7
    trader = make_trader()
    account = trader.user.exchange_accounts.get()
    _event(trader.user, account, at=timezone.now() - timedelta(days=8))
    recent = _event(trader.user, account, at=timezone.now() - timedelta(days=6))

    assert services.purge_position_history() == 1
    assert list(PositionEvent.objects.values_list("id", flat=True)) == [recent.id]


def test_the_admin_lists_events_read_only(
    make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator, make_user: Callable[..., Any]
) -> None:
    trader = make_trader()
    event = _event(trader.user, trader.user.exchange_accounts.get(), at=timezone.now())
    operator = make_user(username="operator")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    client = Client()
    client.force_login(operator)

    listed = client.get("/admin/positions/positionevent/")
    assert listed.status_code == 200
    assert b"XBTUSDTM" in listed.content
    assert client.get("/admin/positions/positionevent/add/").status_code == 403
    change = client.post(f"/admin/positions/positionevent/{event.pk}/change/", {"symbol": "X"})
    assert change.status_code in {403, 200}
    event.refresh_from_db()
    assert event.symbol == "XBTUSDTM"


@pytest.mark.parametrize("path", ["/api/v1/positions", "/api/v1/positions/events"])
def test_an_account_id_beyond_any_row_finds_nothing_on_both_lists(
    user_client: Any, path: str, kucoin_sim: KucoinSimulator
) -> None:
    response = user_client.get(f"{path}?account={10**30}")
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
