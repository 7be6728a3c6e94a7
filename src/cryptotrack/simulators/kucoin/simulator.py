"""``KucoinSimulator``: the simulator as a Python object running in a background thread."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from cryptotrack.simulators.control import ControlClient
from cryptotrack.simulators.faults import Fault, FaultKind
from cryptotrack.simulators.kucoin.app import KucoinSimApp
from cryptotrack.simulators.kucoin.keys import SimKey
from cryptotrack.simulators.kucoin.state import SimulatorState
from cryptotrack.simulators.kucoin.wallets import set_futures_balance
from cryptotrack.simulators.serving import BackgroundServer, ServedSimulator

Number = Decimal | int | float | str


class KucoinSimulator(ServedSimulator):
    """A KuCoin look-alike on ``http://127.0.0.1:<free port>`` for tests and demos.

    Serves spot and futures paths on one port: point both ``spot_url`` and ``futures_url``
    of a :class:`~cryptotrack.exchanges.kucoin.KucoinClient` at :attr:`url`. Every method
    here has an HTTP twin under ``/_sim/`` (see :mod:`cryptotrack.simulators.kucoin`).

    ``rate_limit``: quota per pool per window (int for every pool, or
    ``{"futures": 100, ...}``; default KuCoin's VIP0 quotas); ``clock_offset_ms`` shifts
    the simulated KuCoin clock; ``drift`` (e.g. 0.001) moves mark prices by that relative
    standard deviation every ``drift_interval`` seconds.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | dict[str, int] | None = None,
        rate_limit_window: float = 30.0,
        clock_offset_ms: int = 0,
        timestamp_tolerance_ms: int = 5000,
        drift: float = 0.0,
        drift_interval: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.sim = KucoinSimApp(
            rate_limit=rate_limit,
            rate_limit_window=rate_limit_window,
            clock_offset_ms=clock_offset_ms,
            timestamp_tolerance_ms=timestamp_tolerance_ms,
            drift=drift,
            drift_interval=drift_interval,
            seed=seed,
        )
        self._server = BackgroundServer(
            self.sim.build_app, host=host, port=port, name="kucoin-simulator"
        )

    # -- where it listens (start/stop come from ServedSimulator) ------------------

    @property
    def url(self) -> str:
        """Base URL (both KuCoin bases), e.g. ``http://127.0.0.1:54321``."""
        return self._server.url

    @property
    def state(self) -> SimulatorState:
        return self.sim.state

    # -- keys, positions, balances, prices ------------------------------------------------

    def add_key(
        self,
        api_key: str,
        api_secret: str,
        api_passphrase: str,
        *,
        permissions: Iterable[str] = ("General", "Futures"),
        ip_whitelist: Iterable[str] | None = None,
        key_version: str = "2",
        remark: str = "",
        demo: bool = False,
        uid: int | None = None,
        sub_name: str | None = None,
    ) -> SimKey:
        """Create a key (``demo=True`` also gives it the demo positions and balances).

        ``uid`` adds it to an existing simulated user (``sim.add_key(...).uid`` of another
        key); ``sub_name`` makes it a key of that user's sub-account of this name."""
        key = self.state.add_key(
            api_key,
            api_secret,
            api_passphrase,
            permissions=permissions,
            ip_whitelist=ip_whitelist,
            key_version=key_version,
            remark=remark,
            uid=uid,
            sub_name=sub_name,
        )
        if demo:
            self.state.add_demo_holdings(api_key)
        return key

    def remove_key(self, api_key: str) -> None:
        self.state.remove_key(api_key)

    def open_position(
        self,
        api_key: str,
        symbol: str,
        *,
        side: str = "long",
        size: Number = 1,
        entry_price: Number | None = None,
        mark_price: Number | None = None,
        leverage: Number = 3,
        margin_mode: str = "isolated",
    ) -> dict[str, Any]:
        """Open (or replace) a position; returns it as ``GET /api/v1/position`` would."""
        return self.state.open_position(
            api_key,
            symbol,
            side=side,
            size=Decimal(str(size)),
            entry_price=entry_price,
            mark_price=mark_price,
            leverage=Decimal(str(leverage)),
            margin_mode=margin_mode,
        )

    def set_mark_price(self, symbol: str, price: Number) -> None:
        """Move ``symbol``'s mark price (for every key holding it)."""
        self.state.set_mark_price(symbol, Decimal(str(price)))

    def set_ticker(
        self,
        symbol: str,
        price: Number,
        *,
        best_bid: Number | None = None,
        best_ask: Number | None = None,
    ) -> None:
        """List spot ``symbol`` (``BTC-USDT``) at ``price`` on the public level-1 ticker."""
        self.sim.tickers.set(
            symbol,
            Decimal(str(price)),
            best_bid=None if best_bid is None else Decimal(str(best_bid)),
            best_ask=None if best_ask is None else Decimal(str(best_ask)),
        )

    def remove_ticker(self, symbol: str) -> None:
        """Delist spot ``symbol``: its ticker then answers KuCoin's 400100."""
        self.sim.tickers.remove(symbol)

    def resize_position(
        self, api_key: str, symbol: str, size: Number, *, price: Number | None = None
    ) -> dict[str, Any] | None:
        """Set the absolute size (contracts) trading at ``price``; 0 closes (returns None)."""
        return self.state.resize_position(api_key, symbol, size=Decimal(str(size)), price=price)

    def close_position(self, api_key: str, symbol: str, *, price: Number | None = None) -> Decimal:
        """Close the position; return its realised PnL (settle currency, fees included)."""
        return self.state.close_position(api_key, symbol, price=price)

    def set_balance(
        self,
        api_key: str,
        currency: str,
        balance: Number,
        *,
        account_type: str = "trade",
        holds: Number = 0,
    ) -> dict[str, str]:
        """Set one spot-side account's balance (available = balance - holds)."""
        return self.state.set_balance(
            api_key,
            currency,
            Decimal(str(balance)),
            account_type=account_type,
            holds=Decimal(str(holds)),
        )

    def set_futures_balance(
        self,
        api_key: str,
        balance: Number,
        *,
        currency: str = "USDT",
        order_margin: Number = 0,
        frozen_funds: Number = 0,
    ) -> dict[str, Any]:
        """Set the key's futures wallet in ``currency``; returns its account overview
        (``GET /api/v1/account-overview``), the rest derived from its open positions."""
        return set_futures_balance(
            self.state,
            api_key,
            Decimal(str(balance)),
            currency=currency,
            order_margin=Decimal(str(order_margin)),
            frozen_funds=Decimal(str(frozen_funds)),
        )

    # -- behaviour -----------------------------------------------------------------------

    def inject_fault(
        self,
        kind: FaultKind,
        *,
        api_key: str | None = None,
        path: str | None = None,
        **options: Any,
    ) -> Fault:
        """Add a fault (``latency``, ``error``, ``malformed``, ``drop``) for every request or
        only ``api_key``'s / ``path``'s. ``options`` are :class:`common.Fault` fields
        (``latency=``, ``status=``, ``body=``, ``times=``, ``probability=``)."""
        return self.sim.faults.inject(kind, scope=api_key, path=path, **options)

    def clear_faults(self, api_key: str | None = None) -> int:
        """Remove every fault (or only ``api_key``'s); return how many."""
        return self.sim.faults.clear(api_key)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change ``rate_limit``, ``rate_limit_window``, ``clock_offset_ms``,
        ``timestamp_tolerance_ms``, ``drift``, ``drift_interval`` while running."""
        return self.sim.configure(settings)

    def request_count(self, *, api_key: str | None = None, path: str | None = None) -> int:
        """Requests received (faulted and rejected ones included), optionally by key/path."""
        return self.sim.requests.count(scope=api_key, path=path)

    def start_scenario(self, name: str, api_key: str, symbol: str, **params: Any) -> dict[str, Any]:
        """Start a scripted scenario (:mod:`.scenarios`) through ``POST /_sim/scenarios``;
        return its summary (``id``, ``state``, ``steps``...)."""
        with ControlClient(self.url) as control:
            started: dict[str, Any] = control.post(
                "/scenarios", {"name": name, "api_key": api_key, "symbol": symbol, **params}
            )
        return started

    def scenarios(self) -> list[dict[str, Any]]:
        """Every scenario started since the last reset, with its state."""
        return [s.summary() for s in self.sim.scenarios.scenarios.values()]

    def stop_scenarios(self) -> None:
        self.sim.scenarios.stop_all()

    def reset(self) -> None:
        """Forget keys, prices, faults, counters and rate-limit windows; restore the settings
        given to the constructor."""
        self.sim.reset()
