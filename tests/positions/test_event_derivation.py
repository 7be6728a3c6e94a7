"""Position events from two sets of positions (``positions.events.derive_events``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from cryptotrack.positions.events import derive_events
from cryptotrack.positions.models import Position

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def position(symbol: str, side: str, size: str) -> Position:
    return Position(
        user_id=1,
        account_id=7,
        symbol=symbol,
        side=side,
        size=Decimal(size),
        entry_price=Decimal("60000"),
        mark_price=Decimal("61000"),
        realised_pnl=Decimal("-1.5"),
        unrealised_pnl=Decimal("10"),
        settle_currency="USDT",
    )


def changes(before: list[Position], after: list[Position]) -> list[tuple[str, str, str, str, str]]:
    return [
        (e.symbol, e.kind, e.side, str(e.size_before), str(e.size_after))
        for e in derive_events(before, after, label="main", at=AT)
    ]


def test_open_grow_shrink_close() -> None:
    assert changes([], [position("XBTUSDTM", "long", "3")]) == [
        ("XBTUSDTM", "opened", "long", "0", "3")
    ]
    assert changes([position("XBTUSDTM", "long", "3")], [position("XBTUSDTM", "long", "5")]) == [
        ("XBTUSDTM", "increased", "long", "3", "5")
    ]
    assert changes([position("XBTUSDTM", "long", "5")], [position("XBTUSDTM", "long", "2")]) == [
        ("XBTUSDTM", "reduced", "long", "5", "2")
    ]
    assert changes([position("XBTUSDTM", "long", "2")], []) == [
        ("XBTUSDTM", "closed", "long", "2", "0")
    ]


def test_an_unchanged_size_is_no_event_whatever_the_price_did() -> None:
    moved = position("XBTUSDTM", "long", "3")
    moved.mark_price = Decimal("1")
    assert changes([position("XBTUSDTM", "long", "3")], [moved]) == []


def test_a_flip_is_one_event_not_a_close_and_an_open() -> None:
    assert changes([position("XBTUSDTM", "long", "3")], [position("XBTUSDTM", "short", "4")]) == [
        ("XBTUSDTM", "side_flipped", "short", "3", "4")
    ]


def test_hedge_mode_sides_are_separate_positions() -> None:
    before = [position("ETHUSDTM", "long", "1"), position("ETHUSDTM", "short", "1")]
    after = [position("ETHUSDTM", "short", "2")]
    assert changes(before, after) == [
        ("ETHUSDTM", "closed", "long", "1", "0"),
        ("ETHUSDTM", "increased", "short", "1", "2"),
    ]


def test_events_carry_the_account_and_the_last_seen_figures() -> None:
    (event,) = derive_events([position("XBTUSDTM", "long", "2")], [], label="main", at=AT)
    assert (event.account_id, event.account_label, event.at) == (7, "main", AT)
    assert (event.entry_price, event.mark_price, event.realised_pnl) == (
        Decimal("60000"),
        Decimal("61000"),
        Decimal("-1.5"),
    )
