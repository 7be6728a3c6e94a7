"""Every benchmark still runs, at a size that proves nothing about speed.

The figures in docs/benchmarks.md are only worth their commands: a benchmark that a
schema change broke (as ``deep_pages`` was once, by a new NOT NULL column) silently stops
being one. Each runs here as ``make bench`` runs it, in a process of its own on this
machine's PostgreSQL and Redis, at a tiny size, and must end well and print the lines
that say it measured what it claims. No timing is asserted: that is ``make bench``'s job.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import REPO

pytestmark = pytest.mark.slow

TINY = {
    "api_read": (
        "--users 3 --processes 1 --duration 0.5 --warmup 0.2 --connections 4 "
        "--endpoints /api/v1/positions,/healthz",
        [
            "Redis up: positions answered with source=cache",
            "Redis down: positions answered with source=database",
        ],
    ),
    "api_read_open_loop": (
        "--users 3 --processes 1 --duration 0.5 --warmup 0.2 --connections 4 --rate 50 "
        "--no-redis-down --endpoints /api/v1/positions",
        ["50 req/s offered (open loop)", "source=cache"],
    ),
    "deep_pages": (
        "--quotes 300 --snapshots 300 --repeat 2",
        ["quotes cursor at last", "history cursor at last"],
    ),
    "positions_tracking": (
        "--users 20 --interval 4 --duration 30",
        ["polls:", "worker CPU:"],
    ),
    "alerts_check": ("--alerts 2000 --users 20", ["result: PASS"]),
    "csv_export": ("--rows 3000", ["exported 3,000 rows"]),
    "kucoin_throughput": ("--seconds 0.5 --keys 2 --concurrency 4", ["per second"]),
    "year_of_minutes": ("--minutes 3000 --repeat 2 --deep-page 5", ["deleted"]),
}


@pytest.mark.parametrize("case", sorted(TINY))
def test_the_benchmark_runs(case: str) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("benchmarks run on PostgreSQL (make test provides it)")
    arguments, expected = TINY[case]
    name = case.removesuffix("_open_loop")
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--", *arguments.split()],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))},
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for line in expected:
        assert line in output, output[-4000:]
