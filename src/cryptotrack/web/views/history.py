"""What happened and what is held: a position's detail (its chart over a range, its
events), ``/balances`` and ``/events`` (with its CSV download).

Each page reads the selector its API endpoint reads, with the endpoint's own filter
serializer and pagination; nothing here decides anything about positions or balances.

The CSV download is a page of its own (``/events.csv``), not a link to the API's
``?format=csv``: the API authenticates by JWT or API key, a browser has only its session,
and opening the API to session cookies would put CSRF in front of every API path for one
read. This view is as thin as the API's CSV branch: the same filters, the same selector,
the same ``core.csv_export.csv_response``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.views.decorators.http import require_GET
from rest_framework import serializers
from rest_framework.request import Request

from cryptotrack.accounts.models import User
from cryptotrack.accounts.services import exchange_account_list
from cryptotrack.balances import selectors as balance_selectors
from cryptotrack.balances.apis import BalanceListApi
from cryptotrack.core.csv_export import csv_response
from cryptotrack.core.pagination import PageNumberPagination
from cryptotrack.positions import selectors
from cryptotrack.positions.apis import EventsPagination, PositionEventListApi
from cryptotrack.positions.models import PositionEvent
from cryptotrack.positions.representations import EVENTS_CSV, PositionEventOutput
from cryptotrack.web.auth import page
from cryptotrack.web.forms import NON_FIELD, FormErrors, posted, validated
from cryptotrack.web.rendering import render_page

# The chart's ranges, as the links offer them; 24 h when none (or a bad one) is asked.
RANGES = {
    "1h": ("1 h", timedelta(hours=1)),
    "24h": ("24 h", timedelta(hours=24)),
    "7d": ("7 d", timedelta(days=7)),
    "30d": ("30 d", timedelta(days=30)),
}
DEFAULT_RANGE = "24h"
# The position's own events shown under its chart (all of them: the events page).
DETAIL_EVENTS = 20
EVENT_FILTERS = ("symbol", "kind", "account", "since", "until")


class ChartRangeInput(serializers.Serializer[Any]):
    """``?range=`` of the position page."""

    range = serializers.ChoiceField(choices=list(RANGES), required=False, default=DEFAULT_RANGE)


@require_GET
@page
def position_detail(request: HttpRequest, account_id: int, symbol: str, side: str) -> HttpResponse:
    """One open position: its figures now, its chart over the chosen range, its events.
    A closed position, another user's and one that never was all answer the same 404."""
    user = _user(request)
    current = selectors.current_positions(user=user, symbol=symbol, account_id=account_id)
    position = next((row for row in current.positions if row["side"] == side), None)
    if position is None:
        raise Http404("No such open position.")
    params, errors = validated(ChartRangeInput, posted(request.GET, "range"))
    chosen = params["range"] if params else DEFAULT_RANGE
    chart = selectors.position_chart(
        user=user,
        account=account_id,
        symbol=symbol,
        side=side,
        since=timezone.now() - RANGES[chosen][1],
    )
    events = selectors.position_events(user=user, account=account_id, symbol=symbol)
    freshness = next((a for a in current.accounts if a.id == account_id), None)
    context = {
        "position": position,
        "freshness": freshness,
        "stale_reason": (
            selectors.StaleReason(freshness.stale_reason).label
            if freshness is not None and freshness.stale_reason
            else None
        ),
        "ranges": [(key, label) for key, (label, _) in RANGES.items()],
        "chosen": chosen,
        "errors": errors,
        "chart": chart,
        "chart_data": _chart_series(chart),
        "summary": _chart_summary(chart),
        "events": PositionEventOutput(events[:DETAIL_EVENTS], many=True).data,
        "events_query": urlencode({"symbol": symbol, "account": account_id}),
    }
    return render_page(
        request,
        "web/history/position_detail.html",
        context,
        active="web:home",
        status=400 if errors else 200,
    )


def _chart_series(chart: selectors.PositionChart) -> dict[str, Any]:
    """The points as uPlot's columns: times in epoch seconds, amounts as numbers (a chart
    needs no more precision than a float; the table below it shows the exact values)."""
    points = chart.points
    return {
        "time": [point.taken_at.timestamp() for point in points],
        "mark_price": [float(point.mark_price) for point in points],
        "unrealised_pnl": [float(point.unrealised_pnl) for point in points],
        "liquidation_price": [
            None if point.liquidation_price is None else float(point.liquidation_price)
            for point in points
        ],
    }


def _chart_summary(chart: selectors.PositionChart) -> dict[str, Any] | None:
    """What the chart shows, in words: its span and the lowest and highest values."""
    points = chart.points
    if not points:
        return None
    marks = [point.mark_price for point in points]
    pnls = [point.unrealised_pnl for point in points]
    return {
        "first": points[0].taken_at,
        "last": points[-1].taken_at,
        "mark_min": min(marks),
        "mark_max": max(marks),
        "pnl_min": min(pnls),
        "pnl_max": max(pnls),
    }


