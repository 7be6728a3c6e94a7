"""Observability across real processes: JSON logs without a secret, and /metrics.

The process tests start uvicorn, a Celery worker and beat as subprocesses on the test
database (as production runs them), drive them over HTTP against the upstream
simulators, and read what they printed and what ``/metrics`` of the web process says.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient

from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.support.processes import AsgiServer, CeleryWorker, ManagedProcess, wait_until

METRICS_TOKEN = "metrics-token-for-tests"


# -- /metrics in-process: off, refused, served ------------------------------------------


@pytest.mark.django_db
def test_metrics_are_off_while_no_token_is_set(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    response = APIClient().get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", "Bearer é"]
)
def test_metrics_refuse_a_missing_or_wrong_token(settings: Any, header: str | None) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = APIClient().get("/metrics", **extra)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_metrics_are_served_with_the_token(settings: Any, make_user: Any) -> None:
    from cryptotrack.positions.selectors import current_positions

    settings.METRICS_TOKEN = METRICS_TOKEN
    current_positions(user=make_user())  # a cache read, counted in this process

    response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert 'cryptotrack_cache_reads_total{data="positions",result="miss"}' in (
        response.content.decode()
    )


# -- real processes ------------------------------------------------------------------------


@dataclass
class Stack:
    web: AsgiServer
    worker: CeleryWorker
    beat: ManagedProcess | None
    kucoin: KucoinSimulator
    alphavantage: AlphaVantageSimulator
    coingecko: CoinGeckoSimulator

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.web.url, headers=headers, timeout=15)

    def logs(self) -> dict[str, str]:
        processes = {"web": self.web, "worker": self.worker, "beat": self.beat}
        return {name: p.log() for name, p in processes.items() if p is not None}


class AccessLoggingAsgiServer(AsgiServer):
    """uvicorn as production runs it: with its access log."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.args.remove("--no-access-log")


def beat_process(env: dict[str, str], schedule: Path) -> ManagedProcess:
    args = [sys.executable, "-m", "celery", "-A", "cryptotrack", "beat", "--loglevel=INFO"]
    return ManagedProcess([*args, f"--schedule={schedule}"], env=env, name="celery-beat")


@contextmanager
def running_stack(
    env: dict[str, str], tmp_path: Path, *, separate_beat: bool, av_key: str, cg_key: str
) -> Iterator[Stack]:
    """Simulators, then uvicorn, a worker and beat (embedded in the worker, or its own)."""
    with ExitStack() as stack:
        kucoin = stack.enter_context(KucoinSimulator())
        alphavantage = stack.enter_context(AlphaVantageSimulator(api_keys={av_key}))
        coingecko = stack.enter_context(CoinGeckoSimulator(api_keys={cg_key}))
        env = {
            **env,
            "KUCOIN_SPOT_URL": kucoin.url,
            "KUCOIN_FUTURES_URL": kucoin.url,
            "KUCOIN_TIMEOUT_SECONDS": "2",
            "ALPHAVANTAGE_URL": alphavantage.url,
            "ALPHAVANTAGE_API_KEY": av_key,
            "COINGECKO_URL": coingecko.url,
            "COINGECKO_API_KEY": cg_key,
            "TRACKING_INTERVAL_SECONDS": "2",
            "DISPATCH_TICK_SECONDS": "0.5",
            "ALERTS_INTERVAL_SECONDS": "1",
            "METRICS_TOKEN": METRICS_TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        }
        web = stack.enter_context(AccessLoggingAsgiServer(env))
        worker = stack.enter_context(CeleryWorker(env, beat=not separate_beat))
        beat = None
        if separate_beat:
            beat = stack.enter_context(beat_process(env, tmp_path / "beat-schedule"))
        yield Stack(web, worker, beat, kucoin, alphavantage, coingecko)


def sign_up_and_in(stack: Stack, *, username: str, password: str, kucoin: dict[str, str]) -> dict:
    with stack.http() as http:
        signup = http.post(
            "/api/v1/auth/signup",
            json={
                "name": "Canary",
                "username": username,
                "password": password,
                "email": f"{username}@example.com",
                "kucoin": kucoin,
            },
        )
        assert signup.status_code == 201, signup.text
        assert signup.json()["kucoin"]["status"] == "valid", signup.text
        tokens = http.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert tokens.status_code == 200, tokens.text
        return dict(tokens.json())


def tracking_error_kind(stack: Stack, access: str) -> str | None:
    with stack.http(access) as http:
        error = http.get("/api/v1/tracking").json()["last_error"]
    return error["kind"] if error else None


