"""Turn an Alpha Vantage ``CURRENCY_EXCHANGE_RATE`` body into an ExchangeRate or a typed error.

Alpha Vantage answers HTTP 200 for almost everything, errors included: the body says what
happened. ``Error Message`` is a refused call (bad pair, bad function) or a missing/invalid
key; ``Note`` (until 2023) and ``Information`` (since) carry rate limits, but
``Information`` also carries the demo-key and premium-endpoint refusals, so those are told
apart by their text. Nothing here does I/O, so the recorded samples can be fed in directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRateLimited,
    UpstreamRequestRejected,
)

RATE_OBJECT_KEY = "Realtime Currency Exchange Rate"
FROM_CODE = "1. From_Currency Code"
FROM_NAME = "2. From_Currency Name"
TO_CODE = "3. To_Currency Code"
TO_NAME = "4. To_Currency Name"
EXCHANGE_RATE = "5. Exchange Rate"
LAST_REFRESHED = "6. Last Refreshed"
TIME_ZONE = "7. Time Zone"
BID_PRICE = "8. Bid Price"
ASK_PRICE = "9. Ask Price"

REQUIRED_FIELDS = (FROM_CODE, FROM_NAME, TO_CODE, TO_NAME, EXCHANGE_RATE, LAST_REFRESHED, TIME_ZONE)
LAST_REFRESHED_FORMAT = "%Y-%m-%d %H:%M:%S"

# Seen texts: "standard API rate limit is 25 requests per day", "API call frequency is 5 calls
# per minute", "spreading out your free API requests more sparingly ... (25 requests per day)".
_RATE_LIMIT_MARKERS = ("rate limit", "call frequency", "sparingly", "requests per day")
_PREMIUM_MARKERS = ("this is a premium endpoint",)
_CREDENTIAL_MARKERS = (
    "apikey is invalid",
    "api key is invalid",
    "invalid api key",
    "**demo** api key",
    "demo api key",
)
_MINUTE_LIMIT_RETRY_AFTER = 60.0
_MASK = "***"


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """One realtime exchange rate as Alpha Vantage reported it.

    ``last_refreshed`` is timezone-aware (in the zone Alpha Vantage named, ``time_zone``);
    ``bid`` and ``ask`` are ``None`` when the answer carried only the 7 older fields.
    """

    from_currency: str
    from_currency_name: str
    to_currency: str
    to_currency_name: str
    rate: Decimal
    bid: Decimal | None
    ask: Decimal | None
    last_refreshed: datetime
    time_zone: str


def mask_secret(text: str, secret: str | None) -> str:
    """Return ``text`` with every occurrence of ``secret`` (and any ``apikey=`` value) masked."""
    if secret:
        text = text.replace(secret, _MASK)
    return re.sub(r"(?i)(apikey=)[^&\s\"']+", r"\1" + _MASK, text)


def decode_body(body: bytes, *, api_key: str | None = None) -> object:
    """Decode a JSON body with decimals kept exact; raise UpstreamBadResponse if it is not JSON."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = mask_secret(body[:80].decode("utf-8", "replace"), api_key)
        raise UpstreamBadResponse(f"Alpha Vantage answered non-JSON: {snippet!r}") from exc


def raise_for_refusal(payload: Mapping[str, object], *, api_key: str | None = None) -> None:
    """Raise the typed error an Alpha Vantage error body means; return if the body is no refusal.

    * ``Error Message`` about the api key -> UpstreamInvalidCredentials, any other
      ``Error Message`` -> UpstreamRequestRejected (unknown pair or function);
    * ``Note`` or a rate-limit ``Information`` -> UpstreamRateLimited, ``retry_after`` being
      60 s for a per-minute limit and the seconds to the next UTC midnight for a daily one;
    * ``Information`` about the demo key -> UpstreamInvalidCredentials, about a premium
      endpoint -> UpstreamPermissionDenied, any other -> UpstreamRequestRejected.

    The key never appears in a message, even where Alpha Vantage echoes it.
    """
    if "Error Message" in payload:
        message = mask_secret(str(payload["Error Message"]), api_key)
        if _mentions(message, _CREDENTIAL_MARKERS):
            raise UpstreamInvalidCredentials(
                f"Alpha Vantage refused the api key: {message}", code="invalid_api_key"
            )
        raise UpstreamRequestRejected(
            f"Alpha Vantage rejected the call: {message}", code="invalid_call"
        )
    for key in ("Note", "Information"):
        if key not in payload:
            continue
        message = mask_secret(str(payload[key]), api_key)
        if key == "Note" or _mentions(message, _RATE_LIMIT_MARKERS):
            daily = "per day" in message.lower() and "minute" not in message.lower()
            raise UpstreamRateLimited(
                f"Alpha Vantage rate limit reached: {message}",
                retry_after=seconds_until_utc_midnight() if daily else _MINUTE_LIMIT_RETRY_AFTER,
                code="daily_limit" if daily else "minute_limit",
            )
        if _mentions(message, _PREMIUM_MARKERS):
            raise UpstreamPermissionDenied(
                f"Alpha Vantage refused a premium endpoint: {message}", code="premium_endpoint"
            )
        if _mentions(message, _CREDENTIAL_MARKERS):
            raise UpstreamInvalidCredentials(
                f"Alpha Vantage refused the api key: {message}", code="invalid_api_key"
            )
        raise UpstreamRequestRejected(f"Alpha Vantage refused the call: {message}")


