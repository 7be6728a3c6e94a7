"""Balances on the KuCoin simulator: several keys (main and sub-accounts) of one simulated
user, each with its own positions and wallets; spot accounts and the futures account
overview in KuCoin's recorded shapes, derived from the key's balance and positions."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from cryptotrack.simulators.control import ControlClient, ControlClientError
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.exchanges.kucoin_fixtures import (
    API_KEY,
    API_PASSPHRASE,
    API_SECRET,
    independent_headers,
    sample_json,
)
from tests.simulators.test_kucoin_sim_state import assert_same_shape, get

SUB = ("sub-key-000001", "sub-secret-000001", "sub-pass")


@pytest.fixture(scope="module")
def sim():
    with KucoinSimulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.add_key(API_KEY, API_SECRET, API_PASSPHRASE)


def test_account_overview_has_kucoins_fields_and_types(sim):
    sim.set_futures_balance(API_KEY, "1000")
    ours = get(sim, "/api/v1/account-overview?currency=USDT")
    assert_same_shape(ours, sample_json("kucoin_futures_account_overview")["data"])
    assert ours["currency"] == "USDT"


def test_an_unfunded_futures_account_answers_zeros_in_kucoins_default_currency(sim):
    ours = get(sim, "/api/v1/account-overview")
    assert ours["currency"] == "XBT"
    assert ours["accountEquity"] == ours["availableBalance"] == ours["riskRatio"] == 0


def test_equity_is_balance_plus_unrealised_pnl_of_that_currencys_positions(sim):
    sim.set_futures_balance(API_KEY, "1000", order_margin="10", frozen_funds="5")
    sim.open_position(API_KEY, "XBTUSDTM", size=2, entry_price=60000, mark_price=61000)
    sim.open_position(API_KEY, "XBTUSDM", size=100, entry_price=60000)  # settles in XBT
    (position,) = [p for p in get(sim, "/api/v1/positions") if p["symbol"] == "XBTUSDTM"]

    ours = get(sim, "/api/v1/account-overview?currency=USDT")

    upnl = Decimal(str(position["unrealisedPnl"]))
    margin = Decimal(str(position["posMargin"]))
    assert upnl > 0
    assert Decimal(str(ours["unrealisedPNL"])) == upnl
    assert Decimal(str(ours["accountEquity"])) == 1000 + upnl
    assert Decimal(str(ours["marginBalance"])) == 1000
    assert Decimal(str(ours["positionMargin"])) == margin
    assert (ours["orderMargin"], ours["frozenFunds"]) == (10, 5)
    # An unrealised profit is not spendable: available = balance - margins held.
    assert Decimal(str(ours["availableBalance"])) == 1000 - margin - 10 - 5
    assert 0 < ours["riskRatio"] < 1


def test_an_unrealised_loss_reduces_what_is_available(sim):
    sim.set_futures_balance(API_KEY, "1000")
    sim.open_position(API_KEY, "XBTUSDTM", size=1, entry_price=60000, mark_price=59000)
    (position,) = get(sim, "/api/v1/positions")
    ours = get(sim, "/api/v1/account-overview?currency=USDT")
    upnl, margin = Decimal(str(position["unrealisedPnl"])), Decimal(str(position["posMargin"]))
    assert upnl < 0
    assert Decimal(str(ours["availableBalance"])) == 1000 + upnl - margin


def test_keys_of_one_user_hold_their_own_positions_and_balances(sim):
    main = sim.state.key(API_KEY)
    sub = sim.add_key(*SUB, uid=main.uid, sub_name="scalping")
    sim.open_position(API_KEY, "XBTUSDTM", size=1)
    sim.open_position(sub.api_key, "ETHUSDTM", size=5, side="short")
    sim.set_balance(API_KEY, "USDT", "100")
    sim.set_balance(sub.api_key, "BTC", "0.5")
    sim.set_futures_balance(API_KEY, "1000")
    sim.set_futures_balance(sub.api_key, "250")

    main_info = get(sim, "/api/v1/user/api-key")
    sub_info = get(sim, "/api/v1/user/api-key", SUB)
    assert main_info["uid"] == sub_info["uid"] == main.uid
    assert (main_info["isMaster"], "subName" in main_info) == (True, False)
    assert (sub_info["isMaster"], sub_info["subName"]) == (False, "scalping")
    assert [p["symbol"] for p in get(sim, "/api/v1/positions", SUB)] == ["ETHUSDTM"]
    assert [p["symbol"] for p in get(sim, "/api/v1/positions")] == ["XBTUSDTM"]
    assert [a["currency"] for a in get(sim, "/api/v1/accounts", SUB)] == ["BTC"]
    assert [a["currency"] for a in get(sim, "/api/v1/accounts")] == ["USDT"]
    assert get(sim, "/api/v1/account-overview?currency=USDT", SUB)["marginBalance"] == 250
    assert get(sim, "/api/v1/account-overview?currency=USDT")["marginBalance"] == 1000


def test_spot_accounts_filter_by_currency_and_type(sim):
    sim.set_balance(API_KEY, "USDT", "10", account_type="trade")
    sim.set_balance(API_KEY, "USDT", "20", account_type="main")
    sim.set_balance(API_KEY, "BTC", "1", account_type="main")
    assert len(get(sim, "/api/v1/accounts")) == 3
    assert [a["balance"] for a in get(sim, "/api/v1/accounts?currency=USDT&type=main")] == ["20"]
    assert [a["currency"] for a in get(sim, "/api/v1/accounts?type=main")] == ["USDT", "BTC"]


def test_account_overview_is_signed_and_spends_the_futures_pool(sim):
    sim.configure(rate_limit={"futures": 5}, rate_limit_window=30)
    get(sim, "/api/v1/account-overview?currency=USDT")
    response = httpx.get(sim.url + "/api/v1/account-overview?currency=USDT")
    assert (response.status_code, response.json()["code"]) == (400, "400001")
    headers = independent_headers(
        key=API_KEY,
        secret=API_SECRET,
        passphrase=API_PASSPHRASE,
        method="GET",
        path_and_query="/api/v1/account-overview?currency=USDT",
    )
    limited = httpx.get(sim.url + "/api/v1/account-overview?currency=USDT", headers=headers)
    assert (limited.status_code, limited.json()["code"]) == (429, "429000")


def test_control_api_adds_sub_account_keys_and_sets_futures_balances(sim):
    with ControlClient(sim.url) as control:
        main = control.post(
            "/keys", {"api_key": "m-1", "api_secret": "s-1", "api_passphrase": "p-1"}
        )
        sub = control.post(
            "/keys",
            {
                "api_key": "s-2",
                "api_secret": "s-2",
                "api_passphrase": "p-2",
                "uid": main["uid"],
                "sub_name": "bots",
            },
        )
        overview = control.request(
            "PUT", "/keys/s-2/futures-balance", {"balance": "321.5", "order_margin": "1.5"}
        )
        with pytest.raises(ControlClientError) as bad:
            control.request("PUT", "/keys/s-2/futures-balance", {"balance": "-1"})
        with pytest.raises(ControlClientError) as unknown:
            control.request("PUT", "/keys/nobody/futures-balance", {"balance": "1"})
        read = control.get("/keys/s-2/futures-balance", {"currency": "USDT"})

    assert (sub["uid"], sub["is_master"], sub["sub_name"]) == (main["uid"], False, "bots")
    assert (overview["marginBalance"], overview["availableBalance"]) == (321.5, 320.0)
    assert read == overview
    assert (bad.value.status, unknown.value.status) == (400, 404)
