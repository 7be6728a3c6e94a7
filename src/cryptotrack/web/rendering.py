"""Rendering a page of the web app: the template, the navigation's active item, and for an
htmx request the fragment only."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# The navigation, in order: (url name, label). Templates mark ``active`` as the current one.
NAVIGATION = (
    ("web:home", "Positions"),
    ("web:balances", "Balances"),
    ("web:events", "Events"),
    ("web:rates", "Rates"),
    ("web:alerts", "Alerts"),
    ("web:channels", "Channels"),
    ("web:settings", "Settings"),
)


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    active: str,
    status: int = 200,
) -> HttpResponse:
    """A full page (``template`` extends ``web/base.html``), ``active`` naming its nav entry."""
    return render(
        request,
        template,
        {"active": active, **(context or {})},
        status=status,
    )


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def with_headers(response: HttpResponse, headers: dict[str, str]) -> HttpResponse:
    """``response`` carrying a refusal's headers (``Retry-After``)."""
    for name, value in headers.items():
        response[name] = value
    return response
