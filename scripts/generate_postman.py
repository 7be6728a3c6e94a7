#!/usr/bin/env python
"""Generate the Postman collection and environment from cryptotrack's OpenAPI schema.

    .venv/bin/python scripts/generate_postman.py            # (re)write docs/postman/*.json
    .venv/bin/python scripts/generate_postman.py --check    # exit 1 if they are stale

The collection walks a new user through the API — sign up, sign in, account, API key,
tracking, positions, quotes, alerts, position alerts, channels, clean-up — one request
per step of ``WALKTHROUGH`` below. What the schema says wins over what this file says:
each step names an ``operationId``, and its method and path, the documented success
status it expects, the body fields it may send and the response fields its test script
checks all come from the schema, so a renamed path or field changes the collection (or
stops this script with an error) instead of leaving a stale request behind.
``tests/test_postman_collection.py`` fails when the committed files differ from a fresh
generation.

Every request's test script asserts its status code and the documented required fields,
and saves what later steps need (tokens, the API key, the alert id) into the environment.
Run it with Postman's runner, or newman:

    newman run docs/postman/cryptotrack.postman_collection.json \\
        -e docs/postman/cryptotrack.postman_environment.json --env-var baseUrl=http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "docs" / "postman"
COLLECTION_FILE = "cryptotrack.postman_collection.json"
ENVIRONMENT_FILE = "cryptotrack.postman_environment.json"
POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
# Stable ids, so that generating twice gives the same bytes.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "cryptotrack/postman")

JSON = dict[str, Any]
JSON_MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class Step:
    """One request of the walkthrough.

    ``operation``: the schema's operationId. ``status``: the success status expected (it
    must be documented). ``body``/``query``/``path``: what to send (``{{var}}`` allowed).
    ``auth``: ``schema`` (Bearer when the operation requires authentication, none
    otherwise) or ``api_key`` (the personal key in ``X-API-Key``). ``save``: environment
    variable -> JavaScript expression on the parsed ``body``. ``checks``: more assertions.
    ``media_type``: what the answer must be (documented for ``status``); not JSON: the
    checks see the body as ``text``.
    """

    name: str
    operation: str
    status: int
    body: JSON | None = None
    query: dict[str, str] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    auth: str = "schema"
    save: dict[str, str] = field(default_factory=dict)
    checks: tuple[str, ...] = ()
    prerequest: tuple[str, ...] = ()
    description: str = ""
    media_type: str = "application/json"


KUCOIN = {
    "api_key": "{{kucoinApiKey}}",
    "api_secret": "{{kucoinApiSecret}}",
    "api_passphrase": "{{kucoinApiPassphrase}}",
}

WALKTHROUGH: list[tuple[str, list[Step]]] = [
    (
        "1. Health",
        [
            Step("Liveness", "healthz", 200, checks=('pm.expect(body.status).to.eql("ok");',)),
            Step(
                "Readiness (database, cache, broker)",
                "readyz",
                200,
                checks=('pm.expect(body.checks.database).to.eql("ok");',),
            ),
        ],
    ),
    (
        "2. Sign up and sign in",
        [
            Step(
                "Sign up with KuCoin credentials",
                "auth_signup",
                201,
                body={
                    "name": "Postman Walkthrough",
                    "username": "{{username}}",
                    "password": "{{password}}",
                    "email": "{{email}}",
                    "kucoin": KUCOIN,
                },
                prerequest=(
                    "// A new account on every run: usernamePrefix + the time (emails are",
                    "// unique too, so the email follows the username).",
                    'const prefix = pm.environment.get("usernamePrefix") || "postman";',
                    'const username = prefix + "-" + Date.now();',
                    'pm.environment.set("username", username);',
                    'pm.environment.set("email", username + "@example.com");',
                ),
                checks=(
                    'pm.expect(body.username).to.eql(pm.environment.get("username"));',
                    "// Secrets are stored encrypted and never echoed back.",
                    "const text = pm.response.text();",
                    'pm.expect(text).to.not.include(pm.environment.get("kucoinApiSecret"));',
                    'pm.expect(text).to.not.include(pm.environment.get("kucoinApiPassphrase"));',
                ),
                description="Well-formed KuCoin credentials are stored even when KuCoin "
                "rejects them; `kucoin.status` tells how the check went.",
            ),
            Step(
                "Sign in (JWT pair)",
                "auth_token",
                200,
                body={"username": "{{username}}", "password": "{{password}}"},
                save={"accessToken": "body.access", "refreshToken": "body.refresh"},
            ),
            Step(
                "Sign in with email instead (JWT pair)",
                "auth_token",
                200,
                body={"email": "{{email}}", "password": "{{password}}"},
                save={"accessToken": "body.access", "refreshToken": "body.refresh"},
                description="`username` or `email` (any case), not both; both count "
                "towards the same lockout.",
            ),
            Step(
                "Refresh the access token (rotates the refresh token)",
                "auth_token_refresh",
                200,
                body={"refresh": "{{refreshToken}}"},
                checks=('pm.expect(body.refresh).to.not.eql(pm.environment.get("refreshToken"));',),
                save={"accessToken": "body.access", "refreshToken": "body.refresh"},
            ),
        ],
    ),
    (
        "3. Account",
        [
            Step(
                "Who am I",
                "me",
                200,
                checks=('pm.expect(body.username).to.eql(pm.environment.get("username"));',),
            ),
            Step(
                "Create a personal API key (shown once)",
                "me_api_keys_create",
                201,
                body={"name": "postman"},
                save={"apiKey": "body.key", "apiKeyId": "body.id"},
            ),
            Step("List my API keys", "me_api_keys_list", 200),
            Step(
                "Replace my KuCoin credentials",
                "me_kucoin_replace",
                200,
                body=KUCOIN,
                checks=('pm.expect(body.label).to.eql("default");',),
            ),
            Step(
                "My exchange accounts (signup's is labelled default)",
                "exchange_accounts_list",
                200,
                checks=('pm.expect(body.results[0].label).to.eql("default");',),
            ),
            Step(
                "Add a second exchange account (checked with KuCoin first)",
                "exchange_accounts_create",
                201,
                body={"label": "Sub 1", **KUCOIN},
                save={"subAccountId": "body.id"},
                checks=(
                    "const text = pm.response.text();",
                    'pm.expect(text).to.not.include(pm.environment.get("kucoinApiSecret"));',
                ),
                description="A key KuCoin rejects answers 400 with the reason; labels are "
                "unique per user, ignoring case.",
            ),
            Step(
                "One exchange account",
                "exchange_accounts_retrieve",
                200,
                path={"account_id": "{{subAccountId}}"},
                checks=('pm.expect(body.label).to.eql("Sub 1");',),
            ),
            Step(
                "Rename it",
                "exchange_accounts_update",
                200,
                path={"account_id": "{{subAccountId}}"},
                body={"label": "Hedges"},
                checks=('pm.expect(body.label).to.eql("Hedges");',),
            ),
            Step(
                "My audit log (with the read-only API key)",
                "me_audit_list",
                200,
                auth="api_key",
                checks=(
                    "const kinds = body.results.map((event) => event.kind);",
                    'pm.expect(kinds).to.include("exchange_account_updated");',
                    'pm.expect(kinds).to.include("api_key_created");',
                    "// Never a secret, only the key's hint.",
                    'pm.expect(pm.response.text()).to.not.include(pm.environment.get("kucoinApiSecret"));',
                ),
                description="Sign-ins, signup, key and password changes, tracking started, "
                "stopped or paused, with time, IP and user agent; `?kind=` filters.",
            ),
        ],
    ),
    (
        "4. Tracking, positions and balances",
        [
            Step(
                "Track every symbol of my KuCoin account",
                "tracking_start",
                201,
                body={},
                checks=('pm.expect(body.state).to.eql("active");',),
            ),
            Step(
                "Tracking status",
                "tracking_status",
                200,
                checks=('pm.expect(body.state).to.eql("active");',),
            ),
            Step(
                "My open positions (with the read-only API key)",
                "positions_list",
                200,
                auth="api_key",
                checks=(
                    'pm.expect(["cache", "database"]).to.include(body.source);',
                    'pm.expect(body.stale).to.be.a("boolean");',
                    'pm.expect(body.accounts).to.be.an("array");',
                ),
                description="`stale` says whether any account's positions may be out of "
                "date, `stale_reason` why, `accounts` each account's freshness.",
            ),
            Step("Position history", "positions_history", 200),
            Step(
                "Position history as CSV (with the read-only API key)",
                "positions_history",
                200,
                auth="api_key",
                query={"format": "csv"},
                media_type="text/csv",
                checks=(
                    'pm.expect(text.split("\\r\\n")[0]).to.eql("account_id,account_label,'
                    "symbol,side,size,entry_price,mark_price,liquidation_price,leverage,"
                    'unrealised_pnl,realised_pnl,closed,taken_at");',
                ),
                description="Every snapshot the filters match (no pages), streamed; the "
                "same with `Accept: text/csv`.",
            ),
            Step(
                "Position events: opened, increased, reduced, closed, side_flipped",
                "positions_events",
                200,
                auth="api_key",
                checks=('pm.expect(body.results).to.be.an("array");',),
                description="Derived when polls are recorded; the first poll after a start "
                "is a baseline (no `opened` for positions already open). Filters: `symbol`, "
                "`kind`, `account`, `since`, `until`.",
            ),
            Step(
                "Position events as CSV",
                "positions_events",
                200,
                auth="api_key",
                query={"format": "csv"},
                media_type="text/csv",
                checks=(
                    'pm.expect(text.split("\\r\\n")[0]).to.eql("id,account_id,account_label,'
                    "symbol,kind,side,size_before,size_after,entry_price,mark_price,"
                    'realised_pnl,settle_currency,at");',
                ),
            ),
            Step(
                "My balances, per exchange account (with the read-only API key)",
                "balances_list",
                200,
                auth="api_key",
                query={"include_zero": "false"},
                checks=(
                    'pm.expect(["cache", "database"]).to.include(body.source);',
                    "pm.expect(body.count).to.be.at.least(1);",
                ),
                description="Spot balances and the USDT futures overview, refreshed with "
                "the positions poll (at most every BALANCES_REFRESH_SECONDS): `as_of` is null "
                "until the first refresh.",
            ),
            Step(
                "Track the second account too",
                "exchange_account_tracking_start",
                201,
                path={"account_id": "{{subAccountId}}"},
                body={},
                checks=('pm.expect(body.state).to.eql("active");',),
            ),
            Step(
                "The second account's tracking status",
                "exchange_account_tracking_status",
                200,
                path={"account_id": "{{subAccountId}}"},
                checks=('pm.expect(body.state).to.eql("active");',),
            ),
            Step(
                "That account's positions only",
                "positions_list",
                200,
                query={"account": "{{subAccountId}}"},
                checks=(
                    'const sub = pm.environment.get("subAccountId");',
                    "body.results.forEach((p) => pm.expect(String(p.account.id)).to.eql(sub));",
                ),
            ),
        ],
    ),
    (
        "5. Quotes",
        [
            Step(
                "Fetch BTC/USD now (forced refresh)",
                "quotes_refresh",
                201,
                body={"from_currency": "BTC", "to_currency": "USD"},
                checks=('pm.expect(body.from_currency).to.eql("BTC");',),
            ),
            Step(
                "Quote history, newest first",
                "quotes_list",
                200,
                query={"from_currency": "BTC", "to_currency": "USD", "per_page": "10"},
                checks=("pm.expect(body.count).to.be.at.least(1);",),
            ),
            Step(
                "Quote history as CSV",
                "quotes_list",
                200,
                query={
                    "format": "csv",
                    "source": "all",
                    "from_currency": "BTC",
                    "to_currency": "USD",
                },
                media_type="text/csv",
                checks=(
                    'const lines = text.split("\\r\\n");',
                    'pm.expect(lines[0]).to.eql("from_currency,to_currency,rate,bid,ask,'
                    'fetched_at,refreshed_at,source");',
                    "pm.expect(lines[1]).to.match(/^BTC,USD,/);",
                ),
            ),
            Step(
                "Latest BTC/USD quote",
                "quotes_latest",
                200,
                query={"from_currency": "BTC", "to_currency": "USD"},
                checks=('pm.expect(body.to_currency).to.eql("USD");',),
            ),
        ],
    ),
    (
        "6. Alerts",
        [
            Step(
                "Alert me when bitcoin is at or above 1 USD",
                "alerts_create",
                201,
                body={
                    "coin": "bitcoin",
                    "currency": "usd",
                    "target_price": "1",
                    "direction": "above",
                },
                save={"alertId": "body.id"},
                checks=('pm.expect(body.status).to.eql("active");',),
                description="The price is above the target already, so the monitor emails "
                "at its next check and puts the alert to sleep.",
            ),
            Step(
                "My alerts",
                "alerts_list",
                200,
                checks=("pm.expect(body.count).to.be.at.least(1);",),
            ),
            Step(
                "My active alerts (filter)",
                "alerts_list",
                200,
                query={"status": "active"},
                checks=(
                    'body.results.forEach((alert) => pm.expect(alert.status).to.eql("active"));',
                ),
            ),
            Step("One alert", "alerts_read", 200, path={"alert_id": "{{alertId}}"}),
            Step(
                "Move its target",
                "alerts_update",
                200,
                path={"alert_id": "{{alertId}}"},
                body={"target_price": "2"},
                checks=("pm.expect(Number(body.target_price)).to.eql(2);",),
            ),
            Step(
                "Re-arm it",
                "alerts_activate",
                200,
                path={"alert_id": "{{alertId}}"},
                checks=('pm.expect(body.status).to.eql("active");',),
            ),
            Step("Delete it", "alerts_delete", 204, path={"alert_id": "{{alertId}}"}),
            Step(
                "Deleted alerts are still listed with ?status=deleted",
                "alerts_list",
                200,
                query={"status": "deleted"},
                checks=(
                    "const ids = body.results.map((alert) => String(alert.id));",
                    'pm.expect(ids).to.include(String(pm.environment.get("alertId")));',
                ),
            ),
        ],
    ),
    (
        "7. Position alerts",
        [
            Step(
                "Warn me when a position is within 5 % of liquidation",
                "position_alerts_create",
                201,
                body={"kind": "liquidation_distance", "threshold_percent": "5"},
                save={"positionAlertId": "body.id"},
                checks=('pm.expect(body.hysteresis_percent).to.eql("10");',),
                description="Evaluated after every recorded poll of your accounts; it fires "
                "once per crossing and re-arms past the threshold by the hysteresis.",
            ),
            Step(
                "Tell me when a position closes",
                "position_alerts_create",
                201,
                body={"kind": "event", "events": ["closed", "side_flipped"]},
            ),
            Step(
                "My position alerts",
                "position_alerts_list",
                200,
                checks=("pm.expect(body.count).to.be.at.least(2);",),
            ),
            Step(
                "One position alert",
                "position_alerts_read",
                200,
                path={"alert_id": "{{positionAlertId}}"},
            ),
            Step(
                "Pause it",
                "position_alerts_update",
                200,
                path={"alert_id": "{{positionAlertId}}"},
                body={"status": "paused"},
                checks=('pm.expect(body.status).to.eql("paused");',),
            ),
            Step(
                "Re-arm it",
                "position_alerts_activate",
                200,
                path={"alert_id": "{{positionAlertId}}"},
                checks=('pm.expect(body.status).to.eql("active");',),
            ),
            Step(
                "What it fired",
                "position_alerts_firings",
                200,
                path={"alert_id": "{{positionAlertId}}"},
            ),
            Step(
                "Delete it",
                "position_alerts_delete",
                204,
                path={"alert_id": "{{positionAlertId}}"},
            ),
        ],
    ),
    (
        "8. Notification channels",
        [
            Step(
                "Add an email channel (to my account's address)",
                "channels_create",
                201,
                body={"kind": "email", "name": "Inbox", "config": {}},
                save={"emailChannelId": "body.id"},
                checks=('pm.expect(body.config.address).to.eql(pm.environment.get("email"));',),
                description="Kinds: email, webhook, telegram, discord, slack, ntfy; secrets in "
                "`config` are stored encrypted and answered only as `*_hint`.",
            ),
            Step(
                "Send it a test message",
                "channels_test",
                200,
                path={"channel_id": "{{emailChannelId}}"},
                checks=(
                    "pm.expect(body.delivered).to.eql(true);",
                    "pm.expect(body.channel.verified).to.eql(true);",
                ),
            ),
            Step(
                "Add a signed webhook (the signing secret is shown once)",
                "channels_create",
                201,
                body={
                    "kind": "webhook",
                    "name": "My hook",
                    "config": {"url": "https://example.com/hook"},
                },
                save={"webhookChannelId": "body.id"},
                checks=("pm.expect(body.signing_secret).to.match(/^whsec_/);",),
            ),
            Step(
                "Rotate its signing secret (the old one signs for 24 h more)",
                "channels_rotate_secret",
                200,
                path={"channel_id": "{{webhookChannelId}}"},
                checks=("pm.expect(body.signing_secret).to.match(/^whsec_/);",),
            ),
            Step("My channels", "channels_list", 200, checks=("pm.expect(body.count).to.eql(2);",)),
            Step(
                "One channel, renamed",
                "channels_update",
                200,
                path={"channel_id": "{{webhookChannelId}}"},
                body={"name": "Trading desk"},
                checks=('pm.expect(body.name).to.eql("Trading desk");',),
            ),
            Step(
                "Read it (never the secret)",
                "channels_retrieve",
                200,
                path={"channel_id": "{{webhookChannelId}}"},
                checks=("pm.expect(body).to.not.have.property('signing_secret');",),
            ),
            Step(
                "Remove it",
                "channels_delete",
                204,
                path={"channel_id": "{{webhookChannelId}}"},
            ),
            Step(
                "The delivery log (an API key may read it)",
                "deliveries_list",
                200,
                auth="api_key",
                checks=("pm.expect(body.results).to.be.an('array');",),
                description="One row per alert firing and channel (alerts with `channels`), "
                "each attempt with its outcome, HTTP status and error.",
            ),
            Step(
                "Failed deliveries on my email channel (filters)",
                "deliveries_list",
                200,
                query={"channel": "{{emailChannelId}}", "status": "failed"},
                checks=("pm.expect(body.count).to.eql(0);",),
            ),
        ],
    ),
    (
        "9. Clean up",
        [
            Step(
                "Revoke the API key",
                "me_api_keys_revoke",
                204,
                path={"key_id": "{{apiKeyId}}"},
            ),
            Step(
                "The revoked key no longer works",
                "positions_list",
                401,
                auth="api_key",
            ),
            Step(
                "Stop tracking the second account",
                "exchange_account_tracking_stop",
                204,
                path={"account_id": "{{subAccountId}}"},
            ),
            Step(
                "Delete the second account (its history stays; ?purge=true removes it)",
                "exchange_accounts_delete",
                204,
                path={"account_id": "{{subAccountId}}"},
            ),
            Step("Stop tracking", "tracking_stop", 204),
            Step(
                "Tracking is stopped",
                "tracking_status",
                200,
                checks=('pm.expect(body.state).to.eql("stopped");',),
            ),
            Step(
                "Sign out (the refresh token dies)",
                "auth_logout",
                205,
                body={"refresh": "{{refreshToken}}"},
            ),
            Step(
                "Change my password (the access token lives out its minutes)",
                "me_password_change",
                204,
                body={"current_password": "{{password}}", "new_password": "{{password}}-changed"},
                description="Checks the current password and the password validators, and "
                "revokes every refresh token of the account.",
            ),
            Step(
                "The password change is in the audit log",
                "me_audit_list",
                200,
                query={"kind": "password_changed"},
                checks=('pm.expect(body.results[0].kind).to.eql("password_changed");',),
            ),
        ],
    ),
]


def environment_values() -> list[tuple[str, str, str]]:
    """(key, value, type) of the environment file: where to call, and who signs up."""
    from cryptotrack.launcher import DEMO_KUCOIN

    api_key, api_secret, api_passphrase = DEMO_KUCOIN
    return [
        ("baseUrl", "http://127.0.0.1:8000", "default"),
        ("usernamePrefix", "postman", "default"),
        ("username", "", "default"),
        ("password", "postman-walkthrough-2026", "secret"),
        ("email", "", "default"),
        # `make run`'s simulator knows this key; put your own to use the real KuCoin.
        ("kucoinApiKey", api_key, "default"),
        ("kucoinApiSecret", api_secret, "secret"),
        ("kucoinApiPassphrase", api_passphrase, "secret"),
        ("accessToken", "", "secret"),
        ("refreshToken", "", "secret"),
        ("apiKey", "", "secret"),
        ("apiKeyId", "", "default"),
        ("alertId", "", "default"),
        ("positionAlertId", "", "default"),
        ("subAccountId", "", "default"),
    ]


# --- reading the schema -----------------------------------------------------------------


class SchemaMismatch(Exception):
    """The walkthrough asks for something the OpenAPI schema does not document."""


def load_schema() -> JSON:
    """The OpenAPI document exactly as ``/api/schema`` serves it (drf-spectacular)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptotrack.settings")
    import django

    django.setup()
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    # The schema's own warnings are `manage.py spectacular --validate`'s business, not ours.
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    loaded: JSON = json.loads(OpenApiJsonRenderer().render(schema))
    return loaded


