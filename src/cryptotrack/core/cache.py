"""A Redis cache that fails fast and stays out of the way while Redis is down.

Reads are best-effort by design (the database holds the truth), so a Redis error must
never become a failed request or a 2-second wait on every call. Each operation has a
short socket timeout; the first failure opens a breaker for ``BREAKER_SECONDS``, during
which no connection is attempted at all; then one call probes Redis again.

With ``FALLBACK: "locmem"`` operations go to a per-process memory cache while the
breaker is open (throttle counters keep counting); without it, reads miss and writes
are dropped, so callers fall back to the database themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache

logger = logging.getLogger(__name__)
T = TypeVar("T")


class CircuitBreaker:
    """Open for ``seconds`` after a failure; thread-safe; ``available`` tells if calls may go."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        with self._lock:
            was_available = self.available
            self._open_until = time.monotonic() + self.seconds
        if was_available:
            logger.warning("Redis unavailable: cache bypassed for %.1f s", self.seconds)

    def reset(self) -> None:
        self._open_until = 0.0


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
        self.breaker = CircuitBreaker(breaker_seconds)
        self._fallback: BaseCache | None = (
            LocMemCache(f"fallback-{id(self)}", params) if fallback == "locmem" else None
        )

    @property
    def redis_available(self) -> bool:
        """False while the breaker is open (Redis failed recently)."""
        return self.breaker.available

    def _call(self, name: str, on_failure: T, /, *args: Any, **kwargs: Any) -> T:
        if self.breaker.available:
            try:
                return getattr(self._redis, name)(*args, **kwargs)
            except Exception as exc:
                logger.debug("redis %s failed: %r", name, exc)
                self.breaker.trip()
        if self._fallback is not None:
            return getattr(self._fallback, name)(*args, **kwargs)
        return on_failure

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
        except Exception:
            self.breaker.trip()
            return False
        self.breaker.reset()
        return ok
