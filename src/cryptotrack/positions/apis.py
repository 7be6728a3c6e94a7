"""HTTP API of position tracking: /tracking (the ``default`` account),
/exchange-accounts/{id}/tracking, /positions, /positions/history,
/positions/events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts.authentication import current_user
from cryptotrack.accounts.services import exchange_account_get
from cryptotrack.audit.services import Origin
from cryptotrack.core.csv_export import (
    CsvExport,
    CsvExportApi,
    csv_response,
    format_parameter,
    list_or_csv_responses,
)
from cryptotrack.core.fields import AwareDateTimeField, IntegerField, StrictCharField
from cryptotrack.core.keyset_pagination import KeysetPagination
from cryptotrack.core.pagination import (
    PageNumberPagination,
    envelope_json,
    parse_page_params,
    parse_per_page,
)
from cryptotrack.positions import selectors, services
from cryptotrack.positions.models import PositionEvent, TrackingSubscription
from cryptotrack.positions.representations import (
    EVENTS_CSV,
    HISTORY_CSV,
    PositionEventOutput,
    PositionOutput,
    PositionSnapshotOutput,
    freshness_fields,
)
from cryptotrack.positions.storage import positions_json


def symbol_field() -> StrictCharField:
    """A KuCoin futures symbol such as ``XBTUSDTM``."""
    return StrictCharField(
        max_length=30,
        validators=[
            RegexValidator(
                r"^[A-Z0-9]{2,30}$",
                "A KuCoin futures symbol: 2-30 capital letters or digits, e.g. XBTUSDTM.",
            )
        ],
    )


class TrackingErrorOutput(serializers.Serializer[Any]):
    kind = serializers.CharField()
    message = serializers.CharField()
    at = serializers.DateTimeField()


class TrackingOutput(serializers.Serializer[Any]):
    """The tracking status of API.md (``stopped`` when never started or cancelled)."""

    state = serializers.ChoiceField(choices=TrackingSubscription.State.choices)
    symbols = serializers.ListField(child=serializers.CharField())
    interval_seconds = serializers.IntegerField()
    last_polled_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    next_poll_at = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    last_error = TrackingErrorOutput(allow_null=True)


def tracking_payload(subscription: TrackingSubscription | None, *, interval: int) -> dict[str, Any]:
    if subscription is None:
        data: dict[str, Any] = {
            "state": TrackingSubscription.State.STOPPED,
            "symbols": [],
            "interval_seconds": interval,
            "last_polled_at": None,
            "last_success_at": None,
            "next_poll_at": None,
            "consecutive_failures": 0,
            "last_error": None,
        }
    else:
        active = subscription.state == TrackingSubscription.State.ACTIVE
        data = {
            "state": subscription.state,
            "symbols": subscription.symbols,
            "interval_seconds": int(subscription.interval.total_seconds()),
            "last_polled_at": subscription.last_polled_at,
            "last_success_at": subscription.last_success_at,
            "next_poll_at": subscription.next_poll_at if active else None,
            "consecutive_failures": subscription.consecutive_failures,
            "last_error": (
                {
                    "kind": subscription.last_error_kind,
                    "message": subscription.last_error_message,
                    "at": subscription.last_error_at,
                }
                if subscription.last_error_kind
                else None
            ),
        }
    return dict(TrackingOutput(data).data)


class TrackingInput(serializers.Serializer[Any]):
    symbols = serializers.ListField(
        child=symbol_field(), required=False, default=list, max_length=100
    )

    class Meta:
        ref_name = "TrackingStart"  # the OpenAPI component (every view nests an "Input")


class TrackingApi(APIView):
    """Tracking of the ``default`` exchange account (what existing clients know)."""

    InputSerializer = TrackingInput

    @extend_schema(
        operation_id="tracking_status", tags=["positions"], responses={200: TrackingOutput}
    )
    def get(self, request: Request) -> Response:
        subscription = selectors.tracking_subscription(user=current_user(request))
        return Response(tracking_payload(subscription, interval=settings.TRACKING_INTERVAL_SECONDS))

    @extend_schema(
        operation_id="tracking_start",
        tags=["positions"],
        request=InputSerializer,
        responses={201: TrackingOutput, 200: TrackingOutput},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription, created = services.start_tracking(
            user=current_user(request),
            symbols=serializer.validated_data["symbols"],
            origin=Origin.of(request),
        )
        return Response(
            tracking_payload(subscription, interval=int(subscription.interval.total_seconds())),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(operation_id="tracking_stop", tags=["positions"], responses={204: None})
    def delete(self, request: Request) -> Response:
        services.stop_tracking(user=current_user(request), origin=Origin.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountTrackingApi(APIView):
    """Tracking of one exchange account: the bodies and status of ``/tracking``."""

    @extend_schema(
        operation_id="exchange_account_tracking_status",
        tags=["positions"],
        responses={200: TrackingOutput},
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = exchange_account_get(user=current_user(request), account_id=account_id)
        subscription = selectors.tracking_subscription(user=account.user, account=account)
        return Response(tracking_payload(subscription, interval=settings.TRACKING_INTERVAL_SECONDS))

    @extend_schema(
        operation_id="exchange_account_tracking_start",
        tags=["positions"],
        request=TrackingInput,
        responses={201: TrackingOutput, 200: TrackingOutput},
    )
    def post(self, request: Request, account_id: int) -> Response:
        # The body first (as alerts do): a malformed body is a 400 whatever the id.
        serializer = TrackingInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = exchange_account_get(user=current_user(request), account_id=account_id)
        subscription, created = services.start_tracking(
            user=account.user,
            account=account,
            symbols=serializer.validated_data["symbols"],
            origin=Origin.of(request),
        )
        return Response(
            tracking_payload(subscription, interval=int(subscription.interval.total_seconds())),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="exchange_account_tracking_stop", tags=["positions"], responses={204: None}
    )
    def delete(self, request: Request, account_id: int) -> Response:
        account = exchange_account_get(user=current_user(request), account_id=account_id)
        services.stop_tracking(user=account.user, account=account, origin=Origin.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def account_filter_field() -> IntegerField:
    return IntegerField(
        required=False,
        min_value=1,
        help_text="An exchange account's id: only its positions (another user's: none).",
    )


class PositionAccountFreshnessOutput(serializers.Serializer[Any]):
    """How fresh one account's positions are (``stale_reason`` null when fresh)."""

    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    as_of = serializers.DateTimeField(allow_null=True)
    tracking = serializers.ChoiceField(choices=TrackingSubscription.State.choices)
    tracking_error = serializers.CharField(
        allow_null=True, help_text="The error kind that paused tracking (while paused)."
    )
    stale = serializers.BooleanField()
    stale_reason = serializers.ChoiceField(choices=selectors.StaleReason.choices, allow_null=True)


