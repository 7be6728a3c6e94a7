"""The httpx connection-pool ownership shared by the Alpha Vantage and CoinGecko clients."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx


class PooledClient:
    """Holds an ``httpx.AsyncClient``: the caller's (left open on close) or its own.

    Use as ``async with Client(...) as client`` or call :meth:`aclose`.
    """

    def __init__(self, *, http: httpx.AsyncClient | None, timeout: float) -> None:
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._timeout = httpx.Timeout(timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool if this client created it (a caller's pool stays open)."""
        if self._owns_http:
            await self._http.aclose()
