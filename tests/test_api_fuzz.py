"""Schemathesis fuzzes every operation of ``/api/schema`` against the app itself.

The schema is read from the app's own ``/api/schema`` (in-process, over WSGI, so each
request runs in this test's database transaction) and every operation gets a fixed,
derandomized set of generated requests — the schema's examples, its boundary cases and
random valid and invalid data — signed in as a real user with a JWT. That user holds
KuCoin credentials on a KuCoin simulator, alerts in every state and an API key; Alpha
Vantage and CoinGecko are simulators too: no request leaves the machine.

The checks are the contract of API.md: no 5xx (``not_a_server_error``), only statuses the
schema documents (``status_code_conformance``), bodies that match their documented
schema (``response_schema_conformance``), and operations that say they need a token
refuse a request without one or with a forged one (``ignored_auth``). Whatever this finds
is fixed in the code or the schema, never excluded here.

Random ids and coin names rarely hit anything real, so two hooks steer part of the
generated requests onto the seeded objects (the user's own and another user's) and onto
coins CoinGecko knows; the rest stay as generated.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.simulators.alphavantage import AlphaVantageSimulator
from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.conftest import STRONG_PASSWORD
from tests.support.openapi import (
    Operation,
    json_body_operations,
    nest,
    operations,
    query_parameters,
    string_fields,
)

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 30
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, ignored_auth]
ALPHAVANTAGE_KEY = "fuzz-alphavantage-key"
KUCOIN = KucoinCredentials("fuzz-key-0001-abcdef", "fuzz-secret-0001-0123456789", "fuzz-pass")
KNOWN_COINS = ("bitcoin", "ethereum")
KNOWN_CURRENCIES = ("usd", "eur")

# Path parameter -> ids of the seeded rows (this test's), filled by the `seeded` fixture.
SEEDED_IDS: dict[str, list[int]] = {}


@pytest.fixture
def upstream_simulators(settings: Any) -> Iterator[None]:
    """KuCoin, Alpha Vantage and CoinGecko simulators, with the settings pointing at them."""
    with (
        KucoinSimulator() as kucoin,
        AlphaVantageSimulator(api_keys={ALPHAVANTAGE_KEY}) as alphavantage,
        CoinGeckoSimulator() as coingecko,
    ):
        kucoin.add_key(KUCOIN.api_key, KUCOIN.api_secret, KUCOIN.api_passphrase, demo=True)
        settings.KUCOIN_SPOT_URL = settings.KUCOIN_FUTURES_URL = kucoin.url
        settings.KUCOIN_TIMEOUT_SECONDS = settings.KUCOIN_CHECK_TIMEOUT_SECONDS = 2.0
        settings.ALPHAVANTAGE_URL = alphavantage.url
        settings.ALPHAVANTAGE_API_KEY = ALPHAVANTAGE_KEY
        settings.ALPHAVANTAGE_TIMEOUT_SECONDS = 2.0
        # Healthy upstreams with room to spare: a spent quota or an upstream outage is a
        # documented 503/502, tested in tests/quotes and tests/alerts; here any 5xx fails.
        settings.ALPHAVANTAGE_DAILY_QUOTA = 100_000
        settings.COINGECKO_URL = coingecko.url
        settings.COINGECKO_TIMEOUT_SECONDS = 2.0
        yield


@pytest.fixture
def access_token(db: None, upstream_simulators: None) -> str:
    """A real JWT of a user who signed up with KuCoin credentials valid on the simulator."""
    from rest_framework.test import APIClient

    client = APIClient()
    signup = client.post(
        "/api/v1/auth/signup",
        {
            "name": "Fuzz Tester",
            "username": "fuzzer",
            "password": STRONG_PASSWORD,
            "email": "fuzzer@example.com",
            "kucoin": {
                "api_key": KUCOIN.api_key,
                "api_secret": KUCOIN.api_secret,
                "api_passphrase": KUCOIN.api_passphrase,
            },
        },
        format="json",
    )
    assert signup.status_code == 201, signup.content
    assert signup.json()["kucoin"]["status"] == "valid", signup.content
    token = client.post(
        "/api/v1/auth/token", {"username": "fuzzer", "password": STRONG_PASSWORD}, format="json"
    )
    assert token.status_code == 200, token.content
    return str(token.json()["access"])


@pytest.fixture
def seeded(access_token: str, make_user: Any) -> Iterator[None]:
    """Alerts in every state and an API key for the fuzz user, and the same for a stranger."""
    from django.utils import timezone

    from cryptotrack.accounts.api_keys import api_key_create
    from cryptotrack.accounts.models import User
    from cryptotrack.accounts.services import exchange_account_store
    from cryptotrack.alerts.models import Alert

    fuzzer, stranger = User.objects.get(username="fuzzer"), make_user()
    now = timezone.now()
    alerts = [
        Alert.objects.create(
            user=owner,
            coin="bitcoin",
            currency="usd",
            target_price=Decimal("70000"),
            direction=Alert.Direction.ABOVE,
            status=status,
            triggered_at=now if status in {"triggered", "sleeping"} else None,
            triggered_price=Decimal("70100") if status in {"triggered", "sleeping"} else None,
            deleted_at=now if status == "deleted" else None,
        )
        for owner, status in [
            (fuzzer, "active"),
            (fuzzer, "triggered"),
            (fuzzer, "sleeping"),
            (fuzzer, "deleted"),
            (stranger, "active"),
        ]
    ]
    keys = [api_key_create(user=owner, name="seeded").api_key for owner in (fuzzer, stranger)]
    exchange_accounts = [
        *fuzzer.exchange_accounts.all(),
        exchange_account_store(user=stranger, credentials=KUCOIN),
    ]
    SEEDED_IDS.update(
        alert_id=[a.pk for a in alerts],
        key_id=[k.pk for k in keys],
        account_id=[a.pk for a in exchange_accounts],
    )
    yield
    SEEDED_IDS.clear()


@pytest.fixture
def in_process_requests(db: None) -> Iterator[None]:
    """Let the WSGI handler run in this test's transaction, as Django's test client does:
    it must not close the database connection at the start and end of each request."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _load_schema() -> Any:
    """The app's own ``/api/schema``, read in-process over WSGI at collection time.

    Its anonymous throttle is the one thing that would touch storage: a memory cache
    keeps it off the database (which pytest-django keeps closed until a test runs) when
    no Redis is configured.
    """
    from django.test import override_settings

    from cryptotrack.wsgi import application

    memory = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    with override_settings(CACHES={"default": memory, "live": memory}):
        return schemathesis.openapi.from_wsgi("/api/schema", application)


