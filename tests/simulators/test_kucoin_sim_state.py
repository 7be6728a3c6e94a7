"""What the simulator serves has KuCoin's shape and consistent numbers, and is scriptable
from Python, over HTTP (``/_sim/``) and as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

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

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sim():
    with KucoinSimulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()
    sim.add_key(API_KEY, API_SECRET, API_PASSPHRASE)


def get(sim: KucoinSimulator | str, path: str, key: tuple[str, str, str] | None = None) -> Any:
    """The ``data`` of a signed GET to the simulator (object or base URL); asserts success."""
    api_key, secret, passphrase = key or (API_KEY, API_SECRET, API_PASSPHRASE)
    headers = independent_headers(
        key=api_key, secret=secret, passphrase=passphrase, method="GET", path_and_query=path
    )
    url = sim if isinstance(sim, str) else sim.url
    response = httpx.get(url + path, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == "200000"
    return body["data"]


def kind(value: Any) -> str:
    """JSON type as KuCoin's samples use it (ints and floats are both numbers)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert list(ours) == list(theirs)
    assert {k: kind(v) for k, v in ours.items()} == {k: kind(v) for k, v in theirs.items()}


# -- shapes ---------------------------------------------------------------------------------


def test_position_list_has_kucoins_fields_for_each_margin_mode(sim):
    sim.open_position(API_KEY, "XBTUSDTM", size=1, margin_mode="isolated")
    sim.open_position(API_KEY, "ETHUSDM", size=1, margin_mode="cross", leverage=10)
    cross_sample, isolated_sample = sample_json("kucoin_futures_positions")["data"]

    ours = {p["symbol"]: p for p in get(sim, "/api/v1/positions")}

    assert_same_shape(ours["XBTUSDTM"], isolated_sample)
    assert_same_shape(ours["ETHUSDM"], cross_sample)


def test_single_position_has_kucoins_fields(sim):
    sim.open_position(API_KEY, "XBTUSDTM", size=1)
    ours = get(sim, "/api/v1/position?symbol=XBTUSDTM")
    assert_same_shape(ours, sample_json("kucoin_futures_position_symbol")["data"])


def test_no_position_is_kucoins_zeroed_object(sim):
    ours = get(sim, "/api/v1/position?symbol=ETHUSDM")
    theirs = sample_json("kucoin_futures_position_symbol_no_position_data")
    assert_same_shape(ours, theirs)
    assert (ours["id"], ours["isOpen"], ours["currentQty"], ours["settleCurrency"]) == (
        "",
        False,
        0,
        "ETH",
    )


def test_spot_accounts_and_key_info_have_kucoins_fields(sim):
    sim.add_key("walled", "s", "p", ip_whitelist=["127.0.0.1"])
    sim.set_balance("walled", "USDT", "26.66759503")
    (account,) = get(sim, "/api/v1/accounts", ("walled", "s", "p"))
    assert_same_shape(account, sample_json("kucoin_spot_accounts")["data"][0])
    assert account["balance"] == "26.66759503"

    info = get(sim, "/api/v1/user/api-key", ("walled", "s", "p"))
    assert_same_shape(info, sample_json("kucoin_apikey_info")["data"])


def test_an_empty_account_lists_nothing(sim):
    assert get(sim, "/api/v1/positions") == []
    assert get(sim, "/api/v1/accounts") == []


