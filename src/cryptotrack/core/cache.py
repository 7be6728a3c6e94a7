"""A Redis cache that fails fast and stays out of the way while Redis is down.

Reads are best-effort by design (the database holds the truth), so a Redis error must
never become a failed request or a 2-second wait on every call. Each operation has a
short socket timeout; the first failure opens a breaker for ``BREAKER_SECONDS``, during
which no connection is attempted at all; then one call probes Redis again.

With ``FALLBACK: "locmem"`` operations go to a per-process memory cache while the
breaker is open; without it, reads miss and writes are dropped, so callers fall back to
the database themselves.

Django makes a cache instance per thread and, under ASGI, per request. The breaker and
the fallback memory therefore belong to the process (one per Redis server), not to an
instance: otherwise every request starts with a closed breaker (and waits on Redis
again) and an empty fallback (so nothing counted there ever accumulates). The breaker
logs one WARNING when Redis goes away and one when it answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
import redis.asyncio
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted

logger = logging.getLogger(__name__)
T = TypeVar("T")


# What a Redis server that is down or unreachable raises (redis-py, and django-redis's
# wrapper around it); anything else is a bug and propagates.
REDIS_DOWN_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionInterrupted,
    OSError,
)


class CircuitBreaker:
    """Open for ``seconds`` after a failure; thread-safe; ``available`` tells if calls may go.

    It remembers whether Redis is down, so that an outage logs one line when it starts
    and one when it ends, however many calls and probes fail in between.
    """

    def __init__(self, seconds: float, name: str = "Redis") -> None:
        self.seconds = seconds
        self.name = name
        self._open_until = 0.0
        self._down = False
        self._lock = threading.Lock()
        # Failed calls that opened it: while Redis is down, one per window, not per request.
        self.trips = 0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    @property
    def down(self) -> bool:
        """True from a failure until the next call that succeeds."""
        return self._down

    def trip(self, error: BaseException | None = None) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.seconds
            self.trips += 1
            newly_down, self._down = not self._down, True
        if newly_down:
            logger.warning(
                "%s unreachable (%s): bypassed, probed again every %.1f s",
                self.name,
                error.__class__.__name__ if error else "no answer",
                self.seconds,
            )

    def succeeded(self) -> None:
        """A call went through: close the breaker (and say so, once, after an outage)."""
        if not self._down:
            return
        with self._lock:
            self._open_until = 0.0
            back, self._down = self._down, False
        if back:
            logger.warning("%s reachable again", self.name)

    def reset(self) -> None:
        self.succeeded()
        self._open_until = 0.0


_breakers: dict[tuple[str, float], CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def process_breaker(server: str, seconds: float) -> CircuitBreaker:
    """This process's breaker for the Redis server at ``server`` (a URL)."""
    with _breakers_lock:
        breaker = _breakers.get((server, seconds))
        if breaker is None:
            # Host, port and database only: a URL may carry a password.
            parts = urlsplit(server)
            name = f"Redis {parts.hostname}:{parts.port or 6379}{parts.path}"
            breaker = _breakers[(server, seconds)] = CircuitBreaker(seconds, name)
        return breaker


class ResilientRedisCache(BaseCache):
    """django-redis behind a circuit breaker; see the module docstring."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = dict(params.get("OPTIONS", {}))
        socket_timeout = float(options.pop("SOCKET_TIMEOUT", 0.25))
        breaker_seconds = float(options.pop("BREAKER_SECONDS", 5.0))
        fallback = options.pop("FALLBACK", None)
        redis_params = {
            **params,
            "OPTIONS": {
                **options,
                "SOCKET_CONNECT_TIMEOUT": socket_timeout,
                "SOCKET_TIMEOUT": socket_timeout,
                "CONNECTION_POOL_KWARGS": {"retry_on_timeout": False},
            },
        }
        self._redis = RedisCache(server, redis_params)
        self.server = server
        self.socket_timeout = socket_timeout
        self.breaker = process_breaker(server, breaker_seconds)
        # LocMemCache instances of one name share their memory: the process's fallback.
        self._fallback: BaseCache | None = (
            LocMemCache(f"redis-fallback:{server}", params) if fallback == "locmem" else None
        )

    @property
    def redis_available(self) -> bool:
        """False while the breaker is open (Redis failed recently)."""
        return self.breaker.available

    def _call(self, name: str, on_failure: T, /, *args: Any, **kwargs: Any) -> T:
        if self.breaker.available:
            try:
                result: T = getattr(self._redis, name)(*args, **kwargs)
            except Exception as exc:
                logger.debug("redis %s failed: %r", name, exc)
                self.breaker.trip(exc)
            else:
                self.breaker.succeeded()
                return result
        if self._fallback is not None:
            return getattr(self._fallback, name)(*args, **kwargs)
        return on_failure

    def call_redis(self, operation: Callable[[redis.Redis], T], fallback: Callable[[], T]) -> T:
        """``operation(client)`` on Redis itself (a script, a pipeline: one round trip), or
        ``fallback()`` while Redis is down; a Redis failure trips the breaker."""
        if self.breaker.available:
            try:
                result = operation(self._redis.client.get_client(write=True))
            except REDIS_DOWN_ERRORS as exc:
                logger.debug("redis call failed: %r", exc)
                self.breaker.trip(exc)
            else:
                self.breaker.succeeded()
                return result
        return fallback()

    async def acall_redis(
        self,
        client: redis.asyncio.Redis,
        operation: Callable[[redis.asyncio.Redis], Awaitable[T]],
        fallback: Callable[[], T],
    ) -> T:
        """:meth:`call_redis` from an event loop, on ``client`` (one of
        :meth:`async_client`'s, made on the running loop)."""
        if self.breaker.available:
            try:
                result = await operation(client)
            except REDIS_DOWN_ERRORS as exc:
                logger.debug("redis call failed: %r", exc)
                self.breaker.trip(exc)
            else:
                self.breaker.succeeded()
                return result
        return fallback()

    def async_client(self) -> redis.asyncio.Redis:
        """A client for an event loop (and only that loop), with this cache's timeouts.
        Its calls do not pass the breaker: make them through :meth:`acall_redis`."""
        return redis.asyncio.Redis.from_url(
            self.server,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_timeout,
        )

    def decode(self, raw: bytes) -> Any:
        """A value as this cache stored it (django-redis's serializer), read from Redis."""
        return self._redis.client.decode(raw)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._call("get", default, key, default=default, version=version)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._call("set", None, key, value, timeout=timeout, version=version)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._call("add", False, key, value, timeout=timeout, version=version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._call("delete", False, key, version=version)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._call("get_many", {}, keys, version=version)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        return self._call("set_many", list(data), data, timeout=timeout, version=version)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._call("delete_many", None, keys, version=version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._call("has_key", False, key, version=version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._call("incr", 0, key, delta=delta, version=version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call("touch", False, key, timeout=timeout, version=version)

    def clear(self) -> None:
        self._call("clear", None)

    def close(self, **kwargs: Any) -> None:
        self._call("close", None, **kwargs)

    def ping(self) -> bool:
        """Ask Redis itself (ignoring the breaker); closes the breaker when Redis answers."""
        try:
            client = self._redis.client.get_client(write=True)
            ok = bool(client.ping())
        except Exception as exc:
            self.breaker.trip(exc)
            return False
        self.breaker.reset()
        return ok
