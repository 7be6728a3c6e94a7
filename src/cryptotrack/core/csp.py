"""The Content-Security-Policy header on every HTML page (Django 5.2 has none built in).

The pages are few — Swagger UI at /docs, the live rates page, the admin — and none runs
inline code: their scripts and styles are static files, so the policy
(``settings.CONTENT_SECURITY_POLICY``) allows our own origin only. JSON answers carry no
policy: a browser does not render them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

HEADER = "Content-Security-Policy"


def add_policy(response: HttpResponseBase) -> HttpResponseBase:
    """Give an HTML response the policy, unless it has one of its own."""
    if response.get("Content-Type", "").startswith("text/html") and HEADER not in response:
        response[HEADER] = settings.CONTENT_SECURITY_POLICY
    return response


class ContentSecurityPolicyMiddleware:
    """Adds :func:`add_policy` to every response; sync and async alike (no thread hop)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return add_policy(self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        response: Awaitable[HttpResponseBase] = self.get_response(request)
        return add_policy(await response)
