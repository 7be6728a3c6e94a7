"""Hostile and careless input answers 400 `{detail, code}` on every endpoint, never a 500.

The endpoints, their JSON bodies, string fields, decimals, names and query times are read
from the OpenAPI document the app serves (tests/support/openapi.py), so an endpoint or
field added later is covered without touching this file. tests/test_api_fuzz.py sends the
same hostile cases through schemathesis and checks the answers against the document.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from cryptotrack.accounts.models import ApiKey, User
from tests.support.openapi import (
    FieldPath,
    Operation,
    api_document,
    field_name,
    fields,
    json_body_operations,
    nest,
    query_parameters,
    string_fields,
)

pytestmark = pytest.mark.django_db

DOCUMENT = api_document()
JSON_OPERATIONS = json_body_operations(DOCUMENT)
STRING_FIELDS = [(op, path) for op in JSON_OPERATIONS for path in string_fields(DOCUMENT, op.body)]
DECIMAL_FIELDS = [
    (op, path)
    for op in JSON_OPERATIONS
    for path, schema in fields(DOCUMENT, op.body)
    if schema.get("format") == "decimal"
]
# Fields people read as a name: no control characters (tabs, line breaks, bidi overrides).
NAME_FIELDS = [(op, path) for op, path in STRING_FIELDS if path[-1] in {"name", "label"}]
QUERY_TIMES = query_parameters(DOCUMENT, kind="date-time")
QUERY_INTEGERS = query_parameters(DOCUMENT, kind="integer")

ARABIC_INDIC_123 = "\u0661\u0662\u0663"
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture
def user_client() -> APIClient:
    """A client with a real JWT of a user without a password.

    Overrides conftest's: this module sends a few hundred requests, and an Argon2 hash and
    verify per test (the token endpoint) would make it take minutes on a busy machine.
    """
    user = User.objects.create(username="hostile", name="Hostile Tester")
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def _ids(pairs: list[tuple[Operation, Any]]) -> list[str]:
    return [f"{op.id} {field_name(p) if isinstance(p, tuple) else p}" for op, p in pairs]


def _send(client: APIClient, op: Operation, raw: str | bytes, **extra: Any) -> Any:
    return client.generic(op.method.upper(), op.url, raw, content_type="application/json", **extra)


def _error_shape(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "code"}, body
    assert body["code"] == code, body
    assert body["detail"]
    return body


def _field_errors(response: Any, path: FieldPath) -> Any:
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    for step in path:
        assert str(step) in errors, (path, errors)
        errors = errors[str(step)]
    return errors


def test_the_walk_finds_the_endpoints_it_must_cover() -> None:
    """Guards the walk itself: an empty list would make every test below vacuous."""
    ids = {op.id for op in JSON_OPERATIONS}
    assert {
        "POST /api/v1/auth/signup",
        "POST /api/v1/tracking",
        "PATCH /api/v1/alerts/{alert_id}",
    } <= ids
    assert {field_name(p) for op, p in NAME_FIELDS} >= {"name"}
    assert len(DECIMAL_FIELDS) >= 2
    assert {name for _, name in QUERY_TIMES} == {"since", "until"}


@pytest.mark.parametrize("op", JSON_OPERATIONS, ids=[op.id for op in JSON_OPERATIONS])
def test_a_body_nested_5000_deep_is_400_on_every_json_endpoint(
    user_client: APIClient, op: Operation
) -> None:
    body = _error_shape(_send(user_client, op, DEEP), "too_deep")
    assert str(settings.API_JSON_MAX_DEPTH) in body["detail"]
    wrapped = json.dumps({"x": "y"})[:-1] + ', "z": ' + DEEP + "}"
    _error_shape(_send(user_client, op, wrapped), "too_deep")


@pytest.mark.parametrize(("op", "path"), STRING_FIELDS, ids=_ids(STRING_FIELDS))
def test_a_lone_surrogate_in_any_string_field_is_400(
    user_client: APIClient, op: Operation, path: FieldPath
) -> None:
    raw = json.dumps(nest(path, "Ada \ud800 Lovelace"))  # ensure_ascii: sent as "\ud800"
    assert "\\ud800" in raw
    body = _error_shape(_send(user_client, op, raw), "invalid_unicode")
    assert "surrogate" in body["detail"]


def test_a_lone_surrogate_in_a_key_is_400_and_nothing_is_stored(
    api_client: APIClient,
) -> None:
    raw = '{"name": "Ada", "username": "ada", "password": "correct-horse-battery-42", "\\udfff": 1}'
    _error_shape(
        api_client.post("/api/v1/auth/signup", raw, content_type="application/json"),
        "invalid_unicode",
    )
    assert not User.objects.exists()


def test_nesting_up_to_the_limit_parses_and_one_more_level_does_not(
    user_client: APIClient, settings: Any
) -> None:
    settings.API_JSON_MAX_DEPTH = 4
    # {"name": [[["x"]]]}: the object and three arrays are four levels.
    within = user_client.post("/api/v1/me/api-keys", {"name": [[["x"]]]}, format="json")
    assert within.status_code == 400
    assert "name" in within.json()["errors"]  # parsed, then refused by the field
    deeper = user_client.post("/api/v1/me/api-keys", {"name": [[[["x"]]]]}, format="json")
    _error_shape(deeper, "too_deep")


def test_a_body_over_the_size_limit_is_400(user_client: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    small = user_client.post("/api/v1/me/api-keys", {"name": "x" * 50}, format="json")
    assert small.status_code == 201
    big = user_client.post("/api/v1/me/api-keys", {"name": "x" * 2000}, format="json")
    _error_shape(big, "too_large")
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"name": NaN}', "application/json"),
        (b'{"name": "x"', "application/json"),
        (b'{"name": "\xed\xa0\x80"}', "application/json"),  # a surrogate in raw bytes
    ],
    ids=["NaN", "truncated", "invalid-utf8"],
)
def test_malformed_json_is_a_400_parse_error(
    user_client: APIClient, raw: bytes, content_type: str
) -> None:
    response = user_client.post("/api/v1/me/api-keys", raw, content_type=content_type)
    _error_shape(response, "parse_error")


@pytest.mark.parametrize(("op", "path"), DECIMAL_FIELDS, ids=_ids(DECIMAL_FIELDS))
@pytest.mark.parametrize("digits", [ARABIC_INDIC_123, "\uff11\uff12\uff13", "12\u0663.5"])
def test_decimals_in_non_ascii_digits_are_400(
    user_client: APIClient, op: Operation, path: FieldPath, digits: str
) -> None:
    response = _send(user_client, op, json.dumps(nest(path, digits)))
    assert "ASCII digits" in str(_field_errors(response, path))


@pytest.mark.parametrize(("op", "path"), NAME_FIELDS, ids=_ids(NAME_FIELDS))
@pytest.mark.parametrize(
    "name",
    ["Ada\nLovelace", "Ada\tLovelace", "Ada\x07", "Ada\x00", "evil\u202egpj.exe", "a\x85b"],
    ids=["newline", "tab", "bell", "nul", "rtl-override", "c1-next-line"],
)
def test_names_with_control_characters_are_400(
    user_client: APIClient, op: Operation, path: FieldPath, name: str
) -> None:
    response = _send(user_client, op, json.dumps(nest(path, name)))
    assert _field_errors(response, path)


def test_names_in_any_script_and_with_joiners_are_fine(user_client: APIClient) -> None:
    for name in ["José's key ☕", "کلید\u200cمن", "👩\u200d💻 laptop"]:  # ZWNJ, ZWJ
        response = user_client.post("/api/v1/me/api-keys", {"name": name}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["name"] == name


@pytest.mark.parametrize(("op", "param"), QUERY_TIMES, ids=_ids(QUERY_TIMES))
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-01-02T03:04:05", "timezone"),
        ("2026-01-02 03:04:05", "timezone"),
        ("9999-12-31T23:59:59-14:00", "out of range"),
        ("0001-01-01T00:00:00+14:00", "out of range"),
        ("\u0662\u0660\u0662\u0666-01-02T03:04:05Z", "ASCII digits"),
    ],
    ids=["naive", "naive-space", "after-year-9999-in-utc", "before-year-1-in-utc", "arabic-digits"],
)
def test_query_times_must_be_aware_ascii_and_exist_in_utc(
    user_client: APIClient, op: Operation, param: str, value: str, says: str
) -> None:
    response = user_client.get(op.url, {param: value})
    assert says in str(_field_errors(response, (param,)))


@pytest.mark.parametrize(("op", "param"), QUERY_INTEGERS, ids=_ids(QUERY_INTEGERS))
def test_query_integers_in_non_ascii_digits_are_400(
    user_client: APIClient, op: Operation, param: str
) -> None:
    response = user_client.generic(op.method.upper(), op.url + f"?{param}=\u0661")
    assert "ASCII digits" in str(_field_errors(response, (param,)))


@pytest.mark.parametrize(
    "raw",
    [
        "9999-12-31T23:59:59-14:00|5",
        "0001-01-01T00:00:00+14:00|5",
        "\u0662\u0660\u0662\u0666-01-02T03:04:05+00:00|5",
    ],
)
def test_a_cursor_holding_a_time_outside_utc_is_400(user_client: APIClient, raw: str) -> None:
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    response = user_client.get("/api/v1/quotes", {"cursor": cursor})
    assert _field_errors(response, ("cursor",)) == ["Not a cursor given by this API."]
