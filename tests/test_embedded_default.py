"""`make run`'s embedded default end to end: SQLite, no Redis, server-less broker, simulators.

Starts the real launcher (what `make run` runs) in a temporary VAR_DIR on a free port and
drives it over HTTP only, as a newcomer would with curl.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import REPO, Launcher, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var_dir = tmp_path_factory.mktemp("var")
    launcher = Launcher(var_dir, TRACKING_INTERVAL_SECONDS="3").start(timeout=90)
    try:
        yield launcher.url
    finally:
        launcher.stop(timeout=30)
        assert Path(var_dir, "db.sqlite3").exists()
        assert Path(var_dir, "broker.sqlite3").exists()
        assert not (REPO / "control").exists(), "the broker wrote into the working directory"


def test_signup_token_me_on_sqlite(embedded: str) -> None:
    signup = httpx.post(
        f"{embedded}/api/v1/auth/signup",
        json={"name": "New Comer", "username": "newcomer", "password": "first-steps-2026"},
    )
    assert signup.status_code == 201, signup.text
    tokens = httpx.post(
        f"{embedded}/api/v1/auth/token",
        json={"username": "newcomer", "password": "first-steps-2026"},
    ).json()
    me = httpx.get(f"{embedded}/api/v1/me", headers={"Authorization": f"Bearer {tokens['access']}"})
    assert me.json()["username"] == "newcomer"
    ready = httpx.get(f"{embedded}/readyz").json()
    assert ready["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


def test_demo_user_tracks_positions_through_the_serverless_broker(embedded: str) -> None:
    tokens = httpx.post(
        f"{embedded}/api/v1/auth/token",
        json={"username": "demo", "password": "demo-tracker-2026"},
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    assert httpx.post(f"{embedded}/api/v1/tracking", json={}, headers=headers).status_code in {
        200,
        201,
    }

    def positions() -> list[dict[str, str]]:
        return httpx.get(f"{embedded}/api/v1/positions", headers=headers).json()["results"]  # type: ignore[no-any-return]

    found = wait_until(positions, timeout=30, what="demo positions")
    assert {p["symbol"] for p in found} == {"XBTUSDTM", "ETHUSDTM"}
    status = httpx.get(f"{embedded}/api/v1/tracking", headers=headers).json()
    assert status["state"] == "active"
    assert status["last_success_at"] is not None
