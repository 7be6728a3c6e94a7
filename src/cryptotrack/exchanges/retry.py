"""Bounded retries with exponential backoff and full jitter, for async upstream calls.

Only errors marked ``retryable`` (timeouts, 5xx, rate limits) are retried, never a 4xx
about the request or the credentials. A rate limit's ``retry_after`` wins over the
backoff; one longer than ``max_delay`` is not slept through here but raised, so the
caller (a poll scheduled every 30 s) comes back later instead of holding a worker.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cryptotrack.exchanges.errors import UpstreamError, UpstreamRateLimited

T = TypeVar("T")


def backoff_delay(attempt: int, *, base_delay: float, max_delay: float) -> float:
    """Full-jitter delay before retry number ``attempt`` (1-based)."""
    return random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))  # noqa: S311


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    max_attempts: int = 3,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    on_retry: Callable[[UpstreamError], Awaitable[None]] | None = None,
) -> T:
    """Await ``call()`` up to ``max_attempts`` times, retrying only retryable upstream errors."""
    attempt = 1
    while True:
        try:
            return await call()
        except UpstreamError as exc:
            if not exc.retryable or attempt >= max_attempts:
                raise
            if isinstance(exc, UpstreamRateLimited) and exc.retry_after is not None:
                if exc.retry_after > max_delay:
                    raise
                delay = exc.retry_after
            else:
                delay = backoff_delay(attempt, base_delay=base_delay, max_delay=max_delay)
            if on_retry is not None:
                await on_retry(exc)
            await asyncio.sleep(delay)
            attempt += 1
