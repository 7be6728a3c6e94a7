"""The KuCoin simulator's scripted scenarios (``/_sim/scenarios``), driven over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from cryptotrack.simulators.control import ControlClient, ControlClientError
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.exchanges.kucoin_fixtures import API_KEY, API_PASSPHRASE, API_SECRET


@pytest.fixture(scope="module")
def sim() -> Iterator[KucoinSimulator]:
    with KucoinSimulator() as simulator:
        yield simulator


@pytest.fixture
def control(sim: KucoinSimulator) -> Iterator[ControlClient]:
    sim.reset()
    sim.add_key(API_KEY, API_SECRET, API_PASSPHRASE)
    with ControlClient(sim.url) as client:
        yield client


def _position(control: ControlClient) -> dict[str, Any]:
    [position] = control.get(f"/keys/{API_KEY}/positions")
    return dict(position)


def _wait(control: ControlClient, scenario_id: int, *, seen: list[Any] | None = None) -> Any:
    """The scenario once it is no longer running (within 10 s); ``seen`` collects the
    position's mark price meanwhile."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        scenario = control.get(f"/scenarios/{scenario_id}")
        if seen is not None:
            seen.append(Decimal(str(_position(control)["markPrice"])))
        if scenario["state"] != "running":
            return scenario
        time.sleep(0.005)
    raise AssertionError(f"scenario {scenario_id} still running")


def test_walk_to_liquidation_goes_most_of_the_way_and_back(
    control: ControlClient, sim: KucoinSimulator
) -> None:
    sim.open_position(API_KEY, "XBTUSDTM", side="long", size=2, entry_price=60000, leverage=10)
    liquidation = Decimal(str(_position(control)["liquidationPrice"]))
    assert liquidation < 60000

    started = control.post(
        "/scenarios",
        {
            "name": "walk_to_liquidation",
            "api_key": API_KEY,
            "symbol": "XBTUSDTM",
            "steps": 4,
            "step_seconds": 0.1,
            "approach": 0.9,
            "hold": 2,
        },
    )
    assert (started["state"], started["steps"]) == ("running", 4 + 2 + 4)
    seen: list[Decimal] = []
    done = _wait(control, started["id"], seen=seen)

    assert (done["state"], done["step"], done["error"]) == ("finished", 10, None)
    lowest = min(seen)
    extreme = 60000 + (liquidation - 60000) * Decimal("0.9")
    assert lowest == extreme.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    turn = seen.index(lowest)
    assert seen[: turn + 1] == sorted(seen[: turn + 1], reverse=True)  # down...
    assert seen[turn:] == sorted(seen[turn:])  # ...then back up
    assert seen[-1] == 60000


def test_walk_without_coming_back_stays_near_liquidation(
    control: ControlClient, sim: KucoinSimulator
) -> None:
    sim.open_position(API_KEY, "ETHUSDTM", side="short", size=5, entry_price=3000, leverage=5)
    liquidation = Decimal(str(_position(control)["liquidationPrice"]))
    assert liquidation > 3000

    started = sim.start_scenario(
        "walk_to_liquidation", API_KEY, "ETHUSDTM", steps=3, step_seconds=0.02, back=False
    )
    assert _wait(control, started["id"])["state"] == "finished"

    mark = Decimal(str(_position(control)["markPrice"]))
    assert abs(mark - (3000 + (liquidation - 3000) * Decimal("0.95"))) <= Decimal("0.01")


def test_partial_close_in_steps(control: ControlClient, sim: KucoinSimulator) -> None:
    sim.open_position(API_KEY, "XBTUSDTM", size=10)
    started = sim.start_scenario(
        "partial_close", API_KEY, "XBTUSDTM", fraction=0.3, steps=3, step_seconds=0.02
    )

    assert _wait(control, started["id"])["state"] == "finished"
    assert _position(control)["currentQty"] == 7


