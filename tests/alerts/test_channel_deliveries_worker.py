"""Alerts delivered to notification channels by a real Celery worker: the messaging
simulator, the SMTP server, CoinGecko's simulator and PostgreSQL over real sockets. Retry
cadences shortened through the environment (``NOTIFY_RETRY_*_SECONDS``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cryptotrack.alerts.models import Alert, AlertNotification
from cryptotrack.notify import webhooks
from cryptotrack.notify.models import Channel, Delivery, DeliveryAttempt
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from cryptotrack.simulators.messengers.simulator import MessengersSimulator
from tests.alerts.smtp_server import SmtpServer
from tests.alerts.test_worker_e2e import _checks, worker_env
from tests.support.processes import CeleryWorker, running, wait_until

__all__ = ["worker_env"]  # the alert worker's environment, extended below

pytestmark = pytest.mark.slow

BOT_TOKEN = "7712345678:AAFdeliveriesTestBotToken0000001"
CHAT_ID = "4242"


@pytest.fixture
def messengers(settings: Any) -> Iterator[MessengersSimulator]:
    """The messaging simulator; channels to it can be made here (private targets allowed)."""
    with MessengersSimulator() as simulator:
        simulator.configure(telegram_bots={BOT_TOKEN: [CHAT_ID]})
        settings.TELEGRAM_API_URL = simulator.base_url
        settings.WEBHOOK_ALLOW_PRIVATE = True
        yield simulator


@pytest.fixture
def channels_env(worker_env: dict[str, str], messengers: MessengersSimulator) -> dict[str, str]:
    return worker_env | {
        "TELEGRAM_API_URL": messengers.base_url,
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "NOTIFY_TIMEOUT_SECONDS": "2",
        "NOTIFY_RETRY_BASE_SECONDS": "0.05",
        "NOTIFY_RETRY_MAX_SECONDS": "0.2",
        "NOTIFY_FLAG_AFTER_FAILURES": "1",
    }


@pytest.fixture
def owner(make_user: Callable[..., Any]) -> Any:
    return make_user(email="trader@example.com")


@pytest.fixture
def api(owner: Any, client_for: Callable[[Any], Any]) -> Any:
    return client_for(owner)


def make_channel(api: Any, kind: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    created = api.post(
        "/api/v1/channels", {"kind": kind, "name": name, "config": config}, format="json"
    )
    assert created.status_code == 201, created.content
    body: dict[str, Any] = created.json()
    return body


def make_alert(api: Any, channels: list[int], target: str = "70000") -> dict[str, Any]:
    created = api.post(
        "/api/v1/alerts",
        {
            "coin": "bitcoin",
            "currency": "usd",
            "target_price": target,
            "direction": "above",
            "channels": channels,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body: dict[str, Any] = created.json()
    assert body["channels"] == sorted(channels)
    return body


def settled() -> bool:
    """Every delivery has reached a final state."""
    return not Delivery.objects.filter(state__in=["pending", "sending"]).exists()


def test_a_firing_goes_once_to_each_channel_of_its_alert(
    channels_env: dict[str, str],
    coingecko: CoinGeckoSimulator,
    smtp: SmtpServer,
    messengers: MessengersSimulator,
    api: Any,
) -> None:
    hook = make_channel(api, "webhook", "hook", {"url": f"{messengers.base_url}/webhooks/a"})
    telegram = make_channel(api, "telegram", "tg", {"bot_token": BOT_TOKEN, "chat_id": CHAT_ID})
    email = make_channel(api, "email", "mail", {})
    alert = make_alert(api, [hook["id"], telegram["id"], email["id"]])
    make_alert(api, [], target="90000")  # keeps the monitor pricing, never fires

    with running(CeleryWorker(channels_env, beat=True)):
        _checks(coingecko, 1)
        coingecko.set_price("bitcoin", "usd", "70500")
        wait_until(
            lambda: Delivery.objects.filter(state="sent").count() == 3,
            timeout=30,
            what="three deliveries sent",
        )
        _checks(coingecko, 3)  # the alert sleeps: nothing more goes out

    (pushed,) = messengers.messages("webhook")
    delivery = Delivery.objects.get(channel_id=hook["id"])
    assert pushed.headers[webhooks.DELIVERY_HEADER] == delivery.delivery_id
    raw = pushed.body.encode()
    assert webhooks.verify(pushed.headers[webhooks.SIGNATURE_HEADER], raw, hook["signing_secret"])
    body = json.loads(raw)
    assert (body["id"], body["type"]) == (delivery.delivery_id, "price_alert.fired")
    assert body["data"]["alert_id"] == alert["id"]
    assert (body["data"]["triggered_price"], body["data"]["coin"]) == ("70500", "bitcoin")

    (sent,) = messengers.messages("telegram")
    assert sent.path.endswith("/sendMessage")
    assert sent.status == 200
    assert "bitcoin" in sent.body

    (mail,) = smtp.received()
    assert mail.rcpt_tos == ("trader@example.com",)
    assert "Price alert: bitcoin" in mail.subject

    # The firing is kept (its own email row cancelled: the channels carried it).
    note = AlertNotification.objects.get(alert_id=alert["id"])
    assert note.state == "cancelled"
    assert "channels" in note.last_error
    assert Alert.objects.get(pk=alert["id"]).status == "sleeping"
    assert list(DeliveryAttempt.objects.values_list("outcome", flat=True)) == ["delivered"] * 3


def test_retries_until_delivered_and_a_410_is_final(
    channels_env: dict[str, str],
    coingecko: CoinGeckoSimulator,
    smtp: SmtpServer,
    messengers: MessengersSimulator,
    api: Any,
) -> None:
    flaky = make_channel(api, "webhook", "flaky", {"url": f"{messengers.base_url}/webhooks/a"})
    gone = make_channel(api, "webhook", "gone", {"url": f"{messengers.base_url}/webhooks/b"})
    make_alert(api, [flaky["id"]])
    make_alert(api, [gone["id"]])
    make_alert(api, [], target="90000")
    messengers.inject_fault("error", status=500, times=2, path="/webhooks/a")
    messengers.inject_fault("error", status=410, times=1, path="/webhooks/b", body="{}")

    with running(CeleryWorker(channels_env, beat=True)):
        _checks(coingecko, 1)
        coingecko.set_price("bitcoin", "usd", "71000")
        wait_until(
            lambda: Delivery.objects.count() == 2 and settled(), timeout=30, what="deliveries"
        )
        _checks(coingecko, 2)

    delivered = Delivery.objects.get(channel_id=flaky["id"])
    assert (delivered.state, delivered.attempts) == ("sent", 3)
    # Two requests answered 500 by the injected fault, the third accepted, each with the
    # id the delivery keeps on every try.
    tries = [m for m in messengers.messages("webhook") if m.path == "/webhooks/a"]
    assert [m.status for m in tries] == [500, 500, 200]
    assert {m.headers[webhooks.DELIVERY_HEADER] for m in tries} == {delivered.delivery_id}
    assert {json.loads(m.body)["id"] for m in tries} == {delivered.delivery_id}
    log = list(delivered.attempts_made.values_list("outcome", "status_code"))
    assert log == [("retry", 500), ("retry", 500), ("delivered", 200)]

    failed = Delivery.objects.get(channel_id=gone["id"])
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert messengers.counter.count(path="/webhooks/b") == 1  # no retry after the 410
    assert list(failed.attempts_made.values_list("outcome", "status_code")) == [("failed", 410)]
    assert "410" in failed.last_error
    # NOTIFY_FLAG_AFTER_FAILURES=1 here: the final failure flags the channel; the
    # success of the other channel left it unflagged.
    gone_channel, flaky_channel = (Channel.objects.get(pk=c["id"]) for c in (gone, flaky))
    assert (gone_channel.consecutive_failures, gone_channel.flagged_at is not None) == (1, True)
    assert (flaky_channel.consecutive_failures, flaky_channel.flagged_at) == (0, None)


def test_a_private_webhook_target_is_refused_at_send_time(
    channels_env: dict[str, str],
    coingecko: CoinGeckoSimulator,
    smtp: SmtpServer,
    messengers: MessengersSimulator,
    api: Any,
) -> None:
    # Made while private targets were allowed; the worker runs with them refused.
    local = make_channel(api, "webhook", "local", {"url": f"{messengers.base_url}/webhooks/a"})
    assert "127.0.0.1" in local["config"]["url"]
    make_alert(api, [local["id"]])
    make_alert(api, [], target="90000")

    with running(CeleryWorker(channels_env | {"WEBHOOK_ALLOW_PRIVATE": "false"}, beat=True)):
        _checks(coingecko, 1)
        coingecko.set_price("bitcoin", "usd", "71000")
        wait_until(lambda: Delivery.objects.exists() and settled(), timeout=30, what="refusal")

    refused = Delivery.objects.get()
    assert (refused.state, refused.attempts) == ("failed", 1)
    assert "refused" in refused.last_error
    ((outcome, status),) = refused.attempts_made.values_list("outcome", "status_code")
    assert (outcome, status) == ("failed", None)
    assert messengers.counter.count(path="/webhooks/a") == 0  # nothing sent
    assert smtp.received() == []
