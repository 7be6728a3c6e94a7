"""Serving a simulator's aiohttp app: in a background thread (tests, the demo) or in the
foreground (``python -m cryptotrack.simulators.<name>``).

:class:`BackgroundServer` runs an :class:`aiohttp.web.Application` on a free loopback port in
a daemon thread with its own event loop, so a test can ``start()`` it, talk to ``.url`` over
a real socket, and ``stop()`` it; :class:`ServedSimulator` is the lifecycle the simulators'
Python handles share; :func:`serve_forever` runs the same app in the foreground.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Self, TypeVar

from aiohttp import web

logger = logging.getLogger(__name__)

T = TypeVar("T")

AppSource = web.Application | Callable[[], web.Application]


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
