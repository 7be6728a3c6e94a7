"""The KuCoin simulator's records: an API key and what it owns (positions, accounts), and
KuCoin's signature primitive that checks the key's requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


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
class SimFuturesWallet:
    """A key's futures account in one settle currency. ``balance`` is the wallet balance
    (deposits plus realised PnL); ``order_margin`` and ``frozen_funds`` are what open orders
    and withdrawals in progress hold (set through the control API; the simulator has no
    orders)."""

    currency: str
    balance: Decimal = Decimal(0)
    order_margin: Decimal = Decimal(0)
    frozen_funds: Decimal = Decimal(0)


@dataclass
class SimKey:
    """One API key and everything it owns. ``passphrase_signed`` is cached (v2/v3 check).

    Several keys may share a ``uid`` (one simulated KuCoin user): the master account's keys
    have ``sub_name`` None, a sub-account's keys carry its name. Each key holds its own
    positions and balances, as each KuCoin (sub-)account does."""

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
    sub_name: str | None = None
    positions: dict[str, SimPosition] = field(default_factory=dict)
    accounts: list[SimAccount] = field(default_factory=list)
    futures_wallets: dict[str, SimFuturesWallet] = field(default_factory=dict)
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
            "is_master": self.is_master,
            "sub_name": self.sub_name,
            "positions": sorted(self.positions),
        }
