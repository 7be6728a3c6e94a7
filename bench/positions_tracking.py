"""Benchmark: the dispatcher + Celery worker(s) tracking N users against the KuCoin simulator.

    python -m bench positions_tracking -- --users 10000 --duration 120 [--workers 1]
        [--position-alerts 3]

Creates a scratch PostgreSQL database (dropped at the end), N users with encrypted KuCoin
keys that hold one or two positions on an in-process KuCoin simulator, and N active
subscriptions whose slots are spread over the interval (and, with ``--position-alerts N``,
N quiet position alerts per user, evaluated at every poll). Then runs ``--workers`` ``celery
worker`` processes and one ``celery beat`` (its own process, as the Procfile runs it: its
memory and CPU are not the workers') for ``--duration`` seconds on the Redis broker and
samples the database every two seconds: each change of ``last_polled_at`` is one poll, and
``last_polled_at - last_slot`` its lateness against its due time. The first interval is
warm-up and not counted. Prints polls/s, lateness p50/p95/p99/max, slots missed (two
polls of one subscription more than an interval apart, or a subscription not polled at
all), the workers' CPU and peak memory (each worker's whole process tree: the main
process and its children).

Loopback only; bounded by --duration; stops (and cleans up) by itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tests.support.processes import memory_mib, process_tree

from bench._kucoin_sim import bench_credentials

REPO = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# The database is sampled every SAMPLE_SECONDS for the polls recorded since the last
# sample, less SAMPLE_MARGIN (a poll's row is read at most once per slot: slots are
# at least an interval apart, far more than a sample).
SAMPLE_SECONDS = 2.0
SAMPLE_MARGIN = timedelta(seconds=5)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench positions_tracking")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=30, help="tracking interval, seconds")
    parser.add_argument("--duration", type=int, default=120, help="seconds of tracking to run")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="seconds not measured at the start (default: one interval + 5 s); longer to "
        "measure the steady state after a cold start's backlog",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (beat runs beside them)"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="prefork children per worker")
    parser.add_argument("--batch-size", type=int, default=1000, help="POSITIONS_BATCH_SIZE")
    parser.add_argument(
        "--position-alerts",
        type=int,
        default=0,
        help="position alerts per user (mixed kinds that do not fire on the bench's prices)",
    )
    return parser.parse_args(argv)


def scratch_database_url(base_url: str, name: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_sql(base_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        base_url.replace("postgres://", "postgresql://", 1), autocommit=True
    ) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def seed(users: int, interval: int, position_alerts: int = 0) -> None:
    """Users with the simulator's bench keys (encrypted), subscriptions spread over one
    interval, and ``position_alerts`` position alerts per user."""
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from cryptotrack.accounts.models import ExchangeAccount, User
    from cryptotrack.core import crypto
    from cryptotrack.positions.models import TrackingSubscription

    call_command("migrate", verbosity=0)
    password = make_password("bench-password-1")
    User.objects.bulk_create(
        [User(username=f"bench{n}", name=f"Bench {n}", password=password) for n in range(users)],
        batch_size=2000,
    )
    ids = dict(User.objects.values_list("username", "id"))
    accounts, subscriptions = [], []
    start = datetime.now(UTC) + timedelta(seconds=5)
    for n in range(users):
        key, secret, passphrase = bench_credentials(n)
        user_id = ids[f"bench{n}"]
        accounts.append(
            ExchangeAccount(
                user_id=user_id,
                api_key_encrypted=crypto.encrypt(key),
                api_secret_encrypted=crypto.encrypt(secret),
                api_passphrase_encrypted=crypto.encrypt(passphrase),
                api_key_hint=key[-4:],
                label="default",
                status=ExchangeAccount.Status.VALID,
            )
        )
        subscriptions.append(
            TrackingSubscription(
                user_id=user_id,
                interval=timedelta(seconds=interval),
                next_poll_at=start + timedelta(seconds=interval * n / users),
            )
        )
    ExchangeAccount.objects.bulk_create(accounts, batch_size=2000)
    account_of = dict(ExchangeAccount.objects.values_list("user_id", "id"))
    for subscription in subscriptions:
        subscription.account_id = account_of[subscription.user_id]
    TrackingSubscription.objects.bulk_create(subscriptions, batch_size=2000)
    if position_alerts:
        seed_position_alerts(list(ids.values()), position_alerts)


def seed_position_alerts(user_ids: list[int], per_user: int) -> None:
    """``per_user`` active position alerts for each user, cycling through the kinds with
    thresholds the bench's still prices never reach (a 3x long or short sits ~33 % from its
    liquidation, its PnL near 0): they are evaluated at every poll, and stay quiet."""
    from decimal import Decimal

    from cryptotrack.accounts.models import User
    from cryptotrack.alerts.models import PositionAlert

    Kind = PositionAlert.Kind
    shapes: list[dict[str, Any]] = [
        {"kind": Kind.LIQUIDATION_DISTANCE, "threshold": Decimal(2)},
        {"kind": Kind.PNL_PERCENT, "threshold": Decimal(-50), "direction": "below"},
        {"kind": Kind.EVENT, "events": ["closed", "side_flipped"]},
        {"kind": Kind.PNL_AMOUNT, "threshold": Decimal(10**6), "direction": "above"},
    ]
    PositionAlert.objects.bulk_create(
        [
            PositionAlert(user_id=user_id, **shapes[n % len(shapes)])
            for user_id in user_ids
            for n in range(per_user)
        ],
        batch_size=5000,
    )
    User.objects.filter(pk__in=user_ids).update(has_position_alerts=True)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def rss_mib(pids: list[int]) -> float:
    return sum(memory_mib(pid, "VmRSS") for pid in pids)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.warmup is None:
        args.warmup = args.interval + 5  # the first interval and the seeding lead
    if args.duration < args.warmup + args.interval + 5:
        sys.exit("--duration must cover the warm-up and at least one measured interval")
    base_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not base_url.startswith("postgres") or not redis_url:
        sys.exit("needs DATABASE_URL (PostgreSQL) and REDIS_URL: run it through `make bench`")
    name = f"cryptotrack_bench_{os.getpid()}"
    url = scratch_database_url(base_url, name)
    admin_sql(base_url, f'CREATE DATABASE "{name}"')
    workers: list[subprocess.Popen[Any]] = []
    try:
        os.environ.update(
            {
                "DATABASE_URL": url,
                "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
                "TRACKING_INTERVAL_SECONDS": str(args.interval),
                "POSITIONS_BATCH_SIZE": str(args.batch_size),
                "CELERY_DEFAULT_QUEUE": f"bench-{os.getpid()}",
                "CACHE_KEY_PREFIX": f"bench-{os.getpid()}",
                "LOG_LEVEL": "WARNING",
            }
        )
        simulator = subprocess.Popen(
            [sys.executable, "-m", "bench._kucoin_sim", "--users", str(args.users)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        workers.append(simulator)  # stopped with the workers
        line = simulator.stdout.readline() if simulator.stdout else ""
        if "listening on " not in line:
            sys.exit(f"the KuCoin simulator did not start: {line!r}")
        sim_url = line.strip().rsplit("listening on ", 1)[1]
        import django

        django.setup()
        started = time.monotonic()
        seed(args.users, args.interval, args.position_alerts)
        print(f"seeded {args.users} users in {time.monotonic() - started:.1f} s", flush=True)
        env = {**os.environ, "KUCOIN_SPOT_URL": sim_url, "KUCOIN_FUTURES_URL": sim_url}
        for n in range(args.workers):
            command = [
                sys.executable, "-m", "celery", "-A", "cryptotrack", "worker",
                f"--concurrency={args.concurrency}", "--loglevel=WARNING",
                f"--hostname=bench{n}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
            ]  # fmt: skip
            workers.append(subprocess.Popen(command, env=env, cwd=REPO))
        beat = [
            sys.executable, "-m", "celery", "-A", "cryptotrack", "beat", "--loglevel=WARNING",
            f"--schedule={tempfile.mkdtemp()}/beat",
        ]  # fmt: skip
        workers.append(subprocess.Popen(beat, env=env, cwd=REPO))
        report(args, workers[1:-1])  # the workers: not the simulator, not beat
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        from django.db import connections

        connections.close_all()
        admin_sql(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(args: argparse.Namespace, workers: list[subprocess.Popen[Any]]) -> None:
    from django.db import connection

    seen: dict[int, datetime] = {}  # subscription -> last_polled_at seen
    newest = datetime(2000, 1, 1, tzinfo=UTC)  # the latest last_polled_at seen
    lateness: list[float] = []
    slots_of: dict[int, list[datetime]] = {}  # subscription -> the slots it was polled in
    peak_rss = 0.0
    t0 = time.monotonic()
    cpu_start = None
    measure_from = t0 + args.warmup
    while (now := time.monotonic()) < t0 + args.duration:
        pids = [pid for w in workers for pid in process_tree(w.pid)]
        peak_rss = max(peak_rss, rss_mib(pids))
        if cpu_start is None and now >= measure_from:
            cpu_start, cpu_t0 = cpu_seconds(pids), now
        with connection.cursor() as cursor:
            # Only the rows polled since the last sample (less a margin for flushes that
            # committed out of order): reading all of them every time cost the box
            # ~0.15 core at 40,000 users, taken from the worker it measures.
            cursor.execute(
                "SELECT id, last_slot, last_polled_at FROM positions_trackingsubscription "
                "WHERE last_slot IS NOT NULL AND last_polled_at >= %s",
                [newest - SAMPLE_MARGIN],
            )
            rows = cursor.fetchall()
        for subscription_id, slot, polled_at in rows:
            # A finished poll moves last_polled_at; last_slot is then that poll's slot.
            if seen.get(subscription_id) != polled_at:
                seen[subscription_id] = polled_at
                newest = max(newest, polled_at)
                if now >= measure_from:
                    lateness.append((polled_at - slot).total_seconds())
                    slots_of.setdefault(subscription_id, []).append(slot)
        time.sleep(SAMPLE_SECONDS)
    window = time.monotonic() - measure_from
    pids = [pid for w in workers for pid in process_tree(w.pid)]
    cpu = cpu_seconds(pids) - (cpu_start or 0.0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM positions_trackingsubscription")
        all_ids = [row[0] for row in cursor.fetchall()]
    # A slot is missed when a subscription's next poll is for a later slot than the next
    # one. (Counting polls per subscription in the window instead counts, as missed, the
    # last slot of every subscription whose poll came after the window ended.)
    interval = timedelta(seconds=args.interval)
    skipped = 0
    for slots in slots_of.values():
        slots.sort()
        skipped += sum(max(0, round((b - a) / interval) - 1) for a, b in pairwise(slots))
    never = sum(1 for i in all_ids if i not in slots_of)
    print(
        f"users={args.users} interval={args.interval}s workers={args.workers}x{args.concurrency} "
        f"batch={args.batch_size} position_alerts={args.position_alerts} "
        f"warm-up={args.warmup}s measured={window:.0f}s"
    )
    if not lateness:
        print("no polls observed: the worker did not run (see its output above)")
        return
    rate, needed = len(lateness) / window, args.users / args.interval
    print(f"polls: {len(lateness)} ({rate:.0f}/s; needed {needed:.0f}/s)")
    print(
        "lateness vs due time: "
        f"p50={percentile(lateness, 0.50):.2f}s p95={percentile(lateness, 0.95):.2f}s "
        f"p99={percentile(lateness, 0.99):.2f}s max={max(lateness):.2f}s"
    )
    print(f"slots missed: {skipped} skipped between two polls; {never} subscriptions not polled")
    print(f"worker CPU: {cpu / (time.monotonic() - cpu_t0):.2f} cores; peak RSS {peak_rss:.0f} MiB")
