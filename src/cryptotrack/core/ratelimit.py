"""Rate counters for the throttles: DRF's sliding log, in one Redis round trip, and the
same log in this process while Redis is down.

A key's log holds the times of the requests it allowed in the last ``period`` seconds
(a sorted set in Redis; DRF keeps the same list as one pickled cache value). A check is
one Lua script call that drops the expired times, counts, and adds the new one if there
is room: DRF's own throttle reads the list and writes it back, two round trips with a
race between them (two processes each see room for the last request). Refused requests
are not logged, as in DRF, and a refused client waits until its oldest logged request
leaves the window.

While Redis is down (the cache's breaker is open) the logs live in this process
(:class:`LocalLogs`): each web process then allows the full rate by itself, which bounds
a client at ``rate x processes`` instead of letting it through unthrottled. A cache
without Redis (the embedded default's database cache) logs in the process too.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
from django.core.cache import caches

from cryptotrack.core.cache import ResilientRedisCache

# KEYS: the log. ARGV: now (seconds), period (seconds), limit, a unique member.
# Answers {1, "0"} when allowed (and logged), {0, oldest logged time} when refused.
_SLIDING_LOG_LUA = """
local now = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000))
return {1, '0'}
"""
# Redis names a script by the SHA-1 of its text.
_SCRIPT_SHA = hashlib.sha1(_SLIDING_LOG_LUA.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Decision:
    """Whether the request may go, and if not, in how many seconds one would."""

    allowed: bool
    wait: float = 0.0


class LocalLogs:
    """The request logs of this process, for while Redis is down.

    Bounded: past ``max_keys`` logs the expired ones are dropped, and if that is not
    enough, all of them (a client spraying identities gets a fresh start, not our memory).
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._logs: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int, period: float, now: float) -> float | None:
        """Log a request at ``now`` and answer None, or answer the oldest logged time."""
        with self._lock:
            log = self._logs.get(key)
            if log is None:
                if len(self._logs) >= self.max_keys:
                    self._drop_expired(now, period)
                log = self._logs[key] = deque()
            while log and log[0] <= now - period:
                log.popleft()
            if len(log) >= limit:
                return log[0]
            log.append(now)
            return None

    def _drop_expired(self, now: float, period: float) -> None:
        self._logs = {k: log for k, log in self._logs.items() if log and log[-1] > now - period}
        if len(self._logs) >= self.max_keys:
            self._logs.clear()

    def clear(self) -> None:
        with self._lock:
            self._logs.clear()


local_logs = LocalLogs()


def _script_args(
    key: str, *, limit: int, period: float, now: float
) -> tuple[str, str, str, int, str]:
    """The script's key and arguments; the member is unique per request."""
    return (key, repr(now), repr(period), limit, f"{now!r}:{secrets.token_hex(4)}")


def _oldest(reply: list[Any]) -> float | None:
    """None when the script allowed (and logged) the request, else the oldest logged time
    (Redis answers an integer and bytes)."""
    allowed, oldest = reply
    return None if int(allowed) else float(oldest)


def _decision(oldest: float | None, *, period: float, now: float) -> Decision:
    if oldest is None:
        return Decision(allowed=True)
    # Whole seconds, at least one: what Retry-After will say.
    return Decision(allowed=False, wait=max(1.0, math.ceil(oldest + period - now)))


def _redis_hit(
    client: redis.Redis, key: str, *, limit: int, period: float, now: float
) -> float | None:
    """EVALSHA of the script (EVAL, which also caches it, the first time on a server)."""
    args = _script_args(key, limit=limit, period=period, now=now)
    try:
        reply = client.evalsha(_SCRIPT_SHA, 1, *args)
    except redis.exceptions.NoScriptError:
        reply = client.eval(_SLIDING_LOG_LUA, 1, *args)
    return _oldest(reply)


def hit(key: str, *, limit: int, period: float, cache_alias: str = "default") -> Decision:
    """Log one request under ``key`` if fewer than ``limit`` were logged in the last
    ``period`` seconds; else refuse it and say how long until the oldest one expires."""
    cache = caches[cache_alias]
    now = time.time()
    full_key = cache.make_key(key)
    if isinstance(cache, ResilientRedisCache):
        return cache.call_redis(
            lambda client: _decision(
                _redis_hit(client, full_key, limit=limit, period=period, now=now),
                period=period,
                now=now,
            ),
            lambda: hit_locally(full_key, limit=limit, period=period),
        )
    return hit_locally(full_key, limit=limit, period=period)


def hit_locally(full_key: str, *, limit: int, period: float) -> Decision:
    """:func:`hit` in this process's logs: while Redis is down (Django's requests and the
    positions read ahead of Django share them), or with no Redis at all (``full_key``:
    the cache's ``make_key``)."""
    now = time.time()
    oldest = local_logs.hit(full_key, limit=limit, period=period, now=now)
    return _decision(oldest, period=period, now=now)


async def hit_on_redis(
    client: redis.asyncio.Redis, full_key: str, *, limit: int, period: float
) -> Decision:
    """:func:`hit` on Redis itself, from an event loop (``full_key``: the cache's
    ``make_key`` of the key). Redis errors propagate: the caller decides what then."""
    now = time.time()
    args = _script_args(full_key, limit=limit, period=period, now=now)
    try:
        reply = await client.evalsha(_SCRIPT_SHA, 1, *args)
    except redis.exceptions.NoScriptError:
        reply = await client.eval(_SLIDING_LOG_LUA, 1, *args)
    return _decision(_oldest(reply), period=period, now=now)
