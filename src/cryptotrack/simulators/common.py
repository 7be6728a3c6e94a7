"""Plumbing shared by the upstream simulators (KuCoin, Alpha Vantage, CoinGecko).

Three small, independent pieces:

* :class:`BackgroundServer` runs an :class:`aiohttp.web.Application` on a free loopback port
  in a daemon thread with its own event loop, so a test (or the demo launcher) can
  ``start()`` it, talk to ``.url`` over a real socket, and ``stop()`` it.
  :func:`serve_forever` runs the same app in the foreground for ``python -m ...``.
* :class:`FaultInjector` holds scriptable faults (added latency, a 5xx, a malformed JSON
  body, a dropped connection), either global or scoped (e.g. to one API key and/or one path
  prefix), and :meth:`FaultInjector.middleware` applies them before the real handler runs.
* A tiny JSON control API: :func:`json_handler` turns ``fn(body, request) -> jsonable`` into
  an aiohttp handler (``ValueError``/``KeyError``/``TypeError`` answer 400),
  :func:`add_fault_routes` exposes the injector under a prefix (``/_sim/faults``), and
  :class:`ControlClient` lets another process script a running simulator.

Every simulator keeps its control endpoints under :data:`CONTROL_PREFIX` so they never clash
with the real API's paths; faults and request counters ignore that prefix.

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
import contextlib
import itertools
import json
import logging
import random
import signal
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Self, TypeVar, get_args

import httpx
from aiohttp import web

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sim"
"""Path prefix of every simulator's control API; never subject to faults or counting."""

T = TypeVar("T")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ScopeOf = Callable[[web.Request], str | None]
AppSource = web.Application | Callable[[], web.Application]

# --------------------------------------------------------------------------------------
# Running an app in a background thread / in the foreground
# --------------------------------------------------------------------------------------


class BackgroundServer:
    """An aiohttp app served on ``host:port`` by a daemon thread with its own event loop.

    ``port=0`` (the default) picks a free port; read it back from :attr:`port` / :attr:`url`
    after :meth:`start`. ``app`` may be an application or a zero-argument factory (called
    inside the server thread). Use as a context manager or call ``start()``/``stop()``.
    ``shutdown_timeout`` bounds how long :meth:`stop` waits for requests still being
    handled (e.g. ones a latency fault is holding); ``use_uvloop`` runs the thread's loop on
    uvloop when it is installed (faster, for benchmarks).
    """

    def __init__(
        self,
        app: AppSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "simulator",
        shutdown_timeout: float = 1.0,
        use_uvloop: bool = False,
    ) -> None:
        self._app_source = app
        self.host = host
        self._requested_port = port
        self.name = name
        self.shutdown_timeout = shutdown_timeout
        self.use_uvloop = use_uvloop
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (only valid once started)."""
        if self._port is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server thread's event loop (for :meth:`run_coroutine`)."""
        if self._loop is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set()

    def start(self, timeout: float = 10.0) -> Self:
        """Start serving and return once the socket is listening; re-raise a startup error."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self.name} did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError(f"{self.name} failed to start") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close open connections and join the thread (idempotent)."""
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None:
            return
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already closing
                loop.call_soon_threadsafe(stopped.set)
        thread.join(timeout)
        self._thread = None
        self._port = None

    def run_coroutine(self, coro: Coroutine[Any, Any, T], timeout: float | None = 10.0) -> T:
        """Run ``coro`` on the server's loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = _new_event_loop(self.use_uvloop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start() via _error
            self._error = exc
            self._ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        app = self._app_source() if callable(self._app_source) else self._app_source
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=self.shutdown_timeout
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port, backlog=1024)
            await site.start()
            self._port = _bound_port(runner)
            self._ready.set()
            await self._stopped.wait()
        finally:
            await runner.cleanup()


def _new_event_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class ServedSimulator:
    """Lifecycle shared by the simulators' Python handles: ``self._server`` serves them.

    Subclasses build their app and a :class:`BackgroundServer` in ``__init__``; this gives
    ``start``/``stop``, the context manager, ``base_url`` (where ``/_sim/`` lives) and ``port``.
    """

    _server: BackgroundServer

    def start(self) -> Self:
        """Start serving in a daemon thread; return once the socket listens."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port``; the control API lives under ``/_sim/``."""
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port


def _bound_port(runner: web.AppRunner) -> int:
    address = runner.addresses[0]
    return int(address[1])


def serve_forever(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str = "simulator",
    use_uvloop: bool = True,
) -> None:
    """Serve ``app`` in the foreground until SIGINT/SIGTERM.

    Prints one line ``<name> listening on http://host:port`` to stdout (flushed) once the
    socket is bound, so a parent process that started us with ``--port 0`` can read the URL.
    """

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        print(f"{name} listening on http://{host}:{_bound_port(runner)}", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with asyncio.Runner(loop_factory=lambda: _new_event_loop(use_uvloop)) as runner:
        runner.run(main())


# --------------------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Request counting
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# JSON control API
# --------------------------------------------------------------------------------------

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
