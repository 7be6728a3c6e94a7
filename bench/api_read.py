"""Benchmark: the read API under the Procfile's ``web`` line vs a bare ASGI app, same run.

    ./scripts/with-services.sh .venv/bin/python -m bench api_read -- \
        [--users 200] [--processes 1,2] [--connections 32] [--duration 5] [--warmup 1]
        [--rate 500] [--endpoints /api/v1/positions,/healthz] [--no-redis-down]

Creates a scratch PostgreSQL database (dropped at the end) with ``--users`` users, each
with two open positions (cached in Redis, as a worker's poll leaves them), a tracking
subscription, five alerts, and 1,000 quotes; and starts a redis-server of its own (on a
free port, so it can be stopped). For each count of ``--processes``:

1. the bare ASGI app (``bench/_bare_asgi.py``) under the very same uvicorn command line;
2. the Procfile's ``web`` line (uvicorn, ``WEB_CONCURRENCY`` processes; bound to
   127.0.0.1 instead of 0.0.0.0) on that database and Redis: GET /api/v1/positions,
   /api/v1/quotes?per_page=30, /api/v1/alerts, /healthz, each with one access token
   per user (requests spread over all users);
3. the same four with the redis-server stopped (positions then come from the database).

Before each half, every user's token reads its positions once (as on a server that has
been up a while: the users are in the JWT user cache), then the measured load starts.

The client (``bench/_http_load.py``) is closed-loop: ``--connections`` keep-alive
connections, each sending its next request when the previous answer is in; with
``--rate R`` it offers R requests a second instead (open loop, latency counted from when
each request was due: what "p99 at 500 req/s" means). The
per-user throttle is not what is measured: ``THROTTLE_USER`` (and ``THROTTLE_ANON``) are
raised to 10,000,000/min for the run. Prints req/s, p50/p99, the ratio to the bare app
of the same run, and the server's CPU time per answer (user + system of every uvicorn
process over the run: the figure least moved by other work on a shared machine).

Loopback only; bounded (about 20 s per endpoint and process count); stops (and cleans
up) by itself. The client runs on the same machine: it takes CPU from the server.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.processes import REPO, ManagedProcess, RedisServer, free_port, wait_until
from tests.support.procfile import read_procfile

from bench.positions_tracking import admin_sql, cpu_seconds, process_tree, scratch_database_url

ENDPOINTS = ["/api/v1/positions", "/api/v1/quotes?per_page=30", "/api/v1/alerts", "/healthz"]
RAISED_THROTTLE = "10000000/min"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench api_read")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--processes", default="1,2", help="uvicorn process counts to run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds each")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offer this many requests/s (open loop; latency counted from when each was due)"
        " instead of the closed loop",
    )
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--no-redis-down", action="store_true", help="skip the Redis-down runs")
    return parser.parse_args(argv)


def seed(users: int) -> list[str]:
    """The scratch data (see the module docstring); returns one access token per user."""
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from cryptotrack.accounts.models import ExchangeAccount, User
    from cryptotrack.alerts.models import Alert
    from cryptotrack.core import crypto
    from cryptotrack.positions.models import Position, TrackingSubscription
    from cryptotrack.quotes.models import Quote

    call_command("migrate", verbosity=0)
    password = make_password("bench-password-1")
    User.objects.bulk_create(
        [
            User(
                username=f"reader{n}",
                name=f"Reader {n}",
                email=f"r{n}@example.com",
                password=password,
            )
            for n in range(users)
        ]
    )
    people = list(User.objects.order_by("id"))
    now = datetime.now(UTC)
    sealed = crypto.encrypt("bench-not-a-real-key")
    ExchangeAccount.objects.bulk_create(
        ExchangeAccount(
            user=u,
            label="default",
            api_key_encrypted=sealed,
            api_secret_encrypted=sealed,
            api_passphrase_encrypted=sealed,
            api_key_hint="-key",
            status=ExchangeAccount.Status.VALID,
        )
        for u in people
    )
    account_of = dict(ExchangeAccount.objects.values_list("user_id", "id"))
    TrackingSubscription.objects.bulk_create(
        TrackingSubscription(
            user=u,
            account_id=account_of[u.pk],
            next_poll_at=now + timedelta(hours=1),
            last_polled_at=now,
            last_success_at=now,
        )
        for u in people
    )
    Position.objects.bulk_create(
        Position(
            user=u,
            account_id=account_of[u.pk],
            symbol=symbol,
            side=side,
            size=Decimal(3),
            entry_price=Decimal("64000.5"),
            mark_price=Decimal("64100.25"),
            liquidation_price=Decimal("50000"),
            leverage=Decimal(5),
            margin_mode="isolated",
            unrealised_pnl=Decimal("0.3"),
            realised_pnl=Decimal("-0.01"),
            settle_currency="USDT",
            opened_at=now - timedelta(hours=n + 1),
            updated_at=now,
            seen_at=now,
            snapshot_at=now,
        )
        for u in people
        for n, (symbol, side) in enumerate([("XBTUSDTM", "long"), ("ETHUSDTM", "short")])
    )
    Alert.objects.bulk_create(
        Alert(
            user=u,
            coin="bitcoin",
            currency="usd",
            target_price=Decimal(70000 + n),
            direction="above",
        )
        for u in people
        for n in range(5)
    )
    Quote.objects.bulk_create(
        Quote(
            from_currency="BTC",
            to_currency="USD",
            rate=Decimal(64000 + n),
            bid=Decimal(63999 + n),
            ask=Decimal(64001 + n),
            refreshed_at=now - timedelta(minutes=n),
            fetched_at=now - timedelta(minutes=n),
            source="scheduled",
        )
        for n in range(1000)
    )
    fill_positions_cache()
    return [str(AccessToken.for_user(u)) for u in people]


def fill_positions_cache() -> None:
    """Each user's positions in the cache, exactly as a worker's poll writes them."""

    from cryptotrack.positions import cache
    from cryptotrack.positions.models import Position
    from cryptotrack.positions.storage import entries_by_account

    cache.write(entries_by_account(list(Position.objects.select_related("account__tracking"))))


def web_command(app: str) -> str:
    """The Procfile's web line, on loopback, serving ``app``."""
    command = read_procfile()["web"]
    if "cryptotrack.asgi:application" not in command or "--host 0.0.0.0" not in command:
        sys.exit(f"the Procfile's web line changed shape; adapt bench/api_read.py: {command}")
    return command.replace("cryptotrack.asgi:application", app).replace(
        "--host 0.0.0.0", "--host 127.0.0.1"
    )


