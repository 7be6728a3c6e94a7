"""The JSON shape of a position, shared by the API and the cache (one contract, one place)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cryptotrack.positions.models import Position, PositionSnapshot


class PositionOutput(serializers.ModelSerializer[Position]):
    """A current open position as API.md lists it (amounts as decimal strings)."""

    class Meta:
        model = Position
        fields = [
            "symbol",
            "side",
            "size",
            "entry_price",
            "mark_price",
            "liquidation_price",
            "leverage",
            "margin_mode",
            "unrealised_pnl",
            "realised_pnl",
            "settle_currency",
            "opened_at",
            "updated_at",
        ]


class PositionSnapshotOutput(serializers.ModelSerializer[PositionSnapshot]):
    class Meta:
        model = PositionSnapshot
        fields = [
            "symbol",
            "side",
            "size",
            "entry_price",
            "mark_price",
            "liquidation_price",
            "leverage",
            "unrealised_pnl",
            "realised_pnl",
            "closed",
            "taken_at",
        ]


def positions_payload(positions: list[Position]) -> list[dict[str, Any]]:
    """Positions as the API answers them, newest opened first (what the cache stores)."""
    ordered = sorted(
        positions, key=lambda p: (-(p.opened_at.timestamp() if p.opened_at else 0), p.symbol)
    )
    return list(PositionOutput(ordered, many=True).data)
