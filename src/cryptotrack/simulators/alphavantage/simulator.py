"""Python control of the Alpha Vantage simulator: in-process (thread) or over HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from cryptotrack.simulators.alphavantage.app import MALFORMED_BODY, QUERY_PATH, build_app, stats
from cryptotrack.simulators.alphavantage.state import AlphaVantageState, Quote
from cryptotrack.simulators.control import ControlClient
from cryptotrack.simulators.counting import RequestCounter
from cryptotrack.simulators.faults import Fault, FaultInjector, FaultKind
from cryptotrack.simulators.serving import BackgroundServer, ServedSimulator


class AlphaVantageSimulator(ServedSimulator):
    """An Alpha Vantage ``/query`` server on a free loopback port, run by a background thread.

    ``start()`` returns once it listens; ``url`` is the full endpoint (``http://host:port/query``,
    what ``ALPHAVANTAGE_URL`` takes) and ``base_url`` the root (for ``/_sim/``). Keys,
    quotas and the walk are set as in :class:`AlphaVantageState`; the state, the fault
    injector and the request counter are shared with the HTTP control API.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] | None = None,
        per_minute: int | None = None,
        per_day: int | None = None,
        seed: int = 0,
        step_seconds: float = 1.0,
        volatility: float = 0.0005,
        include_bid_ask: bool = True,
        minute_limit_style: str = "information",
    ) -> None:
        self.state = AlphaVantageState(
            seed=seed,
            step_seconds=step_seconds,
            volatility=volatility,
            api_keys=api_keys,
            per_minute=per_minute,
            per_day=per_day,
        )
        self.faults = FaultInjector(malformed_body=MALFORMED_BODY)
        self.counter = RequestCounter()
        self.app = build_app(
            self.state,
            injector=self.faults,
            counter=self.counter,
            include_bid_ask=include_bid_ask,
            minute_limit_style=minute_limit_style,
        )
        self._server = BackgroundServer(self.app, host=host, port=port, name="alphavantage")

    # -- where it listens (start/stop come from ServedSimulator) ------------------

    @property
    def url(self) -> str:
        """The full endpoint, ``http://host:port/query``."""
        return self._server.url + QUERY_PATH

    # -- scripting -------------------------------------------------------------------

    def set_rate(
        self,
        from_currency: str,
        to_currency: str,
        rate: Decimal | str,
        bid: Decimal | str | None = None,
        ask: Decimal | str | None = None,
    ) -> None:
        """Pin ``from``/``to`` at ``rate`` (bid/ask derived from the spread unless given)."""
        self.state.set_rate(
            from_currency,
            to_currency,
            Decimal(rate),
            None if bid is None else Decimal(bid),
            None if ask is None else Decimal(ask),
        )

    def unpin(self, from_currency: str | None = None, to_currency: str | None = None) -> int:
        """Let a pinned pair (or every pair) walk again; return how many were unpinned."""
        return self.state.unpin(from_currency, to_currency)

    def quote(self, from_currency: str, to_currency: str) -> Quote:
        """What ``/query`` would answer for the pair right now (a known pair only)."""
        return self.state.quote(from_currency.upper(), to_currency.upper())

    def set_api_keys(self, keys: Iterable[str] | None) -> None:
        """Accept only ``keys`` (or, with ``None``, any non-empty key)."""
        self.state.set_api_keys(keys)

    def set_quota(self, *, per_minute: int | None = None, per_day: int | None = None) -> None:
        """Set both quota sizes (``None`` = unlimited)."""
        self.state.set_quota(per_minute=per_minute, per_day=per_day)

    def reset_quota(self) -> None:
        """Zero every key's usage in the current minute and day."""
        self.state.reset_quota()

    def inject_fault(self, kind: FaultKind, **options: Any) -> Fault:
        """Add a fault (``latency``, ``error``, ``malformed``, ``drop``; see common.Fault).

        ``scope`` is an api key: scoped faults hit only that key's requests.
        """
        return self.faults.inject(kind, **options)

    def clear_faults(self) -> int:
        """Remove every fault; return how many there were."""
        return self.faults.clear()

    # -- observing -------------------------------------------------------------------

    @property
    def call_count(self) -> int:
        """Requests to ``/query`` so far (answered, refused or faulted alike)."""
        return self.counter.count(path=QUERY_PATH)

    def stats(self) -> dict[str, Any]:
        """Same document as ``GET /_sim/stats``."""
        return stats(self.state, self.counter)

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self.counter.reset()

    def reset(self) -> None:
        """Pins, walks, quota usage, counters and faults back to the start."""
        self.state.reset()
        self.counter.reset()
        self.faults.clear()


class AlphaVantageControl(ControlClient):
    """Scripts a simulator running in another process through its ``/_sim/`` API."""

    def set_rate(
        self,
        from_currency: str,
        to_currency: str,
        rate: Decimal | str,
        bid: Decimal | str | None = None,
        ask: Decimal | str | None = None,
    ) -> Any:
        """Pin a pair (``POST /_sim/rates``); decimals travel as strings, exactly."""
        body: dict[str, Any] = {
            "from_currency": from_currency,
            "to_currency": to_currency,
            "rate": str(rate),
        }
        if bid is not None:
            body["bid"] = str(bid)
        if ask is not None:
            body["ask"] = str(ask)
        return self.post("/rates", body)

    def stats(self) -> dict[str, Any]:
        """``GET /_sim/stats``."""
        result: dict[str, Any] = self.get("/stats")
        return result

    def set_quota(self, *, per_minute: int | None = None, per_day: int | None = None) -> Any:
        """``POST /_sim/quota``."""
        return self.post("/quota", {"per_minute": per_minute, "per_day": per_day})

    def set_api_keys(self, keys: Iterable[str] | None) -> Any:
        """``POST /_sim/keys``."""
        return self.post("/keys", {"api_keys": None if keys is None else list(keys)})

    def reset(self) -> None:
        """``POST /_sim/reset``."""
        self.post("/reset")
