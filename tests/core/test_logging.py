"""The redaction filter and the JSON formatter, through real logging handlers."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from cryptotrack.core.logging import (
    REDACTED,
    ContextIdsFilter,
    JsonFormatter,
    RedactSecretsFilter,
    redact,
    request_id_var,
    task_id_var,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiMSJ9.c2lnbmF0dXJlLXNlY3JldA"
API_KEY = "ctk_0a1b2c3d4e5f_Zm9vYmFyLXNlY3JldC1rZXktMTIz"


@pytest.mark.parametrize(
    "text",
    [
        f"GET /healthz?token={JWT}&x=1",
        f"Authorization: Bearer {JWT}",
        f"refresh rejected: {JWT}",
        f"X-API-Key {API_KEY} is revoked",
        '{"api_secret": "canary-secret", "api_passphrase": "canary-pass"}',
        "https://av.example/query?function=X&apikey=canary-secret",
        "password=canary-secret",
    ],
)
def test_redact_hides_secrets_in_any_shape(text: str) -> None:
    redacted = redact(text)
    for secret in (JWT, API_KEY, "canary-secret", "canary-pass"):
        assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("POST http://1.2.3.4/bot7712345:AAFcanaryToken_x/sendMessage 500", "AAFcanaryToken_x"),
        ("POST https://discord.com/api/webhooks/123/canaryDiscord-tok", "canaryDiscord-tok"),
        ("POST https://hooks.slack.com/services/T1/B2/canarySlackSecret", "canarySlackSecret"),
        ("signing with whsec_canarySigning", "whsec_canarySigning"),
        ("ntfy refused tk_canaryntfy4417", "tk_canaryntfy4417"),
    ],
)
def test_redact_hides_channel_credentials(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert REDACTED in redact(text)


def test_redact_keeps_harmless_text() -> None:
    text = "polled 12 subscription(s) in 40 ms: 0 failed"
    assert redact(text) == text


def _logger(formatter: logging.Formatter) -> tuple[logging.Logger, Callable[[], str]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger(f"test-redaction-{id(stream)}")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.DEBUG
    return logger, stream.getvalue


@pytest.mark.parametrize(
    "formatter",
    [logging.Formatter("%(levelname)s %(name)s: %(message)s"), JsonFormatter()],
    ids=["text", "json"],
)
def test_a_secret_in_an_exception_is_redacted_by_either_formatter(
    formatter: logging.Formatter,
) -> None:
    logger, output = _logger(formatter)
    try:
        raise ValueError(f"bad answer from https://av.example/query?apikey=canary-secret {JWT}")
    except ValueError:
        logger.exception("call for user %s failed with token=%s", 7, "canary-token")

    text = output()
    assert "canary-secret" not in text
    assert "canary-token" not in text
    assert JWT not in text
    assert "ValueError" in text
    assert "user 7" in text


def test_json_formatter_writes_one_object_per_line() -> None:
    logger, output = _logger(JsonFormatter())
    logger.info("first %s", "line")
    logger.warning("second")

    records = [json.loads(line) for line in output().splitlines()]
    assert [r["message"] for r in records] == ["first line", "second"]
    assert {"time", "level", "logger", "message"} <= set(records[0])


# -- request and task ids ------------------------------------------------------------------

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.django_db
def test_a_safe_incoming_request_id_is_kept_and_echoed() -> None:
    response = APIClient().get("/healthz", HTTP_X_REQUEST_ID="trace-7f3a.01:b_c")
    assert response["X-Request-ID"] == "trace-7f3a.01:b_c"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    [None, "", "has space", "x" * 65, "-leading-dash", "id\r\nX-Injected: 1", "é-unicode"],
    ids=["absent", "empty", "space", "too-long", "dash", "crlf", "unicode"],
)
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(incoming: str | None) -> None:
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}
    first = APIClient().get("/healthz", **headers)["X-Request-ID"]
    second = APIClient().get("/healthz", **headers)["X-Request-ID"]
    assert HEX_ID.fullmatch(first)
    assert first != second


@pytest.mark.django_db
def test_lines_logged_for_a_request_carry_its_id_and_no_later_line_does() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextIdsFilter())
    request_logger = logging.getLogger("django.request")
    request_logger.addHandler(handler)
    try:
        response = APIClient().get("/no/such/path", HTTP_X_REQUEST_ID="trace-404")
        logging.getLogger("django.request").warning("after the request")
    finally:
        request_logger.removeHandler(handler)

    assert response.status_code == 404
    during, after = [json.loads(line) for line in stream.getvalue().splitlines()]
    # Django logs a 4xx after the middleware returned: the id is still bound then.
    assert (during["message"], during["request_id"]) == ("Not Found: /no/such/path", "trace-404")
    assert "request_id" not in after


def test_text_lines_name_the_request_and_the_task() -> None:
    logger, output = _logger(
        logging.Formatter("%(levelname)s %(name)s%(context_ids)s: %(message)s")
    )
    logger.handlers[0].filters.insert(0, ContextIdsFilter())
    logger.info("outside")
    request_token = request_id_var.set("trace-1")
    task_token = task_id_var.set("c0ffee")
    try:
        logger.info("inside")
    finally:
        task_id_var.reset(task_token)
        request_id_var.reset(request_token)

    outside, inside = output().splitlines()
    assert outside.endswith(": outside")
    assert "[" not in outside
    assert inside.endswith(" [request=trace-1 task=c0ffee]: inside")