def serve(app: str, env: dict[str, str], processes: int) -> tuple[ManagedProcess, int]:
    port = free_port()
    server = ManagedProcess(
        ["/bin/sh", "-c", web_command(app)],
        env={**env, "PORT": str(port), "WEB_CONCURRENCY": str(processes)},
        name=f"bench-web-{port}",
    ).start()

    def healthy() -> bool:
        if not server.alive():
            raise SystemExit(f"{app} did not start:\n{server.log()[-3000:]}")
        try:
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    wait_until(healthy, timeout=60, what=f"{app} on {port}")
    return server, port


def load(
    server: ManagedProcess, port: int, path: str, tokens: Path | None, args: argparse.Namespace
) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench._http_load", "--port", str(port), "--path", path,
        "--connections", str(args.connections), "--duration", str(args.duration),
        "--warmup", str(args.warmup), "--rate", str(args.rate),
    ]  # fmt: skip
    if tokens is not None:
        command += ["--tokens", str(tokens)]
    pids = process_tree(server.pid)
    cpu_before = cpu_seconds(pids)
    output = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True).stdout
    cpu = cpu_seconds(pids) - cpu_before  # warm-up included: per answer, not per second
    result: dict[str, Any] = json.loads(output)
    total = result["answers_total"]
    result["cpu_ms"] = 1000 * cpu / total if total else float("nan")
    latencies = sorted(result.pop("latencies"))
    result["rps"] = result["answers"] / result["seconds"]
    result["p50_ms"] = statistics.median(latencies) * 1000 if latencies else float("nan")
    result["p99_ms"] = (
        latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    )
    return result


