"""KuCoin's REST rate limit: a weighted quota per resource pool per user, per 30 s window.

https://www.kucoin.com/docs-new/rate-limit: each pool (Spot, Futures, Management, Public,
…) has a quota per 30 s (VIP0: Spot 4000, Futures 2000, Management 2000, Public 2000);
each endpoint costs a weight; the window starts at the user's first request. Every answer
carries ``gw-ratelimit-limit``, ``gw-ratelimit-remaining`` and ``gw-ratelimit-reset``
(milliseconds until the quota refills); an exhausted pool answers HTTP 429 with code
429000. Private pools count per API key here (KuCoin counts per UID), Public per IP.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

VIP0_QUOTAS: Mapping[str, int] = {"spot": 4000, "futures": 2000, "management": 2000, "public": 2000}


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "gw-ratelimit-limit": str(self.limit),
            "gw-ratelimit-remaining": str(self.remaining),
            "gw-ratelimit-reset": str(self.reset_ms),
        }


class RateLimiter:
    """Fixed windows per (subject, pool); O(1) per request, no lock (one event loop)."""

    def __init__(
        self, quotas: Mapping[str, int] | int | None = None, *, window_seconds: float = 30.0
    ) -> None:
        self.quotas: dict[str, int] = dict(VIP0_QUOTAS)
        self.window_seconds = window_seconds
        self._windows: dict[tuple[str, str], list[float]] = {}
        if quotas is not None:
            self.configure(quotas)

    def configure(
        self, quotas: Mapping[str, int] | int | None = None, *, window_seconds: float | None = None
    ) -> None:
        """Set every pool's quota (an int) or some pools' (a mapping); reset the windows."""
        if isinstance(quotas, int):
            quotas = dict.fromkeys(self.quotas, quotas)
        for pool, quota in (quotas or {}).items():
            if pool not in VIP0_QUOTAS:
                raise ValueError(f"unknown pool {pool!r}; known: {sorted(VIP0_QUOTAS)}")
            if int(quota) < 1:
                raise ValueError("a quota must be >= 1")
            self.quotas[pool] = int(quota)
        if window_seconds is not None:
            if window_seconds <= 0:
                raise ValueError("window_seconds must be > 0")
            self.window_seconds = window_seconds
        self._windows.clear()

    def consume(self, subject: str, pool: str, weight: int) -> RateDecision:
        """Charge ``weight`` to ``subject``'s ``pool`` unless that would exceed its quota."""
        now = time.monotonic()
        limit = self.quotas[pool]
        window = self._windows.get((subject, pool))
        if window is None or now >= window[0] + self.window_seconds:
            window = [now, 0.0]
            self._windows[(subject, pool)] = window
        reset_ms = max(int((window[0] + self.window_seconds - now) * 1000), 0)
        used = int(window[1])
        if used + weight > limit:
            return RateDecision(False, limit, max(limit - used, 0), reset_ms)
        window[1] = used + weight
        return RateDecision(True, limit, limit - used - weight, reset_ms)
