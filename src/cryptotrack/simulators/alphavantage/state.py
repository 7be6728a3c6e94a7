"""What the Alpha Vantage simulator knows: rates (a seeded random walk or pinned), keys, quotas.

Every currency walks on its own against USD and a pair's rate is the ratio of the two, so
BTC/USD, BTC/EUR and EUR/USD stay coherent. All methods are thread-safe: the server thread
answers requests while a test thread scripts the state.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

PLACES = Decimal("0.00000001")

# Names as Alpha Vantage spells them (see the recorded samples); USD value as a start point.
CURRENCIES: dict[str, tuple[str, float]] = {
    "USD": ("United States Dollar", 1.0),
    "EUR": ("Euro", 1.08),
    "GBP": ("British Pound Sterling", 1.27),
    "JPY": ("Japanese Yen", 0.0067),
    "CNY": ("Chinese Yuan", 0.138),
    "CHF": ("Swiss Franc", 1.12),
    "CAD": ("Canadian Dollar", 0.73),
    "AUD": ("Australian Dollar", 0.66),
    "BTC": ("Bitcoin", 65000.0),
    "ETH": ("Ethereum", 3500.0),
    "SOL": ("Solana", 150.0),
    "LTC": ("Litecoin", 80.0),
    "XRP": ("Ripple", 0.52),
    "DOGE": ("DogeCoin", 0.15),
    "USDT": ("Tether", 1.0),
}
# USD is the numeraire; only the others walk.
ANCHOR = "USD"


@dataclass(frozen=True, slots=True)
class Quote:
    """One pair's answer: rate, bid, ask (8 decimal places) and when it last changed (UTC)."""

    from_code: str
    from_name: str
    to_code: str
    to_name: str
    rate: Decimal
    bid: Decimal
    ask: Decimal
    refreshed_at: datetime


@dataclass
class _Walk:
    usd_value: float
    rng: random.Random
    last_step: float
    refreshed_at: datetime


@dataclass(frozen=True, slots=True)
class _Pin:
    rate: Decimal
    bid: Decimal | None
    ask: Decimal | None
    refreshed_at: datetime


