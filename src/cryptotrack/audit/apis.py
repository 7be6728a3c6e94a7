"""``GET /api/v1/me/audit``: the signed-in user's own audit log, newest first."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts.authentication import current_user
from cryptotrack.audit import selectors
from cryptotrack.audit.models import AuditEvent
from cryptotrack.core.pagination import PageNumberPagination


class AuditEventOutput(serializers.ModelSerializer[AuditEvent]):
    details = serializers.DictField(
        help_text="What changed: label, api_key_hint, key name and prefix, reason. Never a secret."
    )

    class Meta:
        model = AuditEvent
        fields = ["id", "kind", "at", "ip_address", "user_agent", "details"]


class AuditListApi(APIView):
    """JWT or a (read-only) personal API key; only the caller's own events."""

    pagination_class = PageNumberPagination

    class FilterSerializer(serializers.Serializer[Any]):
        kind = serializers.ChoiceField(choices=AuditEvent.Kind.choices, required=False)

        class Meta:
            ref_name = "AuditFilter"

    @extend_schema(
        operation_id="me_audit_list",
        tags=["auth"],
        parameters=[FilterSerializer],
        responses={200: AuditEventOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = selectors.audit_event_list(
            user=current_user(request), kind=filters.validated_data.get("kind")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(AuditEventOutput(page, many=True).data)
