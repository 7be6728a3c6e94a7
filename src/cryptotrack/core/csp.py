"""The Content-Security-Policy header on every HTML page (Django 5.2 has none built in).

The pages are few — Swagger UI at /docs, the live rates page, the admin — and none runs
inline code: their scripts and styles are static files, so the policy
(``settings.CONTENT_SECURITY_POLICY``) allows our own origin only. JSON answers carry no
policy: a browser does not render them.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from cryptotrack.core.middleware import RequestResponseMiddleware

HEADER = "Content-Security-Policy"


def add_policy(response: HttpResponseBase) -> HttpResponseBase:
    """Give an HTML response the policy, unless it has one of its own."""
    if response.get("Content-Type", "").startswith("text/html") and HEADER not in response:
        response[HEADER] = settings.CONTENT_SECURITY_POLICY
    return response


class ContentSecurityPolicyMiddleware(RequestResponseMiddleware):
    """Adds :func:`add_policy` to every response; sync and async alike (no thread hop)."""

    def after(
        self, request: HttpRequest, response: HttpResponseBase, state: object
    ) -> HttpResponseBase:
        return add_policy(response)
