"""``/rates/live``: the product's one HTML page — the live rate of a pair and its recent history."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cryptotrack.quotes import selectors
from cryptotrack.quotes.pairs import Pair, configured_pairs, is_currency_code
from cryptotrack.quotes.serializers import quote_payload

HISTORY_POINTS = 60


@require_GET
def live_rates_page(request: HttpRequest) -> HttpResponse:
    """Public page; ``?from_currency=&to_currency=`` picks the pair (default: the first one
    of ``QUOTES_PAIRS``). The page then follows ``/ws/rates`` for that pair."""
    pairs = configured_pairs()
    pair = pairs[0]
    from_code = request.GET.get("from_currency", "")
    to_code = request.GET.get("to_currency", "")
    if is_currency_code(from_code) and is_currency_code(to_code):
        pair = Pair(from_code, to_code)
    history = [quote_payload(q) for q in selectors.recent_quotes(pair=pair, limit=HISTORY_POINTS)]
    context = {
        "pair": pair,
        "pairs": pairs,
        "history": history,
        "history_points": HISTORY_POINTS,
    }
    return render(request, "quotes/live.html", context)
