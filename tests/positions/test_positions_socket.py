"""/ws/positions over real sockets: uvicorn (Redis channel layer), a Celery worker with beat
polling the KuCoin simulator, the ``websockets`` client. Each socket gets its own user's
positions only, on connect and after each poll; every credential form works, and a
missing, invalid or expired one closes with 4401.

The embedded default (in-memory layer, the launcher) is covered in
``tests/web/test_positions_browser.py``, where the launcher already runs.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from cryptotrack.accounts.api_keys import api_key_create, api_key_revoke
from cryptotrack.positions import live, services
from cryptotrack.positions.consumers import CLOSE_UNAUTHORIZED, TOKEN_DEADLINE_SECONDS
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.positions.conftest import Trader
from tests.quotes.conftest import Frames
from tests.support.processes import AsgiServer, CeleryWorker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

INTERVAL = 2
FRAME_TIMEOUT = INTERVAL * 3 + 5


@pytest.fixture
def env(settings: Any, kucoin_sim: KucoinSimulator, live_env: dict[str, str]) -> dict[str, str]:
    assert live_env["REDIS_URL"], "the Redis layer needs REDIS_URL (scripts/with-services.sh)"
    settings.TRACKING_INTERVAL_SECONDS = INTERVAL
    return live_env | {
        "KUCOIN_SPOT_URL": kucoin_sim.url,
        "KUCOIN_FUTURES_URL": kucoin_sim.url,
        "KUCOIN_TIMEOUT_SECONDS": "5",
        "TRACKING_INTERVAL_SECONDS": str(INTERVAL),
        "DISPATCH_TICK_SECONDS": "0.5",
    }


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[AsgiServer]:
    with AsgiServer(env) as server:
        yield server


def ws_url(server: AsgiServer) -> str:
    return server.url.replace("http://", "ws://") + "/ws/positions"


def token_for(user: Any) -> str:
    return str(AccessToken.for_user(user))


def close_code(ws: ClientConnection, timeout: float) -> int | None:
    """Read until the server closes; its close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None


def _owned_by(frame: dict[str, Any], trader: Trader) -> bool:
    account_ids = set(trader.user.exchange_accounts.values_list("id", flat=True))
    return (
        bool(frame["accounts"])
        and all(row["account"]["id"] in account_ids for row in frame["results"])
        and all(account["id"] in account_ids for account in frame["accounts"])
    )


def test_each_socket_gets_only_its_users_positions_after_every_poll(
    make_trader: Callable[..., Trader],
    kucoin_sim: KucoinSimulator,
    server: AsgiServer,
    env: dict[str, str],
) -> None:
    alice, bob = make_trader(), make_trader()
    kucoin_sim.open_position(alice.api_key, "XBTUSDTM", size=3)
    kucoin_sim.open_position(bob.api_key, "ETHUSDTM", side="short", size=7)
    for trader in (alice, bob):
        services.start_tracking(user=trader.user, symbols=[])

    # Alice by the subprotocol, Bob by the first message.
    with (
        CeleryWorker(env, beat=True),
        connect(
            ws_url(server), subprotocols=["bearer", token_for(alice.user)], open_timeout=5
        ) as alice_ws,
        connect(ws_url(server), open_timeout=5) as bob_ws,
    ):
        assert alice_ws.subprotocol == "bearer"
        bob_ws.send(json.dumps({"token": token_for(bob.user)}))
        alice_frames, bob_frames = Frames(alice_ws), Frames(bob_ws)

        _, snapshot = alice_frames.next(timeout=FRAME_TIMEOUT)
        assert snapshot["type"] == "snapshot"
        assert bob_frames.next(timeout=FRAME_TIMEOUT)[1]["type"] == "snapshot"

        kucoin_sim.set_mark_price("XBTUSDTM", 91234)
        seen: dict[str, list[dict[str, Any]]] = {"alice": [], "bob": []}
        deadline = time.monotonic() + FRAME_TIMEOUT * 2
        while time.monotonic() < deadline and not (
            any(_marks(f, "XBTUSDTM", "91234") for f in seen["alice"])
            and len([f for f in seen["bob"] if f["results"]]) >= 2
        ):
            for name, frames in (("alice", alice_frames), ("bob", bob_frames)):
                try:
                    seen[name].append(frames.next(timeout=0.2)[1])
                except queue.Empty:
                    continue

    assert any(_marks(f, "XBTUSDTM", "91234") for f in seen["alice"]), seen["alice"]
    assert {f["type"] for f in seen["alice"] + seen["bob"]} == {"positions"}
    for frame in seen["alice"]:
        assert _owned_by(frame, alice)
        assert {row["symbol"] for row in frame["results"]} <= {"XBTUSDTM"}
    bob_polled = [f for f in seen["bob"] if f["results"]]
    assert len(bob_polled) >= 2, "a message per poll of Bob's"
    for frame in seen["bob"]:
        assert _owned_by(frame, bob)
        assert {row["symbol"] for row in frame["results"]} == {"ETHUSDTM"}


def _marks(frame: dict[str, Any], symbol: str, price: str) -> bool:
    return any(
        row["symbol"] == symbol and row["mark_price"].startswith(price) for row in frame["results"]
    )


