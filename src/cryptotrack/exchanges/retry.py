"""The one backoff formula and the one ``Retry-After`` reader of the project.

* :func:`backoff_delay` — exponential backoff with full jitter, bounded: retry number
  ``attempt`` waits a random time in ``[0, min(max_delay, base_delay * 2**(attempt-1))]``.
  Every retry loop uses it: the upstream clients (through :func:`call_with_retries`), the
  alert-email outbox's Celery retries, the live-quotes watcher.
* :func:`retry_after_from_headers` — when an upstream says to come back: ``Retry-After`` as
  delta seconds or an HTTP-date (RFC 9110 §10.2.3), or KuCoin's ``gw-ratelimit-reset`` in
  milliseconds. Garbage and negative values are ignored (``None``: the caller falls back to
  its backoff); a date already past means "now" (0); anything beyond
  :data:`MAX_RETRY_AFTER_SECONDS` is capped, so a broken header cannot park a user or a
  quota for years (or overflow a ``timedelta``).
* :func:`call_with_retries` — bounded retries of an async upstream call. Only errors marked
  ``retryable`` (timeouts, 5xx, rate limits) are retried, never a 4xx about the request or
  the credentials. A rate limit's ``retry_after`` wins over the backoff; one longer than
  ``max_delay`` is not slept through here but raised, so the caller (a poll scheduled every
  30 s) comes back later instead of holding a worker.

No Django here: the clients know nothing of Django, and Django code imports this.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from cryptotrack.exchanges.errors import UpstreamError, UpstreamRateLimited

T = TypeVar("T")

# The longest wait an upstream may ask for: a daily quota resets within a day (Alpha
# Vantage's at UTC midnight); a longer answer is a broken header, not a plan.
MAX_RETRY_AFTER_SECONDS = 24 * 60 * 60.0

# 2**62 * any sane base is far beyond any max_delay; past it the float would overflow.
_MAX_EXPONENT = 62


def backoff_delay(attempt: int, *, base_delay: float, max_delay: float) -> float:
    """Full-jitter delay before retry number ``attempt`` (1-based), never above ``max_delay``.

    Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") spreads the
    retries of many callers that failed together over the whole window instead of
    sending them back in a wave.
    """
    ceiling = min(max_delay, base_delay * 2 ** min(max(attempt - 1, 0), _MAX_EXPONENT))
    return random.uniform(0, max(ceiling, 0.0))  # noqa: S311 - jitter, not a secret


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: datetime | None = None
) -> float | None:
    """Seconds the upstream asks us to wait, from ``Retry-After`` or ``gw-ratelimit-reset``.

    ``Retry-After`` wins when both are present. ``None`` when neither is present or usable.
    Header names are matched case-insensitively whatever mapping is passed.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if (seconds := parse_retry_after(lowered.get("retry-after"), now=now)) is not None:
        return seconds
    return parse_ratelimit_reset(lowered.get("gw-ratelimit-reset"))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta seconds (``"120"``) or an HTTP-date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``); see the module docstring for the edge cases."""
    if value is None or not (text := value.strip()):
        return None
    seconds = _finite_number(text)
    if seconds is None:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses naive
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    elif seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


def parse_ratelimit_reset(value: str | None) -> float | None:
    """KuCoin's ``gw-ratelimit-reset`` (milliseconds until the window resets) as seconds."""
    if value is None:
        return None
    millis = _finite_number(value.strip())
    if millis is None or millis < 0:
        return None
    return min(millis / 1000.0, MAX_RETRY_AFTER_SECONDS)


def _finite_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    # float() also reads "nan", "inf" and "1e400": none of them is a wait.
    return number if math.isfinite(number) else None


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    max_attempts: int = 3,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    retry_on: tuple[type[UpstreamError], ...] = (UpstreamError,),
    on_retry: Callable[[UpstreamError, int], Awaitable[None]] | None = None,
) -> T:
    """Await ``call()`` up to ``max_attempts`` times, retrying only retryable upstream errors.

    ``retry_on`` narrows which retryable errors are retried (Alpha Vantage does not retry
    its rate limits: its quota does not come back within seconds). ``on_retry(error,
    attempt)`` runs before each wait, ``attempt`` being the number of the failed one.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except UpstreamError as exc:
            if not exc.retryable or not isinstance(exc, retry_on) or attempt >= max_attempts:
                raise
            if isinstance(exc, UpstreamRateLimited) and exc.retry_after is not None:
                if exc.retry_after > max_delay:
                    raise
                delay = exc.retry_after
            else:
                delay = backoff_delay(attempt, base_delay=base_delay, max_delay=max_delay)
            if on_retry is not None:
                await on_retry(exc, attempt)
            await asyncio.sleep(delay)
            attempt += 1
