"""HTTP API of exchange accounts: ``/api/v1/exchange-accounts`` and ``/{id}``.

Each view parses input, calls one service of ``accounts.services`` and shapes the answer
with ``ExchangeAccountOutput`` (never a secret: the key shows only as a hint). Personal
API keys may read these (GET) but not change them (``ApiKeyIsReadOnly``, the default).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts import services
from cryptotrack.accounts.apis import CredentialField, ExchangeAccountOutput
from cryptotrack.accounts.authentication import current_user
from cryptotrack.audit.services import Origin
from cryptotrack.core.fields import NameField
from cryptotrack.core.pagination import PageNumberPagination
from cryptotrack.exchanges.kucoin import KucoinCredentials

_CREDENTIAL_FIELDS = ("api_key", "api_secret", "api_passphrase")


class LabelField(NameField):
    """An account's label: 1-64 printable characters (no controls, no lone surrogates)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_length=1, max_length=64, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value.isprintable():
            raise serializers.ValidationError(
                "Must be printable characters (no control or format characters).",
                code="not_printable",
            )
        return value


def _credentials(data: dict[str, Any]) -> KucoinCredentials | None:
    if not any(field in data for field in _CREDENTIAL_FIELDS):
        return None
    return KucoinCredentials(**{field: data[field] for field in _CREDENTIAL_FIELDS})


class ExchangeAccountListApi(APIView):
    pagination_class = PageNumberPagination

    class InputSerializer(serializers.Serializer[Any]):
        label = LabelField()  # type: ignore[assignment]  # a field, not Field.label
        api_key = CredentialField(min_length=8)
        api_secret = CredentialField(min_length=8, write_only=True)
        api_passphrase = CredentialField(min_length=1, write_only=True)

        class Meta:
            ref_name = "ExchangeAccountCreate"

    @extend_schema(
        operation_id="exchange_accounts_list",
        tags=["exchange accounts"],
        responses={200: ExchangeAccountOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            services.exchange_account_list(user=current_user(request)), request, view=self
        )
        return paginator.get_paginated_response(ExchangeAccountOutput(page, many=True).data)

    @extend_schema(
        operation_id="exchange_accounts_create",
        tags=["exchange accounts"],
        request=InputSerializer,
        responses={201: ExchangeAccountOutput},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        credentials = KucoinCredentials(**{field: data[field] for field in _CREDENTIAL_FIELDS})
        account = services.exchange_account_create(
            user=current_user(request),
            label=data["label"],
            credentials=credentials,
            origin=Origin.of(request),
        )
        return Response(ExchangeAccountOutput(account).data, status=status.HTTP_201_CREATED)


class ExchangeAccountDetailApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        """``label`` and/or a new key: ``api_key``, ``api_secret`` and ``api_passphrase``
        together (checked with KuCoin first, as on create)."""

        label = LabelField(required=False)  # type: ignore[assignment]  # a field
        api_key = CredentialField(min_length=8, required=False)
        api_secret = CredentialField(min_length=8, required=False, write_only=True)
        api_passphrase = CredentialField(min_length=1, required=False, write_only=True)

        class Meta:
            ref_name = "ExchangeAccountUpdate"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            given = [field for field in _CREDENTIAL_FIELDS if field in attrs]
            if given and len(given) != len(_CREDENTIAL_FIELDS):
                missing = [field for field in _CREDENTIAL_FIELDS if field not in attrs]
                raise serializers.ValidationError(
                    {field: ["Give the whole key: api_key, api_secret and api_passphrase."]
                     for field in missing}
                )  # fmt: skip
            if not given and "label" not in attrs:
                raise serializers.ValidationError("Give a `label` and/or a new key.")
            return attrs

    @extend_schema(
        operation_id="exchange_accounts_retrieve",
        tags=["exchange accounts"],
        responses={200: ExchangeAccountOutput},
    )
    def get(self, request: Request, account_id: int) -> Response:
        account = services.exchange_account_get(user=current_user(request), account_id=account_id)
        return Response(ExchangeAccountOutput(account).data)

    @extend_schema(
        operation_id="exchange_accounts_update",
        tags=["exchange accounts"],
        request=InputSerializer,
        responses={200: ExchangeAccountOutput},
    )
    def patch(self, request: Request, account_id: int) -> Response:
        # The body first (as alerts do): a malformed body is a 400 whatever the id.
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = services.exchange_account_get(user=current_user(request), account_id=account_id)
        account = services.exchange_account_update(
            account=account,
            label=data.get("label"),
            credentials=_credentials(data),
            origin=Origin.of(request),
        )
        return Response(ExchangeAccountOutput(account).data)

    class DeleteFilterSerializer(serializers.Serializer[Any]):
        purge = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Also delete the account's position history and events (kept by default).",
        )

    @extend_schema(
        operation_id="exchange_accounts_delete",
        tags=["exchange accounts"],
        parameters=[
            OpenApiParameter(
                "purge",
                bool,
                description="Also delete its position history and events (default false).",
            )
        ],
        responses={204: None},
    )
    def delete(self, request: Request, account_id: int) -> Response:
        account = services.exchange_account_get(user=current_user(request), account_id=account_id)
        query = self.DeleteFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        services.exchange_account_delete(
            account=account, purge=query.validated_data["purge"], origin=Origin.of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
