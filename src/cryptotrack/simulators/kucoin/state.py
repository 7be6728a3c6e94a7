"""The KuCoin simulator's world: API keys, their positions and balances, prices, clock.

Pure data and arithmetic, no HTTP. Positions are stored as (signed quantity, entry price,
leverage, margin mode) and every derived field KuCoin reports (costs, mark value, PnL,
margins, bankruptcy and liquidation prices) is computed from the symbol's current mark
price when a request asks, so the numbers are always consistent with each other.
Mutations take a lock because the control API (another thread in tests) and the server
loop touch the same state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Field sets of KuCoin's own examples (tests/fixtures/upstream/kucoin_futures_*.json):
# isolated positions carry margin details that cross positions do not, the list adds
# isInverse, the single-symbol answer adds riskLimitLevel.
CROSS_LIST_FIELDS = [
    "id",
    "symbol",
    "crossMode",
    "delevPercentage",
    "openingTimestamp",
    "currentTimestamp",
    "currentQty",
    "currentCost",
    "currentComm",
    "unrealisedCost",
    "realisedGrossCost",
    "realisedCost",
    "isOpen",
    "markPrice",
    "markValue",
    "posCost",
    "posInit",
    "posMargin",
    "realisedGrossPnl",
    "realisedPnl",
    "unrealisedPnl",
    "unrealisedPnlPcnt",
    "unrealisedRoePcnt",
    "avgEntryPrice",
    "liquidationPrice",
    "bankruptPrice",
    "settleCurrency",
    "isInverse",
    "marginMode",
    "positionSide",
    "leverage",
]
ISOLATED_LIST_FIELDS = [
    "id",
    "symbol",
    "autoDeposit",
    "crossMode",
    "maintMarginReq",
    "riskLimit",
    "realLeverage",
    "delevPercentage",
    "openingTimestamp",
    "currentTimestamp",
    "currentQty",
    "currentCost",
    "currentComm",
    "unrealisedCost",
    "realisedGrossCost",
    "realisedCost",
    "isOpen",
    "markPrice",
    "markValue",
    "posCost",
    "posCross",
    "posCrossMargin",
    "posInit",
    "posComm",
    "posCommCommon",
    "posLoss",
    "posMargin",
    "posFunding",
    "posMaint",
    "maintMargin",
    "realisedGrossPnl",
    "realisedPnl",
    "unrealisedPnl",
    "unrealisedPnlPcnt",
    "unrealisedRoePcnt",
    "avgEntryPrice",
    "liquidationPrice",
    "bankruptPrice",
    "settleCurrency",
    "isInverse",
    "maintainMargin",
    "marginMode",
    "positionSide",
    "leverage",
]


def _single_fields(list_fields: list[str]) -> list[str]:
    fields = [f for f in list_fields if f != "isInverse"]
    anchor = fields.index("marginMode")
    return [*fields[:anchor], "riskLimitLevel", *fields[anchor:]]


ISOLATED_SINGLE_FIELDS = _single_fields(ISOLATED_LIST_FIELDS)
CROSS_SINGLE_FIELDS = _single_fields(CROSS_LIST_FIELDS)

# Permissions KuCoin's spec lists for the endpoints we serve.
ALL_PERMISSIONS = (
    "General",
    "Spot",
    "Margin",
    "Futures",
    "Earn",
    "InnerTransfer",
    "Transfer",
    "FlexTransfers",
    "LeadtradeFutures",
)

TAKER_FEE = Decimal("0.0006")
FEE_RESERVE = Decimal("0.0008")  # what KuCoin holds back in posComm for closing fees
MAINT_MARGIN_REQ = Decimal("0.005")
VALUE_PLACES = Decimal("1E-10")
PCNT_PLACES = Decimal("0.0001")
LEVERAGE_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Contract:
    """What the simulator knows of a futures contract (from KuCoin's contracts list)."""

    symbol: str
    multiplier: Decimal  # base units per contract (linear) or USD per contract (inverse)
    settle_currency: str
    is_inverse: bool
    tick_size: Decimal
    default_price: Decimal


CONTRACTS: dict[str, Contract] = {
    c.symbol: c
    for c in (
        Contract("XBTUSDTM", Decimal("0.001"), "USDT", False, Decimal("0.1"), Decimal("67000")),
        Contract("ETHUSDTM", Decimal("0.01"), "USDT", False, Decimal("0.01"), Decimal("2450")),
        Contract("SOLUSDTM", Decimal("0.1"), "USDT", False, Decimal("0.001"), Decimal("150")),
        Contract("XRPUSDTM", Decimal("10"), "USDT", False, Decimal("0.0001"), Decimal("0.55")),
        Contract("XBTUSDM", Decimal("1"), "XBT", True, Decimal("0.1"), Decimal("67000")),
        Contract("ETHUSDM", Decimal("1"), "ETH", True, Decimal("0.01"), Decimal("2450")),
    )
}


def contract_for(symbol: str) -> Contract:
    """The known contract, or a plausible one for an unknown symbol (linear, 1 per lot)."""
    known = CONTRACTS.get(symbol)
    if known is not None:
        return known
    if symbol.endswith("USDM"):
        return Contract(symbol, Decimal("1"), symbol[:-4], True, Decimal("0.01"), Decimal("100"))
    settle = "USDC" if symbol.endswith("USDCM") else "USDT"
    return Contract(symbol, Decimal("1"), settle, False, Decimal("0.01"), Decimal("100"))


def sign_b64(secret: bytes, message: str) -> str:
    """base64(HMAC-SHA256(secret, message)): KuCoin's signature primitive."""
    return base64.b64encode(hmac.new(secret, message.encode(), hashlib.sha256).digest()).decode()


@dataclass
class SimPosition:
    id: str
    symbol: str
    qty: Decimal  # signed contracts: > 0 long, < 0 short
    entry_price: Decimal
    leverage: Decimal
    margin_mode: str  # "cross" | "isolated"
    opened_at_ms: int
    realised_gross_pnl: Decimal = Decimal(0)
    realised_fees: Decimal = Decimal(0)


@dataclass
class SimAccount:
    id: str
    currency: str
    type: str
    balance: Decimal
    available: Decimal
    holds: Decimal


@dataclass
class SimKey:
    """One API key and everything it owns. ``passphrase_signed`` is cached (v2/v3 check)."""

    api_key: str
    secret: str
    passphrase: str
    permissions: tuple[str, ...]
    ip_whitelist: tuple[str, ...] | None
    key_version: str
    remark: str
    uid: int
    created_at_ms: int
    is_master: bool = True
    positions: dict[str, SimPosition] = field(default_factory=dict)
    accounts: list[SimAccount] = field(default_factory=list)
    secret_bytes: bytes = field(init=False, repr=False)
    passphrase_signed: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.secret_bytes = self.secret.encode()
        self.passphrase_signed = sign_b64(self.secret_bytes, self.passphrase)

    def summary(self) -> dict[str, Any]:
        """The key without its secret or passphrase (for the control API)."""
        return {
            "api_key": self.api_key,
            "permissions": list(self.permissions),
            "ip_whitelist": list(self.ip_whitelist) if self.ip_whitelist else None,
            "key_version": self.key_version,
            "remark": self.remark,
            "uid": self.uid,
            "positions": sorted(self.positions),
        }


def _q(value: Decimal, places: Decimal = VALUE_PLACES) -> float:
    return float(value.quantize(places, rounding=ROUND_HALF_UP))


def _price(value: Decimal, tick: Decimal) -> float:
    if value <= 0:
        return 0.0
    return float((value / tick).to_integral_value(ROUND_HALF_UP) * tick)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


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
    ) -> SimKey:
        """Create (or replace) a key. Permission names as KuCoin spells them."""
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
            uid=next(self._uids),
            created_at_ms=self.now_ms(),
            is_master=is_master,
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
            "realLeverage": _q(real_leverage, LEVERAGE_PLACES),
            "delevPercentage": 0.5,
            "openingTimestamp": position.opened_at_ms,
            "currentTimestamp": now,
            "currentQty": int(qty) if qty == qty.to_integral_value() else float(qty),
            "currentCost": _q(cost),
            "currentComm": _q(fees),
            "unrealisedCost": _q(cost),
            "realisedGrossCost": _q(-position.realised_gross_pnl),
            "realisedCost": _q(fees - position.realised_gross_pnl),
            "isOpen": True,
            "markPrice": _price(mark, contract.tick_size),
            "markValue": _q(mark_value),
            "posCost": _q(cost),
            "posCross": 0.0,
            "posCrossMargin": 0,
            "posInit": _q(pos_init),
            "posComm": _q(pos_comm),
            "posCommCommon": _q(pos_comm),
            "posLoss": 0.0,
            "posMargin": _q(pos_margin),
            "posFunding": 0.0,
            "posMaint": _q(pos_maint),
            "maintMargin": _q(maint_margin),
            "realisedGrossPnl": _q(position.realised_gross_pnl),
            "realisedPnl": _q(position.realised_gross_pnl - fees),
            "unrealisedPnl": _q(upnl),
            "unrealisedPnlPcnt": _q(upnl / abs(cost), PCNT_PLACES),
            "unrealisedRoePcnt": _q(upnl / pos_init, PCNT_PLACES),
            "avgEntryPrice": _price(entry, contract.tick_size),
            "liquidationPrice": _price(liquidation, contract.tick_size),
            "bankruptPrice": _price(bankrupt, contract.tick_size),
            "settleCurrency": contract.settle_currency,
            "isInverse": contract.is_inverse,
            "maintainMargin": float(MAINT_MARGIN_REQ),
            "riskLimitLevel": 1,
            "marginMode": "CROSS" if is_cross else "ISOLATED",
            "positionSide": "BOTH",
            # KuCoin reports the live leverage for isolated positions, the chosen one for cross.
            "leverage": _q(lev if is_cross else real_leverage, LEVERAGE_PLACES),
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
            "balance": _plain(account.balance),
            "available": _plain(account.available),
            "holds": _plain(account.holds),
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
        return payload

    # -- demo and drift ----------------------------------------------------------------

    def add_demo_holdings(self, api_key: str) -> None:
        """Give a key the demo portfolio: XBTUSDTM long (isolated), ETHUSDTM short (cross),
        and USDT/BTC spot balances."""
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
                "mark_prices": {s: _plain(p) for s, p in self.mark_prices.items()},
                "keys": [k.summary() for k in self.keys.values()],
            }


def parse_decimal(value: Any, name: str) -> Decimal:
    """Control-API input as a Decimal (ValueError -> HTTP 400)."""
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc


def require(body: Mapping[str, Any], name: str) -> Any:
    if name not in body or body[name] in (None, ""):
        raise ValueError(f"missing {name!r}")
    return body[name]
