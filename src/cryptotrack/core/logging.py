"""Log formatting, the redaction filter that keeps secrets out of every log line, and the
request and task ids that let one request or one poll be followed across processes.

* The **request id** is bound by :class:`RequestIdAsgiMiddleware` (around the whole ASGI
  app, so uvicorn's access line has it too) and :class:`RequestIdMiddleware` (Django's,
  for every other way in; it echoes the id in the ``X-Request-ID`` response header). An
  incoming ``X-Request-ID`` is kept only when it is a short safe token
  (:func:`accepted_request_id`), else a new one is made: a client cannot inject text or
  flood a log line through it.
* The **task id** is bound in the worker while a Celery task runs (``task_prerun`` /
  ``task_postrun``); a task published while a request id is bound carries it in its
  headers, so the worker's lines of a poll started by ``POST /api/v1/tracking`` have that
  request's id. Beat logs the id of each task it sends.
* :class:`ContextIdsFilter` puts both on each record: ``request_id`` / ``task_id`` keys
  in the JSON lines, `` [request=… task=…]`` after the logger name in the text ones.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from cryptotrack.core.middleware import RequestResponseMiddleware
from cryptotrack.core.ticks import QUIET_TASKS

# Values of these keys never reach a log line, whatever shape the message takes
# ("api_secret=..", '"passphrase": ".."', "Authorization: Bearer ..").
# The names of secrets, not a secret:
_SECRET_KEYS = (
    r"(?:api[_-]?secret|api[_-]?passphrase|passphrase|password|secret|token|access|refresh"  # noqa: S105
    r"|authorization|x-api-key|kc-api-sign|kc-api-passphrase|apikey|api[_-]?key)"
)
_PATTERNS = [
    re.compile(rf"(?i)(['\"]?{_SECRET_KEYS}['\"]?\s*[:=]\s*['\"]?)([^'\"\s,}}&]+)"),
    re.compile(r"(?i)(bearer\s+|jwt\s+)([A-Za-z0-9._\-]+)"),
    # Whatever their context: a JWT (header.payload.signature) and a personal API key.
    re.compile(r"()(eyJ[A-Za-z0-9_\-]*\.eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*)"),
    re.compile(r"()(ctk_[0-9a-f]+_[A-Za-z0-9_\-]+)"),
    # Notification channels: a URL's path is the credential (Telegram's bot token, Discord's
    # and Slack's webhook URLs); signing secrets and ntfy access tokens by their prefixes.
    re.compile(r"(/bot\d+:)([A-Za-z0-9_\-]+)"),
    re.compile(r"(/api/webhooks/\d+/)([A-Za-z0-9_\-]+)"),
    re.compile(r"(/services/[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+/)([A-Za-z0-9_\-]+)"),
    re.compile(r"()((?:whsec|tk)_[A-Za-z0-9_\-]+)"),
]
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Replace the values of secret-looking keys in ``text`` with ``[redacted]``."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message (args included) and its traceback through
    :func:`redact`, whatever formatter then writes it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set: an exception's message (a URL
            # with a key, a token in a parse error) gets no way around the redaction.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "task_id"):
            if value := getattr(record, key, None):
                payload[key] = value
        if record.exc_info or record.exc_text:
            text = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
            payload["exception"] = redact(text)
        if record.stack_info:
            payload["stack"] = redact(record.stack_info)
        return json.dumps(payload)


# -- request and task ids ------------------------------------------------------------------

REQUEST_ID_HEADER = "X-Request-ID"
# A token a proxy or client may choose: letters, digits and ._:- (UUIDs, ULIDs, AWS/GCP
# trace ids), at most 64 characters. Anything else is replaced, never logged.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

request_id_var: ContextVar[str | None] = ContextVar("cryptotrack_request_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("cryptotrack_task_id", default=None)
_SCOPE_KEY = "cryptotrack.request_id"


def accepted_request_id(incoming: str | None) -> str:
    """``incoming`` when it is a short safe token, else a new random id (32 hex digits)."""
    if incoming and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class ContextIdsFilter(logging.Filter):
    """Adds ``request_id``, ``task_id`` and ``context_ids`` (their text form) to each record.

    Ids passed explicitly (``extra={"task_id": ...}``) win over the bound ones.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        task_id = getattr(record, "task_id", None) or task_id_var.get()
        record.request_id, record.task_id = request_id, task_id
        parts = [f"request={request_id}"] if request_id else []
        parts += [f"task={task_id}"] if task_id else []
        record.context_ids = f" [{' '.join(parts)}]" if parts else ""
        return True


