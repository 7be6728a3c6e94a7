"""Position alert maths, in memory: values, conditions, hysteresis, per-position state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cryptotrack.alerts.models import PositionAlert
from cryptotrack.alerts.position_evaluation import (
    StateKey,
    condition_holds,
    evaluate,
    position_value,
    rearms,
)
from cryptotrack.positions.models import Position, PositionEvent

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
USER, ACCOUNT, OTHER_ACCOUNT = 1, 7, 8


def alert(kind: str, threshold: str | None = None, **fields: Any) -> PositionAlert:
    return PositionAlert(
        pk=fields.pop("pk", 1),
        user_id=fields.pop("user_id", USER),
        kind=kind,
        threshold=None if threshold is None else Decimal(threshold),
        hysteresis_percent=Decimal(fields.pop("hysteresis", "10")),
        **fields,
    )


def position(
    mark: str = "100",
    liquidation: str | None = "50",
    *,
    pnl: str = "0",
    margin: str | None = "10",
    symbol: str = "XBTUSDTM",
    side: str = "long",
    account_id: int = ACCOUNT,
    user_id: int = USER,
) -> Position:
    return Position(
        user_id=user_id,
        account_id=account_id,
        symbol=symbol,
        side=side,
        size=Decimal(2),
        mark_price=Decimal(mark),
        liquidation_price=None if liquidation is None else Decimal(liquidation),
        unrealised_pnl=Decimal(pnl),
        position_margin=None if margin is None else Decimal(margin),
        settle_currency="USDT",
    )


def run(
    alerts: list[PositionAlert],
    positions: list[Position],
    states: dict[StateKey, int] | None = None,
    events: list[PositionEvent] | None = None,
) -> Any:
    by_account: dict[int, list[Position]] = {}
    for p in positions:
        by_account.setdefault(p.account_id, []).append(p)
    return evaluate(
        alerts,
        positions=by_account,
        events=events or [],
        states=states or {},
        labels={ACCOUNT: "main", OTHER_ACCOUNT: "spare"},
        now=AT,
    )


def test_liquidation_distance_is_the_gap_as_a_percentage_of_the_mark() -> None:
    liq = alert("liquidation_distance", "5")
    assert position_value(liq, position("100", "95")) == Decimal(5)
    assert position_value(liq, position("100", "104", side="short")) == Decimal(4)
    assert position_value(liq, position("100", None)) is None  # no liquidation price: never
    assert position_value(liq, position("100", "0")) is None


def test_pnl_percent_is_roe_on_the_position_margin() -> None:
    roe = alert("pnl_percent", "-20", direction="below")
    assert position_value(roe, position(pnl="-2.5", margin="10")) == Decimal(-25)
    assert position_value(roe, position(pnl="-2.5", margin=None)) is None  # no margin: never
    assert position_value(roe, position(pnl="-2.5", margin="0")) is None
    amount = alert("pnl_amount", "100", direction="above")
    assert position_value(amount, position(pnl="123.45")) == Decimal("123.45")


def test_an_absurd_roe_is_clamped_to_what_can_be_stored() -> None:
    roe = alert("pnl_percent", "50", direction="above")
    value = position_value(roe, position(pnl="1" + "0" * 19, margin="0.0000000001"))
    assert value == Decimal(10) ** 20 - 1


@pytest.mark.parametrize(
    ("kind", "direction", "threshold", "holds", "armed_again", "still_fired"),
    [
        # liquidation 5 %, band 0.5: fires at <= 5, re-arms only above 5.5
        ("liquidation_distance", "", "5", ["5", "4.9"], ["5.51", "20"], ["5.1", "5.5"]),
        # ROE above 50 %, band 5: fires at >= 50, re-arms below 45
        ("pnl_percent", "above", "50", ["50", "80"], ["44.99", "0"], ["49", "45"]),
        # PnL below -100 USDT, band 10: fires at <= -100, re-arms above -90
        ("pnl_amount", "below", "-100", ["-100", "-500"], ["-89.9", "10"], ["-99", "-90"]),
    ],
)
def test_conditions_and_the_hysteresis_band(
    kind: str,
    direction: str,
    threshold: str,
    holds: list[str],
    armed_again: list[str],
    still_fired: list[str],
) -> None:
    a = alert(kind, threshold, direction=direction)
    assert all(condition_holds(a, Decimal(v)) for v in holds)
    assert all(rearms(a, Decimal(v)) for v in armed_again)
    assert not any(rearms(a, Decimal(v)) for v in still_fired)


def test_a_hysteresis_of_zero_re_arms_as_soon_as_the_condition_stops_holding() -> None:
    a = alert("liquidation_distance", "5", hysteresis="0")
    assert not rearms(a, Decimal(5))
    assert rearms(a, Decimal("5.0000000001"))


def test_hovering_at_the_line_fires_once_then_nothing_until_past_the_hysteresis() -> None:
    a = alert("liquidation_distance", "5")
    key = (1, ACCOUNT, "XBTUSDTM", "long")
    states: dict[StateKey, int] = {}
    fired = 0
    # distance: 20, 4.8 (fires), 5.2, 4.6, 5.4 (hover), 8 (re-arms), 4.9 (fires again)
    for liquidation in ["80", "95.2", "94.8", "95.4", "94.6", "92", "95.1"]:
        result = run([a], [position("100", liquidation)], states)
        fired += len(result.firings)
        if result.fired:
            states[key] = 99
        if result.rearmed:
            assert result.rearmed == [99]
            del states[key]
    assert fired == 2


def test_each_position_has_its_own_state() -> None:
    a = alert("liquidation_distance", "5")
    near, far = position("100", "96"), position("100", "50", symbol="ETHUSDTM")
    hedge = position("100", "103", side="short")
    result = run([a], [near, far, hedge], states={(1, ACCOUNT, "XBTUSDTM", "long"): 5})
    # the long already fired (no second firing); the short fires on its own; ETH is far
    assert [(f.symbol, f.side, f.value) for f in result.firings] == [
        ("XBTUSDTM", "short", Decimal(3))
    ]
    assert [(s.symbol, s.side) for s in result.fired] == [("XBTUSDTM", "short")]
    assert result.rearmed == []


def test_a_closed_position_forgets_its_state() -> None:
    a = alert("liquidation_distance", "5")
    gone: StateKey = (1, ACCOUNT, "ETHUSDTM", "long")
    kept: StateKey = (1, ACCOUNT, "XBTUSDTM", "long")
    result = run([a], [position("100", "96")], states={gone: 11, kept: 12})
    assert result.rearmed == [11]
    assert result.firings == []


def test_no_liquidation_price_keeps_the_state_as_it_is() -> None:
    a = alert("liquidation_distance", "5")
    key: StateKey = (1, ACCOUNT, "XBTUSDTM", "long")
    result = run([a], [position("100", None)], states={key: 3})
    assert (result.firings, result.fired, result.rearmed) == ([], [], [])


def test_account_and_symbol_filters_and_other_users() -> None:
    scoped = alert("pnl_amount", "10", direction="above", account_id=OTHER_ACCOUNT)
    by_symbol = alert("pnl_amount", "10", direction="above", pk=2, symbol="ETHUSDTM")
    mine = position(pnl="50")  # XBTUSDTM on ACCOUNT: neither alert covers it
    others = position(pnl="50", symbol="ETHUSDTM", user_id=2)  # another user's
    spare_eth = position(pnl="50", symbol="ETHUSDTM", account_id=OTHER_ACCOUNT)
    result = run([scoped, by_symbol], [mine, others, spare_eth])
    assert sorted((f.alert_id, f.account_id, f.account_label) for f in result.firings) == [
        (1, OTHER_ACCOUNT, "spare"),
        (2, OTHER_ACCOUNT, "spare"),
    ]


def _event(kind: str, *, user_id: int = USER, symbol: str = "XBTUSDTM") -> PositionEvent:
    return PositionEvent(
        pk=40,
        user_id=user_id,
        account_id=ACCOUNT,
        account_label="main",
        symbol=symbol,
        kind=kind,
        side="long",
        size_before=Decimal(2),
        size_after=Decimal(0),
        entry_price=Decimal(100),
        mark_price=Decimal(90),
        realised_pnl=Decimal(-20),
        settle_currency="USDT",
        at=AT,
    )


def test_event_alerts_fire_on_their_event_kinds_only() -> None:
    closes = alert("event", events=["closed", "side_flipped"])
    result = run(
        [closes],
        [],
        events=[_event("closed"), _event("reduced"), _event("closed", user_id=2)],
    )
    ((firing,),) = [result.firings]
    assert (firing.event_id, firing.event_kind, firing.size) == (40, "closed", Decimal(2))
    assert (firing.value, firing.threshold) == (None, None)