def test_flip_turns_a_long_into_a_short_of_the_same_size(
    control: ControlClient, sim: KucoinSimulator
) -> None:
    sim.open_position(API_KEY, "XBTUSDTM", side="long", size=3, leverage=4, margin_mode="cross")
    started = sim.start_scenario("flip", API_KEY, "XBTUSDTM", step_seconds=0.02)

    assert _wait(control, started["id"])["state"] == "finished"
    position = _position(control)
    assert (position["currentQty"], position["leverage"], position["marginMode"]) == (
        -3,
        4,
        "CROSS",
    )


def test_list_and_stop(control: ControlClient, sim: KucoinSimulator) -> None:
    sim.open_position(API_KEY, "XBTUSDTM", size=2, entry_price=60000)
    slow = sim.start_scenario("walk_to_liquidation", API_KEY, "XBTUSDTM", step_seconds=60)
    other = sim.start_scenario("flip", API_KEY, "XBTUSDTM", step_seconds=60)

    listed = control.get("/scenarios")
    assert [(s["id"], s["name"], s["state"]) for s in listed] == [
        (slow["id"], "walk_to_liquidation", "running"),
        (other["id"], "flip", "running"),
    ]
    assert control.delete(f"/scenarios/{slow['id']}")["state"] == "stopped"
    control.delete("/scenarios")

    assert [s["state"] for s in control.get("/scenarios")] == ["stopped", "stopped"]
    assert _position(control)["markPrice"] == 60000  # no step ran
    sim.reset()
    assert control.get("/scenarios") == []


def test_a_scenario_whose_position_went_away_fails_saying_why(
    control: ControlClient, sim: KucoinSimulator
) -> None:
    sim.open_position(API_KEY, "XBTUSDTM", size=4)
    started = sim.start_scenario("partial_close", API_KEY, "XBTUSDTM", step_seconds=0.2)
    sim.close_position(API_KEY, "XBTUSDTM")

    failed = _wait(control, started["id"])
    assert failed["state"] == "failed"
    assert "XBTUSDTM" in failed["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "moon"}, 400),
        ({"name": "flip", "api_key": ""}, 400),
        ({"name": "flip", "api_key": "nobody", "symbol": "XBTUSDTM"}, 404),
        ({"name": "flip", "symbol": "ETHUSDTM"}, 404),  # no position there
        ({"name": "flip", "step_seconds": 0}, 400),
        ({"name": "flip", "step_seconds": "NaN"}, 400),
        ({"name": "flip", "step_seconds": 1e308}, 400),
        ({"name": "walk_to_liquidation", "steps": 0}, 400),
        ({"name": "walk_to_liquidation", "steps": "ten"}, 400),
        ({"name": "walk_to_liquidation", "steps": 1.5}, 400),
        ({"name": "walk_to_liquidation", "steps": 10**6}, 400),
        ({"name": "walk_to_liquidation", "approach": 1.5}, 400),
        ({"name": "walk_to_liquidation", "approach": "Infinity"}, 400),
        ({"name": "walk_to_liquidation", "back": "yes"}, 400),
        ({"name": "partial_close", "fraction": 1}, 400),
        ({"name": "partial_close", "fraction": "x"}, 400),
    ],
)
def test_bad_bodies_are_refused(
    control: ControlClient, sim: KucoinSimulator, body: dict[str, Any], status: int
) -> None:
    sim.open_position(API_KEY, "XBTUSDTM", size=2)
    with pytest.raises(ControlClientError) as refused:
        control.post("/scenarios", {"api_key": API_KEY, "symbol": "XBTUSDTM", **body})
    assert refused.value.status == status
    assert "error" in refused.value.body
    assert control.get("/scenarios") == []


def test_a_one_contract_position_cannot_be_partly_closed(
    control: ControlClient, sim: KucoinSimulator
) -> None:
    sim.open_position(API_KEY, "XBTUSDTM", size=1)
    with pytest.raises(ControlClientError) as refused:
        sim.start_scenario("partial_close", API_KEY, "XBTUSDTM")
    assert refused.value.status == 400
