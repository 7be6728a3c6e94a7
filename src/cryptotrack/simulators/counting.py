"""Counting the requests a simulator served, per scope (e.g. API key) and path."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from aiohttp import web

from cryptotrack.simulators.control import CONTROL_PREFIX, Handler, ScopeOf


class RequestCounter:
    """Counts requests per ``(scope, path)``.

    The server's event-loop thread writes while readers in other threads (tests) read: a
    lock (uncontended, so cheap on the hot path) keeps a reader from copying the dict while
    a new key is added — even a C-level copy can be interrupted by a garbage collection
    that runs Python code, and then fails with "dictionary changed size during iteration".
    """

    def __init__(self) -> None:
        self._counts: Counter[tuple[str | None, str]] = Counter()
        self._lock = threading.Lock()

    def hit(self, scope: str | None, path: str) -> None:
        with self._lock:
            self._counts[(scope, path)] += 1

    def _items(self) -> list[tuple[tuple[str | None, str], int]]:
        with self._lock:
            return list(self._counts.items())

    def count(self, *, scope: str | None = None, path: str | None = None) -> int:
        """Total requests, optionally only of one scope and/or one exact path."""
        return sum(
            n
            for (s, p), n in self._items()
            if (scope is None or s == scope) and (path is None or p == path)
        )

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"scope": s, "path": p, "count": n} for (s, p), n in self._items()]

    def reset(self) -> None:
        with self._lock:
            self._counts = Counter()

    def middleware(self, *, scope_of: ScopeOf | None = None) -> Any:
        """aiohttp middleware counting every non-control request (even ones that fail)."""

        @web.middleware
        async def counting_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.path.startswith(CONTROL_PREFIX):
                self.hit(scope_of(request) if scope_of is not None else None, request.path)
            return await handler(request)

        return counting_middleware
