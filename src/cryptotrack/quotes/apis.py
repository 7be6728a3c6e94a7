"""HTTP API of quotes: the history (by page or cursor), a forced refresh, the latest quote.

JWT required; personal API keys may read (GET). Each view parses its input with its own
serializer, calls one service or selector, and answers :class:`QuoteOutput`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from cryptotrack.accounts.authentication import current_user
from cryptotrack.core.csv_export import (
    CsvExportApi,
    csv_response,
    format_parameter,
    list_or_csv_responses,
)
from cryptotrack.core.exceptions import NotFound
from cryptotrack.core.fields import AwareDateTimeField
from cryptotrack.core.schema import ErrorSerializer
from cryptotrack.core.throttling import ScopedRateThrottle
from cryptotrack.quotes import selectors, services
from cryptotrack.quotes.models import Quote
from cryptotrack.quotes.pagination import QuotePagination
from cryptotrack.quotes.pairs import (
    CURRENCY_CODE_PATTERN,
    DEFAULT_FROM_CURRENCY,
    DEFAULT_TO_CURRENCY,
    Pair,
)
from cryptotrack.quotes.serializers import QUOTES_CSV, QuoteOutput

ALL_SOURCES = "all"
_CODE_MESSAGE = "3 to 10 uppercase letters or digits, like BTC or USD."


class CurrencyCodeField(serializers.RegexField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            CURRENCY_CODE_PATTERN,
            error_messages={"invalid": _CODE_MESSAGE},
            help_text="Currency code: " + _CODE_MESSAGE,
            **kwargs,
        )


_PUBLIC_ERRORS = {
    502: OpenApiResponse(
        ErrorSerializer,
        description="Alpha Vantage answered an error (`upstream_rejected`, "
        "`upstream_invalid_key`), timed out (`upstream_timeout`), was unreachable or 5xx "
        "(`upstream_unavailable`) or answered garbage (`upstream_bad_response`).",
    ),
    503: OpenApiResponse(
        ErrorSerializer,
        description="Our daily Alpha Vantage quota is spent (`quota_exhausted`) or Alpha "
        "Vantage's rate limit is reached (`upstream_rate_limited`); `Retry-After` says when "
        "to come back.",
    ),
}

_SHARE_SPENT = OpenApiResponse(
    ErrorSerializer,
    description="This user's forced refreshes of the day are spent "
    "(`forced_refresh_share_spent`); `Retry-After` says when they renew (midnight UTC). "
    "Also the per-minute refresh throttle (`throttled`).",
)


class RefreshOutput(QuoteOutput):
    """The quote a forced refresh stored, and why it is not Alpha Vantage's (the fallback)."""

    warning = serializers.SerializerMethodField(
        help_text="Null when Alpha Vantage answered; otherwise why the rate comes from the "
        "fallback provider named in `source`."
    )

    class Meta(QuoteOutput.Meta):
        ref_name = "QuoteRefreshed"
        fields = [*QuoteOutput.Meta.fields, "warning"]

    def get_warning(self, quote: Quote) -> str | None:
        warning: str | None = self.context.get("warning")
        return warning