def operations(schema: JSON) -> dict[str, tuple[str, str, JSON]]:
    """operationId -> (METHOD, path, operation object)."""
    found = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


def resolve(schema: JSON, node: JSON | None) -> JSON:
    """Follow ``$ref`` (and a single-member ``allOf``) to the schema object itself."""
    while node:
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/components/schemas/")
            node = schema["components"]["schemas"][name]
        elif len(node.get("allOf", [])) == 1:
            node = node["allOf"][0]
        else:
            return node
    return {}


def _json_schema(schema: JSON, content: JSON | None) -> JSON:
    return resolve(schema, ((content or {}).get("application/json") or {}).get("schema"))


def checked_step(schema: JSON, ops: dict[str, tuple[str, str, JSON]], step: Step) -> JSON:
    """What the schema says about ``step``: method, path, required response fields, auth."""
    if step.operation not in ops:
        raise SchemaMismatch(f"{step.name!r}: no operation {step.operation!r} in the schema")
    method, path, operation = ops[step.operation]
    responses = operation.get("responses", {})
    if str(step.status) not in responses:
        raise SchemaMismatch(
            f"{step.name!r}: {method} {path} does not document status {step.status} "
            f"(documented: {', '.join(sorted(responses))})"
        )
    documented = {p["name"]: p["in"] for p in operation.get("parameters", [])}
    for name, where in [*((n, "query") for n in step.query), *((n, "path") for n in step.path)]:
        if documented.get(name) != where:
            raise SchemaMismatch(
                f"{step.name!r}: {method} {path} has no {where} parameter {name!r}"
            )
    if step.body is not None:
        request = _json_schema(schema, (operation.get("requestBody") or {}).get("content"))
        unknown = set(step.body) - set(request.get("properties", {}))
        if unknown:
            raise SchemaMismatch(f"{step.name!r}: {method} {path} takes no field {sorted(unknown)}")
    content = responses[str(step.status)].get("content")
    if step.media_type != JSON_MEDIA_TYPE and step.media_type not in (content or {}):
        raise SchemaMismatch(
            f"{step.name!r}: {method} {path} does not document {step.media_type} for "
            f"status {step.status}"
        )
    answer = _json_schema(schema, content) if step.media_type == JSON_MEDIA_TYPE else {}
    secured = any(requirement for requirement in operation.get("security", [{}]))
    return {
        "method": method,
        "path": path,
        "required": sorted(answer.get("required", [])),
        "json": bool(answer),
        "media_type": step.media_type,
        "secured": secured,
    }


