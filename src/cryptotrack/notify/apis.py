"""HTTP API of notification channels: ``/api/v1/channels``, ``/{id}``, ``/{id}/test`` and
``/{id}/rotate-secret``.

A channel is ``{kind, name, config}``; what ``config`` holds depends on ``kind`` (one input
serializer per kind below). Secrets in it (bot token, Discord/Slack webhook URL, ntfy
token) are stored encrypted and answered only as ``*_hint``; a webhook's signing secret
is made by us and shown once, in the 201 answer (and on rotation).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.accounts.authentication import current_user
from cryptotrack.audit.services import Origin
from cryptotrack.core.fields import NameField, StrictCharField
from cryptotrack.core.pagination import PageNumberPagination
from cryptotrack.notify import services
from cryptotrack.notify.addresses import RefusedAddress, check_url, is_public
from cryptotrack.notify.models import Channel

Kind = Channel.Kind
_TELEGRAM_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")
_TELEGRAM_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
_NTFY_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")


class PushUrlField(serializers.URLField):
    """An http(s) URL we may push to: no credentials in it, and — unless
    ``WEBHOOK_ALLOW_PRIVATE`` — not a loopback, private or link-local IP literal or
    ``localhost`` (host names are resolved and checked again at every send)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2048, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        url: str = super().to_internal_value(data)
        try:
            _, host, _ = check_url(url)
        except RefusedAddress as exc:
            raise serializers.ValidationError(str(exc)) from None
        if not settings.WEBHOOK_ALLOW_PRIVATE and _is_local(host):
            raise serializers.ValidationError(
                "Private, loopback and link-local addresses are not accepted."
            )
        return url


def _is_local(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not is_public(address)


class EmailConfig(serializers.Serializer[Any]):
    address = serializers.EmailField(required=False, help_text="Default: your account's email.")

    class Meta:
        ref_name = "ChannelEmailConfig"


class WebhookConfig(serializers.Serializer[Any]):
    url = PushUrlField(help_text="Where signed JSON is POSTed.")

    class Meta:
        ref_name = "ChannelWebhookConfig"


class TelegramConfig(serializers.Serializer[Any]):
    bot_token = StrictCharField(write_only=True, help_text="From @BotFather: `<id>:<secret>`.")
    chat_id = StrictCharField(help_text="A numeric chat id or `@channelname`.")

    class Meta:
        ref_name = "ChannelTelegramConfig"

    def validate_bot_token(self, value: str) -> str:
        if not _TELEGRAM_TOKEN.match(value):
            raise serializers.ValidationError("Not a Telegram bot token (`123456:ABC…`).")
        return value

    def validate_chat_id(self, value: str) -> str:
        if not _TELEGRAM_CHAT.match(value):
            raise serializers.ValidationError("A numeric chat id or @channelname.")
        return value


class DiscordConfig(serializers.Serializer[Any]):
    webhook_url = PushUrlField(write_only=True, help_text="`…/api/webhooks/<id>/<token>`.")

    class Meta:
        ref_name = "ChannelDiscordConfig"

    def validate_webhook_url(self, value: str) -> str:
        if not re.search(r"/api/webhooks/\d+/[\w-]+$", urlsplit(value).path):
            raise serializers.ValidationError("Not a Discord webhook URL.")
        return value


class SlackConfig(serializers.Serializer[Any]):
    webhook_url = PushUrlField(write_only=True, help_text="`…/services/T…/B…/…`.")

    class Meta:
        ref_name = "ChannelSlackConfig"

    def validate_webhook_url(self, value: str) -> str:
        if not re.search(r"/services/[\w-]+/[\w-]+/[\w-]+$", urlsplit(value).path):
            raise serializers.ValidationError("Not a Slack incoming-webhook URL.")
        return value


class NtfyConfig(serializers.Serializer[Any]):
    server_url = PushUrlField(required=False, default="https://ntfy.sh")
    topic = StrictCharField()
    token = StrictCharField(required=False, write_only=True, help_text="For a protected topic.")

    class Meta:
        ref_name = "ChannelNtfyConfig"

    def validate_topic(self, value: str) -> str:
        if not _NTFY_TOPIC.match(value):
            raise serializers.ValidationError("1-64 letters, digits, `-` or `_`.")
        return value


CONFIGS: dict[str, type[serializers.Serializer[Any]]] = {
    Kind.EMAIL: EmailConfig,
    Kind.WEBHOOK: WebhookConfig,
    Kind.TELEGRAM: TelegramConfig,
    Kind.DISCORD: DiscordConfig,
    Kind.SLACK: SlackConfig,
    Kind.NTFY: NtfyConfig,
}
# The config field of each kind that is a secret (stored encrypted, answered as a hint).
SECRET_FIELDS: dict[str, str] = {
    Kind.TELEGRAM: "bot_token",
    Kind.DISCORD: "webhook_url",
    Kind.SLACK: "webhook_url",
    Kind.NTFY: "token",
}


class ChannelOutput(serializers.ModelSerializer[Channel]):
    """A channel: its settings with secrets as hints, and whether it was shown to work."""

    config = serializers.SerializerMethodField()
    verified = serializers.SerializerMethodField()
    flagged = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id",
            "kind",
            "name",
            "config",
            "verified",
            "verified_at",
            "flagged",
            "consecutive_failures",
            "created_at",
            "updated_at",
        ]

    def get_config(self, channel: Channel) -> dict[str, Any]:
        shown = dict(channel.config)
        secret_field = SECRET_FIELDS.get(channel.kind)
        if secret_field and channel.secret_hint:
            shown[f"{secret_field}_hint"] = channel.secret_hint
        if channel.kind == Kind.WEBHOOK:
            shown["signing_secret_hint"] = channel.secret_hint
        return shown

    def get_verified(self, channel: Channel) -> bool:
        return channel.verified_at is not None

    def get_flagged(self, channel: Channel) -> bool:
        return channel.flagged_at is not None


