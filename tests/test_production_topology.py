"""The production topology, for real: every process started from its Procfile line.

PostgreSQL (a database of this test's own) and a Redis server of the test's own (broker,
cache and channel layer), then the Procfile's ``release`` (migrations), ``web`` (uvicorn
with two worker processes), ``worker`` twice and ``beat`` once, with
``ENVIRONMENT=production`` and explicit keys. Upstreams are the project's simulators
(in-process threads, real sockets) and email goes to a real SMTP server. The tests talk to
the service over HTTP (and a WebSocket) only, as users and operators would; they watch
the upstream simulators and the processes' logs, never the database.

Cadences are shortened through the environment (a 3 s tracking interval, a dispatcher
tick every 0.5 s), so several intervals pass in seconds. The tests run in file order on
one topology: the last one kills a worker.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from psycopg import sql
from websockets.sync.client import connect

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.alerts.smtp_server import SmtpServer
from tests.conftest import RUN_ID
from tests.support.processes import REPO, RedisServer, free_port, wait_until
from tests.support.procfile import ProcfileProcess, read_procfile

pytestmark = pytest.mark.slow

INTERVAL = 3  # TRACKING_INTERVAL_SECONDS of the topology
TRACKED_USERS = 200
PASSWORD = "topology-walk-2026"
AV_KEY = "topology-av-key"
POSITIONS_PATH = "/api/v1/positions"


@dataclass
class Topology:
    base_url: str
    kucoin: KucoinSimulator
    alphavantage: AlphaVantageSimulator
    coingecko: CoinGeckoSimulator
    smtp: SmtpServer
    web: ProcfileProcess
    workers: list[ProcfileProcess]
    beat: ProcfileProcess

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def _database_url(name: str) -> tuple[str, str]:
    """(this topology's database URL, the server's admin URL) from the suite's DATABASE_URL."""
    base = os.environ.get("DATABASE_URL", "")
    assert base.startswith(("postgres://", "postgresql://")), "the topology runs on PostgreSQL"
    parts = urlsplit(base)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    return urlunsplit(parts._replace(path=f"/{name}")), admin


def _production_env(**overrides: str) -> dict[str, str]:
    """The environment of every process: production, explicit keys, nothing inherited that
    would point it elsewhere (the suite's own DATABASE_URL, REDIS_URL, queue, log format)."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "CELERY_", "KUCOIN_", "ALPHAVANTAGE_", "COINGECKO_"))
        and not key.startswith(("EMAIL_", "THROTTLE_", "LOG_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX", "VAR_DIR", "DEBUG"}
    }
    venv_bin = str(Path(sys.executable).parent)
    return {
        **inherited,
        "PATH": f"{venv_bin}:{inherited.get('PATH', '/usr/bin:/bin')}",
        "PYTHONUNBUFFERED": "1",
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CREDENTIALS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on 127.0.0.1: no TLS proxy in front to redirect to.
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "text",
        **overrides,
    }


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    db_name = f"test_cryptotrack_{RUN_ID}_topology"
    database_url, admin_url = _database_url(db_name)
    database = sql.Identifier(db_name)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(database))

    processes: list[Any] = []
    try:
        redis = RedisServer().start()
        processes.append(redis)
        kucoin = KucoinSimulator().start()
        alphavantage = AlphaVantageSimulator(api_keys={AV_KEY}).start()
        coingecko = CoinGeckoSimulator().start()
        smtp = SmtpServer().start()
        processes += [kucoin, alphavantage, coingecko, smtp]
        port = free_port()
        env = _production_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis.url,
            VAR_DIR=str(tmp_path_factory.mktemp("var")),
            PORT=str(port),
            WEB_CONCURRENCY="2",
            WORKER_CONCURRENCY="2",
            KUCOIN_SPOT_URL=kucoin.url,
            KUCOIN_FUTURES_URL=kucoin.url,
            ALPHAVANTAGE_URL=alphavantage.url,
            ALPHAVANTAGE_API_KEY=AV_KEY,
            COINGECKO_URL=coingecko.url,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp.port),
            DEFAULT_FROM_EMAIL="cryptotrack <alerts@cryptotrack.test>",
            TRACKING_INTERVAL_SECONDS=str(INTERVAL),
            DISPATCH_TICK_SECONDS="0.5",
            ALERTS_INTERVAL_SECONDS="2",
            POSITIONS_BATCH_SIZE="25",
            # Many users from 127.0.0.1: raise the throttles (they are per IP and user).
            THROTTLE_ANON="100000/min",
            THROTTLE_USER="100000/min",
            THROTTLE_SIGNUP="100000/min",
            THROTTLE_LOGIN="100000/min",
            THROTTLE_QUOTES_REFRESH="1000/min",
        )

        release = subprocess.run(
            ["/bin/sh", "-c", read_procfile()["release"]],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert release.returncode == 0, release.stdout[-2000:] + release.stderr[-3000:]

        web = ProcfileProcess("web", env=env).start()
        workers = [ProcfileProcess("worker", env=env, name=f"worker{n}") for n in (1, 2)]
        beat = ProcfileProcess("beat", env=env)
        processes += [web, *workers, beat]
        for worker in workers:
            worker.start()
        beat.start()
        top = Topology(
            base_url=f"http://127.0.0.1:{port}",
            kucoin=kucoin,
            alphavantage=alphavantage,
            coingecko=coingecko,
            smtp=smtp,
            web=web,
            workers=workers,
            beat=beat,
        )
        wait_until(lambda: _ready(top), timeout=60, interval=0.2, what="web /readyz")
        for worker in workers:
            wait_until(
                lambda w=worker: "ready." in w.log() or not w.alive(), timeout=60, what="worker"
            )
            assert worker.alive(), worker.log()[-3000:]
        wait_until(lambda: "beat: Starting" in beat.log() or not beat.alive(), timeout=30)
        assert beat.alive(), beat.log()[-3000:]
        yield top
    finally:
        for process in reversed(processes):
            process.stop()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))


def _ready(top: Topology) -> bool:
    for process in (top.web, *top.workers, top.beat):
        if process.process is not None and not process.alive():
            raise AssertionError(f"{process.name} died:\n{process.log()[-3000:]}")
    try:
        return httpx.get(f"{top.base_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _log_tails(top: Topology) -> str:
    return "".join(
        f"\n--- {process.name} (pid {process.pid}) ---\n{process.log()[-4000:]}"
        for process in (top.web, *top.workers, top.beat)
    )


@contextmanager
def _logs_on_failure(top: Topology) -> Iterator[None]:
    """A failed assertion inside carries the end of every process's log."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"{exc}{_log_tails(top)}") from exc


