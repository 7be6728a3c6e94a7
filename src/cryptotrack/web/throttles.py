"""The API's throttles on a form: a page counts against the same scope as its endpoint.

A form is not a DRF view, so the throttle is asked directly, with an object standing in for
the view that carries the endpoint's ``throttle_scope`` (as ``accounts.signin`` does for the
sign-in form). A refusal is an ``ApplicationError`` (429, ``Retry-After``) that the page
shows as its form error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import SimpleRateThrottle

from cryptotrack.core.exceptions import ApplicationError


class FormThrottled(ApplicationError):
    status = 429
    code = "throttled"


@dataclass(frozen=True)
class _Scope:
    """What a scoped throttle reads of a view."""

    throttle_scope: str


def check_throttle(
    request: HttpRequest, throttle: SimpleRateThrottle, *, scope: str, what: str
) -> None:
    """Count this request against ``scope``; raise ``FormThrottled`` when it is over.

    ``what`` names the attempts in the message ("sign-ups", "forced refreshes").
    """
    view: Any = _Scope(scope)  # all a throttle reads of the endpoint's view
    # DRF's stubs want its Request; the throttles read only what an HttpRequest has too.
    if throttle.allow_request(cast(Any, request), view):
        return
    wait = math.ceil(throttle.wait() or 1)
    raise FormThrottled(
        f"Too many {what}; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
        extra={"retry_after": wait},
    )


def with_headers(response: HttpResponse, headers: dict[str, str]) -> HttpResponse:
    """``response`` carrying a refusal's headers (``Retry-After``)."""
    for name, value in headers.items():
        response[name] = value
    return response
