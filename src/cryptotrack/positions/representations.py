"""The JSON shape of a position, shared by the API and the cache (one contract, one place)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cryptotrack.core.csv_export import CsvExport
from cryptotrack.core.fields import iso_utc
from cryptotrack.positions import figures
from cryptotrack.positions.models import Position, PositionEvent, PositionSnapshot

if TYPE_CHECKING:
    from cryptotrack.positions.selectors import CurrentPositions


class AccountRefOutput(serializers.Serializer[Any]):
    """The exchange account a position belongs to (``id`` null once that account is gone)."""

    id = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label


class PositionOutput(serializers.ModelSerializer[Position]):
    """A current open position as API.md lists it (amounts as decimal strings), with the
    figures a trader reads beside them (``positions.figures``)."""

    account = serializers.SerializerMethodField()
    liquidation_distance_percent = serializers.SerializerMethodField(
        help_text="|mark - liquidation| / mark x 100, 4 decimals; null without a liquidation price."
    )
    roe_percent = serializers.SerializerMethodField(
        help_text="unrealised_pnl / position_margin x 100, 4 decimals; null without a margin."
    )

    class Meta:
        model = Position
        fields = [
            "account",
            "symbol",
            "side",
            "size",
            "entry_price",
            "mark_price",
            "liquidation_price",
            "leverage",
            "margin_mode",
            "position_margin",
            "unrealised_pnl",
            "realised_pnl",
            "settle_currency",
            "liquidation_distance_percent",
            "roe_percent",
            "opened_at",
            "updated_at",
        ]

    @extend_schema_field(AccountRefOutput)
    def get_account(self, position: Position) -> dict[str, Any]:
        return {"id": position.account_id, "label": position.account.label}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_liquidation_distance_percent(self, position: Position) -> str | None:
        return _liquidation_distance(position)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_roe_percent(self, position: Position) -> str | None:
        return _roe(position)


def _liquidation_distance(position: Position) -> str | None:
    return figures.as_text(
        figures.liquidation_distance_percent(
            mark=position.mark_price, liquidation=position.liquidation_price
        )
    )


def _roe(position: Position) -> str | None:
    return figures.as_text(
        figures.roe_percent(unrealised_pnl=position.unrealised_pnl, margin=position.position_margin)
    )


class PositionSnapshotOutput(serializers.ModelSerializer[PositionSnapshot]):
    """A history row; the account's label as it is now, or as it was when it was deleted."""

    account = serializers.SerializerMethodField()

    class Meta:
        model = PositionSnapshot
        fields = [
            "account",
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

    @extend_schema_field(AccountRefOutput)
    def get_account(self, snapshot: PositionSnapshot) -> dict[str, Any]:
        return account_ref(snapshot)


def account_ref(row: PositionSnapshot | PositionEvent) -> dict[str, Any]:
    """A stored row's account: its label as it is now, or as it was when it was deleted."""
    label = row.account.label if row.account is not None else row.account_label
    return {"id": row.account_id, "label": label}


class PositionEventOutput(serializers.ModelSerializer[PositionEvent]):
    """A position event (``side``: after the change; before it for ``closed``)."""

    account = serializers.SerializerMethodField()

    class Meta:
        model = PositionEvent
        fields = [
            "id",
            "account",
            "symbol",
            "kind",
            "side",
            "size_before",
            "size_after",
            "entry_price",
            "mark_price",
            "realised_pnl",
            "settle_currency",
            "at",
        ]

    @extend_schema_field(AccountRefOutput)
    def get_account(self, event: PositionEvent) -> dict[str, Any]:
        return account_ref(event)


def _flat_columns(fields: list[str]) -> list[tuple[str, Any]]:
    """A stored row's JSON fields as CSV columns, ``account`` flattened to ``account_id``
    and ``account_label`` (the label as :func:`account_ref` gives it)."""
    columns: list[tuple[str, Any]] = []
    for name in fields:
        if name == "account":
            label = Coalesce(F("account__label"), F("account_label"))
            columns += [("account_id", "account_id"), ("account_label", label)]
        else:
            columns.append((name, name))
    return columns


HISTORY_CSV = CsvExport(
    columns=_flat_columns(PositionSnapshotOutput.Meta.fields),
    time_field="taken_at",
    filename="positions-history",
)
EVENTS_CSV = CsvExport(
    columns=_flat_columns(PositionEventOutput.Meta.fields),
    time_field="at",
    filename="positions-events",
)


_DECIMAL_PLACES = {
    field.name: field.decimal_places
    for field in Position._meta.get_fields()
    if isinstance(field, models.DecimalField) and field.name in PositionOutput.Meta.fields
}


def _decimal(value: Decimal | None, places: int) -> str | None:
    return None if value is None else f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _time(value: datetime | None) -> str | None:
    return None if value is None else iso_utc(value)


_FIGURES = ("liquidation_distance_percent", "roe_percent")
_VALUE_FIELDS = [name for name in PositionOutput.Meta.fields if name not in {"account", *_FIGURES}]


def position_representation(position: Position, *, label: str) -> dict[str, Any]:
    """``PositionOutput(position).data``, built directly: this runs for every position on
    every poll (the cache write-through), where DRF's serializer cost ~1 ms a position.
    ``label`` is the account's (the caller has it: no query per row). A test holds the
    two to the same output."""
    row: dict[str, Any] = {"account": {"id": position.account_id, "label": label}}
    for name in _VALUE_FIELDS:
        value = getattr(position, name)
        if name in _DECIMAL_PLACES:
            row[name] = _decimal(value, _DECIMAL_PLACES[name])
        elif isinstance(value, datetime):
            row[name] = _time(value)
        else:
            row[name] = value
    row["liquidation_distance_percent"] = _liquidation_distance(position)
    row["roe_percent"] = _roe(position)
    return {name: row[name] for name in PositionOutput.Meta.fields}  # the serializer's order


def positions_payload(positions: list[Position], *, label: str) -> list[dict[str, Any]]:
    """One account's positions as the API answers them, newest opened first (what the
    cache stores per account)."""
    ordered = sorted(
        positions, key=lambda p: (-(p.opened_at.timestamp() if p.opened_at else 0), p.symbol)
    )
    return [position_representation(p, label=label) for p in ordered]


def freshness_fields(current: CurrentPositions) -> dict[str, Any]:
    """What ``GET /positions`` answers beside ``results`` (``as_of``, ``source``, ``stale``,
    ``stale_reason``, ``accounts``), as JSON values; the ``/ws/positions`` messages carry
    the same."""
    return {
        "as_of": _time(current.as_of),
        "source": current.source,
        "stale": current.stale,
        "stale_reason": current.stale_reason,
        # Each account's fields in their order (a flat dataclass: its __dict__ is asdict()'s
        # answer, without asdict's deep copy, the largest cost of a cached read).
        "accounts": [
            {**vars(account), "as_of": _time(account.as_of)} for account in current.accounts
        ],
    }