@pytest.fixture(autouse=True)
def _show_logs_on_failure(request: pytest.FixtureRequest, topology: Topology) -> Iterator[None]:
    """When a test fails, print the end of every process's log (pytest shows it)."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(_log_tails(topology))


_numbers = itertools.count(1)


@dataclass
class User:
    username: str
    email: str
    api_key: str
    api_secret: str
    api_passphrase: str
    token: str = ""


def _new_user(top: Topology, *, prefix: str = "trader") -> User:
    """A KuCoin key on the simulator (holding one position) and an account using it."""
    n = next(_numbers)
    name = f"{prefix}{n:04d}"
    user = User(
        name,
        f"{name}@example.com",
        f"topo-key-{n:05d}-abcdef",
        f"topo-secret-{n:05d}-0123456789",
        f"topo-pass-{n}",
    )
    top.kucoin.add_key(user.api_key, user.api_secret, user.api_passphrase)
    top.kucoin.open_position(user.api_key, "XBTUSDTM", size=n)
    return user


def _sign_up_and_in(top: Topology, user: User) -> User:
    with top.client() as http:
        signup = http.post(
            "/api/v1/auth/signup",
            json={
                "name": user.username.title(),
                "username": user.username,
                "password": PASSWORD,
                "email": user.email,
                "kucoin": {
                    "api_key": user.api_key,
                    "api_secret": user.api_secret,
                    "api_passphrase": user.api_passphrase,
                },
            },
        )
        assert signup.status_code == 201, signup.text
        assert signup.json()["kucoin"]["status"] == "valid", signup.text
        token = http.post(
            "/api/v1/auth/token", json={"username": user.username, "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        user.token = token.json()["access"]
    return user


def test_a_user_signs_up_tracks_reads_quotes_and_is_emailed_an_alert(topology: Topology) -> None:
    top = topology
    ready = httpx.get(f"{top.base_url}/readyz").json()
    assert ready["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}

    user = _sign_up_and_in(top, _new_user(top, prefix="walker"))
    with top.client(user.token) as http:
        assert http.get("/api/v1/me").json()["username"] == user.username

        # Positions: tracked by the workers, read back from the cache.
        assert http.post("/api/v1/tracking", json={}).status_code == 201
        wait_until(
            lambda: http.get("/api/v1/positions").json()["count"] == 1,
            timeout=INTERVAL * 3,
            what="the position, polled by a worker",
        )
        positions = http.get("/api/v1/positions").json()
        assert positions["source"] == "cache"
        assert positions["results"][0]["symbol"] == "XBTUSDTM"

        # Quotes: a forced refresh is stored, listed, served as the latest, and pushed live
        # over the WebSocket (the Redis channel layer reaches every web process).
        ws_url = top.base_url.replace("http://", "ws://") + "/ws/rates"
        with connect(ws_url, open_timeout=10) as ws:
            forced = http.post(
                "/api/v1/quotes", json={"from_currency": "BTC", "to_currency": "USD"}
            )
            assert forced.status_code == 201, forced.text
            quote = forced.json()
            assert quote.pop("warning") is None  # only a POST says whether it fell back
            deadline = time.monotonic() + 10
            while True:  # the frame on connect may be an older quote (beat's start-up fetch)
                frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                if frame["refreshed_at"] == quote["refreshed_at"]:
                    break
        assert frame["rate"] == quote["rate"]
        listed = http.get("/api/v1/quotes", params={"from_currency": "BTC", "to_currency": "USD"})
        assert quote in listed.json()["results"]
        pair = {"from_currency": "BTC", "to_currency": "USD"}
        latest = http.get("/api/v1/quotes/latest", params=pair).json()
        assert latest["refreshed_at"] >= quote["refreshed_at"]

        # Alerts: a target already crossed fires at the monitor's next check, one email.
        price = top.coingecko.price("bitcoin", "usd")
        assert price is not None
        created = http.post(
            "/api/v1/alerts",
            json={
                "coin": "bitcoin",
                "currency": "usd",
                "target_price": str(price - 100),
                "direction": "above",
            },
        )
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        mine = lambda: [m for m in top.smtp.received() if user.email in m.rcpt_tos]  # noqa: E731
        wait_until(mine, timeout=30, interval=0.2, what="the alert email")
        wait_until(
            lambda: http.get(f"/api/v1/alerts/{alert_id}").json()["status"] == "sleeping",
            timeout=10,
            what="the alert asleep after its email",
        )
        assert len(mine()) == 1
        assert f"alert #{alert_id}" in mine()[0].body


def test_the_postman_collection_passes_under_newman(topology: Topology, tmp_path: Path) -> None:
    newman = _newman()
    key = ("postman-key-00001-abcdef", "postman-secret-00001-0123456789", "postman-pass")
    topology.kucoin.add_key(*key)
    report = tmp_path / "newman.json"
    run = subprocess.run(
        [
            newman,
            "run",
            str(REPO / "docs/postman/cryptotrack.postman_collection.json"),
            "--environment",
            str(REPO / "docs/postman/cryptotrack.postman_environment.json"),
            "--env-var",
            f"baseUrl={topology.base_url}",
            "--env-var",
            f"kucoinApiKey={key[0]}",
            "--env-var",
            f"kucoinApiSecret={key[1]}",
            "--env-var",
            f"kucoinApiPassphrase={key[2]}",
            "--bail",
            "--color",
            "off",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    stats = json.loads(report.read_text())["run"]["stats"]
    collection = json.loads((REPO / "docs/postman/cryptotrack.postman_collection.json").read_text())
    requests = sum(len(folder["item"]) for folder in collection["item"])
    assert stats["requests"] == {"total": requests, "pending": 0, "failed": 0}
    assert stats["assertions"]["failed"] == 0
    assert stats["assertions"]["total"] >= 2 * requests


def _newman() -> str:
    """newman, installed by ``make newman`` from the npm registry into .tools/newman."""
    binary = REPO / ".tools/newman/node_modules/.bin/newman"
    if shutil.which("npm") is not None:
        subprocess.run(
            ["make", "--no-print-directory", "newman"], cwd=REPO, check=True, timeout=300
        )
    elif not binary.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("npm is missing: CI must run the Postman collection with newman")
        pytest.skip("npm is not installed: cannot install newman")
    return str(binary)


# --- two hundred users, two workers ---------------------------------------------------------


class PollRecorder:
    """Samples the KuCoin simulator's per-key request counts every 0.1 s in a thread and
    keeps, per key, the (approximate) times of its position polls."""

    def __init__(self, sim: KucoinSimulator) -> None:
        self.sim = sim
        self.times: dict[str, list[float]] = defaultdict(list)
        self._last: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PollRecorder:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def _sample(self) -> None:
        now = time.monotonic()
        for row in self.sim.sim.requests.snapshot():
            if row["path"] != POSITIONS_PATH or row["scope"] is None:
                continue
            new = row["count"] - self._last.get(row["scope"], 0)
            self._last[row["scope"]] = row["count"]
            if self._thread.is_alive():  # the first sample only sets the baseline
                self.times[row["scope"]].extend([now] * new)

    def polls_between(self, key: str, start: float, end: float) -> list[float]:
        return [t for t in list(self.times[key]) if start <= t < end]


def _assert_polled_once_per_interval(
    recorder: PollRecorder, keys: list[str], start: float, end: float
) -> None:
    """Every key polled in [start, end): once per interval — no two polls closer than half
    an interval (a slot polled twice), no gap longer than one and a half (a slot skipped)."""
    intervals = (end - start) / INTERVAL
    problems = []
    for key in keys:
        polls = recorder.polls_between(key, start, end)
        gaps = [round(b - a, 2) for a, b in itertools.pairwise(polls)]
        first_late = polls[0] - start if polls else None
        last_late = end - polls[-1] if polls else None
        if (
            not polls
            or not intervals - 1 <= len(polls) <= intervals + 1
            or any(not INTERVAL / 2 < gap < INTERVAL * 1.5 for gap in gaps)
            or (first_late is not None and first_late >= INTERVAL * 1.5)
            or (last_late is not None and last_late >= INTERVAL * 1.5)
        ):
            problems.append(f"{key}: {len(polls)} polls, gaps {gaps}")
    assert not problems, f"{len(problems)} of {len(keys)} users off their interval:\n" + "\n".join(
        problems[:20]
    )


def _polls_by(worker: ProcfileProcess) -> int:
    """Subscriptions polled by this worker (its pool's "polled N subscription(s)" lines)."""
    return sum(int(n) for n in re.findall(r"polled (\d+) subscription", worker.log()))


@pytest.fixture(scope="module")
def tracked(topology: Topology) -> list[User]:
    """Two hundred users signed up, signed in and tracking, each through the API."""
    top = topology
    users = [_new_user(top) for _ in range(TRACKED_USERS)]

    def sign_up_and_track(user: User) -> User:
        _sign_up_and_in(top, user)
        with top.client(user.token) as http:
            started = http.post("/api/v1/tracking", json={})
            assert started.status_code == 201, started.text
        return user

    with _logs_on_failure(top), ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(sign_up_and_track, users))


