"""The position page, /balances and /events read what the API reads, with its filters:
ranges and sampling of the chart, another user's position as a plain 404, filter errors
inline, the CSV download with the session, and hostile query strings never a 500."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from cryptotrack.positions import selectors
from cryptotrack.positions.models import PositionSnapshot
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.conftest import STRONG_PASSWORD
from tests.positions.conftest import kucoin_sim, make_trader
from tests.support.history_rows import insert_history
from tests.support.tracking import poll, track

__all__ = ["kucoin_sim", "make_trader"]

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_client(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=STRONG_PASSWORD)
    return client


@pytest.fixture
def holder(make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator) -> Any:
    """A trader holding an XBTUSDTM long, polled three times as its mark price moved."""
    trader = make_trader()
    subscription = track(trader)
    poll(subscription)  # the baseline: nothing yet
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", side="long", size=2, entry_price=60000)
    for price in (60100, 60200):
        kucoin_sim.set_mark_price("XBTUSDTM", price)
        poll(subscription)
    trader.account_id = trader.user.exchange_accounts.get().pk
    trader.client = signed_in_client(trader.user)
    return trader


def without_page_owner(body: bytes) -> bytes:
    """A page without what tells one browser from another: its CSRF token (masked anew on
    every answer) and the signed-in username in the header."""
    body = re.sub(rb'"X-CSRFToken": "[^"]*"|name="csrfmiddlewaretoken" value="[^"]*"', b"", body)
    return re.sub(rb'<span class="who">[^<]*</span>', b"", body)


def detail_url(holder: Any, query: str = "", *, side: str = "long") -> str:
    return f"/positions/{holder.account_id}/XBTUSDTM/{side}{query}"


def chart_points(response: Any) -> int:
    return len(response.context["chart_data"]["time"])


def test_the_position_page_shows_its_figures_chart_and_events(holder: Any) -> None:
    response = holder.client.get(detail_url(holder))

    assert response.status_code == 200
    assert response.context["chosen"] == "24h"
    history = PositionSnapshot.objects.filter(user=holder.user, symbol="XBTUSDTM", side="long")
    assert chart_points(response) == history.count() > 0
    assert response.context["position"]["mark_price"].startswith("60200")
    assert [e["kind"] for e in response.context["events"]] == ["opened"]
    body = response.content.decode()
    assert 'id="position-chart-data"' in body
    assert "position_chart.js" in body
    assert "no-store" in response["Cache-Control"]


def test_each_range_charts_the_history_rows_of_that_range(holder: Any) -> None:
    PositionSnapshot.objects.filter(user=holder.user).update(
        taken_at=timezone.now() - timedelta(days=3)
    )
    now_rows = PositionSnapshot.objects.filter(user=holder.user).count()

    assert chart_points(holder.client.get(detail_url(holder, "?range=1h"))) == 0
    assert chart_points(holder.client.get(detail_url(holder, "?range=24h"))) == 0
    assert chart_points(holder.client.get(detail_url(holder, "?range=7d"))) == now_rows
    assert chart_points(holder.client.get(detail_url(holder, "?range=30d"))) == now_rows


def test_a_long_range_is_sampled_to_a_bounded_number_of_points_keeping_both_ends(
    holder: Any,
) -> None:
    with connection.cursor() as cursor:
        insert_history(cursor, user_id=holder.user.pk, count=5000, account_id=holder.account_id)

    response = holder.client.get(detail_url(holder, "?range=24h"))

    chart = response.context["chart"]
    assert chart.total > 5000
    assert 2 <= len(chart.points) <= selectors.CHART_MAX_POINTS
    assert chart.sampled
    times = [point.taken_at for point in chart.points]
    assert times == sorted(times)
    rows = selectors.position_history(
        user=holder.user,
        symbol="XBTUSDTM",
        account=holder.account_id,
        since=timezone.now() - timedelta(hours=24),
    ).filter(side="long")
    assert times[0] == rows.last().taken_at  # type: ignore[union-attr]
    assert times[-1] == rows.first().taken_at  # type: ignore[union-attr]
    assert b"sampled from" in response.content


def test_sampling_keeps_at_most_the_bound_whatever_the_count(holder: Any) -> None:
    with connection.cursor() as cursor:
        insert_history(cursor, user_id=holder.user.pk, count=1001, account_id=holder.account_id)
    since = timezone.now() - timedelta(days=1)
    for bound in (2, 3, 10, 499, 500):
        chart = selectors.position_chart(
            user=holder.user,
            account=holder.account_id,
            symbol="XBTUSDTM",
            side="long",
            since=since,
            max_points=bound,
        )
        assert len(chart.points) <= bound, bound
        assert len({point.taken_at for point in chart.points}) == len(chart.points)


def test_a_bad_range_is_said_inline_and_the_default_shown(holder: Any) -> None:
    response = holder.client.get(detail_url(holder, "?range=forever"))

    assert response.status_code == 400
    assert response.context["chosen"] == "24h"
    assert b"is not a valid choice" in response.content


def test_another_users_position_is_the_same_404_page_as_a_closed_one(
    holder: Any, make_trader: Callable[..., Any], kucoin_sim: KucoinSimulator
) -> None:
    stranger = signed_in_client(make_trader().user)
    as_a_browser = {"HTTP_ACCEPT": "text/html"}

    theirs = stranger.get(detail_url(holder), **as_a_browser)
    kucoin_sim.close_position(holder.api_key, "XBTUSDTM")
    poll(holder.user.exchange_accounts.get().tracking)
    closed = holder.client.get(detail_url(holder), **as_a_browser)
    never = holder.client.get("/positions/999999/XBTUSDTM/long", **as_a_browser)
    other_side = holder.client.get(detail_url(holder, side="short"), **as_a_browser)

    assert theirs.status_code == closed.status_code == 404
    assert never.status_code == other_side.status_code == 404
    assert b"Page not found" in theirs.content
    assert without_page_owner(theirs.content) == without_page_owner(closed.content)
    assert b"60200" not in theirs.content


def test_pages_need_a_session(holder: Any) -> None:
    for path in (detail_url(holder), "/balances", "/events", "/events.csv"):
        response = Client().get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/?next=")


def test_balances_show_each_account_as_the_api_does(holder: Any) -> None:
    response = holder.client.get("/balances")

    assert response.status_code == 200
    api = holder.client.get("/api/v1/balances")  # a session is not an API credential
    assert api.status_code in (401, 403)
    [result] = response.context["accounts"]
    assert result["account"]["id"] == holder.account_id
    assert response.context["source"] in ("cache", "database")
    assert result["account"]["label"].encode() in response.content


def test_events_are_filtered_and_paged_as_the_api_does(holder: Any) -> None:
    response = holder.client.get("/events", {"symbol": "XBTUSDTM", "kind": "opened"})

    assert response.status_code == 200
    assert [e["kind"] for e in response.context["events"]] == ["opened"]
    none = holder.client.get("/events", {"kind": "closed"})
    assert none.context["events"] == []
    assert b"No events match these filters" in none.content


BAD_FILTERS = [
    ({"kind": "exploded"}, "kind"),
    ({"account": "-3"}, "account"),
    ({"account": "١٢"}, "account"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-12-01T10:00"}, "since"),
    ({"since": "2026-12-02T00:00Z", "until": "2026-12-01T00:00Z"}, "until"),
    ({"until": "9999-12-31T23:59:59-14:00"}, "until"),
    ({"symbol": "X" * 41}, "symbol"),
]


def test_bad_filters_are_said_next_to_their_field(holder: Any) -> None:
    for query, field in BAD_FILTERS:
        response = holder.client.get("/events", query)

        assert response.status_code == 400, query
        assert field in response.context["errors"].by_field, query
        assert f'id="{field}-errors"'.encode() in response.content, query
        field_tag = re.search(rf'<(input|select) id="{field}"[^>]*>'.encode(), response.content)
        assert field_tag is not None, query
        assert b'aria-invalid="true"' in field_tag[0], query
        assert re.search(rf'aria-describedby="[^"]*{field}-errors'.encode(), field_tag[0]), query


def test_bad_paging_is_a_form_error_not_a_crash(holder: Any) -> None:
    for query in ("page=0", "per_page=100000", "cursor=not-a-cursor", "cursor=&page=2"):
        response = holder.client.get(f"/events?{query}")

        assert response.status_code == 400, query
        assert response.context["errors"].form, query


def test_a_page_past_the_end_is_empty_and_cursor_paging_goes_older(holder: Any) -> None:
    past = holder.client.get("/events?page=999999999999999999999")
    assert past.status_code == 200
    assert past.context["events"] == []

    by_cursor = holder.client.get("/events?cursor=&per_page=1")
    assert by_cursor.status_code == 200
    assert len(by_cursor.context["events"]) == 1


HOSTILE_PATHS = [
    "/events?symbol=%ED%A0%80",
    "/events?since=%ED%A0%80",
    "/events?account=%ED%A0%80",
    "/events?account=99999999999999999999999999",
    "/events?page=99999999999999999999999999999",
    "/events?kind=%00",
    "/events?symbol=%00%ff",
    "/events.csv?since=%ED%A0%80",
    "/events.csv?account=99999999999999999999999999",
    "/balances?include_zero=%ED%A0%80",
    "/balances?page=%ED%A0%80",
    "/balances?page=99999999999999999999999999999",
    "/positions/1/%ED%A0%80/long",
    "/positions/99999999999999999999999999/XBTUSDTM/long",
    "/positions/1/XBTUSDTM/%ED%A0%80",
    "/positions/1/XBTUSDTM/long?range=%ED%A0%80",
]


def test_hostile_query_strings_are_refused_never_a_server_error(holder: Any) -> None:
    for path in [*HOSTILE_PATHS, detail_url(holder, "?range=%ED%A0%80&range=1h")]:
        response = holder.client.get(path)

        assert 200 <= response.status_code < 500, (path, response.status_code)


def test_the_csv_download_answers_the_session_with_the_filters(holder: Any) -> None:
    events_page = holder.client.get("/events", {"kind": "opened", "symbol": "XBTUSDTM"})
    assert b'href="/events.csv?symbol=XBTUSDTM&amp;kind=opened"' in events_page.content

    response = holder.client.get("/events.csv", {"kind": "opened", "symbol": "XBTUSDTM"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["kind"], r["symbol"]) for r in rows] == [("opened", "XBTUSDTM")]
    assert rows[0]["account_id"] == str(holder.account_id)


def test_the_csv_download_refuses_bad_filters_on_the_events_page(holder: Any) -> None:
    response = holder.client.get("/events.csv", {"since": "last week"})

    assert response.status_code == 400
    assert "since" in response.context["errors"].by_field


def test_the_csv_download_holds_only_the_users_own_events(
    holder: Any, make_trader: Callable[..., Any]
) -> None:
    stranger = signed_in_client(make_trader().user)

    response = stranger.get("/events.csv", {"account": str(holder.account_id)})

    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert len(lines) == 1  # the header only


def test_a_bad_balances_filter_is_said_next_to_it(holder: Any) -> None:
    response = holder.client.get("/balances", {"include_zero": "perhaps"})

    assert response.status_code == 400
    assert b'id="include_zero-errors"' in response.content
    assert b'aria-invalid="true"' in response.content


def test_the_events_page_costs_the_same_queries_for_many_events(
    holder: Any, kucoin_sim: KucoinSimulator, django_assert_max_num_queries: Any
) -> None:
    subscription = holder.user.exchange_accounts.get().tracking
    for size in range(3, 12):
        kucoin_sim.resize_position(holder.api_key, "XBTUSDTM", size)
        poll(subscription)

    with django_assert_max_num_queries(8):
        response = holder.client.get("/events?per_page=20")

    assert len(response.context["events"]) == 10
