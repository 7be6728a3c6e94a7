"""Position events: what changed between an account's last recorded poll and this one.

Pure comparison of two sets of positions keyed ``(symbol, side)`` — the account's current
rows before the poll and the rows the poll reports — with no upstream call and no query:

* a key only in the new set is ``opened``; only in the old set, ``closed``;
* a key in both whose size grew is ``increased``, shrank ``reduced`` (same size: nothing);
* a symbol whose only old side is gone and whose only new side is the other one is one
  ``side_flipped`` (not a ``closed`` and an ``opened``).

The receivers of ``positions_recorded`` (position alerts) get the events in the same
transaction that stores them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import django.dispatch

from cryptotrack.positions.models import Position, PositionEvent

Kind = PositionEvent.Kind

# Sent inside the transaction that recorded a flush of polls, after positions, history
# and events are written: ``positions`` the succeeded accounts' current positions (a list
# per account id, possibly empty), ``events`` the events made (baseline polls make none),
# ``labels`` the flush's accounts' labels, ``alert_user_ids`` the flush's users that may
# have position alerts (``User.has_position_alerts``; the others need no evaluation).
positions_recorded = django.dispatch.Signal()


def derive_events(
    before: Iterable[Position], after: Iterable[Position], *, label: str, at: datetime
) -> list[PositionEvent]:
    """The events of one account between its positions ``before`` and ``after`` a poll."""
    old = {(p.symbol, p.side): p for p in before}
    new = {(p.symbol, p.side): p for p in after}
    events: list[PositionEvent] = []
    flipped: set[str] = set()
    for symbol in {symbol for symbol, _ in old} | {symbol for symbol, _ in new}:
        old_sides = [side for s, side in old if s == symbol]
        new_sides = [side for s, side in new if s == symbol]
        if len(old_sides) == 1 and len(new_sides) == 1 and old_sides != new_sides:
            gone, came = old[(symbol, old_sides[0])], new[(symbol, new_sides[0])]
            events.append(
                _event(Kind.SIDE_FLIPPED, came, size_before=gone.size, label=label, at=at)
            )
            flipped.add(symbol)
    for key, position in new.items():
        if key[0] in flipped:
            continue
        previous = old.get(key)
        size_before = Decimal(0) if previous is None else previous.size
        if previous is None:
            kind = Kind.OPENED
        elif position.size != previous.size:
            kind = Kind.INCREASED if position.size > previous.size else Kind.REDUCED
        else:
            continue
        events.append(_event(kind, position, size_before=size_before, label=label, at=at))
    for key, position in old.items():
        if key not in new and key[0] not in flipped:
            events.append(
                _event(Kind.CLOSED, position, size_before=position.size, label=label, at=at)
            )
    events.sort(key=lambda e: (e.symbol, e.side, e.kind))
    return events


def _event(
    kind: str, position: Position, *, size_before: Decimal, label: str, at: datetime
) -> PositionEvent:
    return PositionEvent(
        user_id=position.user_id,
        account_id=position.account_id,
        account_label=label,
        symbol=position.symbol,
        kind=kind,
        side=position.side,
        size_before=size_before,
        size_after=Decimal(0) if kind == Kind.CLOSED else position.size,
        entry_price=position.entry_price,
        mark_price=position.mark_price,
        realised_pnl=position.realised_pnl,
        settle_currency=position.settle_currency,
        at=at,
    )