schema = _load_schema()


@schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    """Odd generated ids become one of the seeded rows (own or another user's)."""
    for name, ids in SEEDED_IDS.items():
        value = (path_parameters or {}).get(name)
        if ids and isinstance(value, int) and not isinstance(value, bool) and value % 2:
            path_parameters[name] = ids[(value // 2) % len(ids)]
    return path_parameters


@schema.hook
def map_body(context: Any, body: Any) -> Any:
    """Some alert bodies name a coin and currency CoinGecko knows (chosen by length)."""
    if not (context.operation.path.startswith("/api/v1/alerts") and isinstance(body, dict)):
        return body
    for field, known in (("coin", KNOWN_COINS), ("currency", KNOWN_CURRENCIES)):
        value = body.get(field)
        if isinstance(value, str) and len(value) % 3:
            body[field] = known[len(value) % 3 - 1]
    return body


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(
    case: Any, access_token: str, seeded: None, in_process_requests: None
) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {access_token}"}, checks=CHECKS)


# --- Hostile input, as explicit cases ---------------------------------------------------
# What random generation rarely hits: a body nested 5,000 deep, a lone UTF-16 surrogate
# escape, times that do not exist in UTC (or have no timezone). Each is sent to every
# operation that takes it, as a schemathesis case with the same checks as above, and must
# be a documented 400 {detail, code}. tests/core/test_hostile_input.py checks each field.

DOCUMENT = schema.raw_schema
BODY_OPERATIONS = json_body_operations(DOCUMENT)
EXTREME_TIMES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-01-02T03:04:05"]
TIME_PARAMS = query_parameters(DOCUMENT, kind="date-time")
CURSOR_OPERATIONS = [
    op for op in operations(DOCUMENT) if any(param["name"] == "cursor" for param in op.query)
]


def _surrogate_body(op: Operation) -> str:
    """The operation's first string field holding a lone surrogate, as JSON text."""
    assert op.body is not None
    paths = string_fields(DOCUMENT, op.body) or [("x",)]
    return json.dumps(nest(paths[0], "Ada \ud800"))  # ensure_ascii: sent as "\ud800"


def _documented_400(case: Any, access_token: str, **kwargs: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {access_token}"}
    response = case.call_and_validate(headers=headers, checks=CHECKS, **kwargs)
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("op", BODY_OPERATIONS, ids=[op.id for op in BODY_OPERATIONS])
def test_hostile_bodies_are_documented_400s(
    op: Operation, access_token: str, in_process_requests: None
) -> None:
    operation = schema[op.path][op.method.upper()]
    for raw, code in [
        ("[" * 5000 + "]" * 5000, "too_deep"),
        (_surrogate_body(op), "invalid_unicode"),
    ]:
        case = operation.Case(
            body={}, media_type="application/json", path_parameters=op.path_parameters
        )
        # `data` replaces the case's body on the wire: no JSON encoder makes these.
        assert _documented_400(case, access_token, data=raw.encode())["code"] == code


@pytest.mark.parametrize(("op", "param"), TIME_PARAMS, ids=[f"{o.id} {p}" for o, p in TIME_PARAMS])
def test_query_times_outside_utc_or_without_timezone_are_documented_400s(
    op: Operation, param: str, access_token: str, in_process_requests: None
) -> None:
    for value in EXTREME_TIMES:
        case = schema[op.path][op.method.upper()].Case(query={param: value})
        assert param in _documented_400(case, access_token)["errors"], value


@pytest.mark.parametrize("op", CURSOR_OPERATIONS, ids=[op.id for op in CURSOR_OPERATIONS])
def test_cursors_holding_times_outside_utc_are_documented_400s(
    op: Operation, access_token: str, in_process_requests: None
) -> None:
    for value in EXTREME_TIMES[:2]:
        cursor = base64.urlsafe_b64encode(f"{value}|5".encode()).decode().rstrip("=")
        case = schema[op.path][op.method.upper()].Case(query={"cursor": cursor})
        assert "cursor" in _documented_400(case, access_token)["errors"], value
