"""`/api/v1/channels`: create each kind, secrets never shown nor stored in clear, the
signing secret once, tests sent to the messaging simulator, validation and ownership."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from cryptotrack.notify import webhooks
from cryptotrack.simulators.messengers.simulator import MessengersSimulator
from tests.accounts.test_secrets_at_rest import _dump_every_table, _forms

pytestmark = pytest.mark.django_db(transaction=True)

BOT_TOKEN = "7712345678:AAFcanaryBotTokenForTheSecretsScan1"
NTFY_TOKEN = "tk_canaryntfytoken4417"


@pytest.fixture
def sim(settings: Any) -> Iterator[MessengersSimulator]:
    with MessengersSimulator() as simulator:
        settings.TELEGRAM_API_URL = simulator.base_url
        settings.WEBHOOK_ALLOW_PRIVATE = True
        settings.NOTIFY_TIMEOUT_SECONDS = 2
        yield simulator


def create(client: APIClient, kind: str, name: str, config: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/channels", {"kind": kind, "name": name, "config": config}, format="json"
    )


def every_kind(base: str) -> dict[str, dict[str, Any]]:
    return {
        "webhook": {"url": f"{base}/webhooks/mine"},
        "telegram": {"bot_token": BOT_TOKEN, "chat_id": "42"},
        "discord": {"webhook_url": f"{base}/api/webhooks/1/canaryDiscordToken"},
        "slack": {"webhook_url": f"{base}/services/T1/B1/canarySlackSecret"},
        "ntfy": {"server_url": base, "topic": "alerts", "token": NTFY_TOKEN},
        "email": {},
    }


def test_each_kind_is_created_tested_and_answered_without_its_secret(
    sim: MessengersSimulator, user_client: APIClient, user: Any, mailoutbox: list[Any]
) -> None:
    for kind, config in every_kind(sim.base_url).items():
        created = create(user_client, kind, f"my {kind}", config)
        assert created.status_code == 201, created.content
        body = created.json()
        assert (body["kind"], body["verified"]) == (kind, False)
        test = user_client.post(f"/api/v1/channels/{body['id']}/test")
        assert test.status_code == 200
        assert (test.json()["delivered"], test.json()["channel"]["verified"]) == (True, True), (
            kind,
            test.json(),
        )
    listed = user_client.get("/api/v1/channels").json()
    assert listed["count"] == 6
    text = json.dumps(listed)
    for secret in (BOT_TOKEN, NTFY_TOKEN, "canaryDiscordToken", "canarySlackSecret"):
        assert secret not in text
    by_kind = {c["kind"]: c["config"] for c in listed["results"]}
    assert by_kind["telegram"] == {"chat_id": "42", "bot_token_hint": "…can1"}
    assert by_kind["email"] == {"address": user.email}
    assert {m.service for m in sim.accepted()} == {
        "webhook",
        "telegram",
        "discord",
        "slack",
        "ntfy",
    }
    assert len(mailoutbox) == 1


def test_secrets_are_not_in_the_database_in_any_form(
    sim: MessengersSimulator, user_client: APIClient
) -> None:
    for kind, config in every_kind(sim.base_url).items():
        assert create(user_client, kind, kind, config).status_code == 201
    dump = _dump_every_table()
    for secret in (BOT_TOKEN, NTFY_TOKEN, "canaryDiscordToken", "canarySlackSecret"):
        for form in _forms(secret):
            assert form not in dump, secret


def test_the_signing_secret_is_shown_once_signs_and_rotates_with_a_grace_day(
    sim: MessengersSimulator, user_client: APIClient
) -> None:
    created = create(user_client, "webhook", "hook", {"url": f"{sim.base_url}/webhooks/a"}).json()
    first = created["signing_secret"]
    assert first.startswith("whsec_")
    channel_id = created["id"]
    read = user_client.get(f"/api/v1/channels/{channel_id}").json()
    assert "signing_secret" not in read
    assert first not in json.dumps(read)
    rotated = user_client.post(f"/api/v1/channels/{channel_id}/rotate-secret").json()
    second = rotated["signing_secret"]
    assert second != first
    assert user_client.post(f"/api/v1/channels/{channel_id}/test").json()["delivered"]
    (push,) = sim.accepted("webhook")
    header, raw = push.headers[webhooks.SIGNATURE_HEADER], push.body.encode()
    assert webhooks.verify(header, raw, second)
    assert webhooks.verify(header, raw, first)  # the old secret still signs for a day
    assert json.loads(raw)["type"] == "channel.test"


def test_a_refused_test_reports_why_and_leaves_the_channel_unverified(
    sim: MessengersSimulator, user_client: APIClient
) -> None:
    sim.configure(telegram_bots={BOT_TOKEN: ["42"]})
    created = create(user_client, "telegram", "tg", {"bot_token": BOT_TOKEN, "chat_id": "7"})
    result = user_client.post(f"/api/v1/channels/{created.json()['id']}/test").json()
    assert (result["delivered"], result["outcome"], result["status"], result["error"]) == (
        False,
        "failed",
        400,
        "Bad Request: chat not found",
    )
    assert result["channel"]["verified"] is False


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("webhook", {"url": "ftp://example.com/x"}, "url"),
        ("webhook", {"url": "http://127.0.0.1:8000/x"}, "url"),
        ("webhook", {"url": "http://169.254.169.254/latest"}, "url"),
        ("webhook", {"url": "http://localhost/x"}, "url"),
        ("webhook", {"url": "http://user:pw@example.com/x"}, "url"),
        ("telegram", {"bot_token": "not-a-token", "chat_id": "42"}, "bot_token"),
        ("telegram", {"bot_token": BOT_TOKEN, "chat_id": "4 2"}, "chat_id"),
        ("discord", {"webhook_url": "https://example.com/not/a/hook"}, "webhook_url"),
        ("slack", {"webhook_url": "https://example.com/services/x"}, "webhook_url"),
        ("ntfy", {"topic": "no spaces allowed"}, "topic"),
        ("email", {"address": "nope"}, "address"),
    ],
)
def test_bad_settings_answer_400_on_the_field(
    user_client: APIClient, settings: Any, kind: str, config: dict[str, Any], field: str
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = create(user_client, kind, "x", config)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]["config"]


def test_hostile_json_is_a_400_not_a_500(user_client: APIClient) -> None:
    lone_surrogate = '{"kind": "telegram", "name": "x", "config": {"chat_id": "4\\ud8002"}}'
    deep = '{"kind": "webhook", "name": "x", "config": ' + '{"a": ' * 500 + "1" + "}" * 501
    for body in (lone_surrogate, deep):
        response = user_client.generic(
            "POST", "/api/v1/channels", body, content_type="application/json"
        )
        assert response.status_code == 400, response.content


def test_names_are_unique_per_user_ignoring_case_and_kinds_are_checked(
    user_client: APIClient,
) -> None:
    assert create(user_client, "email", "Phone", {}).status_code == 201
    again = create(user_client, "email", "phone", {})
    assert (again.status_code, list(again.json()["errors"])) == (400, ["name"])
    unknown = create(user_client, "pager", "x", {})
    assert "kind" in unknown.json()["errors"]


def test_another_users_channel_is_404_and_api_keys_only_read(
    sim: MessengersSimulator,
    make_user: Callable[..., Any],
    client_for: Callable[[Any], APIClient],
    user_client: APIClient,
) -> None:
    mine = create(user_client, "email", "mine", {}).json()["id"]
    other = client_for(make_user())
    for method, path in (
        ("get", f"/api/v1/channels/{mine}"),
        ("patch", f"/api/v1/channels/{mine}"),
        ("delete", f"/api/v1/channels/{mine}"),
        ("post", f"/api/v1/channels/{mine}/test"),
    ):
        response = getattr(other, method)(path, {"name": "x"}, format="json")
        assert response.status_code == 404, (method, path)
    assert other.get("/api/v1/channels").json()["count"] == 0
    key = user_client.post("/api/v1/me/api-keys", {"name": "ro"}, format="json").json()["key"]
    reader = APIClient()
    reader.credentials(HTTP_X_API_KEY=key)
    assert reader.get("/api/v1/channels").json()["count"] == 1
    assert reader.post(f"/api/v1/channels/{mine}/test").status_code == 403


def test_patch_renames_keeps_the_secret_and_changes_need_a_new_test(
    sim: MessengersSimulator, user_client: APIClient
) -> None:
    created = create(user_client, "telegram", "tg", {"bot_token": BOT_TOKEN, "chat_id": "42"})
    channel_id = created.json()["id"]
    assert user_client.post(f"/api/v1/channels/{channel_id}/test").json()["delivered"]
    moved = user_client.patch(
        f"/api/v1/channels/{channel_id}",
        {"name": "tg2", "config": {"chat_id": "43"}},
        format="json",
    ).json()
    assert (moved["name"], moved["config"]["chat_id"], moved["verified"]) == ("tg2", "43", False)
    assert user_client.post(f"/api/v1/channels/{channel_id}/test").json()["delivered"]
    last = json.loads(sim.accepted("telegram")[-1].body)
    assert last["chat_id"] == "43"  # the stored token was kept and used
    assert user_client.delete(f"/api/v1/channels/{channel_id}").status_code == 204
    assert user_client.get(f"/api/v1/channels/{channel_id}").status_code == 404