class QuoteListApi(CsvExportApi):
    """``GET``: the history newest first. ``POST``: fetch a quote now, store and answer it."""

    pagination_class = QuotePagination
    throttle_scope = "quotes_refresh"

    @property
    def allow_all_max(self) -> int:
        """``per_page=all`` answers at most this many rows."""
        return int(settings.QUOTES_PER_PAGE_ALL_MAX)

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = list(super().get_throttles())
        if self.request is not None and self.request.method == "POST":
            # Per user: each forced refresh may spend one of the day's upstream calls.
            throttles.append(ScopedRateThrottle())
        return throttles

    class FilterSerializer(serializers.Serializer[Any]):
        # A field named like Field.source: DRF collects it as declared; only the stubs mind.
        source = serializers.ChoiceField(  # type: ignore[assignment]
            choices=[*Quote.Source.values, ALL_SOURCES],
            required=False,
            default=Quote.Source.ALPHAVANTAGE,
            help_text="Quotes of this provider only; `all` for every one. Default: "
            "`alphavantage`, the record kept on the schedule (the live feed stores the "
            "others every minute).",
        )
        from_currency = CurrencyCodeField(required=False)
        to_currency = CurrencyCodeField(required=False)
        since = AwareDateTimeField(
            required=False, help_text="Only quotes fetched at or after this time (ISO 8601)."
        )
        until = AwareDateTimeField(
            required=False, help_text="Only quotes fetched at or before this time (ISO 8601)."
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            since, until = attrs.get("since"), attrs.get("until")
            if since is not None and until is not None and since > until:
                raise serializers.ValidationError({"until": ["Must not be before `since`."]})
            return attrs

    class InputSerializer(serializers.Serializer[Any]):
        from_currency = CurrencyCodeField(required=False, default=DEFAULT_FROM_CURRENCY)
        to_currency = CurrencyCodeField(required=False, default=DEFAULT_TO_CURRENCY)

        class Meta:
            ref_name = "QuoteRefresh"  # the OpenAPI component (every app nests an "Input")

    @extend_schema(
        operation_id="quotes_list",
        tags=["quotes"],
        parameters=[FilterSerializer, format_parameter(QUOTES_CSV)],
        responses=list_or_csv_responses(QuoteOutput(many=True)),
    )
    def get(self, request: Request) -> HttpResponseBase:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = dict(filters.validated_data)
        if params["source"] == ALL_SOURCES:
            params["source"] = None
        quotes = selectors.quote_list(**params)
        if self.wants_csv(request):
            return csv_response(quotes, QUOTES_CSV)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(quotes, request, view=self)
        return paginator.get_paginated_response(QuoteOutput(page, many=True).data)

    @extend_schema(
        operation_id="quotes_refresh",
        tags=["quotes"],
        request=InputSerializer,
        responses={201: RefreshOutput, 429: _SHARE_SPENT, **_PUBLIC_ERRORS},
        description="Fetches the rate from Alpha Vantage now (BTC/USD by default), stores it "
        "and answers it. Simultaneous refreshes of a pair, from any user and any server, "
        "share one upstream call and answer the same stored quote. A code that is not on "
        "Alpha Vantage's physical or digital currency lists answers 400 `unknown_currency` "
        "without any upstream call; a listed pair Alpha Vantage has no rate for answers 400 "
        "`unknown_pair`. Each user may make `QUOTES_USER_DAILY_FORCED` refreshes a day that "
        "spend an upstream call (one answered by another user's call in flight costs "
        "nothing); part of the daily quota is kept for the schedule. When Alpha Vantage "
        "cannot answer (quota spent, rate limited, failing) the rate comes from CoinGecko: "
        "201 with `source` saying so and `warning` saying why; 502/503 only when CoinGecko "
        "cannot price the pair either.",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.force_refresh(
            pair=Pair(data["from_currency"], data["to_currency"]), user_id=current_user(request).pk
        )
        answer = RefreshOutput(result.quote, context={"warning": result.warning})
        return Response(answer.data, status=status.HTTP_201_CREATED)


class LatestQuoteApi(APIView):
    """The newest quote of a pair, from the cache (database when the cache misses or fails)."""

    class FilterSerializer(serializers.Serializer[Any]):
        from_currency = CurrencyCodeField(required=False, default=DEFAULT_FROM_CURRENCY)
        to_currency = CurrencyCodeField(required=False, default=DEFAULT_TO_CURRENCY)

    @extend_schema(
        operation_id="quotes_latest",
        tags=["quotes"],
        parameters=[FilterSerializer],
        responses={200: QuoteOutput},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        pair = Pair(filters.validated_data["from_currency"], filters.validated_data["to_currency"])
        entry = selectors.latest_quote(pair=pair)
        if entry is None:
            raise NotFound(f"No {pair} quote yet.")
        return Response(entry["quote"])
