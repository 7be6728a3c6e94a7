"""Scriptable faults for the simulators: added latency, a 5xx, a malformed JSON body, a
dropped connection — global or scoped (e.g. to one API key and/or one path prefix).

:class:`FaultInjector` holds them and :meth:`FaultInjector.middleware` applies them before
the real handler runs; :func:`add_fault_routes` exposes the injector on the control API.

Example::

    injector = FaultInjector()
    by_key = injector.middleware(scope_of=lambda r: r.query.get("apikey"))
    app = web.Application(middlewares=[by_key])
    add_fault_routes(app, injector)
    with BackgroundServer(app) as server:
        injector.inject("latency", latency=2.0, scope="user-1")
        httpx.get(server.url + "/query?apikey=user-1")  # ~2 s slower; other keys unaffected
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

from aiohttp import web

from cryptotrack.simulators.control import CONTROL_PREFIX, Handler, ScopeOf, json_handler

FaultKind = Literal["latency", "error", "malformed", "drop"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

DEFAULT_MALFORMED_BODY = '{"code":"200000","data":[{"id":"5000'
"""A truncated JSON document, served with ``Content-Type: application/json`` and 200."""

_fault_ids = itertools.count(1)


@dataclass
class Fault:
    """One scripted fault.

    ``kind``: ``latency`` (sleep ``latency`` s, then answer normally), ``error`` (answer
    ``status``, default 503, with ``body`` or the injector's default error body),
    ``malformed`` (answer 200 with ``body`` or a truncated JSON document), ``drop`` (close
    the connection without answering). ``latency`` also delays the other kinds.

    ``scope``: ``None`` matches every request, otherwise only requests whose scope (as the
    simulator defines it, e.g. the API key) equals it. ``path``: only paths starting with
    this prefix. ``times``: expire after that many hits (``None`` = until cleared).
    ``probability``: chance that a matching request is hit.
    """

    kind: FaultKind
    scope: str | None = None
    path: str | None = None
    latency: float = 0.0
    status: int = 503
    body: str | None = None
    content_type: str | None = None
    times: int | None = None
    probability: float = 1.0
    id: int = field(default_factory=lambda: next(_fault_ids))
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.latency < 0 or not 0 <= self.probability <= 1:
            raise ValueError("latency must be >= 0 and probability within [0, 1]")
        if self.kind == "error" and not 400 <= self.status <= 599:
            raise ValueError("an error fault needs a 4xx/5xx status")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 (or null for unlimited)")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build a fault from a JSON object, rejecting unknown fields (raises ValueError)."""
        allowed = {f.name for f in fields(cls)} - {"id", "hits"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, scope: str | None, path: str) -> bool:
        if self.scope is not None and self.scope != scope:
            return False
        return self.path is None or path.startswith(self.path)


def _default_error_body(status: int) -> tuple[str, str]:
    # Gateways in front of real APIs (nginx, Cloudflare) answer 5xx with HTML, not JSON.
    text = f"<html><head><title>{status} Error</title></head><body>{status}</body></html>"
    return text, "text/html"


class FaultInjector:
    """Thread-safe registry of :class:`Fault` s plus the middleware that applies them.

    Scoped faults win over global ones; among equals the most recently added wins. With no
    fault registered, :meth:`pick` costs one attribute check, so benchmarks pay nothing.
    """

    def __init__(
        self,
        *,
        error_body: Callable[[int], tuple[str, str]] = _default_error_body,
        malformed_body: str = DEFAULT_MALFORMED_BODY,
    ) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._error_body = error_body
        self._malformed_body = malformed_body

    def add(self, fault: Fault) -> Fault:
        """Register ``fault`` and return it (its ``id`` removes it later)."""
        with self._lock:
            self._faults = [*self._faults, fault]
        return fault

    def inject(self, kind: FaultKind, **options: Any) -> Fault:
        """Shorthand for ``add(Fault(kind, **options))``."""
        return self.add(Fault(kind, **options))

    def remove(self, fault_id: int) -> bool:
        """Remove one fault; return whether it existed."""
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self, scope: str | None = None) -> int:
        """Remove every fault, or (with ``scope``) only that scope's; return how many."""
        with self._lock:
            before = len(self._faults)
            if scope is None:
                self._faults = []
            else:
                self._faults = [f for f in self._faults if f.scope != scope]
            return before - len(self._faults)

    def list(self) -> list[Fault]:
        return list(self._faults)

    def pick(self, scope: str | None, path: str) -> Fault | None:
        """Return the fault that hits this request (counting the hit), or None."""
        if not self._faults:
            return None
        with self._lock:
            candidates = [f for f in reversed(self._faults) if f.matches(scope, path)]
            candidates.sort(key=lambda f: f.scope is None)  # stable: scoped first
            for fault in candidates:
                if fault.probability < 1 and random.random() >= fault.probability:
                    continue
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    self._faults = [f for f in self._faults if f is not fault]
                return fault
        return None

    async def apply(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        """Carry out ``fault``; return a response to send instead of the handler's, or None."""
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.kind == "latency":
            return None
        if fault.kind == "error":
            text, ctype = self._error_body(fault.status)
            if fault.body is not None:
                text, ctype = fault.body, fault.content_type or "application/json"
            return web.Response(status=fault.status, text=text, content_type=ctype)
        if fault.kind == "malformed":
            return web.Response(
                status=200,
                text=fault.body if fault.body is not None else self._malformed_body,
                content_type=fault.content_type or "application/json",
            )
        # drop: close the socket; aiohttp then discards the (never written) response.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=204)

    def middleware(self, *, scope_of: ScopeOf | None = None) -> Any:
        """aiohttp middleware applying faults; ``scope_of(request)`` names the request's scope."""

        @web.middleware
        async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self._faults and not request.path.startswith(CONTROL_PREFIX):
                scope = scope_of(request) if scope_of is not None else None
                fault = self.pick(scope, request.path)
                if fault is not None:
                    response = await self.apply(request, fault)
                    if response is not None:
                        return response
            return await handler(request)

        return fault_middleware


def add_fault_routes(
    app: web.Application, injector: FaultInjector, *, prefix: str = CONTROL_PREFIX
) -> None:
    """Expose ``injector`` over HTTP.

    * ``GET    {prefix}/faults`` -> ``[fault, ...]``
    * ``POST   {prefix}/faults`` with a :class:`Fault` as JSON -> the stored fault (with ``id``)
    * ``DELETE {prefix}/faults[?scope=S]`` -> ``{"removed": n}`` (all, or one scope's)
    * ``DELETE {prefix}/faults/{id}`` -> 204, or 404 when unknown
    """

    def list_faults(body: dict[str, Any], request: web.Request) -> Any:
        return [f.to_json() for f in injector.list()]

    def add_fault(body: dict[str, Any], request: web.Request) -> Any:
        return injector.add(Fault.from_json(body)).to_json()

    def clear_faults(body: dict[str, Any], request: web.Request) -> Any:
        return {"removed": injector.clear(body.get("scope"))}

    def remove_fault(body: dict[str, Any], request: web.Request) -> Any:
        fault_id = int(request.match_info["fault_id"])
        if not injector.remove(fault_id):
            raise LookupError(f"fault {fault_id}")
        return None

    app.router.add_get(f"{prefix}/faults", json_handler(list_faults))
    app.router.add_post(f"{prefix}/faults", json_handler(add_fault))
    app.router.add_delete(f"{prefix}/faults", json_handler(clear_faults))
    app.router.add_delete(f"{prefix}/faults/{{fault_id:\\d+}}", json_handler(remove_fault))