class AlphaVantageState:
    """Rates, accepted keys and quota counters of one simulator instance.

    ``step_seconds`` and ``volatility`` shape the walk (one multiplicative step of
    ``exp(N(0, volatility))`` per elapsed step); ``spread`` is the relative bid/ask spread.
    ``api_keys=None`` accepts any non-empty key. ``per_minute``/``per_day`` ``None`` means
    unlimited. ``clock`` returns wall-clock seconds; the per-minute quota counts calls in the
    last 60 s (a sliding window), the per-day one calls since midnight UTC.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        step_seconds: float = 1.0,
        volatility: float = 0.0005,
        spread: Decimal = Decimal("0.0001"),
        api_keys: Iterable[str] | None = None,
        per_minute: int | None = None,
        per_day: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.seed = seed
        self.step_seconds = step_seconds
        self.volatility = volatility
        self.spread = spread
        self._names = {code: name for code, (name, _) in CURRENCIES.items()}
        self._walks: dict[str, _Walk] = {}
        self._pins: dict[tuple[str, str], _Pin] = {}
        self.api_keys: frozenset[str] | None = None
        self.per_minute: int | None = None
        self.per_day: int | None = None
        self._minute_used: dict[str, deque[float]] = {}
        self._day_used: dict[str, tuple[str, int]] = {}
        self.rate_limited = 0
        self.set_api_keys(api_keys)
        self.set_quota(per_minute=per_minute, per_day=per_day)
        self._reset_walks()

    # -- rates -----------------------------------------------------------------------

    def knows(self, code: str) -> bool:
        """Whether ``code`` (upper-case) is a currency this simulator quotes."""
        with self._lock:
            return code in self._names

    def quote(self, from_code: str, to_code: str) -> Quote:
        """The current quote for a known pair (pinned, else the walk advanced to now)."""
        with self._lock:
            pin = self._pins.get((from_code, to_code))
            if pin is not None:
                rate, refreshed_at = pin.rate, pin.refreshed_at
                bid, ask = pin.bid, pin.ask
            else:
                base, quote_ = self._walk_to_now(from_code), self._walk_to_now(to_code)
                rate = _quantize(Decimal(repr(base.usd_value / quote_.usd_value)))
                refreshed_at = max(base.refreshed_at, quote_.refreshed_at)
                bid = ask = None
            if bid is None:
                bid = _quantize(rate * (1 - self.spread / 2))
            if ask is None:
                ask = _quantize(rate * (1 + self.spread / 2))
            return Quote(
                from_code=from_code,
                from_name=self._names[from_code],
                to_code=to_code,
                to_name=self._names[to_code],
                rate=rate,
                bid=bid,
                ask=ask,
                refreshed_at=refreshed_at,
            )

    def set_rate(
        self,
        from_code: str,
        to_code: str,
        rate: Decimal,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
        *,
        names: Mapping[str, str] | None = None,
    ) -> None:
        """Pin a pair's rate (and optionally bid/ask) until unpinned.

        Unknown codes become known, named from ``names`` (default: the code itself). Without
        ``bid``/``ask`` they are derived from the rate and the spread.
        """
        if rate <= 0 or (bid is not None and bid <= 0) or (ask is not None and ask <= 0):
            raise ValueError("rate, bid and ask must be positive")
        from_code, to_code = from_code.upper(), to_code.upper()
        now = self._now()
        with self._lock:
            for code in (from_code, to_code):
                if code not in self._names:
                    self._names[code] = (names or {}).get(code, code)
                    self._walks[code] = self._new_walk(code, 1.0)
            self._pins[(from_code, to_code)] = _Pin(
                rate=_quantize(rate),
                bid=None if bid is None else _quantize(bid),
                ask=None if ask is None else _quantize(ask),
                refreshed_at=now,
            )

    def unpin(self, from_code: str | None = None, to_code: str | None = None) -> int:
        """Let one pinned pair (or, without arguments, every pair) walk again; return how many."""
        with self._lock:
            if from_code is None or to_code is None:
                removed = len(self._pins)
                self._pins.clear()
                return removed
            return 1 if self._pins.pop((from_code.upper(), to_code.upper()), None) else 0

    def pinned(self) -> list[dict[str, str | None]]:
        """The pinned pairs as JSON-ready dicts."""
        with self._lock:
            return [
                {
                    "from_currency": f,
                    "to_currency": t,
                    "rate": str(p.rate),
                    "bid": None if p.bid is None else str(p.bid),
                    "ask": None if p.ask is None else str(p.ask),
                }
                for (f, t), p in self._pins.items()
            ]

    # -- keys and quotas ---------------------------------------------------------------

    def set_api_keys(self, keys: Iterable[str] | None) -> None:
        """Accept only ``keys`` from now on, or (``None``) any non-empty key."""
        self.api_keys = None if keys is None else frozenset(keys)

    def key_is_valid(self, key: str) -> bool:
        """Whether ``key`` would be accepted (non-empty and, if keys are configured, listed)."""
        keys = self.api_keys
        return bool(key) and (keys is None or key in keys)

    def set_quota(self, *, per_minute: int | None, per_day: int | None) -> None:
        """Change the quota sizes (``None`` = unlimited); counters are kept."""
        for value in (per_minute, per_day):
            if value is not None and value < 0:
                raise ValueError("quota sizes must be >= 0 (or null for unlimited)")
        self.per_minute, self.per_day = per_minute, per_day

    def reset_quota(self) -> None:
        """Forget every key's usage (a new minute and a new day for everybody)."""
        with self._lock:
            self._minute_used.clear()
            self._day_used.clear()
            self.rate_limited = 0

    def consume(self, key: str) -> str | None:
        """Count one call for ``key``; return ``"minute"``/``"day"`` if a quota refuses it.

        A refused call is not counted against the quota (as the real service seems to do).
        """
        now = self._clock()
        day = datetime.fromtimestamp(now, UTC).date().isoformat()
        with self._lock:
            recent = self._minute_used.setdefault(key, deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            m_used = len(recent)
            d_window, d_used = self._day_used.get(key, (day, 0))
            d_used = d_used if d_window == day else 0
            refusal = None
            if self.per_day is not None and d_used >= self.per_day:
                refusal = "day"
            elif self.per_minute is not None and m_used >= self.per_minute:
                refusal = "minute"
            if refusal is not None:
                self.rate_limited += 1
                return refusal
            recent.append(now)
            self._day_used[key] = (day, d_used + 1)
            return None

    def quota_snapshot(self) -> dict[str, object]:
        """Quota sizes, calls used per key in the current minute/day, and refusals so far."""
        now = self._clock()
        day = datetime.fromtimestamp(now, UTC).date().isoformat()
        with self._lock:
            keys = sorted(set(self._minute_used) | set(self._day_used))
            used = {
                key: {
                    "minute": sum(1 for t in self._minute_used.get(key, ()) if t > now - 60),
                    "day": _in_window(self._day_used.get(key), day),
                }
                for key in keys
            }
            return {
                "per_minute": self.per_minute,
                "per_day": self.per_day,
                "used": used,
                "rate_limited": self.rate_limited,
            }

    def reset(self) -> None:
        """Back to the start: walks restarted from the seed, no pins, no usage."""
        with self._lock:
            self._pins.clear()
            self._names = {code: name for code, (name, _) in CURRENCIES.items()}
        self._reset_walks()
        self.reset_quota()

    # -- internals ---------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC).replace(microsecond=0)

    def _new_walk(self, code: str, usd_value: float) -> _Walk:
        return _Walk(
            usd_value=usd_value,
            rng=random.Random(f"{self.seed}:{code}"),
            last_step=time.monotonic(),
            refreshed_at=self._now(),
        )

    def _reset_walks(self) -> None:
        with self._lock:
            self._walks = {code: self._new_walk(code, usd) for code, (_, usd) in CURRENCIES.items()}

    def _walk_to_now(self, code: str) -> _Walk:
        walk = self._walks[code]
        if code == ANCHOR or self.step_seconds <= 0:
            return walk
        elapsed = time.monotonic() - walk.last_step
        steps = int(elapsed // self.step_seconds)
        if steps <= 0:
            return walk
        for _ in range(min(steps, 1000)):
            walk.usd_value *= math.exp(walk.rng.gauss(0.0, self.volatility))
        walk.last_step += steps * self.step_seconds
        walk.refreshed_at = self._now()
        return walk


def _in_window(entry: tuple[object, int] | None, window: object) -> int:
    return entry[1] if entry is not None and entry[0] == window else 0


def _quantize(value: Decimal) -> Decimal:
    return value.quantize(PLACES)
