"""Async CoinGecko client: batched ``/simple/price``, coin list, supported vs-currencies.

Prices are read as exact Decimals (the JSON numbers are never turned into floats). Alerts
ask for many coins at once, so ``simple_price`` puts every id and currency into as few
requests as the URL length allows, never one request per coin.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

import httpx

from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRateLimited,
    UpstreamRequestRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from cryptotrack.exchanges.http import PooledClient
from cryptotrack.exchanges.retry import call_with_retries, retry_after_from_headers

DEFAULT_BASE_URL = "https://api.coingecko.com/api/v3"
DEMO_KEY_HEADER = "x-cg-demo-api-key"
PRO_KEY_HEADER = "x-cg-pro-api-key"

# CoinGecko error codes that mean "this key is wrong" (missing, or demo/pro on the wrong host)
# and "this plan may not call this endpoint"; see docs.coingecko.com "Errors & Rate Limits".
_KEY_ERROR_CODES = {10002, 10010, 10011}
_PLAN_ERROR_CODES = {10005}
# ",", encoded by httpx as "%2C", between two ids in the query string.
_ENCODED_SEPARATOR_LENGTH = 3

logger = logging.getLogger(__name__)

PriceTable = dict[tuple[str, str], Decimal]


@dataclass(frozen=True, slots=True)
class Coin:
    """One entry of CoinGecko's coin list: ``id`` is what ``simple_price`` takes."""

    id: str
    symbol: str
    name: str


class CoinGeckoClient(PooledClient):
    """Reads prices and reference lists from CoinGecko (or its simulator) at ``base_url``.

    ``base_url`` includes ``/api/v3``; paths such as ``/simple/price`` are appended to it. A
    demo key goes in the ``x-cg-demo-api-key`` header, a pro key in ``x-cg-pro-api-key``.
    Each request has a timeout of ``timeout`` seconds and is retried (``max_attempts`` in
    all, exponential backoff with full jitter) only after a timeout, a transport failure, a
    5xx, or a 429 whose ``retry-after`` is at most ``max_delay``. Pass ``http`` to share a
    connection pool; the client then leaves it open on close.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        demo_api_key: str | None = None,
        pro_api_key: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        max_attempts: int = 3,
        base_delay: float = 0.2,
        max_delay: float = 5.0,
        ids_per_request: int = 250,
        max_url_length: int = 4000,
    ) -> None:
        if max_attempts < 1 or ids_per_request < 1:
            raise ValueError("max_attempts and ids_per_request must be at least 1")
        self.base_url = base_url.rstrip("/")
        self._headers = {"accept": "application/json"}
        if demo_api_key:
            self._headers[DEMO_KEY_HEADER] = demo_api_key
        if pro_api_key:
            self._headers[PRO_KEY_HEADER] = pro_api_key
        super().__init__(http=http, timeout=timeout)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.ids_per_request = ids_per_request
        self.max_url_length = max_url_length

    def __repr__(self) -> str:
        return f"CoinGeckoClient(base_url={self.base_url!r})"

    async def simple_price(self, ids: Sequence[str], vs_currencies: Sequence[str]) -> PriceTable:
        """Return ``{(coin_id, currency): price}`` for every pair CoinGecko priced.

        Ids and currencies are lower-cased and de-duplicated; all currencies go in every
        request and the ids in as few requests as ``ids_per_request`` and
        ``max_url_length`` allow (one request for the usual handful of alerts). Coins or
        currencies CoinGecko does not know, or answers ``null`` for, are simply absent.
        Raises UpstreamRateLimited (429, ``retry_after`` from its header),
        UpstreamInvalidCredentials (401/403 or a key error code), UpstreamPermissionDenied
        (plan-restricted), UpstreamRequestRejected (other 4xx), UpstreamUnavailable (5xx or
        unreachable, after retries), UpstreamTimeout (after retries) or UpstreamBadResponse.
        """
        coins = _normalised(ids)
        currencies = _normalised(vs_currencies)
        if not coins or not currencies:
            return {}
        vs_param = ",".join(currencies)
        prices: PriceTable = {}
        for chunk in self._id_chunks(coins, vs_param):
            payload = await self._get_json(
                "/simple/price", {"ids": ",".join(chunk), "vs_currencies": vs_param}
            )
            prices.update(_parse_simple_price(payload, currencies))
        return prices

    async def coins_list(self) -> list[Coin]:
        """Return every coin CoinGecko lists (id, symbol, name); raises the typed errors."""
        payload = await self._get_json("/coins/list", {})
        if not isinstance(payload, list):
            raise UpstreamBadResponse("CoinGecko /coins/list is not a JSON array")
        coins = []
        for entry in payload:
            if not isinstance(entry, Mapping) or not all(
                isinstance(entry.get(field), str) for field in ("id", "symbol", "name")
            ):
                raise UpstreamBadResponse(f"CoinGecko /coins/list entry is malformed: {entry!r}")
            coins.append(Coin(id=entry["id"], symbol=entry["symbol"], name=entry["name"]))
        return coins

    async def supported_vs_currencies(self) -> list[str]:
        """Return the vs-currency codes CoinGecko prices in (lower-case, e.g. ``usd``)."""
        payload = await self._get_json("/simple/supported_vs_currencies", {})
        if not isinstance(payload, list) or not all(isinstance(c, str) for c in payload):
            raise UpstreamBadResponse("CoinGecko supported_vs_currencies is not a list of strings")
        return list(payload)

    async def ping(self) -> str:
        """Return CoinGecko's ``gecko_says`` greeting; raises the typed errors when it is down."""
        payload = await self._get_json("/ping", {})
        if not isinstance(payload, Mapping) or not isinstance(payload.get("gecko_says"), str):
            raise UpstreamBadResponse("CoinGecko /ping answered without gecko_says")
        return payload["gecko_says"]

    def _id_chunks(self, coins: list[str], vs_param: str) -> Iterator[list[str]]:
        fixed = len(f"{self.base_url}/simple/price?ids=&vs_currencies=") + len(
            quote(vs_param, safe="")
        )
        chunk: list[str] = []
        length = fixed
        for coin in coins:
            added = len(quote(coin, safe="")) + (_ENCODED_SEPARATOR_LENGTH if chunk else 0)
            if chunk and (
                len(chunk) >= self.ids_per_request or length + added > self.max_url_length
            ):
                yield chunk
                chunk, length = [], fixed
                added = len(quote(coin, safe=""))
            chunk.append(coin)
            length += added
        if chunk:
            yield chunk

    async def _get_json(self, path: str, params: Mapping[str, str]) -> object:
        async def once() -> object:
            return await self._get_json_once(path, params)

        return await call_with_retries(
            once,
            max_attempts=self.max_attempts,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            on_retry=lambda exc, _attempt: _log_retry(path, exc),
        )

    async def _get_json_once(self, path: str, params: Mapping[str, str]) -> object:
        try:
            response = await self._http.get(
                self.base_url + path,
                params=dict(params),
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"CoinGecko {path} did not answer in time ({type(exc).__name__})"
            ) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise UpstreamUnavailable(
                f"CoinGecko {path} could not be reached ({type(exc).__name__})"
            ) from exc
        if response.status_code != httpx.codes.OK:
            raise _error_for(path, response)
        return _decode(response.content, path)


