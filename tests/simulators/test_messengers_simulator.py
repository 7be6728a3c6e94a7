"""The messaging simulator answers as the real services do: held to the recorded answers
in tests/fixtures/upstream/ (statuses, bodies, content types), over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cryptotrack.simulators.messengers.simulator import MessengersControl, MessengersSimulator
from tests.fixtures import UPSTREAM_SAMPLES

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def sample(name: str) -> Any:
    return json.loads((UPSTREAM_SAMPLES / f"{name}.json").read_text())


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what a client's parser depends on."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value).__name__


@pytest.fixture
def sim() -> Iterator[MessengersSimulator]:
    with MessengersSimulator() as simulator:
        yield simulator


def post(sim: MessengersSimulator, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(sim.base_url + path, timeout=5, **kwargs)


def test_telegram_send_message_answers_a_message_like_the_bot_api(sim: MessengersSimulator) -> None:
    answer = post(sim, f"/bot{TOKEN}/sendMessage", json={"chat_id": 123456789, "text": "hi"})
    assert answer.status_code == 200
    body = answer.json()
    recorded = sample("telegram_send_message")
    assert body["ok"] is True
    assert set(body["result"]) == set(recorded["result"])
    assert shape(body["result"]["from"]) == shape(recorded["result"]["from"])
    assert (body["result"]["chat"]["id"], body["result"]["text"]) == (123456789, "hi")
    # The Bot API takes form fields too.
    form = post(sim, f"/bot{TOKEN}/sendMessage", data={"chat_id": "5", "text": "form"})
    assert form.json()["result"]["text"] == "form"


def test_telegram_refusals_are_the_recorded_ones(sim: MessengersSimulator) -> None:
    sim.configure(telegram_bots={TOKEN: ["42"]})
    unknown = post(sim, "/bot999:nope/sendMessage", json={"chat_id": 42, "text": "x"})
    assert (unknown.status_code, unknown.json()) == (401, sample("telegram_error_unauthorized"))
    lost = post(sim, f"/bot{TOKEN}/sendMessage", json={"chat_id": 7, "text": "x"})
    assert (lost.status_code, lost.json()) == (400, sample("telegram_error_chat_not_found"))
    empty = post(sim, f"/bot{TOKEN}/sendMessage", json={"chat_id": 42, "text": " "})
    assert empty.json()["description"] == "Bad Request: message text is empty"
    long = post(sim, f"/bot{TOKEN}/sendMessage", json={"chat_id": 42, "text": "x" * 4097})
    assert long.json()["description"] == "Bad Request: message is too long"


def test_discord_webhook_answers_204_and_unknown_webhook(sim: MessengersSimulator) -> None:
    ok = post(sim, "/api/webhooks/1/abc", json={"content": "hello"})
    assert (ok.status_code, ok.content) == (204, b"")
    waited = post(sim, "/api/webhooks/1/abc?wait=true", json={"content": "hello"})
    assert waited.status_code == 200
    assert waited.json()["content"] == "hello"
    sim.configure(discord_webhooks=["1/abc"])
    gone = post(sim, "/api/webhooks/2/zzz", json={"content": "hello"})
    assert (gone.status_code, gone.json()) == (404, sample("discord_error_unknown_webhook"))
    assert post(sim, "/api/webhooks/1/abc", json={}).json()["code"] == 50006
    too_long = post(sim, "/api/webhooks/1/abc", json={"content": "x" * 2001})
    assert (too_long.status_code, too_long.json()["code"]) == (400, 50035)


def test_slack_webhook_answers_bare_words(sim: MessengersSimulator) -> None:
    answers = sample("slack_webhook_answers")
    ok = post(sim, "/services/T1/B1/X1", json={"text": "hello"})
    assert (ok.status_code, ok.text, ok.headers["content-type"].split(";")[0]) == (
        answers["ok"],
        "ok",
        "text/html",
    )
    no_text = post(sim, "/services/T1/B1/X1", json={"username": "x"})
    assert (no_text.status_code, no_text.text) == (answers["no_text"], "no_text")
    bad = post(sim, "/services/T1/B1/X1", content=b"{not json")
    assert (bad.status_code, bad.text) == (answers["invalid_payload"], "invalid_payload")
    sim.configure(slack_hooks=["T1/B1/X1"])
    gone = post(sim, "/services/T9/B9/X9", json={"text": "hello"})
    assert (gone.status_code, gone.text) == (answers["no_service"], "no_service")


def test_ntfy_publish_answers_the_message_and_guards_protected_topics(
    sim: MessengersSimulator,
) -> None:
    plain = post(sim, "/alerts", content=b"hello", headers={"Title": "t"})
    assert plain.status_code == 200
    assert shape(plain.json()) == shape(sample("ntfy_publish")) | {"title": "str"}
    as_json = post(sim, "/", json={"topic": "alerts", "message": "héllo", "title": "T"})
    assert (as_json.json()["topic"], as_json.json()["message"]) == ("alerts", "héllo")
    sim.configure(ntfy_tokens={"private": "tk_secret"})
    anonymous = post(sim, "/private", content=b"x")
    assert (anonymous.status_code, anonymous.json()) == (401, sample("ntfy_error_unauthorized"))
    wrong = post(sim, "/private", content=b"x", headers={"Authorization": "Bearer tk_other"})
    assert (wrong.status_code, wrong.json()["code"]) == (403, 40301)
    right = post(sim, "/private", content=b"x", headers={"Authorization": "Bearer tk_secret"})
    assert right.status_code == 200


def test_everything_received_can_be_read_back_over_the_control_api(
    sim: MessengersSimulator,
) -> None:
    post(sim, "/webhooks/mine", content=b'{"a":1}', headers={"X-Cryptotrack-Delivery": "d-1"})
    post(sim, "/api/webhooks/1/abc", json={"content": "hello"})
    control = MessengersControl(sim.base_url)
    (hook,) = control.messages("webhook")
    assert (hook["body"], hook["headers"]["X-Cryptotrack-Delivery"], hook["status"]) == (
        '{"a":1}',
        "d-1",
        200,
    )
    assert [m["service"] for m in control.messages()] == ["webhook", "discord"]
    control.reset()
    assert control.messages() == []
