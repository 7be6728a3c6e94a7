"""Template filters of the web app's pages (``{% load web_format %}``): amounts the API
hands out as decimal strings, profit/loss tone, event kinds, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.dateparse import parse_datetime

from cryptotrack.balances.representations import amount as plain_amount
from cryptotrack.positions.models import PositionEvent

register = template.Library()


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def amount(value: Any) -> str:
    """``"60000.5000000000"`` as ``60000.5``; none as an em dash."""
    number = _decimal(value)
    return "—" if number is None else plain_amount(number) or "—"


@register.filter
def tone(value: Any) -> str:
    """The class of a profit or loss: ``gain``, ``loss`` or nothing for zero (the sign is
    in the number too: colour is never the only sign)."""
    number = _decimal(value)
    if number is None or number == 0:
        return ""
    return "gain" if number > 0 else "loss"


@register.filter
def event_kind(value: str) -> str:
    """An event's kind as people read it (``side_flipped``: "Side flipped")."""
    return str(PositionEvent.Kind(value).label) if value in PositionEvent.Kind.values else value


@register.filter
def moment(value: Any) -> str:
    """An API time (``2026-12-04T20:40:34.983Z``) to the second, as the tables show
    times in UTC: ``2026-12-04 20:40:34``."""
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime):
        return "—" if value in (None, "") else str(value)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@register.filter
def percent(value: Any) -> str:
    """A figure of the API (``"24.3600"``, % already) to two places: ``24.36 %``."""
    number = _decimal(value)
    return "—" if number is None else f"{number:.2f} %"
