"""One Alpha Vantage call from synchronous code, its failures turned into our HTTP answers.

The mapping (the contract of ``POST /api/v1/quotes``):

========================================  ======  ==========================
Alpha Vantage                             status  code
========================================  ======  ==========================
``Note`` / rate-limit ``Information``     503     ``upstream_rate_limited``
  (``Retry-After``: 60 s for a per-minute limit, the next UTC midnight for a daily one)
``Error Message`` about the api key       502     ``upstream_invalid_key``
``Invalid API call`` (an unknown pair)    400     ``unknown_pair``
other ``Error Message``                   502     ``upstream_rejected``
premium / other ``Information``           502     ``upstream_rejected``
timeout                                   502     ``upstream_timeout``
5xx or unreachable                        502     ``upstream_unavailable``
not JSON, fields missing                  502     ``upstream_bad_response``
no ``ALPHAVANTAGE_API_KEY`` configured    502     ``upstream_not_configured``
anything else (bad URL setting, a bug)    502     ``upstream_error``
========================================  ======  ==========================

503 means "wait ``Retry-After`` and the same request will work"; 502 means the upstream
failed us. Our call is well-formed whatever the pair, so Alpha Vantage's "Invalid API call"
can only mean a currency code it does not know: the caller's mistake, a 400. Timeouts and
5xx are not retried inside the request: on the free tier each try spends one of the day's
calls, and the next scheduled fetch comes anyway.
"""

from __future__ import annotations

import asyncio

from django.conf import settings

from cryptotrack.core.exceptions import ApplicationError, ServiceUnavailable, UpstreamFailed
from cryptotrack.exchanges.alphavantage import AlphaVantageClient, ExchangeRate
from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamInvalidCredentials,
    UpstreamRateLimited,
    UpstreamRequestRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from cryptotrack.quotes.pairs import Pair

MINUTE_LIMIT_RETRY_AFTER = 60


def api_key_configured() -> bool:
    return bool(settings.ALPHAVANTAGE_API_KEY)


def not_configured_error() -> UpstreamFailed:
    return UpstreamFailed(
        "No Alpha Vantage API key is configured (ALPHAVANTAGE_API_KEY).",
        code="upstream_not_configured",
    )


def fetch_exchange_rate(pair: Pair) -> ExchangeRate:
    """Ask Alpha Vantage for ``pair`` once; raises the client's typed UpstreamError."""

    async def fetch() -> ExchangeRate:
        async with AlphaVantageClient(
            api_key=settings.ALPHAVANTAGE_API_KEY,
            url=settings.ALPHAVANTAGE_URL,
            timeout=settings.ALPHAVANTAGE_TIMEOUT_SECONDS,
            max_attempts=1,
        ) as client:
            return await client.get_exchange_rate(pair.from_currency, pair.to_currency)

    return asyncio.run(fetch())


def as_application_error(exc: UpstreamError, *, pair: Pair) -> ApplicationError:
    """The answer our API gives for an Alpha Vantage failure of ``pair`` (see the module
    docstring). The client's messages already name Alpha Vantage and never carry the key.
    """
    if isinstance(exc, UpstreamRequestRejected) and exc.code == "invalid_call":
        return ApplicationError(
            f"Alpha Vantage has no exchange rate for {pair}: check both currency codes.",
            code="unknown_pair",
        )
    if isinstance(exc, UpstreamRateLimited):
        retry_after = exc.retry_after if exc.retry_after is not None else MINUTE_LIMIT_RETRY_AFTER
        return ServiceUnavailable(
            exc.message, retry_after=int(retry_after) + 1, code="upstream_rate_limited"
        )
    code = "upstream_rejected"
    if isinstance(exc, UpstreamInvalidCredentials):
        code = "upstream_not_configured" if exc.code == "no_key" else "upstream_invalid_key"
    elif isinstance(exc, UpstreamTimeout):
        code = "upstream_timeout"
    elif isinstance(exc, UpstreamUnavailable):
        code = "upstream_unavailable"
    elif isinstance(exc, UpstreamBadResponse):
        code = "upstream_bad_response"
    return UpstreamFailed(exc.message, code=code)
