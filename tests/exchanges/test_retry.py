"""The one backoff formula and the one ``Retry-After`` reader (exchanges/retry.py)."""

from __future__ import annotations

import ast
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from cryptotrack.exchanges import retry
from cryptotrack.exchanges.retry import (
    MAX_RETRY_AFTER_SECONDS,
    backoff_delay,
    parse_ratelimit_reset,
    parse_retry_after,
    retry_after_from_headers,
)

NOW = datetime(2026, 12, 3, 8, 0, 0, tzinfo=UTC)
SRC = Path(retry.__file__).resolve().parents[1]


# -- Retry-After / gw-ratelimit-reset --------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), (" 0 ", 0.0), ("1.5", 1.5)])
def test_retry_after_delta_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_after_http_date_counts_from_now() -> None:
    when = format_datetime(NOW + timedelta(seconds=90), usegmt=True)  # "Thu, 03 Dec 2026 ..."
    assert parse_retry_after(when, now=NOW) == 90.0


def test_retry_after_http_date_in_the_past_means_now() -> None:
    when = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(when, now=NOW) == 0.0


def test_kucoin_ratelimit_reset_is_milliseconds() -> None:
    assert parse_ratelimit_reset("2500") == 2.5
    assert retry_after_from_headers({"gw-ratelimit-reset": "2500"}) == 2.5


@pytest.mark.parametrize(
    "value", [None, "", "soon", "12 seconds", "Thu, 99 Foo 2026", "nan", "inf", "-inf", "1e400"]
)
def test_garbage_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None
    assert parse_ratelimit_reset(value) is None


def test_negative_values_are_ignored() -> None:
    assert parse_retry_after("-5", now=NOW) is None
    assert parse_ratelimit_reset("-5000") is None


@pytest.mark.parametrize(
    "value",
    ["31536000000", format_datetime(datetime(2199, 1, 1, tzinfo=UTC), usegmt=True), "1e300"],
)
def test_far_future_retry_after_is_capped(value: str) -> None:
    assert parse_retry_after(value, now=NOW) == MAX_RETRY_AFTER_SECONDS
    # A timedelta of it exists: the poller parks a user until now + retry_after.
    assert NOW + timedelta(seconds=MAX_RETRY_AFTER_SECONDS) > NOW


def test_far_future_ratelimit_reset_is_capped() -> None:
    assert parse_ratelimit_reset("1e18") == MAX_RETRY_AFTER_SECONDS


def test_retry_after_wins_over_ratelimit_reset_and_names_ignore_case() -> None:
    headers = {"Retry-After": "7", "GW-RateLimit-Reset": "2500"}
    assert retry_after_from_headers(headers, now=NOW) == 7.0
    assert retry_after_from_headers({"Retry-After": "junk", "gw-ratelimit-reset": "2500"}) == 2.5
    assert retry_after_from_headers({"content-type": "application/json"}) is None


# -- backoff ---------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8, 20, 64, 1000, 10**6])
def test_backoff_stays_within_its_exponential_ceiling_and_the_bound(attempt: int) -> None:
    ceiling = min(5.0, 0.2 * 2 ** min(attempt - 1, 100))
    delays = [backoff_delay(attempt, base_delay=0.2, max_delay=5.0) for _ in range(200)]
    assert all(0.0 <= delay <= ceiling for delay in delays)


def test_backoff_is_fully_jittered_over_its_whole_window() -> None:
    # Full jitter: the whole [0, ceiling] window is used, not only its upper half.
    random.seed(12)
    delays = [backoff_delay(4, base_delay=1.0, max_delay=300.0) for _ in range(500)]
    assert min(delays) < 8 * 0.1
    assert max(delays) > 8 * 0.9


def test_backoff_grows_with_the_attempt() -> None:
    random.seed(3)
    first = [backoff_delay(1, base_delay=1.0, max_delay=300.0) for _ in range(500)]
    sixth = [backoff_delay(6, base_delay=1.0, max_delay=300.0) for _ in range(500)]
    assert max(first) <= 1.0 < max(sixth) <= 32.0


# -- one of each -----------------------------------------------------------------------


def _functions_named(names: set[str]) -> list[str]:
    found = []
    for path in SRC.rglob("*.py"):
        if "simulators" in path.parts or path == Path(retry.__file__).resolve():
            continue
        tree = ast.parse(path.read_text())
        found += [
            f"{path.relative_to(SRC)}:{node.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names
        ]
    return found


def test_no_second_retry_after_parser_or_backoff_formula() -> None:
    """The clients and the outbox read headers and back off through exchanges/retry.py."""
    assert _functions_named({"_retry_after", "_reset_seconds", "backoff_delay"}) == []
    for path in SRC.rglob("*.py"):
        if "simulators" in path.parts or path == Path(retry.__file__).resolve():
            continue
        text = path.read_text()
        assert "parsedate_to_datetime" not in text, path
        assert "random.uniform" not in text, path


def test_the_retry_module_knows_nothing_of_django() -> None:
    tree = ast.parse(Path(retry.__file__).read_text())
    imported = [
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if name.startswith(("django", "rest_framework"))]