def test_every_user_is_polled_once_per_interval_across_both_workers(
    topology: Topology, tracked: list[User]
) -> None:
    keys = [user.api_key for user in tracked]
    before = [_polls_by(worker) for worker in topology.workers]
    with PollRecorder(topology.kucoin) as recorder:
        start = time.monotonic() + INTERVAL  # one interval of warm-up after the last signup
        end = start + 4 * INTERVAL
        time.sleep(end - time.monotonic() + 0.5)
    _assert_polled_once_per_interval(recorder, keys, start, end)
    # Both workers took a share of the polling.
    shares = [_polls_by(w) - b for w, b in zip(topology.workers, before, strict=True)]
    assert all(share > 0 for share in shares), shares
    # The users' own view agrees: tracking is healthy, positions are there.
    with topology.client(tracked[-1].token) as http:
        status = http.get("/api/v1/tracking").json()
        assert status["state"] == "active"
        assert status["consecutive_failures"] == 0
        assert http.get("/api/v1/positions").json()["count"] == 1


def test_when_a_worker_dies_the_other_carries_the_whole_load(
    topology: Topology, tracked: list[User]
) -> None:
    keys = [user.api_key for user in tracked]
    victim, survivor = topology.workers
    with PollRecorder(topology.kucoin) as recorder:
        time.sleep(1)
        victim.kill()  # SIGKILL to its process group: the shell, celery and its pool
        killed_at = time.monotonic()
        before = _polls_by(survivor)
        # Batches the victim had taken are lost for their slot (their messages expire
        # within the interval); from the next interval on, every slot is polled again.
        start = killed_at + INTERVAL + 1
        end = start + 3 * INTERVAL
        time.sleep(end - time.monotonic() + 0.5)
    assert not victim.alive()
    _assert_polled_once_per_interval(recorder, keys, start, end)
    assert _polls_by(survivor) - before >= 3 * TRACKED_USERS * 0.9
