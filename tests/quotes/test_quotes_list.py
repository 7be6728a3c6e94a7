"""GET /api/v1/quotes: newest first, pages of 10/30/all, filters, the keyset cursor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

QUOTE_FIELDS = [
    "from_currency",
    "to_currency",
    "rate",
    "bid",
    "ask",
    "fetched_at",
    "refreshed_at",
    "source",
]


def test_list_answers_the_envelope_newest_first_in_the_api_shape(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    quotes = make_quotes(3)

    body = user_client.get("/api/v1/quotes").json()

    assert body["count"] == 3
    assert body["total_pages"] == 1
    assert body["page"] == 1
    assert body["per_page"] == 10
    assert body["next_cursor"] is None
    first = body["results"][0]
    assert list(first) == QUOTE_FIELDS
    newest = quotes[-1]
    assert first["rate"] == f"{newest.rate:.8f}"
    assert first["bid"] == f"{newest.bid:.8f}"
    assert first["fetched_at"].endswith("Z")
    assert [r["rate"] for r in body["results"]] == [f"{q.rate:.8f}" for q in reversed(quotes)]


@pytest.mark.parametrize(("per_page", "sizes"), [("10", [10, 10, 10, 5]), ("30", [30, 5])])
def test_pages_of_10_and_30_cover_every_row_once(
    user_client: APIClient,
    make_quotes: Callable[..., list[Any]],
    per_page: str,
    sizes: list[int],
) -> None:
    make_quotes(35)

    seen: list[str] = []
    for page, size in enumerate(sizes, start=1):
        body = user_client.get(f"/api/v1/quotes?per_page={per_page}&page={page}").json()
        assert body["total_pages"] == len(sizes)
        assert body["per_page"] == int(per_page)
        assert len(body["results"]) == size
        seen += [r["fetched_at"] for r in body["results"]]

    assert len(seen) == len(set(seen)) == 35
    assert seen == sorted(seen, reverse=True)


def test_page_past_the_end_is_empty(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    make_quotes(12)

    body = user_client.get("/api/v1/quotes?page=3").json()

    assert body["results"] == []
    assert body["count"] == 12
    assert body["total_pages"] == 2
    assert body["next_cursor"] is None


def test_per_page_all_returns_every_row_up_to_the_cap(
    user_client: APIClient, make_quotes: Callable[..., list[Any]], settings: Any
) -> None:
    make_quotes(120)

    everything = user_client.get("/api/v1/quotes?per_page=all").json()
    settings.QUOTES_PER_PAGE_ALL_MAX = 50
    capped = user_client.get("/api/v1/quotes?per_page=all").json()
    second = user_client.get("/api/v1/quotes?per_page=all&page=3").json()

    assert len(everything["results"]) == 120
    assert everything["total_pages"] == 1
    assert len(capped["results"]) == 50
    assert capped["per_page"] == 50
    assert capped["total_pages"] == 3
    assert len(second["results"]) == 20


@pytest.mark.parametrize(
    "query",
    [
        "per_page=0",
        "per_page=101",
        "per_page=ten",
        "page=0",
        "page=-2",
        "page=abc",
        "from_currency=btc",
        "from_currency=B",
        "to_currency=TOOLONGCODE1",
        "since=yesterday",
        "until=2024-13-01T00:00:00Z",
        "since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z",
        "cursor=not-a-cursor",
        "cursor=&page=2",
    ],
)
def test_bad_parameters_answer_400_naming_the_field(user_client: APIClient, query: str) -> None:
    response = user_client.get(f"/api/v1/quotes?{query}")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    field = query.split("&")[-1].split("=")[0]
    assert field in body["errors"], body


def test_filters_by_pair_and_time_range(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    btc = make_quotes(5)
    make_quotes(4, pair=("ETH", "USD"))
    make_quotes(3, pair=("BTC", "EUR"))

    eth = user_client.get("/api/v1/quotes?from_currency=ETH").json()
    usd = user_client.get("/api/v1/quotes?to_currency=USD").json()
    btc_usd = user_client.get("/api/v1/quotes?from_currency=BTC&to_currency=USD").json()
    since, until = btc[1].fetched_at, btc[3].fetched_at
    window = user_client.get(
        "/api/v1/quotes",
        {
            "from_currency": "BTC",
            "to_currency": "USD",
            "since": since.isoformat(),
            "until": until.isoformat(),
        },
    ).json()

    assert eth["count"] == 4
    assert {r["from_currency"] for r in eth["results"]} == {"ETH"}
    assert usd["count"] == 9
    assert btc_usd["count"] == 5
    assert [r["rate"] for r in window["results"]] == [f"{q.rate:.8f}" for q in btc[3:0:-1]]


def test_an_unencoded_plus_in_a_time_offset_still_parses(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    quotes = make_quotes(3)
    since = (quotes[1].fetched_at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%f")

    # "+02:00" typed into a URL arrives as " 02:00"
    body = user_client.get(f"/api/v1/quotes?since={since}+02:00").json()

    assert body["count"] == 2


def test_cursor_walk_returns_every_row_once_even_within_one_instant(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    make_quotes(25)
    # Rows sharing one fetched_at must still be split exactly at the cursor (id breaks ties).
    make_quotes(7, step=timedelta(0), pair=("ETH", "USD"))

    seen: list[tuple[str, str, str]] = []
    cursor = ""
    pages = 0
    while cursor is not None:
        body = user_client.get("/api/v1/quotes", {"cursor": cursor, "per_page": 4}).json()
        assert body["count"] is None
        assert body["page"] is None
        assert body["total_pages"] is None
        assert len(body["results"]) <= 4
        seen += [(r["from_currency"], r["rate"], r["fetched_at"]) for r in body["results"]]
        cursor = body["next_cursor"]
        pages += 1

    assert pages == 8
    assert len(seen) == len(set(seen)) == 32
    assert [s[2] for s in seen] == sorted((s[2] for s in seen), reverse=True)


def test_page_mode_hands_over_to_the_cursor(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    make_quotes(15)

    first = user_client.get("/api/v1/quotes?per_page=10").json()
    rest = user_client.get("/api/v1/quotes", {"cursor": first["next_cursor"]}).json()
    page_two = user_client.get("/api/v1/quotes?per_page=10&page=2").json()

    assert rest["results"] == page_two["results"]
    assert rest["next_cursor"] is None


def test_cursor_respects_the_filters(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    make_quotes(6)
    make_quotes(6, pair=("ETH", "USD"))

    rates: list[str] = []
    cursor = ""
    while cursor is not None:
        body = user_client.get(
            "/api/v1/quotes", {"cursor": cursor, "per_page": 4, "from_currency": "ETH"}
        ).json()
        rates += [r["from_currency"] for r in body["results"]]
        cursor = body["next_cursor"]

    assert rates == ["ETH"] * 6


def test_list_makes_the_same_few_queries_for_any_page_size(
    user_client: APIClient,
    make_quotes: Callable[..., list[Any]],
    django_assert_max_num_queries: Any,
) -> None:
    make_quotes(100)

    for per_page in ("5", "100"):
        with django_assert_max_num_queries(3):  # the user (JWT), the count, the page
            assert user_client.get(f"/api/v1/quotes?per_page={per_page}").status_code == 200
    with django_assert_max_num_queries(2):
        assert user_client.get("/api/v1/quotes?cursor=&per_page=all").status_code == 200


def test_quotes_need_a_token_and_api_keys_may_read_only(
    api_client: APIClient, user_client: APIClient
) -> None:
    anonymous = api_client.get("/api/v1/quotes")
    key = user_client.post("/api/v1/me/api-keys", {"name": "reader"}, format="json").json()["key"]
    with_key = APIClient(HTTP_X_API_KEY=key)

    assert anonymous.status_code == 401
    assert "WWW-Authenticate" in anonymous
    assert api_client.get("/api/v1/quotes/latest").status_code == 401
    assert with_key.get("/api/v1/quotes").status_code == 200
    refused = with_key.post("/api/v1/quotes", {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "api_key_read_only"


def test_every_quote_names_its_source_and_the_record_is_the_default_listing(
    user_client: APIClient, make_quotes: Callable[..., list[Any]]
) -> None:
    from cryptotrack.quotes.models import Quote

    make_quotes(3)  # Alpha Vantage's hourly record
    make_quotes(4, source=Quote.Source.COINGECKO, step=timedelta(seconds=15))
    make_quotes(2, source=Quote.Source.KUCOIN, pair=("ETH", "USDT"))

    def sources(query: str) -> list[str]:
        response = user_client.get(f"/api/v1/quotes?per_page=all{query}")
        assert response.status_code == 200, response.content
        return [quote["source"] for quote in response.json()["results"]]

    assert sources("") == ["alphavantage"] * 3
    assert sources("&source=alphavantage") == ["alphavantage"] * 3
    assert sources("&source=coingecko") == ["coingecko"] * 4
    assert sources("&source=kucoin&from_currency=ETH") == ["kucoin"] * 2
    assert (
        sorted(sources("&source=all")) == ["alphavantage"] * 3 + ["coingecko"] * 4 + ["kucoin"] * 2
    )
    latest = user_client.get("/api/v1/quotes/latest").json()  # the newest of any source
    assert latest["source"] == "coingecko"
    bad = user_client.get("/api/v1/quotes?source=bloomberg")
    assert bad.status_code == 400
    assert "source" in bad.json()["errors"]
