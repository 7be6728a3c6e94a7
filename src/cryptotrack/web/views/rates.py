"""``/rates``: a pair's history as a chart, its live value, and a forced refresh.

The history is ``quotes.selectors.recent_quotes`` (handed to ``js/rates.js`` with
``json_script``), the live value follows the public ``/ws/rates`` socket, and the refresh
button is ``POST /api/v1/quotes``: the same ``quotes.services.force_refresh``, the same
per-user ``quotes_refresh`` throttle and daily share; a refusal shows when to come back
(and answers ``Retry-After``). Without JavaScript the page still shows the latest value and
the recent quotes as a table, and the refresh button still works.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cryptotrack.accounts.models import User
from cryptotrack.core.exceptions import ApplicationError
from cryptotrack.core.throttling import ScopedRateThrottle, check_form_throttle
from cryptotrack.quotes import selectors, services
from cryptotrack.quotes.apis import LatestQuoteApi, QuoteListApi
from cryptotrack.quotes.pairs import Pair, configured_pairs
from cryptotrack.quotes.serializers import quote_payload
from cryptotrack.web.auth import page
from cryptotrack.web.forms import FormErrors, posted, validated
from cryptotrack.web.rendering import render_page, with_headers

ACTIVE = "web:rates"
HISTORY_POINTS = 240
TABLE_ROWS = 10
PAIR_FIELDS = ("from_currency", "to_currency")


@page
@require_GET
def rates(request: HttpRequest) -> HttpResponse:
    """``?from_currency=&to_currency=`` picks the pair (default: the first configured one)."""
    return _rates_page(request, _requested_pair(request.GET))


@page
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    """Fetch the pair's rate now; back to its page with the outcome, or the refusal."""
    pair = _requested_pair(request.POST)
    try:
        check_form_throttle(
            request, ScopedRateThrottle(), scope="quotes_refresh", what="forced refreshes"
        )
        data, errors = validated(QuoteListApi.InputSerializer, posted(request.POST, *PAIR_FIELDS))
        if data is None:
            return _rates_page(request, pair, refusal=errors, status=400)
        user = cast(User, request.user)  # @page lets only a signed-in user through
        result = services.force_refresh(
            pair=Pair(data["from_currency"], data["to_currency"]), user_id=user.pk
        )
    except ApplicationError as exc:
        response = _rates_page(
            request,
            pair,
            refusal=FormErrors.of_refusal(exc),
            retry_after=exc.headers.get("Retry-After"),
            status=exc.status,
        )
        return with_headers(response, exc.headers)
    quote = result.quote
    outcome = f"Refreshed: 1 {quote.from_currency} = {quote.rate} {quote.to_currency}"
    outcome += f" ({quote.get_source_display()})."
    if result.warning:
        outcome += f" {result.warning}"
    messages.success(request, outcome)
    query = urlencode({"from_currency": pair.from_currency, "to_currency": pair.to_currency})
    return HttpResponseRedirect(f"{reverse('web:rates')}?{query}")


def _requested_pair(params: Any) -> Pair:
    pairs = configured_pairs()
    if not any(params.get(field) for field in PAIR_FIELDS):
        return pairs[0]
    data, _ = validated(LatestQuoteApi.FilterSerializer, posted(params, *PAIR_FIELDS))
    return Pair(data["from_currency"], data["to_currency"]) if data else pairs[0]


def _rates_page(
    request: HttpRequest,
    pair: Pair,
    *,
    refusal: FormErrors | None = None,
    retry_after: str | None = None,
    status: int = 200,
) -> HttpResponse:
    history = [quote_payload(q) for q in selectors.recent_quotes(pair=pair, limit=HISTORY_POINTS)]
    latest = selectors.latest_quote(pair=pair)
    context = {
        "title": f"{pair} rates",
        "pair": pair,
        "pairs": configured_pairs(),
        "history": history,
        "table": list(reversed(history[-TABLE_ROWS:])),
        "latest": latest["quote"] if latest else None,
        "history_points": HISTORY_POINTS,
        "errors": refusal or FormErrors(),
        "retry_after": retry_after,
    }
    return render_page(request, "web/rates.html", context, active=ACTIVE, status=status)
