"""Form input checked by the API's own input serializers, errors shaped for templates.

A page validates exactly as its endpoint does: it hands the POSTed fields to the same
``InputSerializer`` and, when that says no, renders the messages next to their fields.
Domain refusals (``ApplicationError`` from a service) show as the form's own error.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import caches
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from rest_framework import serializers
from rest_framework.serializers import as_serializer_error

from cryptotrack.core.exceptions import ApplicationError

NON_FIELD = "__all__"
# A form that makes something shown once (an API key) carries a one-time id in this field.
SUBMISSION_FIELD = "submission"
SUBMISSION_SECONDS = 24 * 3600

logger = logging.getLogger(__name__)


@dataclass
class FormErrors:
    """Messages by field name (dotted for nested fields: ``kucoin.key``); ``__all__`` for
    the form as a whole."""

    by_field: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, []).append(message)

    @property
    def form(self) -> list[str]:
        return self.by_field.get(NON_FIELD, [])

    @classmethod
    def of_serializer(cls, errors: Any) -> FormErrors:
        result = cls()
        _flatten(errors, "", result)
        return result

    @classmethod
    def of_refusal(cls, exc: ApplicationError) -> FormErrors:
        result = cls()
        result.add(NON_FIELD, exc.message)
        return result

    @classmethod
    def of_validation_error(cls, exc: DjangoValidationError) -> FormErrors:
        """A service's Django ``ValidationError`` (``{"label": [...]}`` or a bare message),
        shaped as the API's exception handler shapes it."""
        return cls.of_serializer(as_serializer_error(exc))


def _flatten(errors: Any, prefix: str, into: FormErrors) -> None:
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            if key in {"non_field_errors", NON_FIELD}:
                name = prefix  # the object's own error: the form's, or the nested field's
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            _flatten(value, name, into)
    elif isinstance(errors, list):
        for item in errors:
            _flatten(item, prefix, into)
    else:
        into.add(prefix or NON_FIELD, str(errors))


def validated(
    serializer_class: type[serializers.Serializer[Any]],
    data: Mapping[str, Any],
    *,
    context: dict[str, Any] | None = None,
) -> tuple[dict[str, Any] | None, FormErrors]:
    """``(validated_data, no errors)`` or ``(None, errors)`` for this input."""
    serializer = serializer_class(data=data, context=context or {})
    if serializer.is_valid():
        return dict(serializer.validated_data), FormErrors()
    return None, FormErrors.of_serializer(serializer.errors)


def posted(request_post: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The named fields of a form, blank ones left out (an optional field left empty is
    absent, as a JSON client would send it)."""
    return {name: request_post[name] for name in names if request_post.get(name, "") != ""}


def new_submission_id() -> str:
    """A fresh id for a form's hidden ``submission`` field (one per rendering)."""
    return secrets.token_urlsafe(16)


def first_submission(request: HttpRequest, *, form: str) -> bool:
    """False when this user already sent this rendering of ``form``: the browser re-sent
    the POST (a reload, the back button), and doing it again would make a second thing.

    Remembered in the cache for ``SUBMISSION_SECONDS``. A form without the field (a script)
    and a cache that cannot answer count as first: a duplicate is better than a refusal.
    """
    submission = str(request.POST.get(SUBMISSION_FIELD, ""))[:64]
    if not submission:
        return True
    key = f"web:submission:{request.user.pk}:{form}:{submission}"
    try:
        return bool(caches["default"].add(key, 1, timeout=SUBMISSION_SECONDS))
    except Exception as exc:
        logger.warning("could not check a form submission: %r", exc)
        return True
