"""OpenAPI: every operation documents the errors it can answer, in the one error shape.

drf-spectacular documents the success answer; this AutoSchema adds 400/401/403/404/429,
409 on writes (and whatever a view lists in ``error_statuses``) with the error body of API.md, so
clients and schemathesis's ``status_code_conformance`` see the whole contract.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from cryptotrack.core.csv_export import CsvRenderer


class ErrorSerializer(serializers.Serializer[Any]):
    """The body of every 4xx/5xx answer."""

    detail = serializers.CharField(help_text="What went wrong, in a sentence.")
    code = serializers.CharField(help_text="A stable machine-readable code.")
    errors = serializers.DictField(  # type: ignore[assignment]
        required=False,
        child=serializers.JSONField(),
        help_text="Validation errors: field name -> list of messages.",
    )
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait (429).")


_ERROR_DESCRIPTIONS = {
    400: "The request is invalid; `errors` says which field and why.",
    401: "Missing, expired or invalid credentials.",
    403: "Authenticated, but not allowed to do this (e.g. an API key on a write).",
    404: "No such object, or it belongs to another user.",
    409: "The object's state does not allow this.",
    429: "Too many requests; `Retry-After` says when to come back.",
    502: "The upstream API answered an error.",
    503: "Temporarily unavailable (quota or upstream rate limit); see `Retry-After`.",
}


class AutoSchema(openapi.AutoSchema):
    """Adds the standard error answers to every operation (see the module docstring)."""

    def map_renderers(self, attribute: str) -> list[Any]:
        # Answers are JSON (errors included) unless a view declares another media type for
        # one status, as a CSV list does (core/csv_export.list_or_csv_responses).
        csv = {CsvRenderer.media_type, CsvRenderer.format}
        return [value for value in super().map_renderers(attribute) if value not in csv]

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            key = str(status)
            if key in responses:
                continue
            responses[key] = self._get_response_for_code(
                OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS.get(status, "")),
                key,
                direction=direction,
            )
        return responses

    def _error_statuses(self) -> list[int]:
        statuses = {400, 404, 429}
        if not any(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            statuses |= {401, 403}
        if self.method in {"POST", "PUT", "PATCH", "DELETE"}:
            statuses.add(409)  # a write that raced another for a unique key (core/errors.py)
        statuses |= set(getattr(self.view, "error_statuses", ()))
        return sorted(statuses)

    def _get_response_headers_for_code(
        self, status_code: str, direction: Any = "response"
    ) -> dict[str, Any]:
        headers: dict[str, Any] = super()._get_response_headers_for_code(status_code, direction)
        if status_code in {"429", "503"}:
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before trying again.",
            }
        if status_code == "401":
            headers["WWW-Authenticate"] = {
                "schema": {"type": "string"},
                "description": "The authentication scheme expected (Bearer).",
            }
        return headers
