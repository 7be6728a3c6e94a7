"""Fixtures of the quotes tests: the Alpha Vantage simulator, stored quotes, live processes."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient
from tests.conftest import STRONG_PASSWORD
from tests.support.processes import REPO, AsgiServer, free_port
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from cryptotrack.simulators.coingecko import CoinGeckoSimulator

API_KEY = "quotes-test-key"

# How long a stored quote may take to reach a WebSocket subscriber. Over Redis the push
# takes milliseconds; in memory at most one table poll (quotes.live.POLL_SECONDS, 0.5 s).
# A quote that is not pushed never arrives (nothing re-sends it to an open socket), so the
# bound tells "pushed" from "lost"; 5 s (10 polls) is the margin for a 2-core machine
# loaded by parallel suites, where a 1 s bound timed out. Duplicates are checked by order
# (the next frame is the next quote), never by a silent wait.
PUSH_TIMEOUT = 5.0


class Frames:
    """Reads a WebSocket in a thread, keeping each frame with the time it arrived."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                self.frames.put((time.time(), json.loads(message)))
        except ConnectionClosed:
            pass

    def next(self, timeout: float) -> tuple[float, dict[str, Any]]:
        return self.frames.get(timeout=timeout)

    def closed(self, timeout: float) -> int | None:
        """Wait (reading on) until the server closes the socket; its close code, or None
        if it is still open after ``timeout`` seconds."""
        self.thread.join(timeout)
        return None if self.thread.is_alive() else self.ws.close_code

    def assert_silent(self, seconds: float) -> None:
        with pytest.raises(queue.Empty):
            self.frames.get(timeout=seconds)


def ws_url(server: AsgiServer, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + "/ws/rates" + (f"?{query}" if query else "")


@pytest.fixture
def av_sim() -> Iterator[AlphaVantageSimulator]:
    """The Alpha Vantage simulator on a free port, accepting only :data:`API_KEY`."""
    with AlphaVantageSimulator(api_keys={API_KEY}) as simulator:
        yield simulator


def nowhere_url() -> str:
    """A loopback URL nothing listens on: every request to it is refused at once."""
    return f"http://127.0.0.1:{free_port()}/api/v3"


@pytest.fixture(autouse=True)
def _fallback_unreachable(settings: Any) -> None:
    """The fallback provider (CoinGecko) is unreachable unless a test uses ``cg_settings``:
    an Alpha Vantage failure then answers as it would with every provider down."""
    settings.COINGECKO_URL = nowhere_url()
    settings.COINGECKO_API_KEY = ""
    settings.COINGECKO_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def av_settings(settings: Any, av_sim: AlphaVantageSimulator) -> AlphaVantageSimulator:
    """This process talks to the simulator, with the free tier's quota and a short timeout."""
    settings.ALPHAVANTAGE_URL = av_sim.url
    settings.ALPHAVANTAGE_API_KEY = API_KEY
    settings.ALPHAVANTAGE_DAILY_QUOTA = 25
    settings.ALPHAVANTAGE_TIMEOUT_SECONDS = 2.0
    return av_sim


@pytest.fixture
def cg_sim() -> Iterator[CoinGeckoSimulator]:
    """The CoinGecko simulator (keyless, like the public API) on a free port."""
    with CoinGeckoSimulator() as simulator:
        yield simulator


@pytest.fixture
def cg_settings(
    settings: Any, av_settings: AlphaVantageSimulator, cg_sim: CoinGeckoSimulator
) -> CoinGeckoSimulator:
    """``av_settings`` with the fallback provider reachable: CoinGecko's simulator."""
    settings.COINGECKO_URL = cg_sim.url
    return cg_sim


@pytest.fixture
def make_quotes(db: None) -> Callable[..., list[Any]]:
    """Store ``n`` quotes of a pair, one a minute ending at ``end`` (default now), rates given
    by ``rate(i)``; returns them oldest first."""
    from django.utils import timezone

    from cryptotrack.quotes.models import Quote

    def make(
        n: int,
        *,
        pair: tuple[str, str] = ("BTC", "USD"),
        end: datetime | None = None,
        step: timedelta = timedelta(minutes=1),
        rate: Callable[[int], Decimal] = lambda i: Decimal("60000") + i,
        trigger: str = Quote.Trigger.SCHEDULED,
        source: str = Quote.Source.ALPHAVANTAGE,
    ) -> list[Quote]:
        end = end or timezone.now()
        quotes = [
            Quote(
                from_currency=pair[0],
                to_currency=pair[1],
                rate=rate(i),
                bid=rate(i) - Decimal("0.5"),
                ask=rate(i) + Decimal("0.5"),
                refreshed_at=end - (n - 1 - i) * step,
                fetched_at=end - (n - 1 - i) * step,
                trigger=trigger,
                source=source,
            )
            for i in range(n)
        ]
        return Quote.objects.bulk_create(quotes)

    return make


@pytest.fixture
def quotes_env(live_env: dict[str, str], av_sim: AlphaVantageSimulator) -> dict[str, str]:
    """Environment of our subprocesses (servers, workers): the test database, the simulator,
    and a refresh throttle high enough for tests that fire many POSTs at once."""
    return {
        **live_env,
        "ALPHAVANTAGE_URL": av_sim.url,
        "ALPHAVANTAGE_API_KEY": API_KEY,
        "ALPHAVANTAGE_DAILY_QUOTA": "25",
        "ALPHAVANTAGE_TIMEOUT_SECONDS": "5",
        "COINGECKO_URL": nowhere_url(),
        "COINGECKO_TIMEOUT_SECONDS": "2",
        "THROTTLE_QUOTES_REFRESH": "1000/min",
        "THROTTLE_USER": "10000/min",
    }


@pytest.fixture
def access_token() -> Callable[[Any], str]:
    """A real access token for ``user`` (from the token endpoint), for live servers."""

    def token(user: Any) -> str:
        response = APIClient().post(
            "/api/v1/auth/token",
            {"username": user.username, "password": STRONG_PASSWORD},
            format="json",
        )
        assert response.status_code == 200, response.content
        return str(response.json()["access"])

    return token


# What a separate process runs to store a quote: the real refresh service, against the
# simulator, then prints the stored quote and the wall-clock time it was stored at.
_STORE_IN_ANOTHER_PROCESS = """
import json, sys, time, django
django.setup()
from django.utils import timezone
from cryptotrack.quotes import services
from cryptotrack.quotes.models import Quote
from cryptotrack.quotes.pairs import Pair
from cryptotrack.quotes.serializers import quote_payload
result = services.refresh_quote(
    pair=Pair(sys.argv[1], sys.argv[2]), trigger=Quote.Trigger.FORCED, fresh_after=timezone.now()
)
print(json.dumps({"stored_at": time.time(), "quote": quote_payload(result.quote)}))
"""


def store_quote_in_another_process(
    env: dict[str, str], pair: tuple[str, str] = ("BTC", "USD")
) -> dict[str, Any]:
    """Run a separate Python process that fetches and stores a quote of ``pair``; return
    what it printed: ``{"stored_at": epoch seconds, "quote": payload}``."""
    done = subprocess.run(
        [sys.executable, "-c", _STORE_IN_ANOTHER_PROCESS, *pair],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
