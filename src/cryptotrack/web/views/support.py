"""What the pages share: a service's "no" as a page shows it (field
messages next to their fields, the rest as the form's error, "not yours / not there" as a
404), and one page of a long list.

The services say no in three ways (Django's ``ValidationError`` with
per-field messages, DRF's ``ValidationError``/``NotFound``, our ``ApplicationError``); the
API's exception handler maps each once, and so does this module for the pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from rest_framework import exceptions as drf

from cryptotrack.accounts.models import User
from cryptotrack.core.exceptions import ApplicationError
from cryptotrack.core.exceptions import NotFound as DomainNotFound
from cryptotrack.web.forms import FormErrors

T = TypeVar("T")


class Refused(Exception):
    """The service refused the input: ``errors`` are what the form shows."""

    def __init__(self, errors: FormErrors) -> None:
        super().__init__(errors.by_field)
        self.errors = errors


@contextmanager
def owned() -> Iterator[None]:
    """Another user's object (or a missing one) is a 404, as in the API."""
    try:
        yield
    except (DomainNotFound, drf.NotFound) as exc:
        raise Http404(str(exc)) from None


def attempt(call: Callable[[], T]) -> T:
    """``call()``; a refusal becomes ``Refused`` with the API's messages, a missing or
    another user's object ``Http404``."""
    with owned():
        try:
            return call()
        except DjangoValidationError as exc:
            raise Refused(FormErrors.of_validation_error(exc)) from None
        except drf.ValidationError as exc:
            raise Refused(FormErrors.of_serializer(exc.detail)) from None
        except ApplicationError as exc:
            if isinstance(exc, DomainNotFound):
                raise
            raise Refused(FormErrors.of_refusal(exc)) from None


def list_items_folded(errors: FormErrors) -> FormErrors:
    """Messages about one item of a list field (``channels.3``) shown at the list
    (``channels``): the form has one place for the list's messages."""
    result = FormErrors()
    for name, messages in errors.by_field.items():
        head, _, tail = name.rpartition(".")
        for message in messages:
            result.add(head if head and tail.isdigit() else name, message)
    return result


PER_PAGE = 25


def page_of(request: HttpRequest, items: QuerySet[Any]) -> Page[Any]:
    """The page ``?page=`` asks for (a bad or too high number gives the first or last)."""
    return Paginator(items, PER_PAGE).get_page(request.GET.get("page"))


def user_of(request: HttpRequest) -> User:
    """The signed-in user of a ``@page`` view (the decorator let only those in)."""
    return cast(User, request.user)
