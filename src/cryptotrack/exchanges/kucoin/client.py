"""Async KuCoin REST client: one connection pool, many users' credentials.

One :class:`KucoinClient` per event loop (its ``aiohttp.ClientSession`` is created lazily in
the loop of its first call and must not cross loops or forks) serves every user;
credentials travel with each call and are only used to sign that request. Every call has a
timeout, retryable failures (timeouts, 5xx, 429) are retried with full-jitter backoff via
:func:`~cryptotrack.exchanges.retry.call_with_retries`, and every failure leaves as a typed
:class:`~cryptotrack.exchanges.errors.UpstreamError`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import ssl
import time
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, Self
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRequestRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from cryptotrack.exchanges.kucoin.errors import (
    SUCCESS_CODE,
    KucoinTimestampError,
    error_from_response,
)
from cryptotrack.exchanges.kucoin.market import (
    LEVEL1_PATH,
    PARAMETER_ERROR_CODE,
    KucoinUnknownSymbol,
    SpotTicker,
    parse_level1_ticker,
)
from cryptotrack.exchanges.kucoin.models import (
    ApiKeyInfo,
    FuturesPosition,
    KeyAssessment,
    SpotAccount,
    assess_api_key,
    parse_api_key_info,
    parse_position,
    parse_positions,
    parse_server_time_ms,
    parse_spot_accounts,
)
from cryptotrack.exchanges.kucoin.signing import KucoinCredentials, signed_headers
from cryptotrack.exchanges.kucoin.wallets import (
    FuturesAccountOverview,
    parse_futures_account_overview,
)
from cryptotrack.exchanges.retry import call_with_retries

logger = logging.getLogger(__name__)

DEFAULT_SPOT_URL = "https://api.kucoin.com"
DEFAULT_FUTURES_URL = "https://api-futures.kucoin.com"

Base = Literal["spot", "futures"]

NO_DATA: Any = object()
"""What :func:`unwrap_response` returns for a success envelope without ``data``."""


class KucoinClient:
    """KuCoin spot + futures REST calls used by cryptotrack.

    ``spot_url`` / ``futures_url`` are base URLs without a trailing path (both may point at
    one simulator). ``timeout`` bounds each attempt as a whole (connect, send, wait and read
    the body); ``max_attempts`` bounds the attempts of one call. Pass ``session`` to share an
    ``aiohttp.ClientSession`` you own (it is then not closed by :meth:`aclose`, and its own
    proxy and TLS settings apply); otherwise the client builds one with ``max_connections``,
    lazily inside the running event loop, so the object itself may be built outside a loop.
    At most ``max_in_flight`` requests (default: ``max_connections``) are on the wire at
    once; further calls queue here, before the timeout starts and before they are signed.
    Use ``async with KucoinClient(...) as client:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        spot_url: str = DEFAULT_SPOT_URL,
        futures_url: str = DEFAULT_FUTURES_URL,
        timeout: float = 10.0,
        max_attempts: int = 3,
        base_delay: float = 0.2,
        max_delay: float = 5.0,
        session: aiohttp.ClientSession | None = None,
        max_connections: int = 16,
        max_in_flight: int | None = None,
    ) -> None:
        if timeout <= 0 or max_attempts < 1:
            raise ValueError("timeout must be > 0 and max_attempts >= 1")
        self._bases: dict[Base, str] = {
            "spot": spot_url.rstrip("/"),
            "futures": futures_url.rstrip("/"),
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_seconds = timeout
        self.max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._owns_session = session is None
        self._session = session
        self._max_connections = max_connections
        # A caller's session decides on proxies itself; ours resolves the environment's once.
        self._proxies: dict[Base, str | None] = {"spot": None, "futures": None}
        self._in_flight = asyncio.Semaphore(max_in_flight or max_connections)
        self._clock_offset_ms = 0
        self._clock_generation = 0
        self._resync: asyncio.Future[int] | None = None

    def _http(self) -> aiohttp.ClientSession:
        # Built on first use, inside the running loop: aiohttp binds a session to its loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                ttl_dns_cache=300,
                ssl=_tls_context(),
                enable_cleanup_closed=_NEEDS_CLEANUP_CLOSED,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers={"User-Agent": "cryptotrack-kucoin/1"},
                middlewares=(_no_immediate_resend,),
            )
            self._proxies = {base: _env_proxy(url) for base, url in self._bases.items()}
        return self._session

    # -- lifecycle ---------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool if this client created it (a later call opens anew)."""
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- clock -------------------------------------------------------------------------

    @property
    def clock_offset_ms(self) -> int:
        """KuCoin's clock minus ours, in ms, as last measured (0 until :meth:`sync_clock`)."""
        return self._clock_offset_ms

    def now_ms(self) -> int:
        """Our estimate of KuCoin's clock, in epoch ms: what KC-API-TIMESTAMP is signed with."""
        return int(time.time() * 1000) + self._clock_offset_ms

    async def server_time_ms(self, *, base: Base = "spot") -> int:
        """KuCoin's clock (``GET /api/v1/timestamp`` on the spot or futures host), epoch ms."""
        data = await self._call(base, "/api/v1/timestamp")
        return parse_server_time_ms(None if data is NO_DATA else data)

    async def server_time(self, *, base: Base = "spot") -> datetime:
        """KuCoin's clock as an aware UTC datetime."""
        return datetime.fromtimestamp(await self.server_time_ms(base=base) / 1000, tz=UTC)

    async def sync_clock(self, *, base: Base = "spot") -> int:
        """Measure and adopt the offset to KuCoin's clock; return it in ms.

        The offset is taken against the midpoint of the round trip, so network latency
        does not bias it. Private calls are signed with the corrected time afterwards.
        """
        before = time.time()
        server_ms = await self.server_time_ms(base=base)
        after = time.time()
        self._clock_offset_ms = server_ms - int((before + after) / 2 * 1000)
        self._clock_generation += 1
        return self._clock_offset_ms

    # -- public market data ------------------------------------------------------------

    async def spot_ticker(self, symbol: str) -> SpotTicker:
        """The level-1 ticker of spot ``symbol`` (``BTC-USDT``), public: no credentials
        (``GET /api/v1/market/orderbook/level1``, spot host, Public pool weight 2).
        Raises :class:`KucoinUnknownSymbol` for a symbol KuCoin does not list."""
        if not symbol:
            raise ValueError("symbol is required")
        try:
            data = await self._call("spot", LEVEL1_PATH, {"symbol": symbol})
        except UpstreamRequestRejected as exc:
            if exc.code != PARAMETER_ERROR_CODE:
                raise
            raise KucoinUnknownSymbol(exc.message, status=exc.status, code=exc.code) from None
        return parse_level1_ticker(None if data is NO_DATA else data, symbol=symbol)

    # -- private calls -----------------------------------------------------------------

    async def futures_positions(
        self, credentials: KucoinCredentials, *, currency: str | None = None
    ) -> list[FuturesPosition]:
        """All open futures positions of the key (``GET /api/v1/positions``, futures host).

        ``currency`` filters by settlement currency (e.g. ``USDT``). Closed or zeroed
        entries are dropped; an answer without ``data`` means no positions.
        """
        params = {"currency": currency} if currency else None
        data = await self._call("futures", "/api/v1/positions", params, credentials)
        return parse_positions(None if data is NO_DATA else data)

    async def futures_position(
        self, credentials: KucoinCredentials, symbol: str
    ) -> FuturesPosition | None:
        """The key's position in one contract (``GET /api/v1/position?symbol=``), or None.

        KuCoin answers a zeroed object (or no ``data``) when there is no position; both
        come back as None.
        """
        if not symbol:
            raise ValueError("symbol is required")
        data = await self._call("futures", "/api/v1/position", {"symbol": symbol}, credentials)
        if data is NO_DATA or data is None:
            return None
        return parse_position(data)

    async def spot_accounts(
        self,
        credentials: KucoinCredentials,
        *,
        currency: str | None = None,
        account_type: str | None = None,
    ) -> list[SpotAccount]:
        """The key's spot-side accounts (``GET /api/v1/accounts``, spot host)."""
        params = {k: v for k, v in (("currency", currency), ("type", account_type)) if v}
        data = await self._call("spot", "/api/v1/accounts", params or None, credentials)
        return parse_spot_accounts(None if data is NO_DATA else data)

    async def futures_account_overview(
        self, credentials: KucoinCredentials, *, currency: str = "USDT"
    ) -> FuturesAccountOverview:
        """The key's futures account in ``currency`` (``GET /api/v1/account-overview``,
        futures host). KuCoin's own default is XBT: the currency is always sent."""
        if not currency:
            raise ValueError("currency is required")
        params = {"currency": currency}
        data = await self._call("futures", "/api/v1/account-overview", params, credentials)
        if data is NO_DATA:
            raise UpstreamBadResponse(
                "KuCoin answered the account overview without data", status=200
            )
        return parse_futures_account_overview(data, currency=currency)

    async def api_key_info(self, credentials: KucoinCredentials) -> ApiKeyInfo:
        """KuCoin's description of the key itself (``GET /api/v1/user/api-key``)."""
        data = await self._call("spot", "/api/v1/user/api-key", None, credentials)
        if data is NO_DATA:
            raise UpstreamBadResponse("KuCoin answered the api-key info without data", status=200)
        return parse_api_key_info(data)

    async def check_credentials(self, credentials: KucoinCredentials) -> KeyAssessment:
        """Check a key without raising: ``valid``, ``invalid``, ``insufficient_permission``
        or ``unverified`` (KuCoin unreachable, rate limited, clock trouble), with KuCoin's
        message and warnings about trade/transfer permissions (see :func:`assess_api_key`).
        """
        try:
            info = await self.api_key_info(credentials)
        except UpstreamInvalidCredentials as exc:
            return KeyAssessment("invalid", f"KuCoin rejected the credentials: {exc.message}")
        except UpstreamPermissionDenied as exc:
            return KeyAssessment("insufficient_permission", f"KuCoin refused: {exc.message}")
        except UpstreamError as exc:
            return KeyAssessment("unverified", f"KuCoin could not check the key: {exc.message}")
        return assess_api_key(info)

    # -- plumbing ----------------------------------------------------------------------

    async def _call(
        self,
        base: Base,
        path: str,
        params: Mapping[str, str] | None = None,
        credentials: KucoinCredentials | None = None,
    ) -> Any:
        where = f"GET {path}"

        async def attempt() -> Any:
            generation = self._clock_generation
            try:
                return await self._send(base, path, params, credentials)
            except KucoinTimestampError:
                if credentials is None:
                    raise
                await self._resync_after_rejection(base, generation, where)
                return await self._send(base, path, params, credentials)

        async def on_retry(exc: UpstreamError, _attempt: int) -> None:
            logger.info("Retrying KuCoin %s after %s (%s)", where, exc.kind, exc.code or "-")

        return await call_with_retries(
            attempt,
            max_attempts=self.max_attempts,
            base_delay=self._base_delay,
            max_delay=self._max_delay,
            on_retry=on_retry,
        )

    async def _resync_after_rejection(self, base: Base, generation: int, where: str) -> None:
        # Many calls signed with the same stale offset fail together: one resync serves
        # them all, and a call signed after a newer resync just retries with that offset.
        if generation != self._clock_generation:
            return
        if self._resync is None or self._resync.done():
            self._resync = asyncio.ensure_future(self._resync_clock(base, where))
            self._resync.add_done_callback(_consume_exception)
        await asyncio.shield(self._resync)

    async def _resync_clock(self, base: Base, where: str) -> int:
        offset = await self.sync_clock(base=base)
        logger.warning(
            "KuCoin rejected KC-API-TIMESTAMP on %s; clock offset now %d ms", where, offset
        )
        return offset

    async def _send(
        self,
        base: Base,
        path: str,
        params: Mapping[str, str] | None,
        credentials: KucoinCredentials | None,
    ) -> Any:
        # KuCoin signs the query as sent but un-encoded; our values are plain tokens, and
        # the encoded URL is built from the same ordered pairs and sent as is (encoded=True:
        # aiohttp/yarl must not re-encode what was signed).
        raw_query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        encoded_query = "&".join(
            f"{quote(k, safe='')}={quote(str(v), safe='')}" for k, v in (params or {}).items()
        )
        url = URL(
            self._bases[base] + path + (f"?{encoded_query}" if encoded_query else ""),
            encoded=True,
        )
        signed_path = path + (f"?{raw_query}" if raw_query else "")
        where = f"GET {path}"
        http = self._http()
        try:
            async with self._in_flight:
                # Signed only once a slot is free, so time spent queued cannot age the stamp.
                headers = {"Accept": "application/json"}
                if credentials is not None:
                    headers.update(
                        signed_headers(
                            credentials,
                            method="GET",
                            path_and_query=signed_path,
                            timestamp_ms=self.now_ms(),
                        )
                    )
                async with http.get(
                    url, headers=headers, timeout=self._timeout, proxy=self._proxies[base]
                ) as response:
                    status, response_headers = response.status, response.headers
                    body = await response.read()
        except TimeoutError as exc:  # asyncio's, and aiohttp's ServerTimeoutError & co.
            # from None: aiohttp's errors may hold the request, headers and signature included.
            raise UpstreamTimeout(
                f"KuCoin did not answer {where} within {self._timeout_seconds} s "
                f"({type(exc).__name__})"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            # Refused or dropped connections, ServerDisconnectedError, payload errors.
            raise UpstreamUnavailable(
                f"KuCoin {where} failed: {type(exc).__name__}: {exc}"
            ) from None
        return unwrap_response(status, response_headers, body, where)


class ConnectionDropped(aiohttp.ClientConnectionError):
    """The server closed or reset the connection before answering."""


async def _no_immediate_resend(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    # aiohttp resends an idempotent request once, at once, when the connection drops
    # (ServerDisconnectedError, ClientOSError), and has no public switch for it (aiohttp
    # issue #10790). Raised as another ClientConnectionError, the drop reaches us after
    # one try: max_attempts, with backoff, stays the only retry policy here.
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise  # could not connect at all: aiohttp does not resend those anyway
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise ConnectionDropped(f"{type(exc).__name__}: {exc}") from exc


def _consume_exception(future: asyncio.Future[int]) -> None:
    # Every waiter re-raises the error; this keeps asyncio from also logging it as unretrieved.
    if not future.cancelled():
        future.exception()


def unwrap_response(status: int, headers: Mapping[str, str], body: bytes, where: str) -> Any:
    """The envelope's ``data`` (:data:`NO_DATA` when absent), or raise the typed error the
    answer means (see :func:`~cryptotrack.exchanges.kucoin.errors.error_from_response`);
    a 2xx that is not JSON or has no ``code`` raises :class:`UpstreamBadResponse`.

    ``headers`` should be case-insensitive (aiohttp's ``CIMultiDictProxy``): only
    ``gw-ratelimit-reset`` is read from them."""
    try:
        document = json.loads(body, parse_float=Decimal)
    except ValueError:  # includes UnicodeDecodeError
        document = None
    envelope = document if isinstance(document, dict) else None
    code = str(envelope["code"]) if envelope is not None and "code" in envelope else None

    ok = 200 <= status < 300
    if ok and code == SUCCESS_CODE and envelope is not None:
        return envelope.get("data", NO_DATA)
    if ok and code is None:
        what = "is not JSON" if document is None else "has no KuCoin envelope"
        raise UpstreamBadResponse(f"KuCoin answer to {where} {what}", status=status)
    if status < 200 or 300 <= status < 400:
        raise UpstreamBadResponse(f"KuCoin answered {where} with HTTP {status}", status=status)
    message = envelope.get("msg") if envelope is not None else None
    raise error_from_response(
        status=status,
        code=code,
        message=str(message) if message is not None else None,
        headers=headers,
        where=where,
    )


# enable_cleanup_closed works around a CPython leak of aborted TLS transports; aiohttp warns
# (and ignores it) on the Pythons where that is fixed (3.12.8+, 3.13.1+).
_NEEDS_CLEANUP_CLOSED: bool = getattr(aiohttp.connector, "NEEDS_CLEANUP_CLOSED", True)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The CAs the httpx transport trusted: ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set,
    else certifi's bundle. Built once per process (loading it costs ~30 ms of CPU)."""
    if cafile := os.environ.get("SSL_CERT_FILE"):
        context = ssl.create_default_context(cafile=cafile)
    elif capath := os.environ.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(capath=capath)
    else:
        try:
            import certifi
        except ImportError:  # pragma: no cover - certifi comes with httpx
            context = ssl.create_default_context()
        else:
            context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


def _env_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url`` (``HTTPS_PROXY``, ``ALL_PROXY``,
    ``NO_PROXY``...), as httpx honoured it. Resolved once per session: aiohttp's own
    ``trust_env`` looks it up in a thread on every request."""
    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None
    return proxy
