"""Django's ASGI handler with a fixed set of threads for the synchronous part of requests.

Django runs each request's synchronous code (our DRF views, signal receivers) in a
thread of the request's own: ``ThreadSensitiveContext()`` per request gives every
request a new one-thread executor, so every request starts (and later joins) a thread —
measured at 0.3-0.7 ms of a 1-2 ms request. Here a request borrows one of ``threads``
long-lived one-thread executors for its whole life instead (asgiref's caller-owned
executor), so the guarantee is the same (one request's sync calls all run in one
thread, no other request's meanwhile) without a thread per request. More requests than
threads wait in the event loop for one.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler


class PooledThreadsASGIHandler(ASGIHandler):
    """See the module docstring."""

    def __init__(self, *, threads: int) -> None:
        super().__init__()
        self._free = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{n}")
            for n in range(threads)
        ]
        self._slots = asyncio.Semaphore(threads)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async with self._slots:
            executor = self._free.pop()
            try:
                async with ThreadSensitiveContext(executor=executor):
                    await super().handle(scope, receive, send)
            finally:
                self._free.append(executor)