# -- consistent numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "side", "margin_mode"),
    [
        ("XBTUSDTM", "long", "isolated"),
        ("XBTUSDTM", "short", "cross"),
        ("ETHUSDM", "long", "cross"),
        ("ETHUSDM", "short", "isolated"),
    ],
)
def test_position_numbers_are_consistent(sim, symbol, side, margin_mode):
    sim.open_position(
        API_KEY,
        symbol,
        side=side,
        size=5,
        entry_price=2000,
        mark_price=2100,
        leverage=4,
        margin_mode=margin_mode,
    )
    p = get(sim, f"/api/v1/position?symbol={symbol}")
    inverse = symbol == "ETHUSDM"
    qty = 5 if side == "long" else -5

    if inverse:
        assert p["posCost"] == pytest.approx(-qty * 1 / 2000)
        assert p["markValue"] == pytest.approx(-qty * 1 / 2100)
    else:
        assert p["posCost"] == pytest.approx(qty * 0.001 * 2000)
        assert p["markValue"] == pytest.approx(qty * 0.001 * 2100)
    assert p["currentQty"] == qty
    assert p["unrealisedPnl"] == pytest.approx(p["markValue"] - p["posCost"])
    assert (p["unrealisedPnl"] > 0) is (side == "long")  # the mark rose, for both kinds
    assert p["unrealisedPnlPcnt"] == pytest.approx(p["unrealisedPnl"] / abs(p["posCost"]), abs=1e-4)
    assert p["posInit"] == pytest.approx(abs(p["posCost"]) / 4)
    assert p["unrealisedRoePcnt"] == pytest.approx(p["unrealisedPnl"] / p["posInit"], abs=1e-4)
    assert (p["avgEntryPrice"], p["markPrice"]) == (2000, 2100)
    if side == "long":
        assert p["bankruptPrice"] < p["liquidationPrice"] < p["avgEntryPrice"]
    else:
        assert p["bankruptPrice"] > p["liquidationPrice"] > p["avgEntryPrice"]
    assert p["marginMode"] == margin_mode.upper()
    assert p["crossMode"] is (margin_mode == "cross")


def test_long_linear_pnl_sign_follows_the_mark(sim):
    sim.open_position(API_KEY, "XBTUSDTM", size=10, entry_price=60000, mark_price=60000)
    sim.set_mark_price("XBTUSDTM", 61000)
    assert get(sim, "/api/v1/position?symbol=XBTUSDTM")["unrealisedPnl"] == pytest.approx(10)
    sim.set_mark_price("XBTUSDTM", 59000)
    assert get(sim, "/api/v1/position?symbol=XBTUSDTM")["unrealisedPnl"] == pytest.approx(-10)


def test_resizing_averages_the_entry_and_realises_pnl(sim):
    sim.open_position(API_KEY, "XBTUSDTM", size=1, entry_price=60000)
    grown = sim.resize_position(API_KEY, "XBTUSDTM", 2, price=62000)
    assert grown is not None
    assert grown["avgEntryPrice"] == 61000
    assert grown["currentQty"] == 2

    shrunk = sim.resize_position(API_KEY, "XBTUSDTM", 1, price=63000)
    assert shrunk is not None
    assert shrunk["avgEntryPrice"] == 61000
    assert shrunk["realisedGrossPnl"] == pytest.approx(2.0)  # 1 x 0.001 x 2000
    assert shrunk["realisedPnl"] < shrunk["realisedGrossPnl"]  # fees

    pnl = sim.close_position(API_KEY, "XBTUSDTM", price=61000)
    assert Decimal("1.8") < pnl < Decimal("2")
    assert get(sim, "/api/v1/positions") == []


def test_drift_moves_mark_prices():
    with KucoinSimulator(drift=0.01, drift_interval=0.05, seed=7) as drifting:
        drifting.add_key("k", "s", "p")
        drifting.open_position("k", "XBTUSDTM", size=1, entry_price=60000)
        time.sleep(0.3)
        position = get(drifting, "/api/v1/position?symbol=XBTUSDTM", ("k", "s", "p"))
    assert position["markPrice"] != 60000
    assert position["unrealisedPnl"] != 0


# -- faults are scoped ------------------------------------------------------------------------


def test_a_fault_for_one_key_leaves_others_alone(sim):
    sim.add_key("other", "s", "p")
    sim.inject_fault("error", status=502, api_key=API_KEY)
    headers = independent_headers(
        key=API_KEY,
        secret=API_SECRET,
        passphrase=API_PASSPHRASE,
        method="GET",
        path_and_query="/api/v1/positions",
    )
    assert httpx.get(sim.url + "/api/v1/positions", headers=headers).status_code == 502
    assert get(sim, "/api/v1/positions", ("other", "s", "p")) == []
    assert sim.request_count(api_key=API_KEY) == 1
    assert sim.request_count(api_key="other") == 1


