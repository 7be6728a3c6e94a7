"""Creating, changing, testing and removing a user's notification channels."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from cryptotrack.accounts.models import User
from cryptotrack.audit.services import Kind as AuditKind
from cryptotrack.audit.services import Origin, record_audit_event
from cryptotrack.core import crypto
from cryptotrack.notify.models import Channel
from cryptotrack.notify.outcome import Attempt
from cryptotrack.notify.senders import Message, deliver

# How long a webhook's previous signing secret still signs after a rotation.
PREVIOUS_SECRET_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class Saved:
    """A saved channel and, once, the signing secret made for it (webhooks)."""

    channel: Channel
    signing_secret: str | None = None


def hint(secret: str) -> str:
    """What a secret shows as: its last four characters."""
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def channel_list(*, user: User) -> QuerySet[Channel]:
    return Channel.objects.filter(user=user)


def channel_get(*, user: User, channel_id: int) -> Channel:
    try:
        return Channel.objects.get(user=user, id=channel_id)
    except Channel.DoesNotExist:
        raise NotFound("No such channel.", code="not_found") from None


def channel_create(
    *,
    user: User,
    kind: str,
    name: str,
    config: dict[str, Any],
    secret: str | None,
    origin: Origin | None = None,
) -> Saved:
    """Store a channel; a webhook gets a signing secret, returned once."""
    shown = None
    if kind == Channel.Kind.WEBHOOK:
        shown = secret = new_signing_secret()
    channel = Channel(user=user, kind=kind, name=name, config=config)
    _set_secret(channel, secret)
    _save_named(channel)
    record_audit_event(
        user=user, kind=AuditKind.CHANNEL_ADDED, origin=origin, channel=name, type=kind
    )
    return Saved(channel, shown)


def channel_update(
    *,
    channel: Channel,
    name: str | None,
    config: dict[str, Any] | None,
    secret: str | None,
    origin: Origin | None = None,
) -> Channel:
    """Rename and/or change the settings; a changed destination must be tested again."""
    if name is not None:
        channel.name = name
    if config is not None:
        channel.config = config
        channel.verified_at = None
    if secret is not None and channel.kind != Channel.Kind.WEBHOOK:
        _set_secret(channel, secret)
        channel.verified_at = None
    _save_named(channel)
    record_audit_event(
        user=channel.user, kind=AuditKind.CHANNEL_UPDATED, origin=origin, channel=channel.name
    )
    return channel


def channel_delete(*, channel: Channel, origin: Origin | None = None) -> None:
    record_audit_event(
        user=channel.user, kind=AuditKind.CHANNEL_DELETED, origin=origin, channel=channel.name
    )
    channel.delete()


def rotate_signing_secret(*, channel: Channel, origin: Origin | None = None) -> Saved:
    """A new signing secret (returned once); the old one still signs for 24 hours."""
    if channel.kind != Channel.Kind.WEBHOOK:
        raise ValidationError({"kind": ["Only webhook channels have a signing secret."]})
    with transaction.atomic():
        channel.previous_secret_encrypted = channel.secret_encrypted
        channel.previous_secret_valid_until = timezone.now() + PREVIOUS_SECRET_GRACE
        shown = new_signing_secret()
        _set_secret(channel, shown)
        channel.save()
    record_audit_event(
        user=channel.user,
        kind=AuditKind.CHANNEL_UPDATED,
        origin=origin,
        channel=channel.name,
        change="signing secret rotated",
    )
    return Saved(channel, shown)


def send_test(*, channel: Channel) -> Attempt:
    """Send a test message now; a delivered one marks the channel verified."""
    now = timezone.now()
    message = Message(
        delivery_id=f"test_{uuid.uuid4().hex}",
        event="channel.test",
        title="cryptotrack: test message",
        text=f"This is a test of your channel {channel.name!r}. Alerts will arrive like this.",
        created_at=now.isoformat(),
        data={"channel": {"id": channel.id, "name": channel.name}},
    )
    with httpx.Client() as http:
        attempt = deliver(channel, message, http=http)
    if attempt.delivered:
        Channel.objects.filter(pk=channel.pk).update(
            verified_at=now, consecutive_failures=0, flagged_at=None
        )
        channel.verified_at, channel.consecutive_failures, channel.flagged_at = now, 0, None
    return attempt


def _set_secret(channel: Channel, secret: str | None) -> None:
    channel.secret_encrypted = crypto.encrypt(secret) if secret else ""
    channel.secret_hint = hint(secret) if secret else ""


def _save_named(channel: Channel) -> None:
    """Save; a name the user already has (any case) is a 400 on ``name``, also in a race."""
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        raise ValidationError({"name": ["You already have a channel with this name."]}) from None
