"""HTTP API of accounts: signup, tokens, the current user, API keys, KuCoin credentials.

Each view parses input with its own InputSerializer, calls one service, and shapes the
answer with an OutputSerializer (the contract, and what the OpenAPI schema shows).
"""

from __future__ import annotations

import string
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts import api_keys, passwords, services, signin, tokens
from cryptotrack.accounts.authentication import current_user
from cryptotrack.accounts.models import DEFAULT_LABEL, ApiKey, ExchangeAccount, User
from cryptotrack.audit.services import Origin, request_origin
from cryptotrack.core.fields import NameField, StrictCharField
from cryptotrack.core.pagination import PageNumberPagination
from cryptotrack.core.throttling import IpScopedRateThrottle, ScopedRateThrottle, UserRateThrottle
from cryptotrack.exchanges.kucoin import KucoinCredentials

_PRINTABLE = set(string.printable) - set(string.whitespace)


class CredentialField(StrictCharField):
    """A credential as the exchange issued it: a JSON string of printable, non-space characters."""

    def __init__(self, *, min_length: int, **kwargs: Any) -> None:
        super().__init__(min_length=min_length, max_length=128, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and not set(data) <= _PRINTABLE:
            raise serializers.ValidationError("Must be printable characters without spaces.")
        return super().to_internal_value(data)


class KucoinCredentialsInput(serializers.Serializer[Any]):
    """KuCoin API key, secret and passphrase as created on kucoin.com (API Management)."""

    api_key = CredentialField(min_length=8)
    api_secret = CredentialField(min_length=8, write_only=True)
    api_passphrase = CredentialField(min_length=1, write_only=True)

    def to_credentials(self) -> KucoinCredentials:
        return KucoinCredentials(**self.validated_data)


class ExchangeAccountOutput(serializers.ModelSerializer[ExchangeAccount]):
    """What we say about stored credentials: a hint of the key and the check's verdict.

    ``message`` (what ``/me`` always said) and ``status_message`` are the same text.
    """

    api_key_hint = serializers.SerializerMethodField()
    message = serializers.CharField(source="status_message")

    class Meta:
        model = ExchangeAccount
        fields = [
            "id",
            "exchange",
            "label",
            "api_key_hint",
            "status",
            "message",
            "status_message",
            "warnings",
            "permissions",
            "checked_at",
            "created_at",
            "updated_at",
        ]

    def get_api_key_hint(self, account: ExchangeAccount) -> str:
        return f"…{account.api_key_hint}"


class UserOutput(serializers.ModelSerializer[User]):
    kucoin = serializers.SerializerMethodField()
    exchange_accounts = ExchangeAccountOutput(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "name", "username", "email", "date_joined", "kucoin", "exchange_accounts"]

    @extend_schema_field(ExchangeAccountOutput(allow_null=True))
    def get_kucoin(self, user: User) -> dict[str, Any] | None:
        """The account labelled ``default`` (what signup's ``kucoin`` and PUT /me/kucoin set)."""
        account = next(
            (a for a in user.exchange_accounts.all() if a.label.lower() == DEFAULT_LABEL),
            None,
        )
        return ExchangeAccountOutput(account).data if account else None


def _user_with_accounts(user: User) -> User:
    return User.objects.prefetch_related("exchange_accounts").get(pk=user.pk)


class SignupApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [IpScopedRateThrottle]
    throttle_scope = "signup"

    class InputSerializer(serializers.Serializer[Any]):
        name = NameField(max_length=150)
        username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
        email = serializers.EmailField(required=False, allow_blank=True, default="")
        kucoin = KucoinCredentialsInput(required=False, allow_null=True)

        class Meta:
            ref_name = "Signup"  # the OpenAPI component (every view nests an "Input")

        def validate_username(self, value: str) -> str:
            if User.objects.filter(username__iexact=value).exists():
                raise serializers.ValidationError("This username is taken.")
            return value

        def validate_email(self, value: str) -> str:
            if value and User.objects.filter(email__iexact=value).exists():
                raise serializers.ValidationError("This email is taken.")
            return value

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            candidate = User(username=attrs["username"], name=attrs["name"], email=attrs["email"])
            try:
                password_validation.validate_password(attrs["password"], user=candidate)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from exc
            return attrs

    @extend_schema(
        operation_id="auth_signup",
        tags=["auth"],
        request=InputSerializer,
        responses={201: UserOutput},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        kucoin_input = data.get("kucoin")
        user = services.signup(
            name=data["name"],
            username=data["username"],
            password=data["password"],
            email=data["email"],
            kucoin_credentials=KucoinCredentials(**kucoin_input) if kucoin_input else None,
            origin=Origin.of(request),
        )
        return Response(UserOutput(_user_with_accounts(user)).data, status=status.HTTP_201_CREATED)


class TokenPairOutput(serializers.Serializer[Any]):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInput(serializers.Serializer[Any]):
    refresh = serializers.CharField()


class TokenObtainApi(APIView):
    permission_classes = [AllowAny]
    error_statuses = (401,)  # bad credentials: the same answer for unknown users
    throttle_classes = [IpScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(serializers.Serializer[Any]):
        """``username`` or ``email`` (either, not both) and ``password``."""

        username = serializers.CharField(
            max_length=150, required=False, help_text="Sign in by username (or give `email`)."
        )
        email = serializers.EmailField(
            required=False, help_text="Sign in by email, any case (or give `username`)."
        )
        password = serializers.CharField(max_length=128, trim_whitespace=False)

        class Meta:
            ref_name = "TokenObtain"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if ("username" in attrs) == ("email" in attrs):
                raise serializers.ValidationError("Give either `username` or `email`.")
            return attrs

    @extend_schema(
        operation_id="auth_token",
        tags=["auth"],
        request=InputSerializer,
        responses={200: TokenPairOutput},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = tokens.obtain_tokens(
            request=request,
            username=serializer.validated_data.get("username"),
            email=serializer.validated_data.get("email"),
            password=serializer.validated_data["password"],
            ip_address=signin.client_ip(request),
        )
        return Response(TokenPairOutput(pair).data)


class TokenRefreshApi(APIView):
    permission_classes = [AllowAny]
    error_statuses = (401,)  # a refresh token that is invalid, expired or blacklisted

    @extend_schema(
        operation_id="auth_token_refresh",
        tags=["auth"],
        request=RefreshInput,
        responses={200: TokenPairOutput},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = tokens.refresh_tokens(refresh=serializer.validated_data["refresh"])
        return Response(TokenPairOutput(pair).data)


class LogoutApi(APIView):
    permission_classes = [AllowAny]
    error_statuses = (401,)  # a refresh token that is invalid, expired or blacklisted

    @extend_schema(
        operation_id="auth_logout",
        tags=["auth"],
        request=RefreshInput,
        responses={205: None},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens.logout(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeApi(APIView):
    @extend_schema(operation_id="me", tags=["auth"], responses={200: UserOutput})
    def get(self, request: Request) -> Response:
        return Response(UserOutput(_user_with_accounts(current_user(request))).data)


class KucoinCredentialsApi(APIView):
    @extend_schema(
        operation_id="me_kucoin_replace",
        tags=["auth"],
        request=KucoinCredentialsInput,
        responses={200: ExchangeAccountOutput},
    )
    def put(self, request: Request) -> Response:
        serializer = KucoinCredentialsInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.exchange_account_replace(
            user=current_user(request),
            credentials=serializer.to_credentials(),
            origin=Origin.of(request),
        )
        return Response(ExchangeAccountOutput(account).data)


class PasswordChangeApi(APIView):
    # Per user as well as the usual rate: each wrong guess costs a password hash.
    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(serializers.Serializer[Any]):
        current_password = serializers.CharField(max_length=128, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

        class Meta:
            ref_name = "PasswordChange"

    @extend_schema(
        operation_id="me_password_change",
        tags=["auth"],
        request=InputSerializer,
        responses={204: None},
        description="Change your password: the current one is checked, the new one passes "
        "the password validators. Every refresh token of yours is revoked; access tokens "
        "already issued expire on their own (minutes).",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with request_origin(request, via="api"):
            passwords.password_change(
                user=current_user(request),
                current_password=serializer.validated_data["current_password"],
                new_password=serializer.validated_data["new_password"],
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyOutput(serializers.ModelSerializer[ApiKey]):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class CreatedApiKeyOutput(ApiKeyOutput):
    key = serializers.CharField(help_text="The key itself: shown only in this answer.")

    class Meta(ApiKeyOutput.Meta):
        fields = [*ApiKeyOutput.Meta.fields, "key"]


class ApiKeyListApi(APIView):
    pagination_class = PageNumberPagination

    class InputSerializer(serializers.Serializer[Any]):
        name = NameField(max_length=100)

        class Meta:
            ref_name = "ApiKeyCreate"

    @extend_schema(
        operation_id="me_api_keys_list", tags=["auth"], responses={200: ApiKeyOutput(many=True)}
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            api_keys.api_key_list(user=current_user(request)), request, view=self
        )
        return paginator.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(
        operation_id="me_api_keys_create",
        tags=["auth"],
        request=InputSerializer,
        responses={201: CreatedApiKeyOutput},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = api_keys.api_key_create(
            user=current_user(request),
            name=serializer.validated_data["name"],
            origin=Origin.of(request),
        )
        data = {**ApiKeyOutput(created.api_key).data, "key": created.plaintext}
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    @extend_schema(operation_id="me_api_keys_revoke", tags=["auth"], responses={204: None})
    def delete(self, request: Request, key_id: int) -> Response:
        api_keys.api_key_revoke(
            user=current_user(request), key_id=key_id, origin=Origin.of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
