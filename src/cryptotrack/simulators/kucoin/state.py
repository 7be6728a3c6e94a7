"""The KuCoin simulator's world: API keys, their positions and balances, prices, clock.

Pure data and arithmetic, no HTTP. Positions are stored as (signed quantity, entry price,
leverage, margin mode) and every derived field KuCoin reports (costs, mark value, PnL,
margins, bankruptcy and liquidation prices) is computed from the symbol's current mark
price when a request asks, so the numbers are always consistent with each other.
Mutations take a lock because the control API (another thread in tests) and the server
loop touch the same state. KuCoin's catalogue (contracts, answer fields, fees) is in
:mod:`.contracts`, the records of a key in :mod:`.keys`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from cryptotrack.simulators.kucoin.contracts import (
    ALL_PERMISSIONS,
    CROSS_LIST_FIELDS,
    CROSS_SINGLE_FIELDS,
    FEE_RESERVE,
    ISOLATED_LIST_FIELDS,
    ISOLATED_SINGLE_FIELDS,
    LEVERAGE_PLACES,
    MAINT_MARGIN_REQ,
    PCNT_PLACES,
    TAKER_FEE,
    Contract,
    contract_for,
    on_tick,
    plain,
    rounded,
)
from cryptotrack.simulators.kucoin.keys import SimAccount, SimKey, SimPosition
from cryptotrack.simulators.kucoin.wallets import set_futures_balance


class SimulatorState:
    """Keys, positions, balances, mark prices and the (shiftable) clock of one simulator."""

    def __init__(self, *, clock_offset_ms: int = 0) -> None:
        self.keys: dict[str, SimKey] = {}
        self.mark_prices: dict[str, Decimal] = {}
        self.clock_offset_ms = clock_offset_ms
        self.lock = threading.RLock()
        self._position_ids = itertools.count(500000000001000000)
        self._uids = itertools.count(165111215)

    # -- clock -------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The simulated KuCoin clock (the host clock shifted by ``clock_offset_ms``)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    # -- keys --------------------------------------------------------------------------

    def add_key(
        self,
        api_key: str,
        secret: str,
        passphrase: str,
        *,
        permissions: Iterable[str] = ("General", "Futures"),
        ip_whitelist: Iterable[str] | None = None,
        key_version: str = "2",
        remark: str = "",
        is_master: bool = True,
        uid: int | None = None,
        sub_name: str | None = None,
    ) -> SimKey:
        """Create (or replace) a key. Permission names as KuCoin spells them.

        ``uid`` puts the key on an existing simulated user (default: a new user);
        ``sub_name`` makes it a sub-account's key (``isMaster`` false, ``subName`` shown).
        """
        if not api_key or not secret or not passphrase:
            raise ValueError("api_key, secret and passphrase must be non-empty")
        if key_version not in ("1", "2", "3"):
            raise ValueError("key_version must be '1', '2' or '3'")
        perms = tuple(permissions)
        unknown = [p for p in perms if p not in ALL_PERMISSIONS]
        if unknown:
            raise ValueError(f"unknown permissions {unknown}; known: {list(ALL_PERMISSIONS)}")
        key = SimKey(
            api_key=api_key,
            secret=secret,
            passphrase=passphrase,
            permissions=perms,
            ip_whitelist=tuple(ip_whitelist) if ip_whitelist else None,
            key_version=key_version,
            remark=remark or f"sim-{api_key[-4:]}",
            uid=next(self._uids) if uid is None else int(uid),
            created_at_ms=self.now_ms(),
            is_master=is_master and not sub_name,
            sub_name=sub_name or None,
        )
        with self.lock:
            self.keys[api_key] = key
        return key

    def remove_key(self, api_key: str) -> None:
        with self.lock:
            del self.keys[api_key]

    def key(self, api_key: str) -> SimKey:
        """The key, or KeyError (the control API answers 404)."""
        try:
            return self.keys[api_key]
        except KeyError:
            raise KeyError(f"api key {api_key!r}") from None

    # -- prices ------------------------------------------------------------------------

    def mark_price(self, symbol: str) -> Decimal:
        return self.mark_prices.get(symbol) or contract_for(symbol).default_price

    def set_mark_price(self, symbol: str, price: Decimal | str | float) -> None:
        """Move the mark price of ``symbol`` for every key holding it."""
        value = Decimal(str(price))
        if value <= 0:
            raise ValueError("mark price must be positive")
        with self.lock:
            self.mark_prices[symbol] = value

    # -- positions ---------------------------------------------------------------------

    def open_position(
        self,
        api_key: str,
        symbol: str,
        *,
        side: str = "long",
        size: Decimal | int | str = 1,
        entry_price: Decimal | str | float | None = None,
        mark_price: Decimal | str | float | None = None,
        leverage: Decimal | int | str = 3,
        margin_mode: str = "isolated",
    ) -> dict[str, Any]:
        """Open (or replace) ``api_key``'s position in ``symbol``; return its KuCoin payload.

        ``size`` is in contracts (> 0); ``side`` ``long``/``short``; ``entry_price``
        defaults to the current mark; ``mark_price`` (optional) moves the symbol's mark.
        """
        if side not in ("long", "short"):
            raise ValueError("side must be 'long' or 'short'")
        if margin_mode not in ("cross", "isolated"):
            raise ValueError("margin_mode must be 'cross' or 'isolated'")
        contracts = Decimal(str(size))
        lev = Decimal(str(leverage))
        if contracts <= 0 or lev <= 0:
            raise ValueError("size and leverage must be positive")
        with self.lock:
            key = self.key(api_key)
            if mark_price is not None:
                self.set_mark_price(symbol, mark_price)
            if entry_price is None:
                entry = self.mark_price(symbol)
            else:
                entry = Decimal(str(entry_price))
                if entry <= 0:
                    raise ValueError("entry price must be positive")
            if symbol not in self.mark_prices:
                self.mark_prices[symbol] = entry
            position = SimPosition(
                id=str(next(self._position_ids)),
                symbol=symbol,
                qty=contracts if side == "long" else -contracts,
                entry_price=entry,
                leverage=lev,
                margin_mode=margin_mode,
                opened_at_ms=self.now_ms(),
            )
            position.realised_fees = self._fee(position, contracts, entry)
            key.positions[symbol] = position
            return self.position_payload(key, symbol, single=True)

    def resize_position(
        self,
        api_key: str,
        symbol: str,
        *,
        size: Decimal | int | str,
        price: Decimal | str | float | None = None,
    ) -> dict[str, Any] | None:
        """Set the position's absolute size (same side), trading the difference at ``price``
        (default: the mark). Growing moves the average entry; shrinking realises PnL on the
        part closed. Size 0 closes it (returns None).
        """
        contracts = Decimal(str(size))
        if contracts < 0:
            raise ValueError("size must be >= 0")
        with self.lock:
            key = self.key(api_key)
            position = key.positions.get(symbol)
            if position is None:
                raise KeyError(f"no position in {symbol}")
            fill = Decimal(str(price)) if price is not None else self.mark_price(symbol)
            if contracts == 0:
                self.close_position(api_key, symbol, price=fill)
                return None
            sign = 1 if position.qty > 0 else -1
            old = abs(position.qty)
            if contracts > old:
                added = contracts - old
                position.entry_price = self._average_entry(position, old, added, fill)
                position.realised_fees += self._fee(position, added, fill)
            elif contracts < old:
                closed = old - contracts
                position.realised_gross_pnl += self._pnl(position, closed * sign, fill)
                position.realised_fees += self._fee(position, closed, fill)
            position.qty = contracts * sign
            return self.position_payload(key, symbol, single=True)

    def close_position(
        self, api_key: str, symbol: str, *, price: Decimal | str | float | None = None
    ) -> Decimal:
        """Close the whole position at ``price`` (default: the mark); return its total
        realised PnL (gross minus fees). KeyError when there is none."""
        with self.lock:
            key = self.key(api_key)
            position = key.positions.pop(symbol, None)
            if position is None:
                raise KeyError(f"no position in {symbol}")
            fill = Decimal(str(price)) if price is not None else self.mark_price(symbol)
            gross = position.realised_gross_pnl + self._pnl(position, position.qty, fill)
            fees = position.realised_fees + self._fee(position, abs(position.qty), fill)
            return gross - fees

    def _value(self, contract: Contract, qty: Decimal, price: Decimal) -> Decimal:
        if contract.is_inverse:
            return -qty * contract.multiplier / price
        return qty * contract.multiplier * price

    def _pnl(self, position: SimPosition, qty: Decimal, price: Decimal) -> Decimal:
        contract = contract_for(position.symbol)
        return self._value(contract, qty, price) - self._value(contract, qty, position.entry_price)

    def _fee(self, position: SimPosition, contracts: Decimal, price: Decimal) -> Decimal:
        contract = contract_for(position.symbol)
        return abs(self._value(contract, contracts, price)) * TAKER_FEE

    def _average_entry(
        self, position: SimPosition, old: Decimal, added: Decimal, fill: Decimal
    ) -> Decimal:
        if contract_for(position.symbol).is_inverse:
            # Inverse contracts average in 1/price (equal USD per contract).
            return (old + added) / (old / position.entry_price + added / fill)
        return (old * position.entry_price + added * fill) / (old + added)

    def positions_payload(self, api_key: str, *, currency: str | None = None) -> list[Any]:
        """``GET /api/v1/positions`` data for ``api_key`` (optionally one settle currency)."""
        with self.lock:
            key = self.key(api_key)
            result = []
            for symbol in list(key.positions):
                if currency and contract_for(symbol).settle_currency != currency:
                    continue
                result.append(self.position_payload(key, symbol, single=False))
            return result

    def position_payload(self, key: SimKey, symbol: str, *, single: bool) -> dict[str, Any]:
        """One position object with exactly KuCoin's fields for its margin mode/endpoint;
        the zeroed "no position" object when ``key`` holds none in ``symbol``."""
        now = self.now_ms()
        position = key.positions.get(symbol)
        if position is None:
            return self._no_position(symbol, now)
        contract = contract_for(symbol)
        mark = self.mark_price(symbol)
        qty, entry, lev = position.qty, position.entry_price, position.leverage
        cost = self._value(contract, qty, entry)
        mark_value = self._value(contract, qty, mark)
        upnl = mark_value - cost
        pos_init = abs(cost) / lev
        pos_comm = abs(cost) * FEE_RESERVE
        pos_margin = pos_init + pos_comm
        pos_maint = abs(cost) * MAINT_MARGIN_REQ + pos_comm
        maint_margin = pos_margin + upnl
        real_leverage = abs(mark_value) / maint_margin if maint_margin > 0 else lev
        bankrupt, liquidation = self._bankrupt_and_liquidation(contract, qty, entry, pos_margin)
        fees = position.realised_fees
        is_cross = position.margin_mode == "cross"
        values: dict[str, Any] = {
            "id": position.id,
            "symbol": symbol,
            "autoDeposit": False,
            "crossMode": is_cross,
            "maintMarginReq": float(MAINT_MARGIN_REQ),
            "riskLimit": 500000,
            "realLeverage": rounded(real_leverage, LEVERAGE_PLACES),
            "delevPercentage": 0.5,
            "openingTimestamp": position.opened_at_ms,
            "currentTimestamp": now,
            "currentQty": int(qty) if qty == qty.to_integral_value() else float(qty),
            "currentCost": rounded(cost),
            "currentComm": rounded(fees),
            "unrealisedCost": rounded(cost),
            "realisedGrossCost": rounded(-position.realised_gross_pnl),
            "realisedCost": rounded(fees - position.realised_gross_pnl),
            "isOpen": True,
            "markPrice": on_tick(mark, contract.tick_size),
            "markValue": rounded(mark_value),
            "posCost": rounded(cost),
            "posCross": 0.0,
            "posCrossMargin": 0,
            "posInit": rounded(pos_init),
            "posComm": rounded(pos_comm),
            "posCommCommon": rounded(pos_comm),
            "posLoss": 0.0,
            "posMargin": rounded(pos_margin),
            "posFunding": 0.0,
            "posMaint": rounded(pos_maint),
            "maintMargin": rounded(maint_margin),
            "realisedGrossPnl": rounded(position.realised_gross_pnl),
            "realisedPnl": rounded(position.realised_gross_pnl - fees),
            "unrealisedPnl": rounded(upnl),
            "unrealisedPnlPcnt": rounded(upnl / abs(cost), PCNT_PLACES),
            "unrealisedRoePcnt": rounded(upnl / pos_init, PCNT_PLACES),
            "avgEntryPrice": on_tick(entry, contract.tick_size),
            "liquidationPrice": on_tick(liquidation, contract.tick_size),
            "bankruptPrice": on_tick(bankrupt, contract.tick_size),
            "settleCurrency": contract.settle_currency,
            "isInverse": contract.is_inverse,
            "maintainMargin": float(MAINT_MARGIN_REQ),
            "riskLimitLevel": 1,
            "marginMode": "CROSS" if is_cross else "ISOLATED",
            "positionSide": "BOTH",
            # KuCoin reports the live leverage for isolated positions, the chosen one for cross.
            "leverage": rounded(lev if is_cross else real_leverage, LEVERAGE_PLACES),
        }
        if single:
            names = CROSS_SINGLE_FIELDS if is_cross else ISOLATED_SINGLE_FIELDS
        else:
            names = CROSS_LIST_FIELDS if is_cross else ISOLATED_LIST_FIELDS
        return {name: values[name] for name in names}

    @staticmethod
    def _bankrupt_and_liquidation(
        contract: Contract, qty: Decimal, entry: Decimal, margin: Decimal
    ) -> tuple[Decimal, Decimal]:
        # The margin alone absorbs losses (isolated formula, also used for cross here).
        size = abs(qty) * contract.multiplier
        long = qty > 0
        if contract.is_inverse:
            inverse = 1 / entry + (margin / size if long else -margin / size)
            bankrupt = 1 / inverse if inverse > 0 else Decimal(0)
        else:
            bankrupt = entry - margin / size if long else entry + margin / size
        bankrupt = max(bankrupt, Decimal(0))
        buffer = entry * MAINT_MARGIN_REQ
        liquidation = bankrupt + buffer if long else max(bankrupt - buffer, Decimal(0))
        return bankrupt, liquidation

    def _no_position(self, symbol: str, now: int) -> dict[str, Any]:
        # Shape of KuCoin's live answer for a symbol without a position
        # (kucoin_futures_position_symbol_no_position_data.json).
        values: dict[str, Any] = dict.fromkeys(ISOLATED_SINGLE_FIELDS, 0)
        values.update(
            {
                "id": "",
                "symbol": symbol,
                "autoDeposit": False,
                "crossMode": False,
                "riskLimit": 5,
                "realLeverage": 0.0,
                "delevPercentage": 0.0,
                "currentTimestamp": now,
                "realisedGrossCost": 0.0,
                "realisedCost": 0.0,
                "isOpen": False,
                "markValue": 0.0,
                "maintMargin": 0.0,
                "realisedGrossPnl": 0.0,
                "realisedPnl": 0.0,
                "unrealisedPnl": 0.0,
                "settleCurrency": contract_for(symbol).settle_currency,
                "riskLimitLevel": 1,
                "marginMode": "ISOLATED",
                "positionSide": "BOTH",
                "leverage": 0.0,
            }
        )
        return values

    # -- balances ----------------------------------------------------------------------

    def set_balance(
        self,
        api_key: str,
        currency: str,
        balance: Decimal | str | float,
        *,
        account_type: str = "trade",
        holds: Decimal | str | float = 0,
    ) -> dict[str, str]:
        """Set (or create) the ``account_type`` account of ``currency``; available =
        balance - holds. Returns the account as KuCoin lists it."""
        total, held = Decimal(str(balance)), Decimal(str(holds))
        if total < 0 or held < 0 or held > total:
            raise ValueError("need 0 <= holds <= balance")
        with self.lock:
            key = self.key(api_key)
            for account in key.accounts:
                if account.currency == currency and account.type == account_type:
                    break
            else:
                account = SimAccount(
                    secrets.token_hex(12), currency, account_type, *(Decimal(0),) * 3
                )
                key.accounts.append(account)
            account.balance, account.holds, account.available = total, held, total - held
            return self._account_payload(account)

    @staticmethod
    def _account_payload(account: SimAccount) -> dict[str, str]:
        return {
            "id": account.id,
            "currency": account.currency,
            "type": account.type,
            "balance": plain(account.balance),
            "available": plain(account.available),
            "holds": plain(account.holds),
        }

    def accounts_payload(
        self, api_key: str, *, currency: str | None = None, account_type: str | None = None
    ) -> list[dict[str, str]]:
        """``GET /api/v1/accounts`` data, optionally filtered like KuCoin filters it."""
        with self.lock:
            return [
                self._account_payload(a)
                for a in self.key(api_key).accounts
                if (not currency or a.currency == currency)
                and (not account_type or a.type == account_type)
            ]

    def api_key_payload(self, key: SimKey) -> dict[str, Any]:
        """``GET /api/v1/user/api-key`` data, same fields as KuCoin's example."""
        payload: dict[str, Any] = {
            "remark": key.remark,
            "apiKey": key.api_key,
            "apiVersion": int(key.key_version),
            "permission": ",".join(key.permissions),
        }
        if key.ip_whitelist:
            payload["ipWhitelist"] = ",".join(key.ip_whitelist)
        payload.update({"createdAt": key.created_at_ms, "uid": key.uid, "isMaster": key.is_master})
        if key.sub_name:
            payload["subName"] = key.sub_name
        return payload

    # -- demo and drift ----------------------------------------------------------------

    def add_demo_holdings(self, api_key: str) -> None:
        """Give a key the demo portfolio: XBTUSDTM long (isolated), ETHUSDTM short (cross),
        USDT/BTC spot balances and 5000 USDT in the futures wallet."""
        with self.lock:
            self.mark_prices.setdefault("XBTUSDTM", Decimal("67850"))
            self.mark_prices.setdefault("ETHUSDTM", Decimal("2431.5"))
        self.open_position(
            api_key, "XBTUSDTM", side="long", size=2, entry_price="67000", leverage=5
        )
        self.open_position(
            api_key,
            "ETHUSDTM",
            side="short",
            size=10,
            entry_price="2450",
            leverage=10,
            margin_mode="cross",
        )
        self.set_balance(api_key, "USDT", "2500.5", account_type="trade", holds="120")
        self.set_balance(api_key, "USDT", "1000", account_type="main")
        self.set_balance(api_key, "BTC", "0.0125", account_type="trade")
        set_futures_balance(self, api_key, "5000", currency="USDT")

    def drift_prices(self, rng: Any, volatility: float) -> None:
        """Move every known mark price by a Gaussian step of ``volatility`` (relative)."""
        with self.lock:
            for symbol, price in list(self.mark_prices.items()):
                step = Decimal(str(rng.gauss(0.0, volatility)))
                self.mark_prices[symbol] = max(price * (1 + step), price / 2)

    def snapshot(self) -> dict[str, Any]:
        """Everything but secrets, for ``GET /_sim/state``."""
        with self.lock:
            return {
                "now_ms": self.now_ms(),
                "clock_offset_ms": self.clock_offset_ms,
                "mark_prices": {s: plain(p) for s, p in self.mark_prices.items()},
                "keys": [k.summary() for k in self.keys.values()],
            }
