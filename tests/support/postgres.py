"""PostgreSQL facts and forced races for concurrency tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from django.db import connection

from tests.support.processes import wait_until

T = TypeVar("T")


def lock_waiters(database_url: str) -> int:
    """How many sessions of this database wait on a lock right now."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        assert row is not None
        return int(row[0])


def race_behind_lock(
    database_url: str, hold: str, params: Sequence[Any], calls: Sequence[Callable[[], T]]
) -> list[T | Exception]:
    """Run ``calls`` in threads at once, all held back by a lock a third connection takes.

    ``hold`` (SQL) takes the lock, e.g. by inserting an uncommitted row that each call
    would conflict with; once every call waits on it (or has finished without waiting),
    the holder rolls back and they race. Returns each call's result or exception.
    """
    results: list[T | Exception] = [RuntimeError("did not run")] * len(calls)

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    with psycopg.connect(database_url) as holder:
        holder.execute(hold, params)  # type: ignore[arg-type]
        for thread in threads:
            thread.start()
        wait_until(
            lambda: (
                lock_waiters(database_url) >= len(calls)
                or not any(thread.is_alive() for thread in threads)
            ),
            timeout=60,
            what="the racers to wait on the lock",
        )
        holder.rollback()
    for thread in threads:
        thread.join(timeout=60)
    return results
