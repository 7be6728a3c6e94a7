"""The simulators' JSON control API, under :data:`CONTROL_PREFIX` (``/_sim``).

:func:`json_handler` turns ``fn(body, request) -> jsonable`` into an aiohttp handler
(``ValueError``/``TypeError`` answer 400, ``LookupError`` 404), and :class:`ControlClient`
lets another process script a running simulator. Every simulator keeps its control
endpoints under :data:`CONTROL_PREFIX` so they never clash with the real API's paths;
faults and request counters ignore that prefix.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

import httpx
from aiohttp import web

if TYPE_CHECKING:
    from cryptotrack.simulators.faults import FaultKind

CONTROL_PREFIX = "/_sim"
"""Path prefix of every simulator's control API; never subject to faults or counting."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ScopeOf = Callable[[web.Request], str | None]


JsonFn = Callable[[dict[str, Any], web.Request], Any]


def json_handler(fn: JsonFn) -> Handler:
    """Wrap ``fn(body, request) -> jsonable`` as an aiohttp handler.

    The body is the request's JSON object (``{}`` when empty) merged over its query string.
    ``ValueError``/``TypeError`` answer 400 and ``KeyError``/``LookupError`` 404, each as
    ``{"error": "..."}``; a ``None`` result answers 204.
    """

    async def handler(request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            try:
                payload = await request.json()
            except json.JSONDecodeError:
                return web.json_response({"error": "body is not valid JSON"}, status=400)
            if not isinstance(payload, dict):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            body.update(payload)
        try:
            result = fn(body, request)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except LookupError as exc:
            return web.json_response({"error": f"not found: {exc}"}, status=404)
        if result is None:
            return web.Response(status=204)
        return web.json_response(result)

    return handler


class ControlClientError(RuntimeError):
    """A control call answered an error status; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"control call failed with {status}: {body}")
        self.status = status
        self.body = body


class ControlClient:
    """Synchronous client for a simulator's ``/_sim/`` control API (for other processes).

    ``ControlClient("http://127.0.0.1:9100").post("/faults", {"kind": "drop"})`` — paths are
    relative to ``prefix``. Returns the decoded JSON (``None`` for 204); raises
    :class:`ControlClientError` on a 4xx/5xx.
    """

    def __init__(self, base_url: str, *, prefix: str = CONTROL_PREFIX, timeout: float = 5.0):
        self._http = httpx.Client(base_url=base_url.rstrip("/") + prefix, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send one control call; return the decoded JSON answer (None for an empty one)."""
        response = self._http.request(method, path, json=body, params=params)
        payload: Any = None
        if response.content:
            try:
                payload = response.json()
            except ValueError:
                payload = response.text
        if response.status_code >= 400:
            raise ControlClientError(response.status_code, payload)
        return payload

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, body or {})

    def delete(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, body)

    def inject_fault(self, kind: FaultKind, **options: Any) -> dict[str, Any]:
        """Register a fault (same fields as :class:`Fault`) and return it with its id."""
        result: dict[str, Any] = self.post("/faults", {"kind": kind, **options})
        return result

    def clear_faults(self, scope: str | None = None) -> int:
        """Remove every fault (or one scope's); return how many were removed."""
        params = None if scope is None else {"scope": scope}
        result = self.request("DELETE", "/faults", params=params)
        return int(result["removed"])

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def parse_decimal(value: Any, name: str) -> Decimal:
    """Control-API input as a Decimal (ValueError -> HTTP 400)."""
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc


def require(body: Mapping[str, Any], name: str) -> Any:
    """``body[name]``, which control-API input must carry (ValueError -> HTTP 400)."""
    if name not in body or body[name] in (None, ""):
        raise ValueError(f"missing {name!r}")
    return body[name]
