"""HTTP API of balances: ``GET /api/v1/balances``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts.authentication import current_user
from cryptotrack.balances import selectors
from cryptotrack.balances.representations import AccountBalancesOutput
from cryptotrack.core.pagination import PageNumberPagination


class BalanceListApi(APIView):
    """Per exchange account of the caller: spot balances, the USDT futures overview, when
    KuCoin was last read (``as_of``) and the last refresh's error; ``source`` says whether
    the page came from the cache or the database."""

    class FilterSerializer(serializers.Serializer[Any]):
        include_zero = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Also list spot balances of zero (true/false).",
        )

    @extend_schema(
        operation_id="balances_list",
        tags=["balances"],
        parameters=[
            FilterSerializer,
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter("per_page", int, description="Accounts per page, 1-100 (default 10)."),
        ],
        responses={
            200: inline_serializer(
                "PaginatedAccountBalances",
                {
                    "count": serializers.IntegerField(),
                    "total_pages": serializers.IntegerField(),
                    "page": serializers.IntegerField(),
                    "per_page": serializers.IntegerField(),
                    "source": serializers.ChoiceField(choices=["cache", "database"]),
                    "results": AccountBalancesOutput(many=True),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = PageNumberPagination()
        accounts = paginator.paginate_queryset(
            selectors.balance_accounts(user=current_user(request)), request, view=self
        )
        balances = selectors.account_balances(
            accounts=accounts, include_zero=filters.validated_data["include_zero"]
        )
        paginator.extra = {"source": balances.source}
        return paginator.get_paginated_response(balances.results)
