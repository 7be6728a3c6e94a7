"""Async Alpha Vantage client for ``function=CURRENCY_EXCHANGE_RATE``.

The api key travels in the query string (Alpha Vantage accepts it nowhere else), so it is
kept out of every message this module produces and masked in httpx's own request log.
"""

from __future__ import annotations

import logging

import httpx

from cryptotrack.exchanges.alphavantage.parsing import (
    ExchangeRate,
    decode_body,
    mask_secret,
    parse_exchange_rate,
)
from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamInvalidCredentials,
    UpstreamRateLimited,
    UpstreamRequestRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from cryptotrack.exchanges.http import PooledClient
from cryptotrack.exchanges.retry import call_with_retries, retry_after_from_headers

DEFAULT_URL = "https://www.alphavantage.co/query"
FUNCTION = "CURRENCY_EXCHANGE_RATE"

logger = logging.getLogger(__name__)


class _MaskApiKeyFilter(logging.Filter):
    """Rewrites httpx's "HTTP Request: GET <url>" records so the key never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "apikey=" in message.lower():
            record.msg = mask_secret(message, None)
            record.args = ()
        return True


def _install_log_mask() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskApiKeyFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(_MaskApiKeyFilter())


_install_log_mask()


class AlphaVantageClient(PooledClient):
    """Fetches realtime exchange rates from Alpha Vantage (or its simulator) at ``url``.

    Every call has a timeout (``timeout`` seconds for connect, read, write and pool). Timeouts,
    transport failures and 5xx answers are retried up to ``max_attempts`` in all, with
    exponential backoff and full jitter; nothing else is retried — in particular not
    Alpha Vantage's rate-limit bodies, whose quota does not come back within seconds.
    Pass ``http`` to share a connection pool; the client then leaves it open on close.
    """

    def __init__(
        self,
        *,
        api_key: str,
        url: str = DEFAULT_URL,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        max_attempts: int = 3,
        base_delay: float = 0.2,
        max_delay: float = 5.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._api_key = api_key
        self.url = url
        super().__init__(http=http, timeout=timeout)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay

    def __repr__(self) -> str:
        return f"AlphaVantageClient(url={self.url!r})"

    async def get_exchange_rate(self, from_currency: str, to_currency: str) -> ExchangeRate:
        """Return the current ``from_currency`` -> ``to_currency`` rate (codes like BTC, USD).

        Raises UpstreamInvalidCredentials (missing/invalid/demo key — without calling when
        the key is empty), UpstreamRateLimited (a ``Note``/``Information`` limit body, with
        ``retry_after``), UpstreamRequestRejected (unknown pair or call),
        UpstreamPermissionDenied (premium endpoint), UpstreamUnavailable (5xx, connection
        failures, after retries), UpstreamTimeout (after retries) or UpstreamBadResponse
        (not JSON, fields missing or unparsable, or a rate for another pair).
        """
        from_code = _currency_code(from_currency)
        to_code = _currency_code(to_currency)
        if not self._api_key:
            raise UpstreamInvalidCredentials("no Alpha Vantage api key configured", code="no_key")

        async def once() -> ExchangeRate:
            return await self._fetch_once(from_code, to_code)

        async def log_retry(exc: UpstreamError, attempt: int) -> None:
            logger.warning(
                "Alpha Vantage %s/%s attempt %d of %d failed (%s), retrying",
                from_code,
                to_code,
                attempt,
                self.max_attempts,
                exc.kind,
            )

        rate = await call_with_retries(
            once,
            max_attempts=self.max_attempts,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            retry_on=(UpstreamTimeout, UpstreamUnavailable),
            on_retry=log_retry,
        )
        if (rate.from_currency.upper(), rate.to_currency.upper()) != (from_code, to_code):
            raise UpstreamBadResponse(
                f"Alpha Vantage answered {rate.from_currency}/{rate.to_currency} "
                f"for {from_code}/{to_code}"
            )
        return rate

    async def _fetch_once(self, from_code: str, to_code: str) -> ExchangeRate:
        params = {
            "function": FUNCTION,
            "from_currency": from_code,
            "to_currency": to_code,
            "apikey": self._api_key,
        }
        try:
            response = await self._http.get(self.url, params=params, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"Alpha Vantage did not answer in time ({_name(exc)})") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise UpstreamUnavailable(f"Alpha Vantage could not be reached ({_name(exc)})") from exc
        _raise_for_status(response, self._api_key)
        payload = decode_body(response.content, api_key=self._api_key)
        return parse_exchange_rate(payload, api_key=self._api_key)


def _raise_for_status(response: httpx.Response, api_key: str) -> None:
    status = response.status_code
    if status == httpx.codes.OK:
        return
    snippet = mask_secret(response.text[:200], api_key)
    error: UpstreamError
    if status == httpx.codes.TOO_MANY_REQUESTS:
        error = UpstreamRateLimited(
            f"Alpha Vantage answered 429: {snippet}",
            retry_after=retry_after_from_headers(response.headers),
            status=status,
        )
    elif status >= 500:
        error = UpstreamUnavailable(f"Alpha Vantage answered {status}", status=status)
    elif status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        error = UpstreamInvalidCredentials(f"Alpha Vantage answered {status}", status=status)
    elif 400 <= status < 500:
        error = UpstreamRequestRejected(
            f"Alpha Vantage answered {status}: {snippet}", status=status
        )
    else:
        error = UpstreamBadResponse(f"Alpha Vantage answered unexpected {status}", status=status)
    raise error


def _currency_code(code: str) -> str:
    cleaned = code.strip().upper()
    if not cleaned or not cleaned.isalnum():
        raise ValueError(f"not a currency code: {code!r}")
    return cleaned


def _name(exc: Exception) -> str:
    # httpx messages can carry the request URL, and with it the key: only the class is safe.
    return type(exc).__name__
