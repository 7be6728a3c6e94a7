"""GET /api/v1/positions/history (and /events) as CSV (``?format=csv`` or ``Accept:
text/csv``): the JSON list's rows and filters, every row, RFC 4180, errors still JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from cryptotrack.accounts.services import exchange_account_store
from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.positions.models import PositionEvent, PositionSnapshot
from tests.support.csv_answers import csv_body, csv_rows

pytestmark = pytest.mark.django_db

HISTORY = "/api/v1/positions/history"
HEADER = [
    "account_id",
    "account_label",
    "symbol",
    "side",
    "size",
    "entry_price",
    "mark_price",
    "liquidation_price",
    "leverage",
    "unrealised_pnl",
    "realised_pnl",
    "closed",
    "taken_at",
]
START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def account_of(user: Any, label: str) -> Any:
    credentials = KucoinCredentials(f"key-{label[:8]}-{user.pk}", "secret-0123456789", "pass")
    return exchange_account_store(user=user, credentials=credentials, label=label)


def snapshot(user: Any, account: Any, n: int, **fields: Any) -> PositionSnapshot:
    values: dict[str, Any] = {
        "user": user,
        "account": account,
        "account_label": account.label if account else "",
        "symbol": "XBTUSDTM",
        "side": "long",
        "size": Decimal(n + 1),
        "entry_price": Decimal("60000.5"),
        "mark_price": Decimal(60000 + n),
        "liquidation_price": Decimal("50000"),
        "leverage": Decimal("5"),
        "unrealised_pnl": Decimal(0),
        "realised_pnl": Decimal("-1.25"),
        "taken_at": START + timedelta(minutes=n),
        **fields,
    }
    return PositionSnapshot.objects.create(**values)


def as_csv_fields(row: dict[str, Any]) -> list[str]:
    """A JSON history row as the CSV writes it: account flattened, null empty, bools lower."""
    values = [row["account"]["id"], row["account"]["label"]]
    values += [row[name] for name in HEADER[2:]]
    return ["" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def json_rows(client: APIClient, query: str = "") -> list[list[str]]:
    body = client.get(f"{HISTORY}?per_page=100&{query}").json()
    return [as_csv_fields(row) for row in body["results"]]


def exported(client: APIClient, query: str = "", **headers: str) -> list[list[str]]:
    response = client.get(f"{HISTORY}?format=csv&{query}", **headers)
    assert response.status_code == 200
    return csv_rows(csv_body(response))


def test_export_is_every_row_of_the_json_list_newest_first_with_a_header(
    user: Any, user_client: APIClient
) -> None:
    account = account_of(user, "main")
    for n in range(25):
        snapshot(user, account, n, closed=n == 7, leverage=None if n == 3 else Decimal(5))

    response = user_client.get(f"{HISTORY}?format=csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="positions-history-')
    assert response["Content-Disposition"].endswith('.csv"')
    body = csv_body(response)
    assert body.startswith((",".join(HEADER) + "\r\n").encode())
    rows = csv_rows(body)
    assert rows[0] == HEADER
    assert rows[1:] == json_rows(user_client)
    assert len(rows) == 26
    newest = rows[1]
    assert newest[HEADER.index("taken_at")] == "2026-11-01T12:24:00Z"
    assert newest[HEADER.index("realised_pnl")] == "-1.2500000000"
    assert newest[HEADER.index("unrealised_pnl")] == "0.0000000000"  # never 0E-10
    assert rows[-1 - 3][HEADER.index("leverage")] == ""  # null
    assert rows[-1 - 7][HEADER.index("closed")] == "true"


def test_labels_with_commas_quotes_and_line_breaks_are_quoted(
    user: Any, user_client: APIClient
) -> None:
    live = account_of(user, 'Hedge, "B" fund')
    snapshot(user, live, 1)
    snapshot(user, None, 0, account_label='Old,\r\n"gone" one')  # its account was deleted

    response = user_client.get(HISTORY, HTTP_ACCEPT="text/csv")

    body = csv_body(response)
    assert b'"Hedge, ""B"" fund"' in body
    assert b'"Old,\r\n""gone"" one"' in body
    rows = csv_rows(body)
    assert [row[:2] for row in rows[1:]] == [
        [str(live.pk), 'Hedge, "B" fund'],
        ["", 'Old,\r\n"gone" one'],
    ]


@pytest.mark.parametrize(
    "label", ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)"]
)
def test_a_label_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(
    user: Any, user_client: APIClient, label: str
) -> None:
    snapshot(user, account_of(user, label), 1, realised_pnl=Decimal("-1.5"))

    rows = csv_rows(csv_body(user_client.get(HISTORY, HTTP_ACCEPT="text/csv")))

    assert rows[1][HEADER.index("account_label")] == f"'{label}"
    assert rows[1][HEADER.index("realised_pnl")] == "-1.5000000000"  # numbers stay numbers


def test_filters_are_the_json_lists_and_pages_do_not_apply(
    user: Any, user_client: APIClient
) -> None:
    main, hedges = account_of(user, "main"), account_of(user, "hedges")
    for n in range(12):
        snapshot(user, main if n % 2 else hedges, n, symbol="ETHUSDTM" if n % 3 else "XBTUSDTM")
    queries = [
        "symbol=ETHUSDTM",
        f"account={hedges.pk}",
        "since=2026-11-01T12:03:00Z&until=2026-11-01T12:09:00%2B00:00",
        f"symbol=XBTUSDTM&account={main.pk}",
    ]
    for query in queries:
        assert exported(user_client, query)[1:] == json_rows(user_client, query), query
    # Neither the page nor the cursor limits an export: every row is in it.
    assert len(exported(user_client, "page=2&per_page=1")) == 13
    assert len(exported(user_client, "cursor=&per_page=3")) == 13


def test_an_empty_export_is_the_header_alone(user: Any, user_client: APIClient) -> None:
    account_of(user, "main")
    response = user_client.get(f"{HISTORY}?format=csv&symbol=NOSUCHSYMBOL")

    assert csv_body(response) == (",".join(HEADER) + "\r\n").encode()


def test_other_users_rows_are_never_exported(
    user: Any, user_client: APIClient, make_user: Callable[..., Any]
) -> None:
    other = make_user()
    snapshot(other, account_of(other, "theirs"), 1)
    snapshot(user, account_of(user, "mine"), 2)

    rows = exported(user_client)

    assert [row[1] for row in rows[1:]] == ["mine"]
    assert exported(user_client, f"account={other.exchange_accounts.get().pk}") == [HEADER]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "until"),
        ("since=2026-11-01T00:00:00", "since"),  # no timezone
        ("account=0", "account"),
        ("symbol=" + "X" * 41, "symbol"),
    ],
)
def test_a_bad_filter_is_a_json_400_whatever_format_was_asked(
    user_client: APIClient, query: str, field: str
) -> None:
    for response in (
        user_client.get(f"{HISTORY}?format=csv&{query}"),
        user_client.get(f"{HISTORY}?{query}", HTTP_ACCEPT="text/csv"),
    ):
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert body["code"] == "invalid"
        assert field in body["errors"]


def test_json_stays_the_default_and_csv_is_only_what_is_asked(
    user: Any, user_client: APIClient
) -> None:
    snapshot(user, account_of(user, "main"), 1)

    for response in (
        user_client.get(HISTORY),
        user_client.get(f"{HISTORY}?format=json"),
        user_client.get(HISTORY, HTTP_ACCEPT="application/json"),
        user_client.get(HISTORY, HTTP_ACCEPT="*/*"),
    ):
        assert response["Content-Type"] == "application/json"
        assert response.json()["count"] == 1
        assert "Accept" in response["Vary"]
    assert user_client.get(HISTORY, HTTP_ACCEPT="text/csv")["Content-Type"].startswith("text/csv")
    unknown = user_client.get(f"{HISTORY}?format=xml")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
    refused = user_client.get(HISTORY, HTTP_ACCEPT="application/xml")
    assert refused.status_code == 406
    assert refused.json()["code"] == "not_acceptable"


def test_exports_need_credentials_and_a_read_only_api_key_may_export(
    user: Any, user_client: APIClient, api_client: APIClient
) -> None:
    snapshot(user, account_of(user, "main"), 1)
    key = user_client.post("/api/v1/me/api-keys", {"name": "export"}, format="json").json()["key"]

    anonymous = api_client.get(f"{HISTORY}?format=csv")
    with_key = APIClient(HTTP_X_API_KEY=key).get(HISTORY, HTTP_ACCEPT="text/csv")

    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/json"
    assert anonymous.json()["code"] == "not_authenticated"
    assert with_key.status_code == 200
    assert len(csv_rows(csv_body(with_key))) == 2


def test_chunks_meet_at_rows_of_the_same_instant_without_losing_or_repeating_one(
    user: Any,
) -> None:
    from cryptotrack.core.csv_export import csv_chunks
    from cryptotrack.positions.representations import HISTORY_CSV
    from cryptotrack.positions.selectors import position_history

    account = account_of(user, "main")
    made = [
        snapshot(user, account, n, taken_at=START + timedelta(minutes=n // 4)) for n in range(11)
    ]

    pieces = list(csv_chunks(position_history(user=user), HISTORY_CSV, chunk_rows=3))

    assert len(pieces) == 1 + 4  # the header, then chunks of 3, 3, 3 and 2 rows
    rows = csv_rows(b"".join(pieces))[1:]
    expected = sorted(made, key=lambda s: (s.taken_at, s.pk), reverse=True)
    assert [row[HEADER.index("size")] for row in rows] == [f"{s.size:.10f}" for s in expected]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("account=99999999999999999999999", 200),  # no such account: the header alone
        ("symbol=%ED%A0%80", 200),  # not UTF-8: read as U+FFFD, no such symbol
        ("account=NaN", 400),
        ("account=Infinity", 400),
        ("symbol=%00", 400),
        ("since=10000-01-01T00:00:00Z", 400),
        ("since=2026-11-01T00:00:00%2B99:00", 400),
    ],
)
def test_hostile_filters_are_a_json_400_or_an_empty_export_never_a_broken_stream(
    user: Any, user_client: APIClient, query: str, status: int
) -> None:
    snapshot(user, account_of(user, "main"), 1)

    response = user_client.get(f"{HISTORY}?format=csv&{query}")

    assert response.status_code == status
    if status == 200:
        assert csv_rows(csv_body(response)) == [HEADER]
    else:
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "invalid"


EVENTS = "/api/v1/positions/events"
EVENT_HEADER = [
    "id",
    "account_id",
    "account_label",
    "symbol",
    "kind",
    "side",
    "size_before",
    "size_after",
    "entry_price",
    "mark_price",
    "realised_pnl",
    "settle_currency",
    "at",
]


def test_events_export_is_every_event_of_the_json_list_with_the_same_filters(
    user: Any, user_client: APIClient
) -> None:
    main = account_of(user, "main")
    kinds = ["opened", "increased", "reduced", "closed", "side_flipped"]
    for n in range(2105):  # more than one chunk of rows
        PositionEvent.objects.create(
            user=user,
            account=main if n % 2 else None,
            account_label="main" if n % 2 else 'Gone, "old"',
            symbol="XBTUSDTM",
            kind=kinds[n % 5],
            side="long",
            size_before=Decimal(n),
            size_after=Decimal(n + 1),
            entry_price=Decimal("60000"),
            mark_price=Decimal("60001.5"),
            realised_pnl=Decimal("-0.1"),
            settle_currency="USDT",
            at=START + timedelta(seconds=n // 2),
        )

    rows = csv_rows(csv_body(user_client.get(EVENTS, HTTP_ACCEPT="text/csv")))

    assert rows[0] == EVENT_HEADER
    assert len(rows) == 1 + 2105
    assert [int(row[0]) for row in rows[1:]] == list(
        PositionEvent.objects.order_by("-at", "-id").values_list("id", flat=True)
    )
    assert rows[1][1:3] == ["", 'Gone, "old"']  # the newest: n = 2104, account deleted
    assert rows[2][1:3] == [str(main.pk), "main"]
    for query in ["kind=closed", f"account={main.pk}", "since=2026-11-01T12:10:00Z"]:
        page = user_client.get(f"{EVENTS}?per_page=100&{query}").json()["results"][:100]
        expected = [
            [str(e["id"]), str(e["account"]["id"] or ""), e["account"]["label"]]
            + [str(e[name]) for name in EVENT_HEADER[3:]]
            for e in page
        ]
        exported = csv_rows(csv_body(user_client.get(f"{EVENTS}?format=csv&{query}")))
        assert exported[1 : 1 + len(expected)] == expected, query
    bad = user_client.get(f"{EVENTS}?format=csv&kind=exploded")
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/json"
    assert "kind" in bad.json()["errors"]
