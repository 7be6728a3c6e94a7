"""The login lockout holds against a burst of concurrent sign-ins (a real server, PostgreSQL).

The race is forced without sleeps, as in tests/alerts/test_notifications.py: a third
connection holds the (username, IP) counter row while the burst arrives, so every request
of the burst is inside the server at once before any of them is decided. Which of them
gets the row first is up to PostgreSQL's lock queue, so the right password is sent once
the lock is taken (five attempts counted), not raced for one of the first five places.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from django.utils import timezone

from cryptotrack.accounts import lockout
from cryptotrack.accounts.models import LoginFailure
from tests.conftest import STRONG_PASSWORD
from tests.support.postgres import lock_waiters
from tests.support.processes import AsgiServer, wait_until

pytestmark = pytest.mark.slow

BURST = 50
LOCKOUT = timedelta(minutes=15)


@pytest.fixture
def server(live_env: dict[str, str]) -> Iterator[AsgiServer]:
    """uvicorn on this test's database; the login throttle out of the way (tested apart)."""
    env = live_env | {
        "THROTTLE_LOGIN": "100000/min",
        "THROTTLE_ANON": "100000/min",
        "LOGIN_LOCKOUT_FAILURES": "5",
        "LOGIN_LOCKOUT_SECONDS": str(int(LOCKOUT.total_seconds())),
        # Every request of the burst inside the server at once, each on its own connection
        # (50 wait at once here): no pool, and Django's thread per request, not a bounded
        # set of threads — the most concurrency the server can be configured for.
        "DATABASE_CONN_MAX_AGE": "0",
        "WEB_DATABASE_POOL_SIZE": "0",
        "WEB_THREADS": "0",
    }
    with AsgiServer(env) as running:
        yield running


def test_burst_of_wrong_passwords_cannot_outrun_the_lockout(
    server: AsgiServer, make_user: Callable[..., Any], live_database_url: str
) -> None:
    user = make_user()
    LoginFailure.objects.create(
        username=user.username, ip_address="127.0.0.1", window_started_at=timezone.now()
    )

    def sign_in(password: str) -> httpx.Response:
        payload = {"username": user.username, "password": password}
        return httpx.post(f"{server.url}/api/v1/auth/token", json=payload, timeout=120)

    with (
        psycopg.connect(live_database_url) as blocker,
        ThreadPoolExecutor(max_workers=BURST + 1) as pool,
    ):
        blocker.execute("SELECT id FROM accounts_loginfailure FOR UPDATE")
        wrong = [pool.submit(sign_in, f"wrong-password-{n}") for n in range(BURST)]
        wait_until(lambda: lock_waiters(live_database_url) >= BURST, timeout=60, what="burst")
        blocker.rollback()
        # The right password arrives once the lock is taken, while the burst is in flight
        # (the old code let it in: it counted failures only after each slow verify).
        wait_until(
            lambda: LoginFailure.objects.filter(locked_until__isnull=False).exists(),
            timeout=60,
            what="the lock",
        )
        right = pool.submit(sign_in, STRONG_PASSWORD)
        answers = [future.result() for future in wrong]
        right_answer = right.result()

    outcomes = Counter((answer.status_code, answer.json()["code"]) for answer in answers)
    assert outcomes == {(401, "bad_credentials"): 5, (429, "login_locked"): BURST - 5}, (
        outcomes,
        right_answer.status_code,
    )
    assert right_answer.status_code == 429, right_answer.text
    assert right_answer.json()["code"] == "login_locked"
    retry_after = int(right_answer.headers["Retry-After"])
    assert LOCKOUT.total_seconds() - 60 < retry_after <= LOCKOUT.total_seconds()

    # The lock holds for 15 minutes from when it was taken, and not longer.
    locked_at = LoginFailure.objects.get().locked_until - LOCKOUT  # type: ignore[operator]
    just_before, just_after = locked_at + LOCKOUT - timedelta(seconds=1), locked_at + LOCKOUT
    key = {"username": user.username, "ip_address": "127.0.0.1"}
    assert lockout.claim_attempt(**key, now=just_before) > 0
    assert lockout.claim_attempt(**key, now=just_after) == 0
