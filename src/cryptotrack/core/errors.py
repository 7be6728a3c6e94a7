"""One place that turns every error into the JSON shape of API.md.

``{"detail": "human sentence", "code": "machine_code"}`` plus ``"errors": {field: [...]}``
for validation failures. DRF's own exceptions, Django's ``Http404``/``PermissionDenied``/
``ValidationError``/``IntegrityError``/``OperationalError`` (an unreachable database: 503)
and our ``ApplicationError`` all come through here, and the plain Django handlers below
give the same shape for URLs no view matched — to a client of the API. A browser asking
for a page of the web app gets its error as a page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from cryptotrack.core.exceptions import ApplicationError, ServiceUnavailable

logger = logging.getLogger(__name__)

_VALIDATION_DETAIL = "The request is invalid: see `errors` for what to fix."
# What a 503 for an unreachable database tells the client to wait.
DATABASE_RETRY_AFTER_SECONDS = 5


class ConflictingWrite(exceptions.APIException):
    """A write the database refused (a unique key taken meanwhile): the client may retry."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with a change made at the same time; try again."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error answered as ``{"detail", "code"[, "errors"]}``."""
    if isinstance(exc, OperationalError):
        # PostgreSQL unreachable, or no pooled connection within WEB_DATABASE_POOL_TIMEOUT:
        # nothing the client did, and nothing a retry in a moment cannot fix.
        logger.warning("database unavailable, answered 503: %s", exc)
        exc = ServiceUnavailable(
            "The database cannot be reached right now; try again in a moment.",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
            code="database_unavailable",
        )
    if isinstance(exc, ApplicationError):
        body = {"detail": exc.message, "code": exc.code, **exc.extra}
        return Response(body, status=exc.status, headers=exc.headers)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = exceptions.ParseError(f"The body is larger than {limit} bytes.", code="too_large")
    elif isinstance(exc, IntegrityError):
        # Services turn the conflicts they expect into 400s; any other one a client can
        # cause (two requests racing for one unique key) is a 409, never a 500.
        logger.warning("integrity error answered as 409: %s", exc)
        exc = ConflictingWrite()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django answers 500 through handler500 below
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _VALIDATION_DETAIL,
            "code": "invalid",
            "errors": _field_errors(exc.detail),
        }
    elif isinstance(exc, exceptions.APIException):
        response.data = _detail_and_code(exc)
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            response.data["retry_after"] = int(wait) + 1
    return response


def _detail_and_code(exc: exceptions.APIException) -> dict[str, Any]:
    """``{"detail", "code"}`` of an exception whose detail is a message or, as SimpleJWT's
    ``InvalidToken`` has it, a dict ``{"detail", "code", "messages": [{"message"}, ...]}``."""
    detail = exc.detail
    if isinstance(detail, dict) and "detail" in detail:
        reasons = [
            str(item["message"])
            for item in detail.get("messages", [])
            if isinstance(item, dict) and "message" in item
        ]
        text = str(detail["detail"])
        if reasons:
            text = f"{text}: {'; '.join(dict.fromkeys(reasons))}"
        return {"detail": text, "code": str(detail.get("code", exc.default_code))}
    code = detail.code if isinstance(detail, exceptions.ErrorDetail) else exc.default_code
    return {"detail": str(detail), "code": code}


def _field_errors(detail: Any) -> dict[str, Any]:
    """A ValidationError's detail as ``{field: [messages]}``; others go to ``non_field_errors``."""
    if isinstance(detail, dict):
        return {key: _messages(value) for key, value in detail.items()}
    return {"non_field_errors": _messages(detail)}


def _messages(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _messages(inner) for key, inner in value.items()}
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
        return [_messages(item) for item in value]
    return [str(value)]


def json_error(status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


def wants_page(request: HttpRequest) -> bool:
    """A browser asking for a page of the web app, not a client of the API: its errors are
    pages too (``error.html``, from the web app's templates). The API is JSON always."""
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")


def _error(
    request: HttpRequest, status_code: int, detail: str, code: str, *, title: str
) -> HttpResponse:
    if wants_page(request):
        context = {"status": status_code, "title": title, "detail": detail}
        return render(request, "error.html", context, status=status_code)
    return json_error(status_code, detail, code)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "Bad request.", "bad_request", title="Bad request")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "You may not do this.", "permission_denied", title="Forbidden")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(
        request, 404, f"No such path: {request.path}", "not_found", title="Page not found"
    )


# Without a template or the database: whatever failed may fail again while rendering.
_SERVER_ERROR_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Server error · '
    "cryptotrack</title></head><body><main><h1>Something went wrong on our side</h1>"
    "<p>It has been logged. Please try again in a moment.</p>"
    '<p><a href="/">Back to cryptotrack</a></p></main></body></html>'
)


def handler500(request: HttpRequest) -> HttpResponse:
    if wants_page(request):
        return HttpResponse(_SERVER_ERROR_PAGE, status=500)
    return json_error(
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error: it has been logged.",
        "server_error",
    )