# -- the /_sim/ control API --------------------------------------------------------------------


def test_control_api_scripts_the_whole_scenario(sim):
    with ControlClient(sim.url) as control:
        assert control.get("/health")["ok"] is True
        control.post(
            "/keys", {"api_key": "h", "api_secret": "h-secret-xyz", "api_passphrase": "h-pass-xyz"}
        )
        opened = control.post(
            "/keys/h/positions",
            {"symbol": "XBTUSDTM", "side": "short", "size": 3, "entry_price": "60000"},
        )
        assert opened["currentQty"] == -3
        control.post("/mark-prices", {"symbol": "XBTUSDTM", "price": "59000"})
        (listed,) = control.get("/keys/h/positions")
        assert listed["unrealisedPnl"] == pytest.approx(3.0)
        resized = control.post("/keys/h/positions/XBTUSDTM/resize", {"size": 1})
        assert resized["currentQty"] == -1
        balance = control.request(
            "PUT", "/keys/h/balances", {"currency": "USDT", "balance": "10", "holds": "2"}
        )
        assert balance["available"] == "8"
        closed = control.delete("/keys/h/positions/XBTUSDTM", {"price": "59000"})
        assert Decimal(closed["realised_pnl"]) > 0
        assert control.post("/config", {"clock_offset_ms": 5})["clock_offset_ms"] == 5
        fault = control.inject_fault("error", status=503, scope="h")
        assert [f["id"] for f in control.get("/faults")] == [fault["id"]]
        assert control.clear_faults() == 1
        state = control.get("/state")
        assert [k["api_key"] for k in state["keys"]] == [API_KEY, "h"]
        assert "h-secret-xyz" not in str(state)
        assert "h-pass-xyz" not in str(state)

        data = get(sim, "/api/v1/accounts", ("h", "h-secret-xyz", "h-pass-xyz"))
        assert data[0]["balance"] == "10"
        assert control.get("/requests", {"api_key": "h"})["total"] == 1
        control.delete("/requests")
        assert control.get("/requests")["total"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/keys", {"api_key": "x"}, 400),
        (
            "POST",
            "/keys",
            {"api_key": "x", "api_secret": "s", "api_passphrase": "p", "permissions": ["Root"]},
            400,
        ),
        ("POST", "/keys/ghost/positions", {"symbol": "XBTUSDTM"}, 404),
        ("POST", f"/keys/{API_KEY}/positions", {"symbol": "XBTUSDTM", "side": "up"}, 400),
        ("POST", f"/keys/{API_KEY}/positions/XBTUSDTM/resize", {"size": 1}, 404),
        ("POST", "/config", {"colour": "red"}, 400),
        ("POST", "/faults", {"kind": "explode"}, 400),
    ],
)
def test_control_api_rejects_bad_input(sim, method, path, body, status):
    with ControlClient(sim.url) as control, pytest.raises(ControlClientError) as excinfo:
        control.request(method, path, body)
    assert excinfo.value.status == status


# -- as a separate process ---------------------------------------------------------------------


def test_runs_as_a_process_with_demo_keys():
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cryptotrack.simulators.kucoin",
            "--port",
            "0",
            "--key",
            "demo-key:demo-secret:demo:pass",
            "--drift",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        positions = get(url, "/api/v1/positions", ("demo-key", "demo-secret", "demo:pass"))
        assert {(p["symbol"], p["currentQty"] > 0) for p in positions} == {
            ("XBTUSDTM", True),
            ("ETHUSDTM", False),
        }
        with ControlClient(url) as control:
            assert control.get("/config")["drift"] > 0
    finally:
        process.terminate()
        process.wait(timeout=10)
