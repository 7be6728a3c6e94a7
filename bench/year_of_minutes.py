"""Benchmark: the quotes list over a year of live minute quotes, raw and after retention.

    ./scripts/with-services.sh .venv/bin/python -m bench year_of_minutes -- \
        [--minutes 525600] [--repeat 200] [--per-page 100] [--deep-page 5000]

Creates a scratch PostgreSQL database (dropped at the end) and fills it in ONE bulk
``INSERT ... SELECT generate_series`` (no row goes through the ORM): ``--minutes`` live
BTC/USD quotes of source ``kucoin``, one a minute back from now (a year: 525,600), plus
Alpha Vantage's hourly record over the same year (8,760 ``alphavantage`` quotes), then
VACUUM ANALYZE. It times, in this process, the server side of each request (Django's
handler with DRF, JWT auth and PostgreSQL; no HTTP, no client), ``--repeat`` times each,
and prints p50 / p99 / max, and "SQL": PostgreSQL's own execution time of the request's
quotes queries (EXPLAIN ANALYZE, best of 5), the database's share of it:

- ``GET /api/v1/quotes`` — the default listing (Alpha Vantage's record), first page;
- ``GET /api/v1/quotes?source=kucoin&per_page=100&cursor=`` — the live quotes by cursor,
  first page and page ``--deep-page`` (the cursor of row ``(deep_page - 1) * per_page``);
- the same deep page with ``?source=all`` (every source, the ``quote_newest_idx`` index);
- ``?source=kucoin&per_page=100&page=N`` — page mode, which counts the rows and OFFSETs:
  first page and the deep page, for comparison (a fifth of the repeats: it is slow).

Phase 1 is the RAW table (retention never ran: the worst case, and what the target of
the speed issue — < 20 ms for a deep page — is about). Phase 2 runs the real
``retention.downsample_live_quotes()`` (timed), which leaves minute points for the last
``QUOTES_LIVE_MINUTE_DAYS`` days and one per hour before (~18,700 rows a year), and times
the same requests there (the deep page becomes the last one when the table is shorter).
Loopback only; bounded by its inputs; stops (and cleans up) by itself.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from typing import Any

from bench.positions_tracking import admin_sql, scratch_database_url


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench year_of_minutes")
    parser.add_argument("--minutes", type=int, default=525_600)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--deep-page", type=int, default=5_000)
    return parser.parse_args(argv)


def fill(minutes: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO quotes_quote (from_currency, to_currency, rate, bid, ask,
                                      refreshed_at, fetched_at, trigger, source)
            SELECT 'BTC', 'USD', 60000 + (n %% 997) * 0.37, 59999.9, 60000.1,
                   now() - make_interval(mins => n), now() - make_interval(mins => n),
                   'live', 'kucoin'
            FROM generate_series(0, %s - 1) AS n
            """,
            [minutes],
        )
        cursor.execute(
            """
            INSERT INTO quotes_quote (from_currency, to_currency, rate, bid, ask,
                                      refreshed_at, fetched_at, trigger, source)
            SELECT 'BTC', 'USD', 60000 + (n %% 101), 59999, 60001,
                   date_trunc('hour', now()) - make_interval(hours => n),
                   date_trunc('hour', now()) - make_interval(hours => n),
                   'scheduled', 'alphavantage'
            FROM generate_series(0, %s - 1) AS n
            """,
            [max(minutes // 60, 1)],
        )
    vacuum()


def vacuum() -> None:
    from django.db import connection

    connection.close()  # VACUUM may not run inside the transaction of a used connection
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE quotes_quote")


def timed(client: Any, path: str, repeat: int) -> tuple[float, float, float, int]:
    """p50, p99 and max in ms of ``repeat`` GETs of ``path``, and the last status."""
    client.get(path)  # warm: the first request of a path builds caches, not the answer
    times = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    p99 = statistics.quantiles(times, n=100, method="inclusive")[98] if len(times) > 1 else times[0]
    return statistics.median(times), p99, max(times), status


def sql_ms(client: Any, path: str) -> float:
    """PostgreSQL's own execution time (EXPLAIN ANALYZE, best of 5) of the quotes SELECT
    that ``path`` runs: the database's share, apart from Python and the machine's queue."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    selects = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "quotes_quote"' in q["sql"]
    ]
    if not selects:
        return float("nan")
    best = float("inf")
    with connection.cursor() as cursor:
        for _ in range(5):
            total = 0.0
            for sql in selects:  # page mode runs a COUNT and the page
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
                total += float(cursor.fetchone()[0][0]["Execution Time"])
            best = min(best, total)
    return best


def measure(client: Any, args: argparse.Namespace, label: str) -> None:
    from cryptotrack.core.keyset_pagination import encode_cursor
    from cryptotrack.quotes.models import Quote

    live = Quote.objects.filter(source="kucoin").order_by("-fetched_at", "-id")
    every = Quote.objects.order_by("-fetched_at", "-id")
    live_rows = live.count()
    per_page = args.per_page
    deep_page = max(1, min(args.deep_page, -(-live_rows // per_page)))
    depth = (deep_page - 1) * per_page
    live_cursor = encode_cursor(live[depth - 1]) if depth else ""
    all_cursor = encode_cursor(every[depth - 1]) if depth else ""
    print(
        f"--- {label}: {Quote.objects.count():,} quotes ({live_rows:,} live); "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    base = f"/api/v1/quotes?per_page={per_page}"
    cases = [
        ("default list (alphavantage record), page 1", "/api/v1/quotes", args.repeat),
        ("kucoin, cursor, first page", f"{base}&source=kucoin&cursor=", args.repeat),
        (
            f"kucoin, cursor, page {deep_page:,} (row {depth:,})",
            f"{base}&source=kucoin&cursor={live_cursor}",
            args.repeat,
        ),
        (
            f"all sources, cursor, page {deep_page:,}",
            f"{base}&source=all&cursor={all_cursor}",
            args.repeat,
        ),
        ("kucoin, page mode, page 1", f"{base}&source=kucoin&page=1", max(args.repeat // 5, 2)),
        (
            f"kucoin, page mode, page {deep_page:,}",
            f"{base}&source=kucoin&page={deep_page}",
            max(args.repeat // 5, 2),
        ),
    ]
    for name, path, repeat in cases:
        p50, p99, worst, status = timed(client, path, repeat)
        print(
            f"{name:<52} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  max {worst:7.1f} ms  "
            f"SQL {sql_ms(client, path):6.2f} ms  [{status}] x{repeat}",
            flush=True,
        )


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("needs DATABASE_URL (PostgreSQL): run it through `make bench`")
    name = f"cryptotrack_bench_year_{os.getpid()}"
    admin_sql(base_url, f'CREATE DATABASE "{name}"')
    try:
        os.environ.update(
            {
                "DATABASE_URL": scratch_database_url(base_url, name),
                "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
                "CACHE_KEY_PREFIX": f"bench-year-{os.getpid()}",
                "THROTTLE_USER": "10000000/min",
                "LOG_LEVEL": "WARNING",
                "SECRET_KEY": secrets.token_urlsafe(50),
            }
        )
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client
        from rest_framework_simplejwt.tokens import AccessToken

        from cryptotrack.accounts.models import User
        from cryptotrack.quotes import retention

        call_command("migrate", verbosity=0)
        user = User.objects.create_user(username="year", name="Year", password=None)
        started = time.monotonic()
        fill(args.minutes)
        print(
            f"filled {args.minutes:,} live minute quotes + the hourly record in "
            f"{time.monotonic() - started:.1f} s (bulk INSERT ... SELECT, VACUUM ANALYZE)",
            flush=True,
        )
        client = Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        measure(client, args, "RAW (no retention)")

        started = time.monotonic()
        deleted = retention.downsample_live_quotes()
        took = time.monotonic() - started
        vacuum()
        print(f"retention.downsample_live_quotes(): deleted {deleted:,} in {took:.1f} s")
        measure(client, args, "DOWNSAMPLED (as retention leaves it)")
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
