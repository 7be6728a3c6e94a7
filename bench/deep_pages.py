"""Benchmark: deep pages — quotes by cursor in 1,000,000 rows, position history in 10,000,000.

    ./scripts/with-services.sh .venv/bin/python -m bench deep_pages -- \
        [--quotes 1000000] [--snapshots 10000000] [--repeat 20]

Creates a scratch PostgreSQL database (dropped at the end) and fills it in SQL
(``generate_series``, then VACUUM ANALYZE): ``--quotes`` BTC/USD quotes one minute apart,
and ``--snapshots`` position snapshots of ONE user (the worst case: every row is that
user's history), ten seconds apart. Then times, in this process, the server side of
each request (Django's handler with DRF, JWT auth and the database; no HTTP, no client):

- ``GET /api/v1/quotes?cursor=<c>`` with the cursor at the first row, at half and at
  the last page of the table;
- ``GET /api/v1/positions/history?cursor=<c>&per_page=100`` likewise; and, for
  comparison, its page mode at page 1 only (it counts the user's rows: seconds at 10M).

Prints the median and the max of ``--repeat`` requests each. Target: < 20 ms at any depth.
The history index is dropped for the fill and built again after it (a fill that keeps
it up to date row by row takes several times longer).
Loopback only; bounded by its inputs; stops (and cleans up) by itself.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.history_rows import insert_history

from bench.positions_tracking import admin_sql, scratch_database_url


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench deep_pages")
    parser.add_argument("--quotes", type=int, default=1_000_000)
    parser.add_argument("--snapshots", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    return parser.parse_args(argv)


def fill(quotes: int, snapshots: int, user_id: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO quotes_quote
                (from_currency, to_currency, rate, bid, ask, refreshed_at, fetched_at,
                 trigger, source)
            SELECT 'BTC', 'USD', 60000 + n %% 1000, 59999, 60001,
                   now() - make_interval(mins => n), now() - make_interval(mins => n),
                   'scheduled', 'alphavantage'
            FROM generate_series(1, %s) AS n
            """,
            [quotes],
        )
        cursor.execute("DROP INDEX snapshots_by_user_time")
        insert_history(cursor, user_id=user_id, count=snapshots)
        # As the migration declares it: Index(fields=["user", "-taken_at"]).
        cursor.execute(
            "CREATE INDEX snapshots_by_user_time "
            "ON positions_positionsnapshot (user_id, taken_at DESC)"
        )
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE quotes_quote")
        cursor.execute("VACUUM ANALYZE positions_positionsnapshot")


def timed(client: Any, path: str, repeat: int) -> tuple[float, float, int]:
    times = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return statistics.median(times), max(times), status


@contextmanager
def scratch_database(label: str) -> Iterator[None]:
    """A scratch PostgreSQL database (dropped at the end) with Django set up on it and
    migrated: the user throttle raised, a fresh SECRET_KEY, warnings-only logs."""
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("needs DATABASE_URL (PostgreSQL): run it through `make bench`")
    name = f"cryptotrack_bench_{label}_{os.getpid()}"
    admin_sql(base_url, f'CREATE DATABASE "{name}"')
    try:
        os.environ.update(
            {
                "DATABASE_URL": scratch_database_url(base_url, name),
                "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
                "CACHE_KEY_PREFIX": f"bench-{label}-{os.getpid()}",
                "THROTTLE_USER": "10000000/min",
                "LOG_LEVEL": "WARNING",
                "SECRET_KEY": secrets.token_urlsafe(50),
            }
        )
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    with scratch_database("deep"):
        from django.test import Client
        from rest_framework_simplejwt.tokens import AccessToken

        from cryptotrack.accounts.models import User
        from cryptotrack.core.keyset_pagination import encode_cursor
        from cryptotrack.positions.models import PositionSnapshot
        from cryptotrack.quotes.models import Quote

        user = User.objects.create_user(username="deep", name="Deep", password=None)
        started = time.monotonic()
        fill(args.quotes, args.snapshots, user.pk)
        print(
            f"filled {args.quotes:,} quotes and {args.snapshots:,} snapshots in "
            f"{time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        client = Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        newest = Quote.objects.order_by("-fetched_at", "-id")
        for label, depth in [("first", 0), ("half", args.quotes // 2), ("last", args.quotes - 31)]:
            cursor = "" if depth == 0 else encode_cursor(newest[depth - 1])
            median, worst, status = timed(
                client, f"/api/v1/quotes?cursor={cursor}&per_page=30", args.repeat
            )
            print(
                f"quotes cursor at {label:<5} (row {depth:>9,}): "
                f"median {median:7.1f} ms  max {worst:7.1f} ms  [{status}]",
                flush=True,
            )
        newest_snapshots = PositionSnapshot.objects.order_by("-taken_at", "-id")
        history = "/api/v1/positions/history?per_page=100&cursor="
        depths = [("first", 0), ("half", args.snapshots // 2), ("last", args.snapshots - 100)]
        for label, depth in depths:
            cursor = "" if depth == 0 else encode_cursor(newest_snapshots[depth - 1], "taken_at")
            median, worst, status = timed(client, history + cursor, args.repeat)
            print(
                f"history cursor at {label:<5} (row {depth:>10,}): "
                f"median {median:7.1f} ms  max {worst:7.1f} ms  [{status}]",
                flush=True,
            )
        median, worst, status = timed(client, "/api/v1/positions/history?page=1&per_page=100", 3)
        print(
            f"history page mode, page 1 (counts {args.snapshots:,} rows): "
            f"median {median:7.1f} ms  max {worst:7.1f} ms  [{status}]",
            flush=True,
        )
