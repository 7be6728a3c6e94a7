"""Waking the requests that wait while another process fetches their pair.

On PostgreSQL (production) a waiter ``LISTEN``s on :data:`CHANNEL` *before* it looks for
the holder's outcome, and the holder sends ``NOTIFY`` with the pair once it released the
lease; by then its quote or failure is committed (the notification of a statement run
inside a transaction is only delivered at its commit), so a waiter cannot miss it and
finds the outcome on its first look after waking. The waiter sleeps in the database
driver's wait for the socket; it still looks again every :data:`RECHECK_SECONDS` in case
the holder died without a word (its lease expires) — a safety net, not the signal.

On SQLite (the embedded default: one web process, one worker) no notification crosses
processes, so a waiter looks again after a backoff from :data:`FIRST_BACKOFF_SECONDS`
doubling up to :data:`RECHECK_SECONDS`. So does a waiter inside a transaction (its
``LISTEN`` would only start at a commit that comes after the wait).
"""

from __future__ import annotations

import contextlib
import logging
import time
from types import TracebackType

from django.db import connection

from cryptotrack.quotes.pairs import Pair

logger = logging.getLogger(__name__)

CHANNEL = "cryptotrack_pair_fetch"
RECHECK_SECONDS = 1.0
FIRST_BACKOFF_SECONDS = 0.05


def _can_listen() -> bool:
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def announce_fetch_done(pair: Pair) -> None:
    """Wake the waiters of ``pair`` (call it once the outcome is written); never raises."""
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(pair)])
    except Exception as exc:  # the waiters' safety net re-checks anyway
        logger.warning("could not notify the waiters of %s: %r", pair, exc)


class FetchWaiter:
    """``with FetchWaiter(pair) as waiter: ... waiter.wait(timeout)`` (see the module doc).

    Enter it before the first look for an outcome, so that no notification falls between
    that look and the wait.
    """

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.listening = False
        self._backoff = FIRST_BACKOFF_SECONDS

    def __enter__(self) -> FetchWaiter:
        if _can_listen():
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            self.listening = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.listening:
            return
        self.listening = False
        with contextlib.suppress(Exception):  # a broken connection stops listening anyway
            with connection.cursor() as cursor:
                cursor.execute(f"UNLISTEN {CHANNEL}")
            # Drop what arrived meanwhile: the connection may serve another request next.
            for _ in connection.connection.notifies(timeout=0):
                pass

    def wait(self, timeout: float) -> None:
        """Return when the pair's fetch may have ended, or after at most ``timeout`` seconds."""
        timeout = max(0.0, min(timeout, RECHECK_SECONDS))
        if not self.listening:
            time.sleep(min(timeout, self._backoff))
            self._backoff = min(2 * self._backoff, RECHECK_SECONDS)
            return
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            for notify in connection.connection.notifies(timeout=remaining, stop_after=1):
                if notify.payload == str(self.pair):
                    return