class RequestIdMiddleware(RequestResponseMiddleware):
    """Django middleware: binds the request's id for its log lines (the one the ASGI
    middleware chose, else from ``X-Request-ID`` or new) and answers it in ``X-Request-ID``.

    Put it first. The id stays bound until ``request_finished`` (:func:`unbind_request_id`):
    Django logs a 4xx/5xx answer (``django.request``) after the middleware has returned.
    """

    def before(self, request: HttpRequest) -> str:
        return _bind_request_id(request)

    def after(
        self, request: HttpRequest, response: HttpResponseBase, state: str
    ) -> HttpResponseBase:
        response[REQUEST_ID_HEADER] = state
        return response


def request_id_of_scope(scope: MutableMapping[str, Any]) -> str | None:
    """The id :class:`RequestIdAsgiMiddleware` chose for this request (None: not under it)."""
    return scope.get(_SCOPE_KEY)


def _bind_request_id(request: HttpRequest) -> str:
    scope = getattr(request, "scope", None) or {}
    request_id = request_id_of_scope(scope) or accepted_request_id(
        request.headers.get(REQUEST_ID_HEADER)
    )
    request_id_var.set(request_id)
    return str(request_id)


def unbind_request_id(**_: Any) -> None:
    """``request_finished``: the thread's next lines belong to no request."""
    request_id_var.set(None)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class RequestIdAsgiMiddleware:
    """ASGI middleware around the whole app: binds the request id of each HTTP request and
    WebSocket connection before anything logs (uvicorn's access line is written inside the
    app's ``send``, so it carries the id too)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v for k, v in scope.get("headers", ()) if k.lower() == b"x-request-id"), b""
        )
        request_id = accepted_request_id(incoming.decode("latin-1"))
        token = request_id_var.set(request_id)
        try:
            # Django's middleware answers this id rather than choosing one of its own.
            await self.app({**scope, _SCOPE_KEY: request_id}, receive, send)
        finally:
            request_id_var.reset(token)


# Celery signal receivers, connected in cryptotrack/celery.py.

_task_tokens: dict[str, tuple[Any, Any]] = {}
_beat_logger = logging.getLogger("cryptotrack.beat")
_in_beat = False


def carry_request_id(headers: MutableMapping[str, Any] | None = None, **_: Any) -> None:
    """``before_task_publish``: a task published during a request carries its id."""
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


def bind_task_ids(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """``task_prerun``: the running task's id, and the request id it was published with."""
    if task_id is None:
        return
    # An eager task (run inside the request that called it) keeps that request's id.
    carried = task.request.get("request_id") if task is not None else None
    request_id = carried or request_id_var.get()
    _task_tokens[task_id] = (task_id_var.set(task_id), request_id_var.set(request_id))


def unbind_task_ids(task_id: str | None = None, **_: Any) -> None:
    """``task_postrun``: back to no ids once the task is over."""
    tokens = _task_tokens.pop(task_id or "", None)
    if tokens is None:
        return
    task_token, request_token = tokens
    try:
        request_id_var.reset(request_token)
        task_id_var.reset(task_token)
    except ValueError:  # postrun in another context than prerun: unbind all the same
        request_id_var.set(None)
        task_id_var.set(None)


def mark_beat(**_: Any) -> None:
    """``beat_init``: this process is beat; from now on it logs the id of each task it sends."""
    global _in_beat
    _in_beat = True


def log_sent_task(
    sender: str | None = None, headers: MutableMapping[str, Any] | None = None, **_: Any
) -> None:
    """``after_task_publish``: in beat, one line per sent task, with that task's id
    (at DEBUG for the every-second ticks of ``ticks.QUIET_TASKS``: no flood)."""
    if _in_beat and headers and headers.get("id"):
        level = logging.DEBUG if sender in QUIET_TASKS else logging.INFO
        _beat_logger.log(level, "sent %s", sender, extra={"task_id": headers["id"]})
