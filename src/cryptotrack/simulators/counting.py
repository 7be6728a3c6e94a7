"""Counting the requests a simulator served, per scope (e.g. API key) and path."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from cryptotrack.simulators.control import CONTROL_PREFIX, Handler, ScopeOf


class RequestCounter:
    """Counts requests per ``(scope, path)``.

    Only the server's event-loop thread writes, so the hot path takes no lock; readers in
    other threads (tests) copy the items before summing.
    """

    def __init__(self) -> None:
        self._counts: Counter[tuple[str | None, str]] = Counter()

    def hit(self, scope: str | None, path: str) -> None:
        self._counts[(scope, path)] += 1

    def count(self, *, scope: str | None = None, path: str | None = None) -> int:
        """Total requests, optionally only of one scope and/or one exact path."""
        return sum(
            n
            for (s, p), n in list(self._counts.items())
            if (scope is None or s == scope) and (path is None or p == path)
        )

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"scope": s, "path": p, "count": n} for (s, p), n in list(self._counts.items())]

    def reset(self) -> None:
        self._counts = Counter()

    def middleware(self, *, scope_of: ScopeOf | None = None) -> Any:
        """aiohttp middleware counting every non-control request (even ones that fail)."""

        @web.middleware
        async def counting_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.path.startswith(CONTROL_PREFIX):
                self.hit(scope_of(request) if scope_of is not None else None, request.path)
            return await handler(request)

        return counting_middleware