class PositionListApi(APIView):
    class FilterSerializer(serializers.Serializer[Any]):
        symbol = serializers.CharField(required=False, max_length=40)
        account = account_filter_field()

    @extend_schema(
        operation_id="positions_list",
        tags=["positions"],
        parameters=[
            FilterSerializer,
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter("per_page", int, description="Rows per page, 1-100 (default 10)."),
        ],
        responses={
            200: inline_serializer(
                "PaginatedCurrentPositions",
                {
                    "count": serializers.IntegerField(),
                    "total_pages": serializers.IntegerField(),
                    "page": serializers.IntegerField(),
                    "per_page": serializers.IntegerField(),
                    "as_of": serializers.DateTimeField(allow_null=True),
                    "source": serializers.ChoiceField(choices=["cache", "database"]),
                    "stale": serializers.BooleanField(),
                    "stale_reason": serializers.ChoiceField(
                        choices=selectors.StaleReason.choices, allow_null=True
                    ),
                    "accounts": PositionAccountFreshnessOutput(many=True),
                    "results": PositionOutput(many=True),
                },
            )
        },
    )
    def get(self, request: Request) -> HttpResponse:
        filtered: dict[str, Any] = {}
        if request.query_params:  # most reads have none: no serializer built for them
            filters = self.FilterSerializer(data=request.query_params)
            filters.is_valid(raise_exception=True)
            filtered = filters.validated_data
        current = selectors.current_positions(
            user=current_user(request),
            symbol=filtered.get("symbol"),
            account_id=filtered.get("account"),
        )
        page, _ = parse_page_params(request)
        body = positions_page_json(current, page=page, per_page=parse_per_page(request))
        return HttpResponse(body, content_type="application/json")


