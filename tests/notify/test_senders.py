"""Each channel's request and the reading of its answer, against the messaging simulator
over real sockets: delivered, retried (with the wait the receiver asked for) or final."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from cryptotrack.notify import messengers, webhooks
from cryptotrack.notify.outcome import Verdict
from cryptotrack.notify.transport import Push, send
from cryptotrack.simulators.messengers.simulator import MessengersSimulator
from tests.fixtures import UPSTREAM_SAMPLES

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def sim() -> Iterator[MessengersSimulator]:
    with MessengersSimulator() as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def deliver(push: Push, http: httpx.Client, *, timeout: float = 5) -> webhooks.Answer:
    return send(push, http=http, timeout=timeout, allow_private=True)


def test_a_signed_webhook_verifies_with_the_documented_check(
    sim: MessengersSimulator, http: httpx.Client
) -> None:
    body = webhooks.event_body(
        delivery_id="dlv_1", kind="alert.fired", created_at="2026-12-04T12:00:00Z", data={"a": 1}
    )
    push = webhooks.webhook_push(
        sim.base_url + "/webhooks/mine", body, delivery_id="dlv_1", secrets=["new", "old"]
    )
    attempt = webhooks.read_webhook_answer(deliver(push, http))
    assert (attempt.verdict, attempt.status) == (Verdict.DELIVERED, 200)
    (received,) = sim.accepted("webhook")
    header = received.headers[webhooks.SIGNATURE_HEADER]
    raw = received.body.encode()
    assert json.loads(raw) == {
        "id": "dlv_1",
        "type": "alert.fired",
        "created_at": "2026-12-04T12:00:00Z",
        "data": {"a": 1},
    }
    assert received.headers[webhooks.DELIVERY_HEADER] == "dlv_1"
    # Both the current and the rotated-out secret verify; anything else does not.
    assert webhooks.verify(header, raw, "new")
    assert webhooks.verify(header, raw, "old")
    assert not webhooks.verify(header, raw, "guess")
    assert not webhooks.verify(header, raw + b" ", "new")
    assert not webhooks.verify(header, raw, "new", now=time.time() + 3600)  # a replay


def test_5xx_is_retried_4xx_final_and_410_final(
    sim: MessengersSimulator, http: httpx.Client
) -> None:
    push = webhooks.webhook_push(
        sim.base_url + "/webhooks/a", b"{}", delivery_id="d", secrets=["s"]
    )
    sim.inject_fault("error", status=500, times=2, path="/webhooks/a")
    verdicts = [webhooks.read_webhook_answer(deliver(push, http)).verdict for _ in range(3)]
    assert verdicts == [Verdict.RETRY, Verdict.RETRY, Verdict.DELIVERED]
    for status, verdict in ((410, Verdict.FAILED), (400, Verdict.FAILED), (429, Verdict.RETRY)):
        sim.inject_fault("error", status=status, times=1, path="/webhooks/a", body="{}")
        attempt = webhooks.read_webhook_answer(deliver(push, http))
        assert (attempt.verdict, attempt.status) == (verdict, status)
        assert attempt.error.startswith(f"HTTP {status}")


def test_a_timeout_is_retried_and_says_so(sim: MessengersSimulator, http: httpx.Client) -> None:
    sim.inject_fault("latency", latency=2.0, path="/webhooks/slow")
    push = Push(sim.base_url + "/webhooks/slow", b"{}")
    attempt = webhooks.read_webhook_answer(deliver(push, http, timeout=0.3))
    assert (attempt.verdict, attempt.status) == (Verdict.RETRY, None)
    assert "timed out" in attempt.error


def test_loopback_and_private_targets_are_refused_unless_allowed(
    sim: MessengersSimulator, http: httpx.Client
) -> None:
    for url in (
        sim.base_url + "/webhooks/a",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://100.64.0.1/x",
        "http://0.0.0.0/x",
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
    ):
        answer = send(Push(url, b"{}"), http=http, timeout=1, allow_private=False)
        attempt = webhooks.read_webhook_answer(answer)
        assert (attempt.verdict, attempt.status) == (Verdict.FAILED, None), url
        assert attempt.error.startswith("refused:"), url
    assert sim.messages() == []  # nothing was sent


def test_telegram_delivers_and_reads_its_errors(
    sim: MessengersSimulator, http: httpx.Client
) -> None:
    sim.configure(telegram_bots={TOKEN: ["42"]})
    push = messengers.telegram_push(sim.base_url, bot_token=TOKEN, chat_id="42", text="BTC ↑")
    assert messengers.read_telegram_answer(deliver(push, http)).delivered
    (message,) = sim.accepted("telegram")
    assert json.loads(message.body)["text"] == "BTC ↑"
    lost = messengers.telegram_push(sim.base_url, bot_token=TOKEN, chat_id="7", text="x")
    attempt = messengers.read_telegram_answer(deliver(lost, http))
    assert (attempt.verdict, attempt.error) == (Verdict.FAILED, "Bad Request: chat not found")
    flood = (UPSTREAM_SAMPLES / "telegram_error_rate_limit.json").read_text()
    sim.inject_fault("error", status=429, body=flood, times=1)
    attempt = messengers.read_telegram_answer(deliver(push, http))
    assert (attempt.verdict, attempt.retry_after) == (Verdict.RETRY, 15.0)


def test_discord_slack_and_ntfy_deliver_and_refuse(
    sim: MessengersSimulator, http: httpx.Client
) -> None:
    base = sim.base_url
    assert messengers.read_discord_answer(
        deliver(messengers.discord_push(f"{base}/api/webhooks/1/a", text="hi"), http)
    ).delivered
    assert messengers.read_slack_answer(
        deliver(messengers.slack_push(f"{base}/services/T/B/X", text="hi"), http)
    ).delivered
    assert messengers.read_ntfy_answer(
        deliver(messengers.ntfy_push(base, topic="alerts", title="T", text="hi"), http)
    ).delivered
    sim.configure(discord_webhooks=[], slack_hooks=[], ntfy_tokens={"alerts": "tk_right"})
    discord = messengers.read_discord_answer(
        deliver(messengers.discord_push(f"{base}/api/webhooks/1/a", text="hi"), http)
    )
    assert (discord.verdict, discord.status, discord.error) == (
        Verdict.FAILED,
        404,
        "Unknown Webhook",
    )
    slack = messengers.read_slack_answer(
        deliver(messengers.slack_push(f"{base}/services/T/B/X", text="hi"), http)
    )
    assert (slack.verdict, slack.error) == (Verdict.FAILED, "no_service")
    wrong = messengers.ntfy_push(base, topic="alerts", title="T", text="hi", token="tk_wrong")
    ntfy = messengers.read_ntfy_answer(deliver(wrong, http))
    assert (ntfy.verdict, ntfy.status, ntfy.error) == (Verdict.FAILED, 403, "forbidden")
    rate = (UPSTREAM_SAMPLES / "discord_rate_limit.json").read_text()
    sim.configure(discord_webhooks=None)
    sim.inject_fault("error", status=429, body=rate, times=1)
    limited = messengers.read_discord_answer(
        deliver(messengers.discord_push(f"{base}/api/webhooks/1/a", text="hi"), http)
    )
    assert (limited.verdict, limited.retry_after) == (Verdict.RETRY, 64.57)