# --- writing Postman's format ---------------------------------------------------------------


def _script(listen: str, lines: list[str]) -> JSON:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": lines}}


def test_script(step: Step, facts: JSON) -> list[str]:
    lines = [
        f'pm.test("{facts["method"]} {facts["path"]} answers {step.status}", function () {{',
        f"    pm.response.to.have.status({step.status});",
        "});",
    ]
    if facts["media_type"] != JSON_MEDIA_TYPE:
        lines += [
            f'pm.test("the answer is {facts["media_type"]}", function () {{',
            f'    pm.expect(pm.response.headers.get("Content-Type")).to.include('
            f'"{facts["media_type"]}");',
            "});",
            "const text = pm.response.text();",
        ]
        lines += [f'pm.test("{step.name}: as expected", function () {{']
        lines += [f"    {check}" for check in step.checks]
        return [*lines, "});"]
    if not facts["json"]:
        return lines
    lines.append("const body = pm.response.json();")
    if facts["required"]:
        lines += [
            'pm.test("the answer has the documented required fields", function () {',
            f"    {json.dumps(facts['required'])}.forEach((name) => "
            "pm.expect(body).to.have.property(name));",
            "});",
        ]
    if step.checks:
        lines += [f'pm.test("{step.name}: as expected", function () {{']
        lines += [f"    {check}" for check in step.checks]
        lines += ["});"]
    lines += [f'pm.environment.set("{var}", {expr});' for var, expr in step.save.items()]
    return lines