def positions_page_json(
    current: selectors.CurrentPositions,
    *,
    page: int = 1,
    per_page: int = PageNumberPagination.default_per_page,
) -> bytes:
    """One page of ``GET /positions`` encoded: the envelope, the freshness fields and the
    rows (``positions.fast_read`` answers the first page with this very function)."""
    paginator = PageNumberPagination()
    paginator.page, paginator.per_page = page, per_page
    paginator.count = current.count
    paginator.extra = freshness_fields(current)
    if page == 1 and current.count <= per_page:
        # The usual case, all of the user's positions: the cached JSON as it is.
        results = current.positions_json
    else:
        start = (page - 1) * per_page
        results = positions_json(current.positions[start : start + per_page])
    return envelope_json(paginator, results)


class HistoryPagination(KeysetPagination):
    """Pages, or a keyset cursor on ``(taken_at, id)`` (the ``snapshots_by_user_time``
    index): deep history costs what its first page costs."""

    time_field = "taken_at"


class TimeRangeFilter(serializers.Serializer[Any]):
    """``symbol``, ``account`` and ``[since, until)`` of the stored rows' lists."""

    symbol = serializers.CharField(required=False, max_length=40)
    account = account_filter_field()
    since = AwareDateTimeField(required=False)
    until = AwareDateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["Must be after `since`."]})
        return attrs


class PositionHistoryApi(CsvExportApi):
    """The caller's position snapshots, newest first: by page, by cursor, or all as CSV."""

    pagination_class = HistoryPagination

    class FilterSerializer(TimeRangeFilter):
        class Meta:
            ref_name = "PositionHistoryFilter"

    @extend_schema(
        operation_id="positions_history",
        tags=["positions"],
        parameters=[FilterSerializer, format_parameter(HISTORY_CSV)],
        responses=list_or_csv_responses(PositionSnapshotOutput(many=True)),
    )
    def get(self, request: Request) -> HttpResponseBase:
        return _stored_rows_page(
            self,
            request,
            select=selectors.position_history,
            output=PositionSnapshotOutput,
            export=HISTORY_CSV,
        )


def _stored_rows_page(
    view: PositionHistoryApi | PositionEventListApi,
    request: Request,
    *,
    select: Callable[..., QuerySet[Any]],
    output: type[serializers.ModelSerializer[Any]],
    export: CsvExport,
) -> HttpResponseBase:
    """One page of the caller's stored rows (history, events): the view's filters parsed
    (400 naming the field), ``select`` queried, a page or keyset cursor answered — or,
    when CSV was asked, every row as ``export``."""
    filters = view.FilterSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    rows = select(user=current_user(request), **filters.validated_data)
    if view.wants_csv(request):
        return csv_response(rows, export)
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(output(page, many=True).data)


class EventsPagination(KeysetPagination):
    """Pages, or a keyset cursor on ``(at, id)`` (the ``events_by_user_time`` index)."""

    time_field = "at"


class PositionEventListApi(CsvExportApi):
    """What changed in the user's positions between polls, newest first."""

    pagination_class = EventsPagination

    class FilterSerializer(TimeRangeFilter):
        kind = serializers.ChoiceField(choices=PositionEvent.Kind.choices, required=False)

        class Meta:
            ref_name = "PositionEventFilter"

    @extend_schema(
        operation_id="positions_events",
        tags=["positions"],
        parameters=[FilterSerializer, format_parameter(EVENTS_CSV)],
        responses=list_or_csv_responses(PositionEventOutput(many=True)),
    )
    def get(self, request: Request) -> HttpResponseBase:
        return _stored_rows_page(
            self,
            request,
            select=selectors.position_events,
            output=PositionEventOutput,
            export=EVENTS_CSV,
        )