class ChannelCreatedOutput(ChannelOutput):
    signing_secret = serializers.SerializerMethodField(
        help_text="Webhooks only, and only in this answer: the secret that signs each push."
    )

    class Meta(ChannelOutput.Meta):
        fields = [*ChannelOutput.Meta.fields, "signing_secret"]

    def get_signing_secret(self, channel: Channel) -> str | None:
        secret: str | None = self.context.get("signing_secret")
        return secret


def channel_config(
    kind: str, data: Any, *, user_email: str, partial_secret: bool
) -> tuple[dict[str, Any], str | None]:
    """Validate ``config`` for ``kind``: (what is stored in clear, the secret or None)."""
    serializer = CONFIGS[kind](data=data if data is not None else {})
    if partial_secret and kind in SECRET_FIELDS and isinstance(data, dict):
        serializer.fields[SECRET_FIELDS[kind]].required = False
    if not serializer.is_valid():
        raise serializers.ValidationError({"config": serializer.errors})
    values = dict(serializer.validated_data)
    secret = values.pop(SECRET_FIELDS[kind], None) if kind in SECRET_FIELDS else None
    if kind == Kind.EMAIL:
        values.setdefault("address", user_email)
        if not values["address"]:
            raise serializers.ValidationError(
                {"config": {"address": ["Your account has no email: give an address."]}}
            )
    return values, secret


