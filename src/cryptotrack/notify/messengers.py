"""Telegram, Discord, Slack and ntfy on their real wire formats.

Each service has a request builder (a :class:`Push`) and a reader of its answer (an
:class:`Attempt`): the HTTP status says most of it, and each service's error body says
the rest (Telegram's ``description`` and ``parameters.retry_after``, Discord's JSON
``message`` and ``retry_after``, Slack's bare word, ntfy's ``{code, http, error}``).
Base URLs are settings, so tests and ``make run`` point them at the messaging simulator.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from cryptotrack.exchanges.retry import parse_retry_after
from cryptotrack.notify.outcome import Attempt, Verdict, verdict_of
from cryptotrack.notify.transport import Answer, Push, no_answer

TELEGRAM_TEXT_LIMIT = 4096
DISCORD_CONTENT_LIMIT = 2000


def _json_push(url: str, document: dict[str, Any], **headers: str) -> Push:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Push(url=url, body=body, headers={"Content-Type": "application/json", **headers})


def _json_of(answer: Answer) -> dict[str, Any]:
    try:
        loaded = json.loads(answer.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _number(value: object) -> float | None:
    return parse_retry_after(str(value)) if isinstance(value, int | float) else None


def _read(answer: Answer, error: str, retry_after: float | None = None) -> Attempt:
    if answer.status is None:
        return no_answer(answer)
    verdict = verdict_of(answer.status)
    if retry_after is None:
        retry_after = parse_retry_after(answer.headers.get("Retry-After"))
    return Attempt(verdict, status=answer.status, error=error, retry_after=retry_after)


# -- Telegram Bot API ----------------------------------------------------------------


def telegram_push(base_url: str, *, bot_token: str, chat_id: str, text: str) -> Push:
    """``POST {base}/bot<token>/sendMessage`` with ``chat_id`` and ``text`` (plain text,
    cut to Telegram's 4,096 characters)."""
    url = f"{base_url.rstrip('/')}/bot{quote(bot_token, safe=':')}/sendMessage"
    document = {
        "chat_id": chat_id,
        "text": text[:TELEGRAM_TEXT_LIMIT],
        "disable_web_page_preview": True,
    }
    return _json_push(url, document)


def read_telegram_answer(answer: Answer) -> Attempt:
    body = _json_of(answer)
    if answer.status is not None and 200 <= answer.status < 300 and body.get("ok") is not True:
        return Attempt(Verdict.FAILED, status=answer.status, error="Telegram answered without ok")
    parameters = body.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {}
    error = "" if body.get("ok") is True else str(body.get("description") or answer.text(200))
    return _read(answer, error, _number(parameters.get("retry_after")))


# -- Discord webhooks ----------------------------------------------------------------


def discord_push(webhook_url: str, *, text: str) -> Push:
    """``POST <webhook URL>`` with ``content`` (cut to 2,000 characters); no mentions."""
    document = {"content": text[:DISCORD_CONTENT_LIMIT], "allowed_mentions": {"parse": []}}
    return _json_push(webhook_url, document)


def read_discord_answer(answer: Answer) -> Attempt:
    body = _json_of(answer)
    error = "" if answer.status in (200, 204) else str(body.get("message") or answer.text(200))
    return _read(answer, error, _number(body.get("retry_after")))


# -- Slack incoming webhooks ---------------------------------------------------------


def slack_push(webhook_url: str, *, text: str) -> Push:
    """``POST <incoming-webhook URL>`` with ``text``."""
    return _json_push(webhook_url, {"text": text})


def read_slack_answer(answer: Answer) -> Attempt:
    error = "" if answer.status == 200 else answer.text(200).strip()
    return _read(answer, error)


# -- ntfy ----------------------------------------------------------------------------


def ntfy_push(server_url: str, *, topic: str, title: str, text: str, token: str = "") -> Push:
    """JSON publishing: ``POST {server}/`` with ``{topic, title, message}`` (UTF-8 safe,
    unlike the title header), and ``Authorization: Bearer <token>`` for protected topics."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    document = {"topic": topic, "title": title, "message": text}
    return _json_push(server_url.rstrip("/") + "/", document, **headers)


def read_ntfy_answer(answer: Answer) -> Attempt:
    body = _json_of(answer)
    error = "" if answer.status == 200 else str(body.get("error") or answer.text(200))
    return _read(answer, error)
