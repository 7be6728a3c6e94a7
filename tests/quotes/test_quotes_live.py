"""/ws/rates with a real WebSocket client against uvicorn: the latest quote at once, then a
quote stored by ANOTHER process, pushed (within PUSH_TIMEOUT) and once — over Redis, and on
the embedded default's in-memory channel layer (where the ASGI process watches the quotes
table)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.quotes.conftest import PUSH_TIMEOUT, Frames, store_quote_in_another_process, ws_url
from tests.support.processes import AsgiServer
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from cryptotrack.quotes.live import POLL_SECONDS
from cryptotrack.simulators.alphavantage import AlphaVantageSimulator

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_env(quotes_env: dict[str, str]) -> dict[str, str]:
    """The embedded default's channel layer and cache (no Redis) on the test database."""
    from django.core.management import call_command

    call_command("createcachetable", "cache")  # the database cache of REDIS_URL-less settings
    return {**quotes_env, "REDIS_URL": "", "CELERY_BROKER_URL": "memory://"}


@pytest.fixture
def redis_server(quotes_env: dict[str, str]) -> Iterator[AsgiServer]:
    assert quotes_env["REDIS_URL"], "the Redis mode needs REDIS_URL (scripts/with-services.sh)"
    with AsgiServer(quotes_env) as server:
        yield server


@pytest.fixture
def embedded_server(embedded_env: dict[str, str]) -> Iterator[AsgiServer]:
    with AsgiServer(embedded_env) as server:
        yield server


# Longer than channels_redis's blocking read (5 s): a socket this idle must still get pushes.
IDLE_SECONDS = 6.0


def _latest_then_one_from_another_process(
    server: AsgiServer, env: dict[str, str], make_quotes: Callable[..., list[Any]]
) -> None:
    from cryptotrack.quotes.serializers import quote_payload

    initial = make_quotes(3)[-1]
    with connect(ws_url(server, "from_currency=BTC&to_currency=USD"), open_timeout=5) as ws:
        frames = Frames(ws)
        _, first = frames.next(timeout=PUSH_TIMEOUT)
        assert first == quote_payload(initial)
        time.sleep(IDLE_SECONDS)

        stored = store_quote_in_another_process(env)

        arrived_at, frame = frames.next(timeout=PUSH_TIMEOUT)
        assert frame == stored["quote"]
        assert arrived_at - stored["stored_at"] < PUSH_TIMEOUT

        # Once, not once per delivery path: the frame after it is the next quote stored.
        later = store_quote_in_another_process(env)
        assert frames.next(timeout=PUSH_TIMEOUT)[1] == later["quote"] != stored["quote"]


def test_redis_layer_latest_at_once_then_a_quote_from_another_process(
    redis_server: AsgiServer,
    quotes_env: dict[str, str],
    make_quotes: Callable[..., list[Any]],
    av_sim: AlphaVantageSimulator,
) -> None:
    _latest_then_one_from_another_process(redis_server, quotes_env, make_quotes)


def test_in_memory_layer_latest_at_once_then_a_quote_from_another_process(
    embedded_server: AsgiServer,
    embedded_env: dict[str, str],
    make_quotes: Callable[..., list[Any]],
    av_sim: AlphaVantageSimulator,
) -> None:
    _latest_then_one_from_another_process(embedded_server, embedded_env, make_quotes)


def test_in_memory_layer_quote_forced_on_the_same_server_arrives_once(
    embedded_server: AsgiServer,
    make_user: Callable[..., Any],
    access_token: Callable[[Any], str],
    av_sim: AlphaVantageSimulator,
) -> None:
    token = access_token(make_user())
    with connect(ws_url(embedded_server), open_timeout=5) as ws:
        frames = Frames(ws)

        def force(from_currency: str, to_currency: str) -> dict[str, Any]:
            answer = httpx.post(
                f"{embedded_server.url}/api/v1/quotes",
                json={"from_currency": from_currency, "to_currency": to_currency},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            stored = dict(answer.json())
            assert stored.pop("warning") is None  # only the POST answer says if it fell back
            return stored

        forced = force("ETH", "USD")

        # No quote yet, so nothing on connect: the first frame is the forced one.
        assert frames.next(timeout=PUSH_TIMEOUT)[1] == forced
        # The table watcher finds it too, and it is not sent twice: the next frame is the
        # next quote (forced after the watcher's next poll had every chance to resend).
        time.sleep(2 * POLL_SECONDS)
        later = force("BTC", "USD")
        assert frames.next(timeout=PUSH_TIMEOUT)[1] == later


def test_unfiltered_stream_sends_every_pair_and_the_newest_on_connect(
    redis_server: AsgiServer,
    quotes_env: dict[str, str],
    make_quotes: Callable[..., list[Any]],
    av_sim: AlphaVantageSimulator,
) -> None:
    make_quotes(2, pair=("BTC", "USD"))
    newest = make_quotes(1, pair=("ETH", "EUR"))[-1]
    with (
        connect(ws_url(redis_server), open_timeout=5) as everything,
        connect(
            ws_url(redis_server, "from_currency=ETH&to_currency=USD"), open_timeout=5
        ) as eth_usd,
    ):
        all_frames, eth_frames = Frames(everything), Frames(eth_usd)
        _, first = all_frames.next(timeout=PUSH_TIMEOUT)
        assert (first["from_currency"], first["to_currency"], first["rate"]) == (
            "ETH",
            "EUR",
            f"{newest.rate:.8f}",
        )

        stored = store_quote_in_another_process(quotes_env)  # BTC/USD

        assert all_frames.next(timeout=PUSH_TIMEOUT)[1] == stored["quote"]

        # ETH/USD subscribers do not get BTC/USD: their next frame is the next ETH/USD one.
        eth = store_quote_in_another_process(quotes_env, pair=("ETH", "USD"))
        assert eth_frames.next(timeout=PUSH_TIMEOUT)[1] == eth["quote"]
        assert all_frames.next(timeout=PUSH_TIMEOUT)[1] == eth["quote"]


@pytest.mark.parametrize("query", ["from_currency=btc&to_currency=USD", "from_currency=BTC"])
def test_bad_pair_in_the_query_is_refused(redis_server: AsgiServer, query: str) -> None:
    with pytest.raises(InvalidStatus), connect(ws_url(redis_server, query), open_timeout=5):
        pass