def request_item(step: Step, facts: JSON, number: str) -> JSON:
    segments = [step.path.get(part[1:-1], part) for part in facts["path"].strip("/").split("/")]
    url: JSON = {
        "raw": "{{baseUrl}}/" + "/".join(segments),
        "host": ["{{baseUrl}}"],
        "path": segments,
    }
    if step.query:
        url["raw"] += "?" + "&".join(f"{k}={v}" for k, v in step.query.items())
        url["query"] = [{"key": k, "value": v} for k, v in step.query.items()]
    request: JSON = {"method": facts["method"], "header": [], "url": url}
    if step.auth == "api_key":
        request["auth"] = {
            "type": "apikey",
            "apikey": [
                {"key": "key", "value": "X-API-Key", "type": "string"},
                {"key": "value", "value": "{{apiKey}}", "type": "string"},
                {"key": "in", "value": "header", "type": "string"},
            ],
        }
    elif not facts["secured"]:
        request["auth"] = {"type": "noauth"}
    if step.body is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(step.body, indent=2),
            "options": {"raw": {"language": "json"}},
        }
    request["description"] = (
        step.description + "\n\n" if step.description else ""
    ) + f"OpenAPI operation `{step.operation}`: {facts['method']} {facts['path']}."
    events = [_script("test", test_script(step, facts))]
    if step.prerequest:
        events.insert(0, _script("prerequest", list(step.prerequest)))
    return {"name": f"{number} {step.name}", "event": events, "request": request}