async def _log_retry(path: str, exc: UpstreamError) -> None:
    logger.warning("CoinGecko %s failed (%s), retrying", path, exc.kind)


def _normalised(values: Sequence[str]) -> list[str]:
    if isinstance(values, str):
        raise TypeError("pass a sequence of strings, not one string")
    seen: dict[str, None] = {}
    for value in values:
        cleaned = value.strip().lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def _decode(body: bytes, path: str) -> object:
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = body[:80].decode("utf-8", "replace")
        raise UpstreamBadResponse(f"CoinGecko {path} answered non-JSON: {snippet!r}") from exc


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-finite number {name}")


def _parse_simple_price(payload: object, currencies: list[str]) -> PriceTable:
    if not isinstance(payload, Mapping):
        raise UpstreamBadResponse("CoinGecko /simple/price is not a JSON object")
    prices: PriceTable = {}
    for coin, quotes in payload.items():
        if not isinstance(quotes, Mapping):
            raise UpstreamBadResponse(f"CoinGecko /simple/price entry for {coin!r} is malformed")
        for currency in currencies:
            value = quotes.get(currency)
            if value is None:
                continue
            # bool is an int to Python; a true/false price is a broken answer, not 1 or 0.
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                raise UpstreamBadResponse(
                    f"CoinGecko price {coin}/{currency} is not a number: {value!r}"
                )
            prices[(str(coin), currency)] = Decimal(value)
    return prices


def _error_for(path: str, response: httpx.Response) -> UpstreamError:
    status = response.status_code
    code, message = _error_detail(response)
    text = f"CoinGecko {path} answered {status}" + (f": {message}" if message else "")
    code_text = str(code) if code is not None else None
    if status == httpx.codes.TOO_MANY_REQUESTS:
        return UpstreamRateLimited(
            text,
            retry_after=retry_after_from_headers(response.headers),
            status=status,
            code=code_text,
        )
    if status >= 500:
        return UpstreamUnavailable(text, status=status, code=code_text)
    if code in _PLAN_ERROR_CODES:
        return UpstreamPermissionDenied(text, status=status, code=code_text)
    if code in _KEY_ERROR_CODES or status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        return UpstreamInvalidCredentials(text, status=status, code=code_text)
    if status >= 400:
        return UpstreamRequestRejected(text, status=status, code=code_text)
    return UpstreamBadResponse(text, status=status, code=code_text)


def _error_detail(response: httpx.Response) -> tuple[int | None, str]:
    """Read CoinGecko's error shapes: ``{"status": {"error_code", "error_message"}}``,
    ``{"error_code", "status": {"error_message"}}`` and ``{"error": "..."}``."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None, response.text[:200]
    if not isinstance(body, Mapping):
        return None, ""
    raw_status = body.get("status")
    status: Mapping[str, object] = raw_status if isinstance(raw_status, Mapping) else {}
    raw_code = status.get("error_code", body.get("error_code"))
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    message = status.get("error_message") or body.get("error") or ""
    return code, str(message)[:300]