def probe(port: int, path: str, token: str) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        body: dict[str, Any] = json.loads(answer.read())
        return body


def line(label: str, result: dict[str, Any], bare_rps: float) -> str:
    errors = {k: v for k, v in result["statuses"].items() if not k.startswith("2")}
    return (
        f"{label:<44} {result['rps']:>8.0f} req/s  p50 {result['p50_ms']:6.1f} ms  "
        f"p99 {result['p99_ms']:6.1f} ms  {100 * result['rps'] / bare_rps:5.1f} % of bare  "
        f"server CPU {result['cpu_ms']:.2f} ms/req" + (f"  NON-2XX {errors}" if errors else "")
    )


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("needs DATABASE_URL (PostgreSQL): run it through `make bench`")
    name = f"cryptotrack_bench_read_{os.getpid()}"
    admin_sql(base_url, f'CREATE DATABASE "{name}"')
    redis = RedisServer().start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-read-"))
    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
        "DATABASE_URL": scratch_database_url(base_url, name),
        "REDIS_URL": redis.url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CREDENTIALS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "THROTTLE_USER": RAISED_THROTTLE,
        "THROTTLE_ANON": RAISED_THROTTLE,
        "JWT_ACCESS_SECONDS": "86400",
        "TRACKING_INTERVAL_SECONDS": "3600",  # cached positions live 4 intervals
        "CACHE_KEY_PREFIX": f"bench-read-{os.getpid()}",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    servers: list[ManagedProcess] = []
    try:
        import django

        django.setup()
        started = time.monotonic()
        tokens = seed(args.users)
        tokens_file = workdir / "tokens"
        tokens_file.write_text("\n".join(tokens))
        print(
            f"seeded {args.users} users in {time.monotonic() - started:.1f} s; "
            f"THROTTLE_USER raised to {RAISED_THROTTLE} for the run; "
            f"{args.connections} connections, "
            + (f"{args.rate:g} req/s offered (open loop), " if args.rate else "closed loop, ")
            + f"{args.warmup:g} s warm-up + {args.duration:g} s "
            f"each; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        endpoints = args.endpoints.split(",")
        for processes in [int(p) for p in args.processes.split(",")]:
            bare, port = serve("bench._bare_asgi:app", env, processes)
            servers.append(bare)
            reference = load(bare, port, "/healthz", None, args)
            bare.stop()
            print(f"--- {processes} uvicorn process(es)", flush=True)
            print(line("bare ASGI app", reference, reference["rps"]), flush=True)
            web, port = serve("cryptotrack.asgi:application", env, processes)
            servers.append(web)
            phases = [("Redis up", False)] + ([] if args.no_redis_down else [("Redis down", True)])
            for label, down in phases:
                if down:
                    redis.stop()
                # Every user signed in once before (their user cached, as on a server that
                # has been up a while): the steady state, not the first minute.
                answers = [probe(port, "/api/v1/positions", token) for token in tokens]
                source = answers[-1].get("source")
                for path in endpoints:
                    result = load(web, port, path, tokens_file, args)
                    print(line(f"{label}: GET {path}", result, reference["rps"]), flush=True)
                print(f"    ({label}: positions answered with source={source})", flush=True)
                if down:
                    redis = RedisServer(port=redis.port).start()
                    fill_positions_cache()
            web.stop()
    finally:
        for server in servers:
            server.stop()
        redis.stop()
        from django.db import connections

        connections.close_all()
        admin_sql(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
