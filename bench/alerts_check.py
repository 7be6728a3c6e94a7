"""Benchmark: one alert check over a million active alerts on PostgreSQL, 1 % of them crossed.

    ./scripts/with-services.sh .venv/bin/python -m bench alerts_check -- \
        [--alerts 1000000] [--cross 0.01] [--users 10000] [--broker redis|sqlite]

Creates a scratch PostgreSQL database (dropped at the end), migrates it, COPYs the users
and alerts in (spread over 10 coins x 3 vs-currencies, targets scattered around the
simulator's prices, ``--cross`` of them already crossed), VACUUM ANALYZEs, then times ONE
``check_alerts()`` exactly as the beat task runs it: the distinct-pairs scan, the one
CoinGecko request (an in-process simulator over loopback), the claiming UPDATEs with
their outbox rows, and the queueing of the email tasks (``send_alert_notifications``,
50 emails per task) on the Redis broker (default, ``REDIS_URL``) or the embedded
default's SQLite broker in a temporary folder. A second check (nothing left to cross)
is timed too. No worker runs: the queued tasks are counted, then deleted with the
database.

Loopback only; bounded by its inputs; stops (and cleans up) by itself.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

COINS = [
    "bitcoin",
    "ethereum",
    "solana",
    "tether",
    "binancecoin",
    "ripple",
    "cardano",
    "dogecoin",
    "litecoin",
    "polkadot",
]
CURRENCIES = ["usd", "eur", "gbp"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench alerts_check")
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--cross", type=float, default=0.01, help="share already crossed")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--broker", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--seed", type=int, default=6)
    return parser.parse_args(argv)


def scratch_database_url(base_url: str, name: str) -> str:
    return urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))


def admin_sql(base_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        base_url.replace("postgres://", "postgresql://", 1), autocommit=True
    ) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def seed(args: argparse.Namespace, prices: dict[tuple[str, str], Decimal]) -> int:
    """Users and alerts through COPY; returns how many alerts are crossed at ``prices``."""
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    password = make_password("bench-password-1")
    users = io.StringIO()
    for n in range(args.users):
        users.write(
            f"{password}\tf\tbench{n}\t\t\tbench{n}@example.com\tf\tt\t2025-01-01 00:00:00+00"
            f"\tBench {n}\tt\n"
        )
    alerts = io.StringIO()
    rng = random.Random(args.seed)
    pairs = sorted(prices)
    crossed = 0
    with connection.cursor() as cursor:
        copy_text(
            cursor,
            "COPY accounts_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined, name, email_sign_in) FROM STDIN",
            users.getvalue(),
        )
        cursor.execute("SELECT min(id) FROM accounts_user")
        first_user = cursor.fetchone()[0]
        for n in range(args.alerts):
            coin, currency = pairs[n % len(pairs)]
            price = float(prices[(coin, currency)])
            above = (n // 7) % 2 == 0
            if rng.random() < args.cross:
                factor = 1 - rng.uniform(0.0001, 0.1) if above else 1 + rng.uniform(0.0001, 0.1)
                crossed += 1
            else:
                factor = 1 + rng.uniform(0.001, 1.0) if above else 1 - rng.uniform(0.001, 0.9)
            target = f"{price * factor:.12g}"
            alerts.write(
                f"{first_user + n % args.users}\t{coin}\t{currency}\t{target}\t"
                f"{'above' if above else 'below'}\tactive\t2025-01-01 00:00:00+00"
                "\t2025-01-01 00:00:00+00\n"
            )
            if alerts.tell() > 8_000_000:
                copy_alerts(cursor, alerts.getvalue())
                alerts = io.StringIO()
        copy_alerts(cursor, alerts.getvalue())
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_user")
        cursor.execute("VACUUM ANALYZE alerts_alert")
    return crossed


def copy_alerts(cursor: object, text: str) -> None:
    copy_text(
        cursor,
        "COPY alerts_alert (user_id, coin, currency, target_price, direction, status, "
        "created_at, updated_at) FROM STDIN",
        text,
    )


def copy_text(cursor: object, sql: str, text: str) -> None:
    raw = cursor.cursor  # type: ignore[attr-defined]  # Django's wrapper -> psycopg cursor
    with raw.copy(sql) as copy:
        copy.write(text)


def warm_up(queue: str, prices: dict[tuple[str, str], Decimal]) -> None:
    from cryptotrack.alerts.coingecko import fetch_prices
    from cryptotrack.celery import app

    fetch_prices(list(prices)[:1])
    app.send_task("bench.warm_up", queue=f"{queue}-warm-up")


def queued_messages(broker: str, queue: str, var_dir: Path) -> int:
    if broker == "sqlite":
        import sqlite3

        with closing(sqlite3.connect(var_dir / "broker.sqlite3")) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id"
                " WHERE q.name = ? AND m.visible",
                (queue,),
            ).fetchone()
        return int(count)
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return int(client.llen(queue))


def drop_queue(broker: str, queue: str) -> None:
    if broker == "redis":
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        warm = f"{queue}-warm-up"
        client.delete(queue, f"_kombu.binding.{queue}", warm, f"_kombu.binding.{warm}")


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("needs DATABASE_URL (PostgreSQL): run it through ./scripts/with-services.sh")
    if args.broker == "redis" and not os.environ.get("REDIS_URL"):
        sys.exit("--broker redis needs REDIS_URL (or use --broker sqlite)")
    name = f"cryptotrack_bench_alerts_{os.getpid()}"
    queue = f"bench-alerts-{os.getpid()}"
    var_dir = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    admin_sql(base_url, f'CREATE DATABASE "{name}"')
    try:
        os.environ.update(
            {
                "DATABASE_URL": scratch_database_url(base_url, name),
                "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
                "CELERY_DEFAULT_QUEUE": queue,
                "CACHE_KEY_PREFIX": queue,
                "VAR_DIR": str(var_dir),
                "LOG_LEVEL": "WARNING",
            }
        )
        if args.broker == "sqlite":
            # The embedded default's broker (in VAR_DIR): neither variable may name Redis.
            os.environ.update({"CELERY_BROKER_URL": "", "REDIS_URL": ""})
        from cryptotrack.simulators.coingecko import CoinGeckoSimulator

        with CoinGeckoSimulator() as sim:
            os.environ["COINGECKO_URL"] = sim.url
            import django

            from cryptotrack.config import prepare_var_dir

            prepare_var_dir()  # the scratch VAR_DIR's generated keys, as manage.py does
            django.setup()
            from cryptotrack.alerts.models import Alert, AlertNotification
            from cryptotrack.alerts.monitor import check_alerts
            from cryptotrack.alerts.notifications import enqueue_delivery

            prices = {(c, v): p for c in COINS for v in CURRENCIES if (p := sim.price(c, v))}
            started = time.perf_counter()
            expected = seed(args, prices)
            setup = time.perf_counter() - started
            print(
                f"setup: {args.alerts} alerts ({len(prices)} pairs), {args.users} users, "
                f"migrate + COPY + VACUUM ANALYZE in {setup:.1f} s",
                flush=True,
            )

            # A worker that runs the check every 30 s has its imports done, its broker
            # connection open and its HTTP stack loaded: warm those up, outside the timing.
            started = time.perf_counter()
            warm_up(queue, prices)
            print(
                f"warm-up (imports, broker connection, HTTP stack): "
                f"{(time.perf_counter() - started) * 1000:.0f} ms"
            )

            sim.reset_stats()
            before = queued_messages(args.broker, queue, var_dir)
            enqueue_seconds = 0.0

            def enqueue(batch: list[int]) -> None:  # the real one, timed
                nonlocal enqueue_seconds
                mark = time.perf_counter()
                enqueue_delivery(batch)
                enqueue_seconds += time.perf_counter() - mark

            started = time.perf_counter()
            report = check_alerts(enqueue=enqueue)
            elapsed = time.perf_counter() - started
            steps = " ".join(f"{k}={v * 1000:.0f}ms" for k, v in report.timings.items())
            print(
                f"check: {elapsed * 1000:.0f} ms for {report.triggered} crossed of {args.alerts} "
                f"(expected {expected}); {report.batches} email tasks queued on the "
                f"{args.broker} broker; CoinGecko /simple/price requests: "
                f"{sim.count('/simple/price')}"
            )
            print(f"check steps: {steps} (of which enqueue={enqueue_seconds * 1000:.0f}ms)")

            started = time.perf_counter()
            again = check_alerts()
            steps = " ".join(f"{k}={v * 1000:.0f}ms" for k, v in again.timings.items())
            print(
                f"second check (nothing new crossed): "
                f"{(time.perf_counter() - started) * 1000:.0f} ms, {again.triggered} crossed; "
                f"{steps}"
            )
            triggered = Alert.objects.filter(status=Alert.Status.TRIGGERED).count()
            outbox = AlertNotification.objects.count()
            messages = queued_messages(args.broker, queue, var_dir) - before
            print(f"verify: triggered={triggered} outbox={outbox} queued messages={messages}")
            ok = triggered == outbox == expected == report.triggered
            ok = ok and messages == report.batches and elapsed < 2.0
            print(f"result: {'PASS' if ok else 'FAIL'} (target < 2 s)")
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        drop_queue(args.broker, queue)
        shutil.rmtree(var_dir, ignore_errors=True)