def parse_exchange_rate(payload: object, *, api_key: str | None = None) -> ExchangeRate:
    """Build an ExchangeRate from a decoded body, or raise the typed error the body means.

    Accepts both the 7-field and the 9-field (bid/ask) shapes. A refusal body raises as
    :func:`raise_for_refusal` says; anything else that lacks the rate object or one of its
    seven required fields, or carries an unparsable number, date or zone, raises
    UpstreamBadResponse. Never returns a partial quote.
    """
    if not isinstance(payload, Mapping):
        raise UpstreamBadResponse("Alpha Vantage answered JSON that is not an object")
    raise_for_refusal(payload, api_key=api_key)
    fields = payload.get(RATE_OBJECT_KEY)
    if not isinstance(fields, Mapping):
        keys = ", ".join(sorted(str(k) for k in payload)) or "nothing"
        raise UpstreamBadResponse(f"Alpha Vantage answered without {RATE_OBJECT_KEY!r} ({keys})")
    missing = [name for name in REQUIRED_FIELDS if not isinstance(fields.get(name), str)]
    if missing:
        raise UpstreamBadResponse(f"Alpha Vantage exchange rate lacks {', '.join(missing)}")
    time_zone = str(fields[TIME_ZONE])
    return ExchangeRate(
        from_currency=str(fields[FROM_CODE]),
        from_currency_name=str(fields[FROM_NAME]),
        to_currency=str(fields[TO_CODE]),
        to_currency_name=str(fields[TO_NAME]),
        rate=_decimal(fields[EXCHANGE_RATE], EXCHANGE_RATE),
        bid=_optional_decimal(fields.get(BID_PRICE), BID_PRICE),
        ask=_optional_decimal(fields.get(ASK_PRICE), ASK_PRICE),
        last_refreshed=_aware_datetime(str(fields[LAST_REFRESHED]), time_zone),
        time_zone=time_zone,
    )


def seconds_until_utc_midnight(now: datetime | None = None) -> float:
    """Seconds from ``now`` (default: the current time) to the next midnight UTC, at least 1."""
    now = now or datetime.now(UTC)
    midnight = (now.astimezone(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return max(1.0, (midnight - now).total_seconds())


def _mentions(message: str, markers: tuple[str, ...]) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in markers)


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-finite number {name}")


def _decimal(raw: object, field: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise UpstreamBadResponse(f"Alpha Vantage {field!r} is not a number: {raw!r}") from exc
    if not value.is_finite() or value <= 0:
        raise UpstreamBadResponse(f"Alpha Vantage {field!r} is not a positive number: {raw!r}")
    return value


def _optional_decimal(raw: object, field: str) -> Decimal | None:
    # Absent in the older 7-field shape; a placeholder ("-", "") means "no quote" too.
    if raw is None or str(raw).strip() in {"", "-"}:
        return None
    return _decimal(raw, field)


def _aware_datetime(raw: str, time_zone: str) -> datetime:
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UpstreamBadResponse(f"Alpha Vantage time zone is unknown: {time_zone!r}") from exc
    try:
        naive = datetime.strptime(raw.strip(), LAST_REFRESHED_FORMAT)  # noqa: DTZ007 - zone set below
    except ValueError as exc:
        raise UpstreamBadResponse(f"Alpha Vantage last refreshed is not a time: {raw!r}") from exc
    return naive.replace(tzinfo=zone)
