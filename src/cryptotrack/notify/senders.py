"""Deliver one message to one channel, whatever its kind, and say how it went.

:class:`Message` is what an alert firing (or a channel test) has to say; :func:`deliver`
builds the channel's request (``messengers``/``webhooks``), sends it (``transport``) and
reads the answer into an :class:`Attempt`. Secrets are decrypted here, for this send only.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from cryptotrack.core import crypto
from cryptotrack.notify import messengers, webhooks
from cryptotrack.notify.models import Channel
from cryptotrack.notify.outcome import Attempt, Verdict, smtp_failure
from cryptotrack.notify.transport import Answer, Push, send

Kind = Channel.Kind


@dataclass(frozen=True)
class Message:
    """``delivery_id`` is stable across retries (webhooks send it; emails use it in their
    Message-ID); ``event`` names the webhook's ``type``; ``data`` is the webhook's ``data``."""

    delivery_id: str
    event: str
    title: str
    text: str
    created_at: str
    data: dict[str, Any] = field(default_factory=dict)


def channel_secrets(channel: Channel) -> list[str]:
    """The channel's secret, then its previous one while that is still honoured."""
    found = [crypto.decrypt(channel.secret_encrypted)] if channel.secret_encrypted else []
    until = channel.previous_secret_valid_until
    if channel.previous_secret_encrypted and until is not None and until > timezone.now():
        found.append(crypto.decrypt(channel.previous_secret_encrypted))
    return found


def deliver(channel: Channel, message: Message, *, http: httpx.Client) -> Attempt:
    """One attempt to deliver ``message`` on ``channel`` (never raises for the receiver's
    sake: every failure is an Attempt with its verdict)."""
    if channel.kind == Kind.EMAIL:
        return _email(channel, message)
    push, read = _push(channel, message)
    answer: Answer = send(
        push,
        http=http,
        timeout=settings.NOTIFY_TIMEOUT_SECONDS,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
    )
    return read(answer)


def _push(channel: Channel, message: Message) -> tuple[Push, Any]:
    config = channel.config
    text = f"{message.title}\n\n{message.text}"
    if channel.kind == Kind.WEBHOOK:
        body = webhooks.event_body(
            delivery_id=message.delivery_id,
            kind=message.event,
            created_at=message.created_at,
            data=message.data,
        )
        push = webhooks.webhook_push(
            config["url"], body, delivery_id=message.delivery_id, secrets=channel_secrets(channel)
        )
        return push, webhooks.read_webhook_answer
    secret = crypto.decrypt(channel.secret_encrypted) if channel.secret_encrypted else ""
    if channel.kind == Kind.TELEGRAM:
        push = messengers.telegram_push(
            settings.TELEGRAM_API_URL, bot_token=secret, chat_id=config["chat_id"], text=text
        )
        return push, messengers.read_telegram_answer
    if channel.kind == Kind.DISCORD:
        return messengers.discord_push(secret, text=text), messengers.read_discord_answer
    if channel.kind == Kind.SLACK:
        return messengers.slack_push(secret, text=text), messengers.read_slack_answer
    if channel.kind == Kind.NTFY:
        push = messengers.ntfy_push(
            config["server_url"],
            topic=config["topic"],
            title=message.title,
            text=message.text,
            token=secret,
        )
        return push, messengers.read_ntfy_answer
    raise ValueError(f"unknown channel kind {channel.kind!r}")


def _email(channel: Channel, message: Message) -> Attempt:
    email = EmailMessage(
        subject=message.title,
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[channel.config["address"]],
        headers={"Message-ID": f"<{message.delivery_id}@cryptotrack>"},
    )
    try:
        email.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        return smtp_failure(exc)
    return Attempt(Verdict.DELIVERED, status=250)
