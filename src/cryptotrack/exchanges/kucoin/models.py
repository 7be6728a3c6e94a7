"""Typed KuCoin answers and the parsers that build them from the ``data`` of an envelope.

Amounts are ``Decimal`` (the client decodes JSON numbers straight to ``Decimal``, so no
float ever rounds a price), times are aware UTC datetimes. The parsers tolerate what KuCoin
really sends: cross positions without the isolated-only fields, numbers as strings or in
exponent form (``"1E-8"``, ``2.441E-7``), older payloads without ``marginMode`` /
``positionSide`` / ``leverage``, and the zeroed object ``GET /api/v1/position`` returns for
a symbol without a position. Anything that breaks the contract raises
:class:`~cryptotrack.exchanges.errors.UpstreamBadResponse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal

from cryptotrack.exchanges.errors import UpstreamBadResponse


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


@dataclass(frozen=True, slots=True)
class FuturesPosition:
    """One open futures position (what API.md's ``GET /api/v1/positions`` lists).

    ``size`` is the absolute number of contracts, ``side`` comes from ``positionSide`` in
    hedge mode and from the sign of ``currentQty`` otherwise. ``leverage`` is KuCoin's
    ``leverage`` or, on older payloads, ``realLeverage``; ``margin_mode`` is ``marginMode``
    or derived from ``crossMode``. ``raw`` keeps the object as received (for history).
    """

    id: str
    symbol: str
    side: PositionSide
    size: Decimal
    current_qty: Decimal
    entry_price: Decimal
    mark_price: Decimal
    liquidation_price: Decimal | None
    bankrupt_price: Decimal | None
    leverage: Decimal | None
    margin_mode: MarginMode
    unrealised_pnl: Decimal
    realised_pnl: Decimal
    unrealised_pnl_pcnt: Decimal | None
    unrealised_roe_pcnt: Decimal | None
    position_margin: Decimal | None
    mark_value: Decimal | None
    settle_currency: str
    is_inverse: bool | None
    opened_at: datetime | None
    updated_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class SpotAccount:
    """One spot-side account (``type`` is ``main``, ``trade``, ``margin``, …) of one currency."""

    id: str
    currency: str
    type: str
    balance: Decimal
    available: Decimal
    holds: Decimal


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What KuCoin says about the calling key (``GET /api/v1/user/api-key``)."""

    api_key: str
    remark: str
    api_version: int | None
    permissions: tuple[str, ...]
    ip_whitelist: tuple[str, ...]
    created_at: datetime | None
    uid: int | None
    is_master: bool | None
    sub_name: str | None = None


# Permissions that let a key move money: a read-only tracker warns about each.
TRADE_PERMISSIONS = ("Spot", "Margin", "Futures", "Earn", "LeadtradeFutures")
TRANSFER_PERMISSIONS = ("Transfer", "InnerTransfer", "FlexTransfers", "Withdrawal")
# KuCoin's spec puts GET /api/v1/positions behind "Futures"; /accounts and /user/api-key
# behind "General". A tracker therefore cannot avoid the Futures permission.
REQUIRED_PERMISSIONS = ("General", "Futures")

KeyStatus = Literal["valid", "invalid", "insufficient_permission", "unverified"]


@dataclass(frozen=True, slots=True)
class KeyAssessment:
    """The verdict on a key: ``status``, a human ``message``, any ``warnings``, and the
    ``permissions`` KuCoin says it has (empty when KuCoin could not be asked)."""

    status: KeyStatus
    message: str
    warnings: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()


def assess_api_key(
    info: ApiKeyInfo, *, required: tuple[str, ...] = REQUIRED_PERMISSIONS
) -> KeyAssessment:
    """Judge a key for read-only position tracking.

    ``insufficient_permission`` when a permission in ``required`` is missing, ``valid``
    otherwise; each permission that can trade or transfer adds a warning (Futures is
    explained, since KuCoin requires it for reading positions).
    """
    granted = set(info.permissions)
    missing = [p for p in required if p not in granted]
    warnings: list[str] = []
    for permission in TRADE_PERMISSIONS:
        if permission not in granted:
            continue
        if permission == "Futures":
            warnings.append(
                "The key has the Futures permission, which KuCoin requires for reading "
                "positions but which also allows futures trading; cryptotrack never places "
                "orders."
            )
        else:
            warnings.append(f"The key can trade ({permission}); a read-only key is safer.")
    for permission in TRANSFER_PERMISSIONS:
        if permission in granted:
            warnings.append(f"The key can move funds ({permission}); a read-only key is safer.")
    if missing:
        return KeyAssessment(
            "insufficient_permission",
            f"The key lacks the permission(s) {', '.join(missing)} needed to read positions.",
            tuple(warnings),
            tuple(info.permissions),
        )
    return KeyAssessment(
        "valid",
        "The key is valid and can read positions.",
        tuple(warnings),
        tuple(info.permissions),
    )


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def _bad(what: str) -> UpstreamBadResponse:
    return UpstreamBadResponse(f"KuCoin answer does not match the contract: {what}", status=200)


def to_decimal(value: Any, name: str) -> Decimal:
    """A JSON number or numeric string (exponent form included) as a finite Decimal."""
    if isinstance(value, bool) or value is None:
        raise _bad(f"{name} is {value!r}, expected a number")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise _bad(f"{name} is {value!r}, expected a number") from exc
    if not result.is_finite():
        raise _bad(f"{name} is {value!r}, expected a finite number")
    return result


def _optional_decimal(obj: Mapping[str, Any], key: str) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return to_decimal(value, key)


def ms_to_datetime(value: Any, name: str) -> datetime | None:
    """Epoch milliseconds as an aware UTC datetime; 0, null and "" mean "none"."""
    if value is None or value == "" or value == 0:
        return None
    millis = to_decimal(value, name)
    if millis <= 0:
        return None
    try:
        return datetime.fromtimestamp(float(millis) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise _bad(f"{name} is {value!r}, not a time in milliseconds") from exc


def _require(obj: Mapping[str, Any], key: str) -> Any:
    if key not in obj or obj[key] is None:
        raise _bad(f"missing {key!r}")
    return obj[key]


def _require_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(f"{what} is {type(value).__name__}, expected an object")
    return value


def _require_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(f"{what} is {type(value).__name__}, expected a list")
    return value


def _is_no_position(obj: Mapping[str, Any]) -> bool:
    if obj.get("isOpen") is False:
        return True
    qty = obj.get("currentQty")
    return qty is None or to_decimal(qty, "currentQty") == 0


def _margin_mode(obj: Mapping[str, Any]) -> MarginMode:
    mode = obj.get("marginMode")
    if isinstance(mode, str) and mode.upper() in ("CROSS", "ISOLATED"):
        return MarginMode(mode.lower())
    # Payloads from before cross margin had its own field carry only the boolean.
    return MarginMode.CROSS if obj.get("crossMode") is True else MarginMode.ISOLATED


def _side(obj: Mapping[str, Any], qty: Decimal) -> PositionSide:
    position_side = obj.get("positionSide")
    if isinstance(position_side, str) and position_side.upper() in ("LONG", "SHORT"):
        return PositionSide(position_side.lower())  # hedge mode
    return PositionSide.LONG if qty > 0 else PositionSide.SHORT


def parse_position(obj: Any) -> FuturesPosition | None:
    """One position object, or None for KuCoin's "no position" object (qty 0 / not open)."""
    obj = _require_mapping(obj, "position")
    if _is_no_position(obj):
        return None
    qty = to_decimal(_require(obj, "currentQty"), "currentQty")
    leverage = _optional_decimal(obj, "leverage")
    if not leverage:  # absent on older payloads, 0 on some isolated ones
        leverage = _optional_decimal(obj, "realLeverage") or None
    is_inverse = obj.get("isInverse")
    return FuturesPosition(
        id=str(obj.get("id") or ""),
        symbol=str(_require(obj, "symbol")),
        side=_side(obj, qty),
        size=abs(qty),
        current_qty=qty,
        entry_price=to_decimal(_require(obj, "avgEntryPrice"), "avgEntryPrice"),
        mark_price=to_decimal(_require(obj, "markPrice"), "markPrice"),
        liquidation_price=_optional_decimal(obj, "liquidationPrice"),
        bankrupt_price=_optional_decimal(obj, "bankruptPrice"),
        leverage=leverage,
        margin_mode=_margin_mode(obj),
        unrealised_pnl=to_decimal(obj.get("unrealisedPnl", 0), "unrealisedPnl"),
        realised_pnl=to_decimal(obj.get("realisedPnl", 0), "realisedPnl"),
        unrealised_pnl_pcnt=_optional_decimal(obj, "unrealisedPnlPcnt"),
        unrealised_roe_pcnt=_optional_decimal(obj, "unrealisedRoePcnt"),
        position_margin=_optional_decimal(obj, "posMargin"),
        mark_value=_optional_decimal(obj, "markValue"),
        settle_currency=str(obj.get("settleCurrency") or ""),
        is_inverse=is_inverse if isinstance(is_inverse, bool) else None,
        opened_at=ms_to_datetime(obj.get("openingTimestamp"), "openingTimestamp"),
        updated_at=ms_to_datetime(obj.get("currentTimestamp"), "currentTimestamp"),
        raw=dict(obj),
    )


def parse_positions(data: Any) -> list[FuturesPosition]:
    """The ``data`` list of ``GET /api/v1/positions``; closed/zeroed entries are skipped."""
    if data is None:
        return []
    positions = (parse_position(item) for item in _require_list(data, "positions"))
    return [p for p in positions if p is not None]


def parse_spot_accounts(data: Any) -> list[SpotAccount]:
    """The ``data`` list of ``GET /api/v1/accounts``."""
    if data is None:
        return []
    accounts = []
    for item in _require_list(data, "accounts"):
        obj = _require_mapping(item, "account")
        accounts.append(
            SpotAccount(
                id=str(obj.get("id") or ""),
                currency=str(_require(obj, "currency")),
                type=str(_require(obj, "type")),
                balance=to_decimal(_require(obj, "balance"), "balance"),
                available=to_decimal(_require(obj, "available"), "available"),
                holds=to_decimal(obj.get("holds", 0), "holds"),
            )
        )
    return accounts


def _split(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def parse_api_key_info(data: Any) -> ApiKeyInfo:
    """The ``data`` object of ``GET /api/v1/user/api-key``."""
    obj = _require_mapping(data, "api key info")
    version = obj.get("apiVersion")
    uid = obj.get("uid")
    is_master = obj.get("isMaster")
    try:
        api_version = int(version) if version not in (None, "") else None
        uid_value = int(uid) if uid not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise _bad(f"apiVersion/uid not integers: {version!r}, {uid!r}") from exc
    return ApiKeyInfo(
        api_key=str(_require(obj, "apiKey")),
        remark=str(obj.get("remark") or ""),
        api_version=api_version,
        permissions=_split(_require(obj, "permission")),
        ip_whitelist=_split(obj.get("ipWhitelist")),
        created_at=ms_to_datetime(obj.get("createdAt"), "createdAt"),
        uid=uid_value,
        is_master=is_master if isinstance(is_master, bool) else None,
        sub_name=str(obj["subName"]) if obj.get("subName") else None,
    )


def parse_server_time_ms(data: Any) -> int:
    """The ``data`` of ``GET /api/v1/timestamp``: epoch milliseconds."""
    millis = to_decimal(data, "timestamp")
    if millis <= 0 or millis != millis.to_integral_value():
        raise _bad(f"timestamp is {data!r}, expected positive integer milliseconds")
    return int(millis)
