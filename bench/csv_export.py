"""Benchmark: the CSV export of position history, streamed by the Procfile's web line.

    ./scripts/with-services.sh .venv/bin/python -m bench csv_export -- [--rows 1000000]

Creates a scratch PostgreSQL database (dropped at the end; ``deep_pages``'s helpers) with
``--rows`` position snapshots of ONE user (``generate_series``, ten seconds apart), starts
the Procfile's ``web`` line (uvicorn, one process, bound to 127.0.0.1) on it, and reads
``GET /api/v1/positions/history?format=csv`` — every row — over loopback as fast as the
client can. Prints rows/s and MB/s of the whole export, the time to the first byte (the
header) and to the first row, and the server's RSS before the export and its peak
(VmHWM) before and after (after a warm-up export of the last 12 hours' 4,320 rows): with
streaming, the peak does not grow with ``--rows``.

Loopback only; bounded by ``--rows``; stops (and cleans up) by itself. The client runs
on the same machine (it counts lines, no parsing): it takes CPU from the server.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.support.processes import memory_mib, process_tree

from bench.api_read import serve
from bench.deep_pages import fill, scratch_database

PATH = "/api/v1/positions/history?format=csv"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench csv_export")
    parser.add_argument("--rows", type=int, default=1_000_000)
    return parser.parse_args(argv)


def uvicorn_pid(server_pid: int) -> int:
    return next(
        pid
        for pid in reversed(process_tree(server_pid))
        if b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )


def stream(port: int, token: str, query: str = "") -> dict[str, Any]:
    """Read the whole export; times from the request to the first byte, first row, end."""
    started = time.perf_counter()
    first_byte = first_row = None
    size = lines = 0
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://127.0.0.1:{port}{PATH}{query}"
    with (
        httpx.Client(timeout=3600) as client,
        client.stream("GET", url, headers=headers) as answer,
    ):
        if answer.status_code != 200:
            sys.exit(f"the export answered {answer.status_code}: {answer.read()[:500]!r}")
        for piece in answer.iter_raw():
            now = time.perf_counter()
            first_byte = first_byte or now
            size += len(piece)
            lines += piece.count(b"\n")  # a piece may end between \r and \n
            if first_row is None and lines >= 2:
                first_row = now
    ended = time.perf_counter()
    return {
        "rows": lines - 1,
        "bytes": size,
        "seconds": ended - started,
        "first_byte_ms": 1000 * ((first_byte or ended) - started),
        "first_row_ms": 1000 * ((first_row or ended) - started),
    }


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    with scratch_database("csv"):
        from rest_framework_simplejwt.tokens import AccessToken

        from cryptotrack.accounts.models import User

        user = User.objects.create_user(username="export", name="Export", password=None)
        started = time.monotonic()
        fill(0, args.rows, user.pk)
        print(
            f"filled {args.rows:,} snapshots in {time.monotonic() - started:.0f} s; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
        server, port = serve("cryptotrack.asgi:application", env, processes=1)
        try:
            pid = uvicorn_pid(server.pid)
            token = str(AccessToken.for_user(user))
            # Warm-up: the last 12 hours (4,320 rows, three chunks) run all an export uses once.
            stream(
                port, token, f"&since={datetime.now(UTC) - timedelta(hours=12):%Y-%m-%dT%H:%M:%SZ}"
            )
            rss, peak = memory_mib(pid, "VmRSS"), memory_mib(pid, "VmHWM")
            result = stream(port, token)
            peak_after = memory_mib(pid, "VmHWM")
        finally:
            server.stop()
    megabytes = result["bytes"] / 1e6
    print(
        f"exported {result['rows']:,} rows ({megabytes:,.1f} MB) in {result['seconds']:.1f} s: "
        f"{result['rows'] / result['seconds']:,.0f} rows/s, "
        f"{megabytes / result['seconds']:.1f} MB/s; first byte {result['first_byte_ms']:.0f} ms, "
        f"first row {result['first_row_ms']:.0f} ms",
        flush=True,
    )
    print(
        f"server (uvicorn) RSS before {rss:.0f} MiB; peak RSS before {peak:.0f} MiB, "
        f"after {peak_after:.0f} MiB ({peak_after - peak:+.0f} MiB); "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if result["rows"] != args.rows:
        sys.exit(f"expected {args.rows:,} rows, got {result['rows']:,}")
