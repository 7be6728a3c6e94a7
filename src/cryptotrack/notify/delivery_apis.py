"""HTTP API of the delivery log: ``GET /api/v1/deliveries``.

One row per firing and channel, with every attempt as the receiver answered it. Read-only
(API keys may read it); only the caller's deliveries (those on their channels).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts.authentication import current_user
from cryptotrack.alerts.models import OutboxState
from cryptotrack.core.fields import IntegerField
from cryptotrack.core.pagination import PageNumberPagination
from cryptotrack.notify import selectors
from cryptotrack.notify.models import Channel, Delivery
from cryptotrack.notify.outcome import Verdict


class DeliveryChannelOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Channel.Kind.choices)
    name = serializers.CharField()

    class Meta:
        ref_name = "DeliveryChannelOutput"


class DeliveryAlertOutput(serializers.Serializer[Any]):
    type = serializers.ChoiceField(
        choices=selectors.ALERT_TYPES, help_text="price: /api/v1/alerts; position: position-alerts"
    )
    id = serializers.IntegerField()

    class Meta:
        ref_name = "DeliveryAlertOutput"


class DeliveryAttemptOutput(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    outcome = serializers.ChoiceField(
        choices=[v.value for v in Verdict],
        help_text="delivered; retry: tried again later; failed: given up.",
    )
    status_code = serializers.IntegerField(
        allow_null=True, help_text="The receiver's HTTP status (SMTP code for email); null: none."
    )
    error = serializers.CharField(allow_blank=True)
    retry_after = serializers.FloatField(
        allow_null=True, help_text="Seconds the receiver asked us to wait (Retry-After)."
    )

    class Meta:
        ref_name = "DeliveryAttemptOutput"


class DeliveryOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    delivery_id = serializers.CharField(
        help_text="Stable across retries: a webhook's X-Cryptotrack-Delivery and body id."
    )
    channel = DeliveryChannelOutput()
    alert = DeliveryAlertOutput()
    status = serializers.ChoiceField(choices=OutboxState.choices)
    attempts = DeliveryAttemptOutput(many=True)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "DeliveryOutput"

    def to_representation(self, instance: Delivery) -> dict[str, Any]:
        channel = instance.channel
        data = {
            "id": instance.pk,
            "delivery_id": instance.delivery_id,
            "channel": {"id": channel.pk, "kind": channel.kind, "name": channel.name},
            "alert": selectors.delivery_alert(instance),
            "status": instance.state,
            "attempts": list(instance.attempts_made.all()),
            "created_at": instance.created_at,
            "sent_at": instance.sent_at,
            "last_error": instance.last_error,
        }
        return super().to_representation(data)


class DeliveryListApi(APIView):
    pagination_class = PageNumberPagination

    class FilterSerializer(serializers.Serializer[Any]):
        channel = IntegerField(required=False, min_value=1, max_value=2**63 - 1)
        status = serializers.ChoiceField(choices=OutboxState.choices, required=False)
        alert_type = serializers.ChoiceField(
            choices=selectors.ALERT_TYPES,
            required=False,
            help_text="price or position alerts only; needed with `alert`.",
        )
        alert = IntegerField(
            required=False,
            min_value=1,
            max_value=2**63 - 1,
            help_text="One alert's deliveries (an id of `alert_type`).",
        )

        class Meta:
            ref_name = "DeliveryFilter"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs.get("alert") is not None and not attrs.get("alert_type"):
                raise serializers.ValidationError(
                    {"alert_type": ["Give alert_type (price or position) with alert."]}
                )
            return attrs

    @extend_schema(
        operation_id="deliveries_list",
        tags=["channels"],
        parameters=[FilterSerializer],
        responses={200: DeliveryOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        deliveries = selectors.delivery_list(user=current_user(request), **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(deliveries, request, view=self)
        return paginator.get_paginated_response(DeliveryOutput(page, many=True).data)
