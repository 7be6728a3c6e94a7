"""Python control of the CoinGecko simulator: in-process (thread) or over HTTP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from cryptotrack.simulators.coingecko.app import API_PREFIX, MALFORMED_BODY, build_app, stats
from cryptotrack.simulators.coingecko.state import CoinGeckoState
from cryptotrack.simulators.control import ControlClient
from cryptotrack.simulators.counting import RequestCounter
from cryptotrack.simulators.faults import Fault, FaultInjector, FaultKind
from cryptotrack.simulators.serving import BackgroundServer, ServedSimulator


class CoinGeckoSimulator(ServedSimulator):
    """A CoinGecko ``/api/v3`` server on a free loopback port, run by a background thread.

    ``start()`` returns once it listens; ``url`` is the base URL including ``/api/v3``
    (what ``COINGECKO_URL`` takes) and ``base_url`` the root (for ``/_sim/``). The state,
    the fault injector and the request counter are shared with the HTTP control API.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] | None = None,
        per_minute: int | None = None,
    ) -> None:
        self.state = CoinGeckoState(api_keys=api_keys, per_minute=per_minute)
        self.faults = FaultInjector(malformed_body=MALFORMED_BODY)
        self.counter = RequestCounter()
        self.app = build_app(self.state, injector=self.faults, counter=self.counter)
        self._server = BackgroundServer(self.app, host=host, port=port, name="coingecko")

    # -- where it listens (start/stop come from ServedSimulator) ------------------

    @property
    def url(self) -> str:
        """The API base including ``/api/v3``, e.g. ``http://127.0.0.1:54321/api/v3``."""
        return self._server.url + API_PREFIX

    # -- scripting -------------------------------------------------------------------

    def set_price(self, coin: str, currency: str, price: Decimal | str | None) -> None:
        """Set one price exactly (``None`` removes it); new coins/currencies get listed."""
        self.state.set_price(coin, currency, None if price is None else Decimal(price))

    def set_prices(self, table: Mapping[str, Mapping[str, Decimal | str | None]]) -> None:
        """Set many prices: ``{coin: {currency: price}}``."""
        for coin, quotes in table.items():
            for currency, price in quotes.items():
                self.set_price(coin, currency, price)

    def price(self, coin: str, currency: str) -> Decimal | None:
        """The price ``/simple/price`` would answer for the pair, or None."""
        return self.state.prices.get((coin.lower(), currency.lower()))

    def add_coin(self, coin_id: str, symbol: str, name: str) -> None:
        """List a coin in ``/coins/list`` (without prices)."""
        self.state.add_coin(coin_id, symbol, name)

    def set_api_keys(self, keys: Iterable[str] | None) -> None:
        """Require one of ``keys`` (or, with ``None``, accept any key or none)."""
        self.state.set_api_keys(keys)

    def set_rate_limit(self, per_minute: int | None) -> None:
        """Calls allowed per caller per minute (``None`` = unlimited)."""
        self.state.set_rate_limit(per_minute)

    def reset_rate_limit(self) -> None:
        """Zero every caller's usage in the current minute."""
        self.state.reset_rate_limit()

    def inject_fault(self, kind: FaultKind, **options: Any) -> Fault:
        """Add a fault (``latency``, ``error``, ``malformed``, ``drop``; see common.Fault).

        ``path`` is a full path prefix (e.g. ``/api/v3/simple/price``), ``scope`` an api key.
        """
        return self.faults.inject(kind, **options)

    def clear_faults(self) -> int:
        """Remove every fault; return how many there were."""
        return self.faults.clear()

    # -- observing -------------------------------------------------------------------

    def count(self, path: str | None = None) -> int:
        """Requests so far to ``path`` (relative to ``/api/v3``, e.g. ``/simple/price``),
        or to every path; answered, refused and faulted requests alike."""
        return self.counter.count(path=None if path is None else API_PREFIX + path)

    @property
    def simple_price_requests(self) -> list[dict[str, list[str]]]:
        """The last ``/simple/price`` requests' ``ids`` and ``vs_currencies`` (oldest first)."""
        return list(self.state.simple_price_requests)

    def stats(self) -> dict[str, Any]:
        """Same document as ``GET /_sim/stats``."""
        return stats(self.state, self.counter)

    def reset_stats(self) -> None:
        """Zero the counters and forget the recorded ``/simple/price`` requests."""
        self.counter.reset()
        self.state.simple_price_requests.clear()

    def reset(self) -> None:
        """Default table, no usage, no counters, no faults."""
        self.state.reset()
        self.counter.reset()
        self.faults.clear()


class CoinGeckoControl(ControlClient):
    """Scripts a simulator running in another process through its ``/_sim/`` API."""

    def set_price(self, coin: str, currency: str, price: Decimal | str | None) -> Any:
        """``POST /_sim/prices``; decimals travel as strings, exactly."""
        return self.post(
            "/prices",
            {"coin": coin, "currency": currency, "price": None if price is None else str(price)},
        )

    def set_prices(self, table: Mapping[str, Mapping[str, Decimal | str | None]]) -> Any:
        """``POST /_sim/prices`` with ``{"prices": {coin: {currency: price}}}``."""
        prices = {
            coin: {cur: None if p is None else str(p) for cur, p in quotes.items()}
            for coin, quotes in table.items()
        }
        return self.post("/prices", {"prices": prices})

    def stats(self) -> dict[str, Any]:
        """``GET /_sim/stats``."""
        result: dict[str, Any] = self.get("/stats")
        return result

    def set_rate_limit(self, per_minute: int | None) -> Any:
        """``POST /_sim/rate-limit``."""
        return self.post("/rate-limit", {"per_minute": per_minute})

    def set_api_keys(self, keys: Iterable[str] | None) -> Any:
        """``POST /_sim/keys``."""
        return self.post("/keys", {"api_keys": None if keys is None else list(keys)})

    def reset(self) -> None:
        """``POST /_sim/reset``."""
        self.post("/reset")
