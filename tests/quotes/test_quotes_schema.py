"""The OpenAPI document covers every quotes endpoint with its answers and errors."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client: APIClient) -> dict[str, Any]:
    response = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        resolved: dict[str, Any] = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        return resolved
    return node


def test_quotes_paths_document_their_answers_and_errors(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    listing = paths["/api/v1/quotes"]["get"]
    refresh = paths["/api/v1/quotes"]["post"]
    latest = paths["/api/v1/quotes/latest"]["get"]

    assert {"200", "400", "401", "403", "429"} <= set(listing["responses"])
    assert {"201", "400", "401", "403", "429", "502", "503"} <= set(refresh["responses"])
    assert {"200", "400", "401", "404", "429"} <= set(latest["responses"])
    assert "Retry-After" in refresh["responses"]["503"]["headers"]
    assert "WWW-Authenticate" in latest["responses"]["401"]["headers"]
    assert "502" not in listing["responses"]


def test_list_documents_filters_pagination_and_the_cursor(schema: dict[str, Any]) -> None:
    listing = schema["paths"]["/api/v1/quotes"]["get"]
    names = {parameter["name"] for parameter in listing["parameters"]}
    envelope = resolve(schema, listing["responses"]["200"]["content"]["application/json"]["schema"])

    assert {
        "page",
        "per_page",
        "cursor",
        "source",
        "from_currency",
        "to_currency",
        "since",
        "until",
    } <= names
    assert "next_cursor" in envelope["properties"]
    quote = resolve(schema, envelope["properties"]["results"]["items"])
    assert list(quote["properties"]) == [
        "from_currency",
        "to_currency",
        "rate",
        "bid",
        "ask",
        "fetched_at",
        "refreshed_at",
        "source",
    ]
    assert quote["properties"]["rate"]["type"] == "string"
    assert quote["properties"]["fetched_at"]["format"] == "date-time"
    assert "Quote" in schema["components"]["schemas"]
    assert "QuoteRefreshRequest" in schema["components"]["schemas"]