def metric_samples(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` of the web process as {(sample name, sorted labels): value}."""
    # Imported here, not at the top: prometheus_client must first be imported by
    # cryptotrack.core.metrics (with its multiprocess directory), which a module-level
    # import in a test collected before Django is set up would pre-empt.
    from prometheus_client.parser import text_string_to_metric_families

    with stack.http(METRICS_TOKEN) as http:
        response = http.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.slow
def test_a_poll_by_a_worker_process_shows_in_the_web_process_metrics(
    live_env: dict[str, str], tmp_path: Path
) -> None:
    key = {
        "api_key": "metrics-key-0001",
        "api_secret": "metrics-secret-0001",
        "api_passphrase": "p",
    }
    with running_stack(live_env, tmp_path, separate_beat=False, av_key="av", cg_key="cg") as stack:
        stack.kucoin.add_key(key["api_key"], key["api_secret"], key["api_passphrase"])
        stack.kucoin.open_position(key["api_key"], "XBTUSDTM", size=2, entry_price=60000)
        access = sign_up_and_in(
            stack, username="metrics", password="metrics-Pass-2026", kucoin=key
        )["access"]
        with stack.http(access) as http:
            assert http.post("/api/v1/tracking", json={}).status_code == 201

        def polled() -> dict[Any, float] | None:
            samples = metric_samples(stack)
            return (
                samples if sample(samples, "cryptotrack_polls_total", outcome="success") else None
            )

        samples = wait_until(polled, timeout=30, interval=0.3, what="a poll in /metrics")
        assert sample(samples, "cryptotrack_poll_lateness_seconds_count") >= 1
        with stack.http(access) as http:
            assert http.get("/api/v1/positions").json()["source"] == "cache"
        samples = metric_samples(stack)
        # The worker's write-through cache, read by the web process.
        assert sample(samples, "cryptotrack_cache_reads_total", data="positions", result="hit") >= 1

        stack.kucoin.remove_key(key["api_key"])  # the next poll is refused by KuCoin

        def refused() -> dict[Any, float] | None:
            samples = metric_samples(stack)
            polls = sample(samples, "cryptotrack_polls_total", outcome="invalid_credentials")
            return samples if polls else None

        samples = wait_until(refused, timeout=30, interval=0.3, what="a failure in /metrics")
        kind = {"upstream": "kucoin", "kind": "invalid_credentials"}
        assert sample(samples, "cryptotrack_upstream_failures_total", **kind) >= 1
        # Beat's alert checks and the start-up quote fetch ran in the worker too.
        assert sample(samples, "cryptotrack_alert_checks_total", outcome="idle") >= 1
        assert sample(samples, "cryptotrack_quotes_fetched_total", source="startup") == 1


# -- logs ----------------------------------------------------------------------------------

CANARY_PASSWORD = "Canary-Pass-7f3a9c2e"
CANARY_WRONG_PASSWORD = "Canary-Wrong-4b2d8e1f"
CANARY_KUCOIN = {
    "api_key": "canarykey-5d1e2b8f",
    "api_secret": "canarysecret-9b4c7e1a",
    "api_passphrase": "canarypass-3e8f6a",
}
CANARY_KUCOIN_REPLACED = {
    "api_key": "canarykey2-8a3c5e7d",
    "api_secret": "canarysecret2-1f6b9d4c",
    "api_passphrase": "canarypass2-7c2e5b",
}
TRACE_ID = "trace-tracking-0001"
CANARY_ALPHAVANTAGE_KEY = "canary-av-6c2f9e1b"
CANARY_COINGECKO_KEY = "canary-cg-2d7a4f8c"
# What a log line written by Python's logging looks like when it is not our JSON.
_TEXT_LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b|^\[?\d{4}-\d\d-\d\d[ T]")


@pytest.mark.slow
def test_json_logs_of_every_process_never_carry_a_secret(
    live_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**live_env, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
    with running_stack(
        env,
        tmp_path,
        separate_beat=True,
        av_key=CANARY_ALPHAVANTAGE_KEY,
        cg_key=CANARY_COINGECKO_KEY,
    ) as stack:
        kucoin = CANARY_KUCOIN
        stack.kucoin.add_key(kucoin["api_key"], kucoin["api_secret"], kucoin["api_passphrase"])
        stack.kucoin.open_position(kucoin["api_key"], "XBTUSDTM", size=1, entry_price=60000)
        tokens = sign_up_and_in(stack, username="canary", password=CANARY_PASSWORD, kucoin=kucoin)
        access, refresh = tokens["access"], tokens["refresh"]
        with stack.http() as anonymous, stack.http(access) as http:
            failed = anonymous.post(
                "/api/v1/auth/token",
                json={"username": "canary", "password": CANARY_WRONG_PASSWORD},
            )
            assert failed.status_code == 401
            personal_key = http.post("/api/v1/me/api-keys", json={"name": "ci"}).json()["key"]
            assert anonymous.get("/api/v1/me", headers={"X-API-Key": personal_key}).is_success
            assert (
                anonymous.get("/api/v1/me", headers={"X-API-Key": personal_key + "x"}).status_code
                == 401
            )
            assert anonymous.get(f"/healthz?token={access}&api_key={personal_key}").is_success
            assert (
                anonymous.get("/api/v1/me", headers={"Authorization": f"JWT {access}x"}).status_code
                == 401
            )
            # Position polls in the worker: a success, an upstream error (retried), a refusal.
            # The first poll is queued by this request: its worker lines carry the id.
            started = http.post("/api/v1/tracking", json={}, headers={"X-Request-ID": TRACE_ID})
            assert started.status_code == 201
            assert started.headers["X-Request-ID"] == TRACE_ID
            unsafe = anonymous.get("/healthz", headers={"X-Request-ID": "two words"})
            assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["X-Request-ID"])
            wait_until(
                lambda: http.get("/api/v1/positions").json()["count"] == 1,
                timeout=30,
                what="a first poll",
            )
            stack.kucoin.inject_fault("error", api_key=kucoin["api_key"], status=500)
            wait_until(
                lambda: tracking_error_kind(stack, access) == "unavailable",
                timeout=30,
                what="a failed poll",
            )
            stack.kucoin.clear_faults()
            stack.kucoin.remove_key(kucoin["api_key"])
            wait_until(
                lambda: tracking_error_kind(stack, access) == "invalid_credentials",
                timeout=30,
                what="a refused poll",
            )
            # New credentials that KuCoin does not know: the check's error path.
            replaced = http.put("/api/v1/me/kucoin", json=CANARY_KUCOIN_REPLACED)
            assert replaced.json()["status"] == "invalid", replaced.text
            # Alpha Vantage and CoinGecko, with their keys, on good and bad requests.
            assert http.post("/api/v1/quotes", json={}).status_code == 201
            assert http.post("/api/v1/quotes", json={"from_currency": "ZZZ"}).status_code == 400
            alert = {
                "coin": "bitcoin",
                "currency": "usd",
                "target_price": "1",
                "direction": "below",
            }
            assert http.post("/api/v1/alerts", json=alert).status_code == 201
            assert http.post("/api/v1/alerts", json={**alert, "coin": "nocoin"}).status_code == 400
            # The refresh token rotates, then logs out.
            rotated = anonymous.post("/api/v1/auth/token/refresh", json={"refresh": refresh})
            assert rotated.status_code == 200
            assert (
                anonymous.post("/api/v1/auth/token/refresh", json={"refresh": refresh}).status_code
                == 401
            )
            new_refresh = rotated.json()["refresh"]
            assert (
                anonymous.post("/api/v1/auth/logout", json={"refresh": new_refresh}).status_code
                == 205
            )
        stack.web.stop()
        stack.worker.stop()
        assert stack.beat is not None
        stack.beat.stop()
        logs = stack.logs()

    canaries = {
        "password": CANARY_PASSWORD,
        "wrong password": CANARY_WRONG_PASSWORD,
        **{f"kucoin {name}": value for name, value in CANARY_KUCOIN.items()},
        **{f"new kucoin {name}": value for name, value in CANARY_KUCOIN_REPLACED.items()},
        "alpha vantage key": CANARY_ALPHAVANTAGE_KEY,
        "coingecko key": CANARY_COINGECKO_KEY,
        "access token": access,
        "refresh token": refresh,
        "rotated refresh token": new_refresh,
        "personal api key": personal_key,
        "metrics token": METRICS_TOKEN,
    }
    records: dict[str, list[dict[str, Any]]] = {}
    for process, text in logs.items():
        for line in text.splitlines():
            leaks = [name for name, value in canaries.items() if value in line]
            assert not leaks, f"{process} logged the {leaks}: {line}"
            try:
                record = json.loads(line)
            except ValueError:
                # Only Celery's start-up banner (printed, not logged) may be plain text.
                assert not _TEXT_LOG_LINE.match(line), f"{process}: not JSON: {line}"
                continue
            assert {"time", "level", "logger", "message"} <= set(record), line
            records.setdefault(process, []).append(record)

    # The flows above really were logged, at DEBUG, by each process.
    web, worker = records["web"], records["worker"]
    assert any(
        r["logger"] == "uvicorn.access" and "/api/v1/auth/token" in r["message"] for r in web
    )
    assert any(r["logger"] == "uvicorn.access" and "/healthz?token=" in r["message"] for r in web)
    assert any(r["logger"] == "django.request" and r["level"] == "WARNING" for r in web)
    assert any(r["level"] == "DEBUG" for r in worker)
    assert any("polled" in r["message"] for r in worker)
    assert any(r["logger"] == "celery.beat" for r in records["beat"])

    # One request followed from web to worker, one beat tick from beat to worker.
    assert any(
        r["logger"] == "uvicorn.access"
        and "/api/v1/tracking" in r["message"]
        and r.get("request_id") == TRACE_ID
        for r in web
    )
    traced_polls = [r for r in worker if "polled" in r["message"] and r.get("request_id")]
    assert {r["request_id"] for r in traced_polls} == {TRACE_ID}
    assert all(r.get("task_id") for r in traced_polls)
    sent_by_beat = {r["task_id"] for r in records["beat"] if r.get("task_id")}
    assert sent_by_beat & {r.get("task_id") for r in worker}
    # No other request's access line inherits the id (a stale context would).
    access = [r for r in web if r["logger"] == "uvicorn.access"]
    assert [r["message"] for r in access if r.get("request_id") == TRACE_ID] == [
        r["message"] for r in access if "POST /api/v1/tracking" in r["message"]
    ]
