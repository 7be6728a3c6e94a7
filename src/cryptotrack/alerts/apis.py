"""HTTP API of alerts: create, list, read, change, delete (soft) and re-activate.

Each view parses input with its own serializer, calls one service or selector, and shapes
the answer with ``AlertOutput`` (the contract, and what the OpenAPI schema shows).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts.authentication import current_user
from cryptotrack.alerts import selectors, services
from cryptotrack.alerts.models import PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS, Alert
from cryptotrack.core.fields import DecimalField, IntegerField
from cryptotrack.core.pagination import PageNumberPagination

MAX_TARGET_PRICE = Decimal(10) ** 12


class PlainDecimalField(DecimalField):
    """A decimal string without padding zeros or exponent: ``"70000"``, ``"0.00001234"``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, **kwargs)

    def to_representation(self, value: Any) -> str:
        text = format(Decimal(value), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text


class TargetPriceField(PlainDecimalField):
    """A target price: positive, at most 10^12, at most 18 decimal places."""

    def __init__(self, **kwargs: Any) -> None:
        too_big = "A target above 1000000000000 (10^12) is not a real price."
        super().__init__(
            max_value=MAX_TARGET_PRICE,
            error_messages={
                "invalid": 'Give the price as a decimal number, e.g. "70000" or "0.0425".',
                "max_value": too_big,
                "max_whole_digits": too_big,
                "max_decimal_places": f"Use at most {PRICE_DECIMAL_PLACES} decimal places.",
                "max_digits": "This price has too many digits.",
            },
            help_text="Decimal string, > 0 and <= 10^12, at most 18 decimal places.",
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool):
            self.fail("invalid")
        value: Decimal = super().to_internal_value(data)
        if value <= 0:
            raise serializers.ValidationError("The target price must be greater than zero.")
        return value


class CoinField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=100, help_text="A CoinGecko coin id, e.g. `bitcoin`.", **kwargs)

    def to_internal_value(self, data: Any) -> str:
        return str(super().to_internal_value(data)).lower()


class CurrencyField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=20, help_text="A CoinGecko vs-currency, e.g. `usd`, `eur`, `btc`.", **kwargs
        )

    def to_internal_value(self, data: Any) -> str:
        return str(super().to_internal_value(data)).lower()


MAX_ALERT_CHANNELS = 20


def alert_channels_field(**kwargs: Any) -> serializers.ListField:
    """``channels`` of an alert's input: ids of the caller's notification channels."""
    return serializers.ListField(
        child=IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=MAX_ALERT_CHANNELS,
        help_text=(
            "Ids of your notification channels (/api/v1/channels): each firing is delivered "
            "once to each. Empty or omitted: one email to your account's address."
        ),
        **kwargs,
    )


class AlertOutput(serializers.ModelSerializer[Alert]):
    target_price = PlainDecimalField()
    triggered_price = PlainDecimalField(allow_null=True)
    channels = serializers.SerializerMethodField(help_text="Where firings go; empty: by email.")

    class Meta:
        model = Alert
        fields = [
            "id",
            "coin",
            "currency",
            "target_price",
            "direction",
            "status",
            "created_at",
            "triggered_at",
            "triggered_price",
            "last_notified_at",
            "channels",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_channels(self, alert: Alert) -> list[int]:
        return alert_channel_ids(alert)


def alert_channel_ids(alert: Alert | Any) -> list[int]:
    """The ids of an alert's channels, in order (prefetched by the list selectors)."""
    return sorted(channel.pk for channel in alert.channels.all())


class AlertListApi(APIView):
    pagination_class = PageNumberPagination
    error_statuses = (502, 503)

    class FilterSerializer(serializers.Serializer[Any]):
        status = serializers.ChoiceField(choices=Alert.Status.choices, required=False)
        coin = CoinField(required=False)

        class Meta:
            ref_name = "AlertFilter"

    class InputSerializer(serializers.Serializer[Any]):
        coin = CoinField()
        currency = CurrencyField()
        target_price = TargetPriceField()
        direction = serializers.ChoiceField(
            choices=Alert.Direction.choices,
            required=False,
            help_text="Inferred from the current price when omitted.",
        )
        channels = alert_channels_field()

        class Meta:
            ref_name = "AlertCreateInput"

    @extend_schema(
        operation_id="alerts_list",
        tags=["alerts"],
        parameters=[FilterSerializer],
        responses={200: AlertOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        alerts = selectors.alert_list(user=current_user(request), **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(alerts, request, view=self)
        return paginator.get_paginated_response(AlertOutput(page, many=True).data)

    @extend_schema(
        operation_id="alerts_create",
        tags=["alerts"],
        request=InputSerializer,
        responses={201: AlertOutput},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.alert_create(user=current_user(request), **serializer.validated_data)
        return Response(AlertOutput(alert).data, status=status.HTTP_201_CREATED)


class AlertDetailApi(APIView):
    error_statuses = (409, 502, 503)

    class InputSerializer(serializers.Serializer[Any]):
        coin = CoinField(required=False)
        currency = CurrencyField(required=False)
        target_price = TargetPriceField(required=False)
        direction = serializers.ChoiceField(choices=Alert.Direction.choices, required=False)
        channels = alert_channels_field()

        class Meta:
            ref_name = "AlertUpdateInput"

    @extend_schema(operation_id="alerts_read", tags=["alerts"], responses={200: AlertOutput})
    def get(self, request: Request, alert_id: int) -> Response:
        alert = selectors.alert_get(user=current_user(request), alert_id=alert_id)
        return Response(AlertOutput(alert).data)

    @extend_schema(
        operation_id="alerts_update",
        tags=["alerts"],
        request=InputSerializer,
        responses={200: AlertOutput},
    )
    def patch(self, request: Request, alert_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.alert_update(
            user=current_user(request), alert_id=alert_id, **serializer.validated_data
        )
        return Response(AlertOutput(alert).data)

    @extend_schema(operation_id="alerts_delete", tags=["alerts"], responses={204: None})
    def delete(self, request: Request, alert_id: int) -> Response:
        services.alert_delete(user=current_user(request), alert_id=alert_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertActivateApi(APIView):
    error_statuses = (409,)

    @extend_schema(
        operation_id="alerts_activate", tags=["alerts"], request=None, responses={200: AlertOutput}
    )
    def post(self, request: Request, alert_id: int) -> Response:
        alert = services.alert_activate(user=current_user(request), alert_id=alert_id)
        return Response(AlertOutput(alert).data)