def _page_of(
    paginator: PageNumberPagination, rows: Any, request: HttpRequest
) -> tuple[list[Any], FormErrors]:
    """One page of ``rows`` as the API pages them (``page``, ``per_page``, ``cursor``);
    a bad parameter is an error to show, as the API's 400 names it."""
    try:
        return paginator.paginate_queryset(rows, Request(request)), FormErrors()
    except serializers.ValidationError as exc:
        # The page's own parameters have no field on the form: the form's error, named.
        errors = FormErrors()
        for name, messages in FormErrors.of_serializer(exc.detail).by_field.items():
            for message in messages:
                errors.add(NON_FIELD, f"{name}: {message}")
        return [], errors


@require_GET
@page
def balances(request: HttpRequest) -> HttpResponse:
    """Per exchange account: spot balances, the futures overview, ``as_of``; and whether
    the page came from the cache or the database (``GET /api/v1/balances``)."""
    filters, errors = validated(
        BalanceListApi.FilterSerializer, posted(request.GET, "include_zero")
    )
    paginator = PageNumberPagination()
    accounts, page_errors = _page_of(
        paginator, balance_selectors.balance_accounts(user=_user(request)), request
    )
    errors.by_field.update(page_errors.by_field)
    include_zero = bool(filters and filters["include_zero"])
    result = balance_selectors.account_balances(accounts=accounts, include_zero=include_zero)
    context = {
        "accounts": result.results,
        "source": result.source,
        "include_zero": include_zero,
        "errors": errors,
        "pages": _page_links(paginator, {"include_zero": "true"} if include_zero else {}),
    }
    return render_page(
        request,
        "web/history/balances.html",
        context,
        active="web:balances",
        status=400 if errors else 200,
    )


@require_GET
@page
def events(request: HttpRequest) -> HttpResponse:
    """The events feed, newest first, filtered and paged as ``GET
    /api/v1/positions/events`` is."""
    given = posted(request.GET, *EVENT_FILTERS)
    filters, errors = validated(PositionEventListApi.FilterSerializer, given)
    rows: Sequence[PositionEvent] = []
    paginator = EventsPagination()
    if filters is not None:
        rows, errors = _page_of(
            paginator, selectors.position_events(user=_user(request), **filters), request
        )
    return _events_page(
        request, given=given, errors=errors, rows=rows, paginator=paginator, valid=not errors
    )


@require_GET
@page
def events_csv(request: HttpRequest) -> HttpResponseBase:
    """Every event the filters match, as the API's CSV export (filters refused: the
    events page with the errors)."""
    given = posted(request.GET, *EVENT_FILTERS)
    filters, errors = validated(PositionEventListApi.FilterSerializer, given)
    if filters is None:
        return _events_page(
            request, given=given, errors=errors, rows=[], paginator=None, valid=False
        )
    return csv_response(selectors.position_events(user=_user(request), **filters), EVENTS_CSV)


def _events_page(
    request: HttpRequest,
    *,
    given: dict[str, Any],
    errors: FormErrors,
    rows: Sequence[PositionEvent],
    paginator: EventsPagination | None,
    valid: bool,
) -> HttpResponse:
    context = {
        "given": given,
        "errors": errors,
        "events": PositionEventOutput(rows, many=True).data,
        "kinds": PositionEvent.Kind.choices,
        "accounts": exchange_account_list(user=_user(request)).order_by("id"),
        "csv_query": urlencode(given) if valid else None,
        "pages": _page_links(paginator, given) if paginator is not None and valid else None,
        "filtered": bool(given),
    }
    return render_page(
        request,
        "web/history/events.html",
        context,
        active="web:events",
        status=400 if errors else 200,
    )


def _page_links(paginator: PageNumberPagination, query: dict[str, Any]) -> dict[str, Any]:
    """Newer/older links of a paged list, keeping its filters (cursor mode: older only)."""
    cursor_mode = getattr(paginator, "cursor_mode", False)
    next_cursor = getattr(paginator, "next_cursor", None)
    newer = older = None
    if cursor_mode:
        if next_cursor:
            older = urlencode({**query, "cursor": next_cursor, "per_page": paginator.per_page})
    else:
        per_page = (
            {"per_page": paginator.per_page}
            if paginator.per_page != paginator.default_per_page
            else {}
        )
        if paginator.page > 1 and paginator.count:
            last_page = -(-paginator.count // paginator.per_page)
            newer = urlencode({**query, **per_page, "page": min(paginator.page - 1, last_page)})
        if paginator.page * paginator.per_page < paginator.count:
            older = urlencode({**query, **per_page, "page": paginator.page + 1})
    total_pages = -(-paginator.count // paginator.per_page) if paginator.count else 0
    return {
        "newer": newer,
        "older": older,
        "page": None if cursor_mode else paginator.page,
        "total_pages": None if cursor_mode else total_pages,
        "count": None if cursor_mode else paginator.count,
    }


def _user(request: HttpRequest) -> User:
    """The signed-in user (``@page`` lets no one else in)."""
    return cast(User, request.user)
