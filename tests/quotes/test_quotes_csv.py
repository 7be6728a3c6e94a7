"""GET /api/v1/quotes as CSV: the JSON list's rows and filters, every row, errors JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient
from tests.support.csv_answers import csv_body, csv_rows

pytestmark = pytest.mark.django_db

QUOTES = "/api/v1/quotes"
HEADER = [
    "from_currency",
    "to_currency",
    "rate",
    "bid",
    "ask",
    "fetched_at",
    "refreshed_at",
    "source",
]


def json_rows(client: APIClient, query: str = "") -> list[list[str]]:
    body = client.get(f"{QUOTES}?per_page=all&{query}").json()
    return [["" if row[k] is None else str(row[k]) for k in HEADER] for row in body["results"]]


def exported(client: APIClient, query: str = "", **headers: str) -> list[list[str]]:
    response = client.get(f"{QUOTES}?format=csv&{query}", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="quotes-')
    return csv_rows(csv_body(response))


def test_export_is_every_quote_the_filters_match_newest_first(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    from cryptotrack.quotes.models import Quote

    make_quotes(40)
    make_quotes(5, pair=("ETH", "EUR"))
    make_quotes(6, source=Quote.Source.COINGECKO, step=timedelta(seconds=15))
    Quote.objects.filter(pk=Quote.objects.order_by("id").first().pk).update(bid=None, ask=None)

    rows = exported(user_client)

    assert rows[0] == HEADER
    assert len(rows) == 1 + 45  # Alpha Vantage's record by default, as the list
    assert rows[1:] == json_rows(user_client)
    assert rows[-1][3:5] == ["", ""]  # an old 7-field quote: no bid, no ask
    assert rows[1][5].endswith("Z")
    for query in ["source=all", "source=coingecko", "from_currency=ETH&to_currency=EUR"]:
        assert exported(user_client, query)[1:] == json_rows(user_client, query), query
    assert len(exported(user_client, "source=all", HTTP_ACCEPT="text/csv")) == 1 + 51


def test_an_empty_export_is_the_header_and_a_bad_filter_a_json_400(
    user_client: APIClient,
) -> None:
    assert exported(user_client) == [HEADER]

    bad = user_client.get(f"{QUOTES}?format=csv&from_currency=btc&since=2026-13-01T00:00:00Z")

    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/json"
    assert set(bad.json()["errors"]) == {"from_currency", "since"}


def test_an_api_key_may_export_quotes_and_a_refresh_stays_json(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    make_quotes(3)
    key = user_client.post("/api/v1/me/api-keys", {"name": "export"}, format="json").json()["key"]
    with_key = APIClient(HTTP_X_API_KEY=key)

    assert len(csv_rows(csv_body(with_key.get(f"{QUOTES}?format=csv")))) == 4
    refused = with_key.post(f"{QUOTES}?format=csv", {}, format="json")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/json"