def build_collection(schema: JSON) -> JSON:
    """The Postman v2.1 collection of the walkthrough, checked against ``schema``."""
    ops = operations(schema)
    folders = []
    for title, steps in WALKTHROUGH:
        prefix = title.split(".")[0]
        items = [
            request_item(step, checked_step(schema, ops, step), f"{prefix}.{n}")
            for n, step in enumerate(steps, 1)
        ]
        folders.append({"name": title, "item": items})
    info = schema.get("info", {})
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(NAMESPACE, "collection")),
            "name": "cryptotrack",
            "description": (
                f"{info.get('description', '')}\n\n"
                "Generated by scripts/generate_postman.py from the OpenAPI schema "
                f"(version {info.get('version', '?')}); do not edit by hand. Run the folders "
                "in order: each request saves what the next ones need into the environment "
                "(docs/postman/cryptotrack.postman_environment.json)."
            ),
            "schema": POSTMAN_SCHEMA,
        },
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}],
        },
        "item": folders,
    }


def build_environment() -> JSON:
    return {
        "id": str(uuid.uuid5(NAMESPACE, "environment")),
        "name": "cryptotrack (local)",
        "values": [
            {"key": key, "value": value, "type": kind, "enabled": True}
            for key, value, kind in environment_values()
        ],
        "_postman_variable_scope": "environment",
    }


def uncovered(schema: JSON) -> list[str]:
    """Operations of the schema that no step of the walkthrough calls."""
    used = {step.operation for _, steps in WALKTHROUGH for step in steps}
    return sorted(set(operations(schema)) - used)


def render(document: JSON) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    parser.add_argument("--schema", type=Path, help="read the OpenAPI JSON from this file")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where to write")
    args = parser.parse_args(argv)

    schema = json.loads(args.schema.read_text()) if args.schema else load_schema()
    try:
        files = {
            COLLECTION_FILE: render(build_collection(schema)),
            ENVIRONMENT_FILE: render(build_environment()),
        }
    except SchemaMismatch as exc:
        print(f"generate_postman: {exc}", file=sys.stderr)
        return 2
    if missing := uncovered(schema):
        print(f"generate_postman: not in the walkthrough: {', '.join(missing)}", file=sys.stderr)

    stale = [name for name, text in files.items() if _read(args.out / name) != text]
    if args.check:
        for name in stale:
            print(
                f"{args.out / name} is stale: run .venv/bin/python scripts/generate_postman.py",
                file=sys.stderr,
            )
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).write_text(files[name])
        print(f"wrote {args.out / name}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


if __name__ == "__main__":
    sys.exit(main())
