"""HTTP API of position alerts: create, list, read, change, delete (soft), re-arm, firings.

Each view parses input with its own serializer (field by field; which fields a kind takes
is the service's rule, answered as 400 with per-field ``errors``), calls one service or
selector, and shapes the answer with ``PositionAlertOutput`` / ``PositionAlertFiringOutput``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts.authentication import current_user
from cryptotrack.alerts import selectors, services
from cryptotrack.alerts.apis import PlainDecimalField, alert_channel_ids, alert_channels_field
from cryptotrack.alerts.models import (
    VALUE_MAX_DIGITS,
    PositionAlert,
    PositionAlertFiring,
)
from cryptotrack.core.fields import DecimalField, IntegerField
from cryptotrack.core.pagination import PageNumberPagination, parse_page_params, parse_per_page
from cryptotrack.positions.apis import symbol_field
from cryptotrack.positions.models import PositionEvent

MAX_THRESHOLD = Decimal(10) ** 12


class PositionAlertNumberField(DecimalField):
    """A threshold or percentage: a finite decimal (string or number, not a boolean)."""

    def __init__(
        self,
        *,
        limit: Decimal = MAX_THRESHOLD,
        places: int = 10,
        min_value: Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        lowest = -limit if min_value is None else min_value
        out_of_range = f"Give a value between {lowest} and {limit}."
        super().__init__(
            max_digits=VALUE_MAX_DIGITS,
            decimal_places=places,
            max_value=limit,
            min_value=lowest,
            error_messages={
                "invalid": 'Give a decimal number, e.g. "5" or "-20.5".',
                "max_value": out_of_range,
                "min_value": out_of_range,
                "max_whole_digits": out_of_range,
                "max_digits": "This number has too many digits.",
                "max_decimal_places": f"Use at most {places} decimal places.",
            },
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class PositionAlertPlainField(PlainDecimalField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)


class PositionAlertAccountOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label


class PositionAlertOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    account = PositionAlertAccountOutput(
        allow_null=True, help_text="The account watched; null: every account of yours."
    )
    symbol = serializers.CharField(allow_null=True, help_text="null: every symbol.")
    kind = serializers.ChoiceField(choices=PositionAlert.Kind.choices)
    threshold_percent = PositionAlertPlainField(
        help_text="liquidation_distance and pnl_percent: the threshold, in percent."
    )
    threshold = PositionAlertPlainField(help_text="pnl_amount: in the settle currency.")
    direction = serializers.ChoiceField(choices=PositionAlert.Direction.choices, allow_null=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=PositionEvent.Kind.choices), allow_null=True
    )
    hysteresis_percent = PositionAlertPlainField(
        help_text="Percent of |threshold| the value must move back past it to re-arm."
    )
    status = serializers.ChoiceField(choices=PositionAlert.Status.choices)
    channels = serializers.ListField(
        child=serializers.IntegerField(), help_text="Where firings go; empty: by email."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        kind = instance.kind
        threshold_kind = kind != PositionAlert.Kind.EVENT
        data = {
            "id": instance.pk,
            "account": (
                {"id": instance.account_id, "label": instance.account.label}
                if instance.account is not None
                else None
            ),
            "symbol": instance.symbol or None,
            "kind": kind,
            "threshold_percent": instance.threshold
            if kind in {PositionAlert.Kind.LIQUIDATION_DISTANCE, PositionAlert.Kind.PNL_PERCENT}
            else None,
            "threshold": instance.threshold if kind == PositionAlert.Kind.PNL_AMOUNT else None,
            "direction": instance.direction or None,
            "events": instance.events if not threshold_kind else None,
            "hysteresis_percent": instance.hysteresis_percent if threshold_kind else None,
            "status": instance.status,
            "channels": alert_channel_ids(instance),
            "created_at": instance.created_at,
            "updated_at": instance.updated_at,
        }
        return super().to_representation(data)

    class Meta:
        ref_name = "PositionAlertOutput"


class PositionAlertFiringOutput(serializers.ModelSerializer[PositionAlertFiring]):
    account = serializers.SerializerMethodField()
    size = PositionAlertPlainField()
    value = PositionAlertPlainField()
    threshold = PositionAlertPlainField()
    mark_price = PositionAlertPlainField()
    liquidation_price = PositionAlertPlainField()
    unrealised_pnl = PositionAlertPlainField()
    email_state = serializers.CharField(source="state", help_text="The email's delivery state.")

    class Meta:
        model = PositionAlertFiring
        ref_name = "PositionAlertFiringOutput"
        fields = [
            "id",
            "account",
            "symbol",
            "side",
            "size",
            "kind",
            "value",
            "threshold",
            "direction",
            "event",
            "event_kind",
            "mark_price",
            "liquidation_price",
            "unrealised_pnl",
            "settle_currency",
            "fired_at",
            "email_state",
            "sent_at",
        ]

    @extend_schema(responses=PositionAlertAccountOutput)
    def get_account(self, firing: PositionAlertFiring) -> dict[str, Any]:
        return {"id": firing.account_id, "label": firing.account_label}


class PositionAlertShapeInput(serializers.Serializer[Any]):
    """The fields that say what an alert watches (kind rules are checked by the service)."""

    account = IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="One of your exchange accounts; omitted or null: all of them.",
    )
    symbol = symbol_field()
    threshold_percent = PositionAlertNumberField(
        limit=services.MAX_PNL_PERCENT,
        required=False,
        help_text="liquidation_distance: > 0 and <= 100; pnl_percent: ROE %, not 0.",
    )
    threshold = PositionAlertNumberField(
        required=False, help_text="pnl_amount: in the settle currency, not 0."
    )
    direction = serializers.ChoiceField(choices=PositionAlert.Direction.choices, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=PositionEvent.Kind.choices),
        required=False,
        allow_empty=False,
        max_length=len(PositionEvent.Kind.choices) * 2,
        help_text="event: the event kinds it fires on.",
    )
    hysteresis_percent = PositionAlertNumberField(
        limit=Decimal(100),
        places=3,
        min_value=Decimal(0),
        required=False,
        help_text="Threshold alerts: percent of |threshold| (0-100, default 10).",
    )
    channels = alert_channels_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        symbol = self.fields["symbol"]
        symbol.required, symbol.allow_null = False, True
        symbol.help_text = "One symbol, e.g. XBTUSDTM; omitted or null: every symbol."


class PositionAlertListApi(APIView):
    pagination_class = PageNumberPagination

    class FilterSerializer(serializers.Serializer[Any]):
        status = serializers.ChoiceField(choices=PositionAlert.Status.choices, required=False)

        class Meta:
            ref_name = "PositionAlertFilter"

    class InputSerializer(PositionAlertShapeInput):
        kind = serializers.ChoiceField(choices=PositionAlert.Kind.choices)

        class Meta:
            ref_name = "PositionAlertCreateInput"

    @extend_schema(
        operation_id="position_alerts_list",
        tags=["position alerts"],
        parameters=[FilterSerializer],
        responses={200: PositionAlertOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        alerts = selectors.position_alert_list(user=current_user(request), **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(alerts, request, view=self)
        return paginator.get_paginated_response(PositionAlertOutput(page, many=True).data)

    @extend_schema(
        operation_id="position_alerts_create",
        tags=["position alerts"],
        request=InputSerializer,
        responses={201: PositionAlertOutput},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.position_alert_create(
            user=current_user(request), **serializer.validated_data
        )
        return Response(PositionAlertOutput(alert).data, status=status.HTTP_201_CREATED)


class PositionAlertDetailApi(APIView):
    error_statuses = (409,)

    class InputSerializer(PositionAlertShapeInput):
        status = serializers.ChoiceField(
            choices=[PositionAlert.Status.ACTIVE, PositionAlert.Status.PAUSED],
            required=False,
            help_text="paused: kept but not evaluated; active: evaluated again.",
        )

        class Meta:
            ref_name = "PositionAlertUpdateInput"

    @extend_schema(
        operation_id="position_alerts_read",
        tags=["position alerts"],
        responses={200: PositionAlertOutput},
    )
    def get(self, request: Request, alert_id: int) -> Response:
        alert = selectors.position_alert_get(user=current_user(request), alert_id=alert_id)
        return Response(PositionAlertOutput(alert).data)

    @extend_schema(
        operation_id="position_alerts_update",
        tags=["position alerts"],
        request=InputSerializer,
        responses={200: PositionAlertOutput},
    )
    def patch(self, request: Request, alert_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.position_alert_update(
            user=current_user(request), alert_id=alert_id, changes=serializer.validated_data
        )
        return Response(PositionAlertOutput(alert).data)

    @extend_schema(
        operation_id="position_alerts_delete", tags=["position alerts"], responses={204: None}
    )
    def delete(self, request: Request, alert_id: int) -> Response:
        services.position_alert_delete(user=current_user(request), alert_id=alert_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PositionAlertActivateApi(APIView):
    error_statuses = (409,)

    @extend_schema(
        operation_id="position_alerts_activate",
        tags=["position alerts"],
        request=None,
        responses={200: PositionAlertOutput},
    )
    def post(self, request: Request, alert_id: int) -> Response:
        alert = services.position_alert_activate(user=current_user(request), alert_id=alert_id)
        return Response(PositionAlertOutput(alert).data)


class PositionAlertFiringsApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="position_alerts_firings",
        tags=["position alerts"],
        responses={200: PositionAlertFiringOutput(many=True)},
    )
    def get(self, request: Request, alert_id: int) -> Response:
        # The query first: a malformed page or per_page is a 400 whatever the id.
        parse_page_params(request)
        parse_per_page(request)
        firings = selectors.position_alert_firings(user=current_user(request), alert_id=alert_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(firings, request, view=self)
        return paginator.get_paginated_response(PositionAlertFiringOutput(page, many=True).data)
