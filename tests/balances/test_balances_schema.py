"""The OpenAPI document describes GET /api/v1/balances: filters, envelope, each field."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.quotes.test_quotes_schema import resolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client: APIClient) -> dict[str, Any]:
    response = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_balances_list_documents_filters_answers_and_errors(schema: dict[str, Any]) -> None:
    listing = schema["paths"]["/api/v1/balances"]["get"]
    names = {parameter["name"] for parameter in listing["parameters"]}
    assert {"page", "per_page", "include_zero"} <= names
    assert {"200", "400", "401", "429"} <= set(listing["responses"])
    assert "WWW-Authenticate" in listing["responses"]["401"]["headers"]


def test_each_result_has_the_account_spot_balances_and_futures_overview(
    schema: dict[str, Any],
) -> None:
    listing = schema["paths"]["/api/v1/balances"]["get"]
    envelope = resolve(schema, listing["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"count", "total_pages", "page", "per_page", "source", "results"} <= set(
        envelope["properties"]
    )
    result = resolve(schema, envelope["properties"]["results"]["items"])
    assert list(result["properties"]) == ["account", "as_of", "spot", "futures", "last_error"]
    spot = resolve(schema, result["properties"]["spot"]["items"])
    assert list(spot["properties"]) == ["currency", "type", "balance", "available", "holds"]
    assert spot["properties"]["balance"]["type"] == "string"  # amounts are decimal strings
    futures_node = result["properties"]["futures"]
    futures = resolve(
        schema, (futures_node.get("allOf") or futures_node.get("oneOf") or [futures_node])[0]
    )
    assert {
        "currency",
        "account_equity",
        "available_balance",
        "position_margin",
        "order_margin",
        "frozen_funds",
        "unrealised_pnl",
        "risk_ratio",
    } <= set(futures["properties"])