def test_an_expired_token_closes_4401(make_user: Callable[..., Any], server: AsgiServer) -> None:
    token = AccessToken.for_user(make_user())
    token.set_exp(lifetime=-timedelta(seconds=1))

    with connect(ws_url(server), subprotocols=["bearer", str(token)], open_timeout=5) as ws:
        assert close_code(ws, timeout=5) == CLOSE_UNAUTHORIZED
    with connect(ws_url(server), open_timeout=5) as ws:
        ws.send(json.dumps({"token": str(token)}))
        assert close_code(ws, timeout=5) == CLOSE_UNAUTHORIZED


def test_a_token_expiring_while_open_closes_4401_then(
    make_user: Callable[..., Any], server: AsgiServer
) -> None:
    token = AccessToken.for_user(make_user())
    token.set_exp(lifetime=timedelta(seconds=2))

    with connect(ws_url(server), subprotocols=["bearer", str(token)], open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
        assert close_code(ws, timeout=8) == CLOSE_UNAUTHORIZED


def test_a_forged_token_or_a_bad_first_message_closes_4401(
    make_user: Callable[..., Any], server: AsgiServer
) -> None:
    forged = token_for(make_user())[:-4] + "AAAA"
    with connect(ws_url(server), subprotocols=["bearer", forged], open_timeout=5) as ws:
        assert close_code(ws, timeout=5) == CLOSE_UNAUTHORIZED
    for first in ("not json", json.dumps({"token": 42}), json.dumps(["token"])):
        with connect(ws_url(server), open_timeout=5) as ws:
            ws.send(first)
            assert close_code(ws, timeout=5) == CLOSE_UNAUTHORIZED


def test_no_credential_closes_4401_after_the_deadline(server: AsgiServer) -> None:
    with connect(ws_url(server), open_timeout=5) as ws:
        started = time.monotonic()
        assert close_code(ws, timeout=TOKEN_DEADLINE_SECONDS + 5) == CLOSE_UNAUTHORIZED
        assert time.monotonic() - started >= TOKEN_DEADLINE_SECONDS - 0.5


def test_the_session_cookie_of_this_site_opens_it_another_sites_page_cannot(
    make_trader: Callable[..., Trader], server: AsgiServer
) -> None:
    trader = make_trader()
    services.start_tracking(user=trader.user, symbols=[])  # an account to show, unpolled
    browser = Client()
    browser.force_login(trader.user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    host = server.url.removeprefix("http://")

    with connect(
        ws_url(server),
        additional_headers={"Cookie": cookie, "Origin": server.url},
        open_timeout=5,
    ) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
        assert snapshot["type"] == "snapshot"
        assert _owned_by(snapshot, trader)

    with connect(
        ws_url(server),
        additional_headers={"Cookie": cookie, "Origin": "https://evil.example", "Host": host},
        open_timeout=5,
    ) as ws:
        assert close_code(ws, timeout=TOKEN_DEADLINE_SECONDS + 5) == CLOSE_UNAUTHORIZED


def test_an_api_key_opens_it_read_only(
    make_trader: Callable[..., Trader], server: AsgiServer
) -> None:
    trader = make_trader()
    plaintext = api_key_create(user=trader.user, name="stream").plaintext
    with connect(ws_url(server), subprotocols=["bearer", plaintext], open_timeout=5) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
    assert snapshot["type"] == "snapshot"
    assert snapshot["results"] == []


def test_a_revoked_key_or_an_ended_session_closes_4401_at_the_next_poll(
    make_trader: Callable[..., Trader], server: AsgiServer, env: dict[str, str]
) -> None:
    trader = make_trader()
    services.start_tracking(user=trader.user, symbols=[])
    created = api_key_create(user=trader.user, name="stream")
    browser = Client()
    browser.force_login(trader.user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"

    with (
        CeleryWorker(env, beat=True),
        connect(
            ws_url(server), subprotocols=["bearer", created.plaintext], open_timeout=5
        ) as by_key,
        connect(
            ws_url(server),
            additional_headers={"Cookie": cookie, "Origin": server.url},
            open_timeout=5,
        ) as by_session,
    ):
        key_frames, session_frames = Frames(by_key), Frames(by_session)
        for frames in (key_frames, session_frames):
            assert frames.next(timeout=FRAME_TIMEOUT)[1]["type"] == "snapshot"
            assert frames.next(timeout=FRAME_TIMEOUT)[1]["type"] == "positions"  # polls reach it

        api_key_revoke(user=trader.user, key_id=created.api_key.pk)
        browser.logout()  # the session is gone from the database

        assert key_frames.closed(timeout=FRAME_TIMEOUT) == CLOSE_UNAUTHORIZED
        assert session_frames.closed(timeout=FRAME_TIMEOUT) == CLOSE_UNAUTHORIZED


def test_the_worker_tells_only_users_with_a_live_socket(
    make_user: Callable[..., Any], settings: Any
) -> None:
    assert settings.REDIS_URL, "leases live in Redis (scripts/with-services.sh)"
    watched, unwatched = make_user(), make_user()

    live.watch(watched.pk)

    assert live.watched_among([watched.pk, unwatched.pk]) == {watched.pk}
