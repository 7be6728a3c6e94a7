"""The channels pages: each kind's settings validated as the API validates them, the
webhook's signing secret shown once, a test send through the API's service with its
outcome shown, the delivery log; only the owner reaches a channel; CSRF; hostile input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cryptotrack.alerts.models import AlertNotification
from cryptotrack.notify import webhooks
from cryptotrack.notify.models import Channel, Delivery, DeliveryAttempt
from cryptotrack.simulators.messengers.simulator import MessengersSimulator
from cryptotrack.web.forms import FormErrors
from cryptotrack.web.views.support import PER_PAGE
from tests.alerts.conftest import make_alert
from tests.notify.test_channels_api import sim
from tests.web.test_alerts_pages import browser_for, post

__all__ = ["make_alert", "sim"]  # fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user: Any) -> Client:
    return browser_for(user)


def add(browser: Client, kind: str, name: str, config: dict[str, str], **extra: Any) -> Any:
    fields = {f"{kind}-{key}": value for key, value in config.items()}
    return post(browser, "/channels/new", {"kind": kind, "name": name, **fields}, **extra)


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("webhook", {"url": "ftp://example.com/x"}),
        ("webhook", {"url": "http://127.0.0.1:8000/x"}),
        ("webhook", {"url": "http://user:pw@example.com/x"}),
        ("webhook", {}),
        ("telegram", {"bot_token": "nope", "chat_id": "42"}),
        ("telegram", {"bot_token": "7712345678:AAFcanaryBotTokenForTheSecretsScan1"}),
        ("discord", {"webhook_url": "https://example.com/not/a/hook"}),
        ("slack", {"webhook_url": "https://example.com/services/x"}),
        ("ntfy", {"topic": "has spaces"}),
        ("email", {"address": "not an address"}),
    ],
)
def test_settings_messages_are_the_apis_next_to_the_input(
    browser: Client, user_client: APIClient, kind: str, config: dict[str, str]
) -> None:
    page = add(browser, kind, "mine", config)

    assert page.status_code == 400
    shown = page.context["form"]["errors"].by_field
    api = user_client.post(
        "/api/v1/channels", {"kind": kind, "name": "mine", "config": config}, format="json"
    )
    assert api.status_code == 400
    expected = FormErrors.of_serializer(api.json()["errors"]).by_field
    assert shown == {f"{kind}-{k.removeprefix('config.')}": v for k, v in expected.items()}
    html = page.content.decode()
    for name in shown:
        assert f'id="{name}-errors"' in html
        described = rf'id="{name}"[^>]*aria-describedby="[^"]*\b{name}-errors"[^>]*aria-invalid'
        assert re.search(described, html), html
    assert not Channel.objects.exists()


def test_a_webhooks_signing_secret_is_shown_once_and_a_test_is_signed_with_it(
    sim: MessengersSimulator, browser: Client, user: Any
) -> None:
    created = add(browser, "webhook", "hook", {"url": f"{sim.base_url}/webhooks/a"})

    assert created.status_code == 200
    secret = created.context["signing_secret"]
    assert secret.startswith("whsec_")
    assert f'<p class="secret-once" id="signing-secret">{secret}</p>' in created.content.decode()
    channel = Channel.objects.get(user=user)
    for path in ["/channels", f"/channels/{channel.pk}", "/channels/deliveries", "/alerts"]:
        assert secret not in browser.get(path).content.decode(), path

    tested = post(browser, f"/channels/{channel.pk}/test")
    assert tested["Location"] == f"/channels/{channel.pk}"
    assert "Test delivered (HTTP 200)." in browser.get(tested["Location"]).content.decode()
    (push,) = sim.accepted("webhook")
    assert webhooks.verify(push.headers[webhooks.SIGNATURE_HEADER], push.body.encode(), secret)
    assert json.loads(push.body)["type"] == "channel.test"
    channel.refresh_from_db()
    assert channel.verified_at is not None


def test_rotating_the_secret_shows_the_new_one_once_and_the_old_keeps_signing_a_day(
    sim: MessengersSimulator, browser: Client, user: Any
) -> None:
    first = add(browser, "webhook", "hook", {"url": f"{sim.base_url}/webhooks/a"})
    old = first.context["signing_secret"]
    channel = Channel.objects.get(user=user)
    form = browser.get(f"/channels/{channel.pk}")
    submission = form.context["submission_id"]

    rotated = post(browser, f"/channels/{channel.pk}/rotate-secret", {"submission": submission})
    again = post(browser, f"/channels/{channel.pk}/rotate-secret", {"submission": submission})

    new = rotated.context["signing_secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert f'<p class="secret-once" id="signing-secret">{new}</p>' in rotated.content.decode()
    assert again.status_code == 302  # a re-sent form rotates nothing
    followed = browser.get(again["Location"]).content.decode()
    assert "already sent" in followed
    assert new not in followed
    post(browser, f"/channels/{channel.pk}/test")
    (push,) = sim.accepted("webhook")
    signature = push.headers[webhooks.SIGNATURE_HEADER]
    assert webhooks.verify(signature, push.body.encode(), new)
    assert webhooks.verify(signature, push.body.encode(), old)  # for the day of grace


def test_only_a_webhook_has_a_secret_to_rotate(browser: Client, user: Any) -> None:
    add(browser, "email", "mail", {})
    channel = Channel.objects.get(user=user)

    refused = post(browser, f"/channels/{channel.pk}/rotate-secret", {})

    assert refused.status_code == 302
    assert (
        "Only webhook channels have a signing secret."
        in browser.get(refused["Location"]).content.decode()
    )


def test_a_refused_test_says_why_in_place_for_htmx(
    sim: MessengersSimulator, browser: Client
) -> None:
    token = "7712345678:AAFcanaryBotTokenForTheSecretsScan1"
    sim.configure(telegram_bots={token: ["42"]})
    add(browser, "telegram", "tg", {"bot_token": token, "chat_id": "7"})
    channel = Channel.objects.get()

    result = post(browser, f"/channels/{channel.pk}/test", HTTP_HX_REQUEST="true")

    html = result.content.decode()
    assert result.status_code == 200
    assert "Test not delivered (HTTP 400): Bad Request: chat not found." in html
    assert "<html" not in html
    assert token not in browser.get("/channels").content.decode()


def test_delete_asks_first(browser: Client, user: Any) -> None:
    channel = Channel.objects.create(user=user, kind="email", name="inbox", config={})

    confirm = browser.get(f"/channels/{channel.pk}/delete")
    assert "Delete channel “inbox”?" in confirm.content.decode()
    assert Channel.objects.filter(pk=channel.pk).exists()
    done = post(browser, f"/channels/{channel.pk}/delete")

    assert done["Location"] == "/channels"
    assert not Channel.objects.filter(pk=channel.pk).exists()


def test_the_delivery_log_lists_each_attempt_per_channel_and_pages(
    browser: Client, user: Any, make_alert: Callable[..., Any]
) -> None:
    inbox = Channel.objects.create(user=user, kind="email", name="inbox", config={})
    other = Channel.objects.create(user=user, kind="email", name="other", config={})
    alert = make_alert(user=user)
    at = "2026-12-01T10:00:00Z"
    notification = AlertNotification.objects.create(
        alert=alert,
        coin="bitcoin",
        currency="usd",
        direction="above",
        target_price="1",
        triggered_price="2",
        triggered_at=at,
        due_at=at,
    )
    for n in range(PER_PAGE + 1):
        delivery = Delivery.objects.create(
            channel=inbox, notification=notification, due_at=at, state="failed"
        )
        DeliveryAttempt.objects.create(
            delivery=delivery, at=at, outcome="failed", status_code=410, error=f"gone {n}"
        )
    Delivery.objects.create(channel=other, notification=notification, due_at=at)

    first = browser.get(f"/channels/deliveries?channel={inbox.pk}").content.decode()
    second = browser.get(f"/channels/deliveries?channel={inbox.pk}&page=2").content.decode()
    per_channel = browser.get(f"/channels/{inbox.pk}?page=2").content.decode()

    assert first.count("failed (410): gone") == PER_PAGE
    assert second.count("failed (410): gone") == 1
    assert f"?channel={inbox.pk}&amp;page=2" in first
    assert per_channel.count("failed (410): gone") == 1
    assert f'href="/alerts/price/{alert.pk}"' in first
    assert "none yet" not in first
    assert "none yet" in browser.get("/channels/deliveries").content.decode()


def test_the_delivery_log_filters_as_the_api_does(browser: Client) -> None:
    bad = browser.get("/channels/deliveries?status=lost")
    assert bad.status_code == 400
    assert bad.context["errors"].by_field.keys() == {"status"}
    assert 'aria-invalid="true"' in bad.content.decode()
    half = browser.get("/channels/deliveries?alert=3")
    assert half.context["errors"].by_field == {
        "alert_type": ["Give alert_type (price or position) with alert."]
    }


def test_another_users_channel_is_not_found(make_user: Callable[..., Any], browser: Client) -> None:
    theirs = Channel.objects.create(user=make_user(), kind="email", name="x", config={})

    assert browser.get(f"/channels/{theirs.pk}").status_code == 404
    assert browser.get(f"/channels/{theirs.pk}/delete").status_code == 404
    assert post(browser, f"/channels/{theirs.pk}/delete").status_code == 404
    assert post(browser, f"/channels/{theirs.pk}/test").status_code == 404
    assert Channel.objects.filter(pk=theirs.pk).exists()


def test_changes_need_the_csrf_token(browser: Client, user: Any) -> None:
    channel = Channel.objects.create(user=user, kind="email", name="inbox", config={})

    assert browser.post("/channels/new", {"kind": "email", "name": "b"}).status_code == 403
    assert browser.post(f"/channels/{channel.pk}/test").status_code == 403
    assert browser.post(f"/channels/{channel.pk}/delete").status_code == 403
    assert Channel.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "webhook", "name": "n" * 5000, "webhook-url": "https://example.com/x"},
        {"kind": "webhook", "name": "a\u202eb", "webhook-url": "https://example.com/x"},
        {"kind": "webhook", "name": "x", "webhook-url": "https://" + "a" * 5000 + ".com/"},
        {"kind": "webhook", "name": "x", "webhook-url": "https://exa\x00mple.com/"},
        {"kind": "volcano", "name": "x"},
        {"kind": "ntfy", "name": "x", "ntfy-topic": "t" * 100_000},
        {"kind": "telegram", "name": "x", "telegram-chat_id": "9" * 400, "telegram-bot_token": ""},
    ],
)
def test_hostile_input_is_an_inline_error_not_a_500(
    browser: Client, fields: dict[str, str]
) -> None:
    page = post(browser, "/channels/new", fields)

    assert page.status_code == 400
    assert page.context["form"]["errors"]
    assert not Channel.objects.exists()


def test_test_sends_count_against_the_apis_user_throttle(
    sim: MessengersSimulator, browser: Client, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "user": "2/min",
        },
    }
    add(browser, "webhook", "hook", {"url": f"{sim.base_url}/webhooks/a"})
    channel = Channel.objects.get()
    for _ in range(2):
        post(browser, f"/channels/{channel.pk}/test")

    refused = post(browser, f"/channels/{channel.pk}/test")
    in_place = post(browser, f"/channels/{channel.pk}/test", HTTP_HX_REQUEST="true")

    assert int(refused["Retry-After"]) > 0
    assert "Too many requests; try again in" in browser.get(refused["Location"]).content.decode()
    assert "Too many requests; try again in" in in_place.content.decode()
    assert len(sim.accepted("webhook")) == 2
