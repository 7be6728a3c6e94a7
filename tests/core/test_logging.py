"""The redaction filter and the JSON formatter, through real logging handlers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

import pytest

from cryptotrack.core.logging import REDACTED, JsonFormatter, RedactSecretsFilter, redact

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