class ChannelListApi(APIView):
    pagination_class = PageNumberPagination

    class InputSerializer(serializers.Serializer[Any]):
        kind = serializers.ChoiceField(choices=Kind.choices)
        name = NameField(min_length=1, max_length=64)
        config = serializers.DictField(required=False, help_text="Depends on `kind`.")

        class Meta:
            ref_name = "ChannelCreate"

    @extend_schema(
        operation_id="channels_list", tags=["channels"], responses={200: ChannelOutput(many=True)}
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            services.channel_list(user=current_user(request)), request, view=self
        )
        return paginator.get_paginated_response(ChannelOutput(page, many=True).data)

    @extend_schema(
        operation_id="channels_create",
        tags=["channels"],
        request=InputSerializer,
        responses={201: ChannelCreatedOutput},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = current_user(request)
        config, secret = channel_config(
            data["kind"], data.get("config"), user_email=user.email, partial_secret=False
        )
        saved = services.channel_create(
            user=user,
            kind=data["kind"],
            name=data["name"],
            config=config,
            secret=secret,
            origin=Origin.of(request),
        )
        body = ChannelCreatedOutput(
            saved.channel, context={"signing_secret": saved.signing_secret}
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


class ChannelDetailApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        """A new ``name`` and/or a whole new ``config`` (a secret left out is kept)."""

        name = NameField(min_length=1, max_length=64, required=False)
        config = serializers.DictField(required=False)

        class Meta:
            ref_name = "ChannelUpdate"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if not attrs:
                raise serializers.ValidationError("Give a `name` and/or a `config`.")
            return attrs

    @extend_schema(
        operation_id="channels_retrieve", tags=["channels"], responses={200: ChannelOutput}
    )
    def get(self, request: Request, channel_id: int) -> Response:
        channel = services.channel_get(user=current_user(request), channel_id=channel_id)
        return Response(ChannelOutput(channel).data)

    @extend_schema(
        operation_id="channels_update",
        tags=["channels"],
        request=InputSerializer,
        responses={200: ChannelOutput},
    )
    def patch(self, request: Request, channel_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = current_user(request)
        channel = services.channel_get(user=user, channel_id=channel_id)
        config = secret = None
        if "config" in data:
            config, secret = channel_config(
                channel.kind, data["config"], user_email=user.email, partial_secret=True
            )
        channel = services.channel_update(
            channel=channel,
            name=data.get("name"),
            config=config,
            secret=secret,
            origin=Origin.of(request),
        )
        return Response(ChannelOutput(channel).data)

    @extend_schema(operation_id="channels_delete", tags=["channels"], responses={204: None})
    def delete(self, request: Request, channel_id: int) -> Response:
        channel = services.channel_get(user=current_user(request), channel_id=channel_id)
        services.channel_delete(channel=channel, origin=Origin.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestOutput(serializers.Serializer[Any]):
    delivered = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=["delivered", "retry", "failed"])
    status = serializers.IntegerField(allow_null=True, help_text="HTTP (or SMTP) status, if any.")
    error = serializers.CharField(allow_blank=True)
    retry_after = serializers.FloatField(allow_null=True)
    channel = ChannelOutput()

    class Meta:
        ref_name = "ChannelTestResult"


class ChannelTestApi(APIView):
    @extend_schema(
        operation_id="channels_test",
        tags=["channels"],
        request=None,
        responses={200: ChannelTestOutput},
    )
    def post(self, request: Request, channel_id: int) -> Response:
        """Send a test message now and say how it went (a delivered one marks it verified)."""
        channel = services.channel_get(user=current_user(request), channel_id=channel_id)
        attempt = services.send_test(channel=channel)
        body = {
            "delivered": attempt.delivered,
            "outcome": attempt.verdict.value,
            "status": attempt.status,
            "error": attempt.error,
            "retry_after": attempt.retry_after,
            "channel": ChannelOutput(channel).data,
        }
        return Response(body)


class ChannelRotateOutput(serializers.Serializer[Any]):
    signing_secret = serializers.CharField()
    previous_secret_valid_until = serializers.DateTimeField()

    class Meta:
        ref_name = "ChannelSecretRotated"


class ChannelRotateSecretApi(APIView):
    @extend_schema(
        operation_id="channels_rotate_secret",
        tags=["channels"],
        request=None,
        responses={200: ChannelRotateOutput},
    )
    def post(self, request: Request, channel_id: int) -> Response:
        """A new signing secret (shown once); the old one keeps signing for 24 hours."""
        channel = services.channel_get(user=current_user(request), channel_id=channel_id)
        saved = services.rotate_signing_secret(channel=channel, origin=Origin.of(request))
        return Response(
            {
                "signing_secret": saved.signing_secret,
                "previous_secret_valid_until": saved.channel.previous_secret_valid_until,
            }
        )
