"""What live sockets need when the channel layer cannot reach across processes.

With the in-memory layer (the embedded default: no Redis) a message sent by the Celery
worker reaches nobody, because that layer lives inside one process. So each ASGI process
that has listeners runs a :class:`DatabaseWatcher` instead: it reads the database every
``poll_seconds`` while somebody listens, and sends what changed to its own in-memory
groups. With Redis the writers reach every process directly and no watcher runs (N ASGI
processes polling would each send every change N times).

``quotes.live`` (new quotes) and ``positions.live`` (recorded polls) each subclass it with
their own ``poll_once``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from channels.layers import BaseChannelLayer, InMemoryChannelLayer

from cryptotrack.exchanges.retry import backoff_delay

logger = logging.getLogger(__name__)


def layer_is_process_local(layer: BaseChannelLayer | None) -> bool:
    """True for the in-memory layer, whose messages never leave this process."""
    return isinstance(layer, InMemoryChannelLayer)


class DatabaseWatcher:
    """Polls (``poll_once``) every ``poll_seconds`` from :meth:`start` to :meth:`stop`;
    after failures (the database down) it backs off to 2, 4, 8 … up to 20 polls' time,
    jittered, and goes on."""

    name = "live watcher"

    def __init__(self, layer: BaseChannelLayer, *, poll_seconds: float) -> None:
        self.layer = layer
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None

    async def poll_once(self) -> Any:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        failures = 0
        while True:
            delay = (
                backoff_delay(
                    failures, base_delay=2 * self.poll_seconds, max_delay=20 * self.poll_seconds
                )
                if failures
                else self.poll_seconds
            )
            await asyncio.sleep(delay)
            try:
                await self.poll_once()
                failures = 0
            except Exception as exc:  # the database is down: keep trying, more slowly
                failures += 1
                logger.warning("%s: poll failed (%r)", self.name, exc)


W = TypeVar("W", bound=DatabaseWatcher)


class WatcherPerLoop(Generic[W]):
    """One watcher per event loop (and layer), made by ``factory`` when first asked."""

    def __init__(self, factory: Callable[[BaseChannelLayer], W]) -> None:
        self.factory = factory
        self._watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, W] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, layer: BaseChannelLayer | None) -> W | None:
        """This loop's watcher when ``layer`` is process-local, else None (Redis delivers)."""
        if layer is None or not layer_is_process_local(layer):
            return None
        loop = asyncio.get_running_loop()
        watcher = self._watchers.get(loop)
        if watcher is None or watcher.layer is not layer:
            watcher = self._watchers[loop] = self.factory(layer)
        return watcher
