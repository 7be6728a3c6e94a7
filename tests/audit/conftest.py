"""Fixtures for the audit log: the KuCoin simulator and traders of the positions tests."""

from __future__ import annotations

from typing import Any

from cryptotrack.audit.models import AuditEvent
from tests.positions.conftest import kucoin_sim, make_trader

__all__ = ["events_of", "kucoin_sim", "make_trader"]

BROWSER = "Mozilla/5.0 (audit test)"


def events_of(user: Any, kind: str | None = None) -> list[AuditEvent]:
    """The user's events, oldest first (the order the story happened in)."""
    events = AuditEvent.objects.filter(user=user).order_by("at", "id")
    return list(events.filter(kind=kind) if kind else events)
