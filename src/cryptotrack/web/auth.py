"""Who may see a page: the session's user, or a redirect to the sign-in page.

Browsers sign in with a session cookie (``views/session.py``); JWTs and API keys are for
the API. Pages are never cached by a browser or a proxy: they show one trader's money.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme

from cryptotrack.accounts.models import User

View = Callable[..., HttpResponse]
# What a page answers: a page, or what it streams (a CSV download).
Answer = TypeVar("Answer", bound=HttpResponseBase)


def signed_in_user(request: HttpRequest) -> User | None:
    """The active user of this browser session, or None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user


def sign_in_url(next_path: str | None = None) -> str:
    url = reverse("web:home")
    return f"{url}?{urlencode({'next': next_path})}" if next_path else url


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """Where to go after signing in: ``candidate`` if it is a path on this site, else home."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("web:home")


def page(view: Callable[..., Answer]) -> Callable[..., Answer | HttpResponse]:
    """A signed-in page: anonymous browsers go to the sign-in page (and come back after);
    an htmx request whose session ended gets ``HX-Redirect`` instead of a partial."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Answer | HttpResponse:
        if signed_in_user(request) is None:
            target = sign_in_url(request.get_full_path() if request.method == "GET" else None)
            if request.headers.get("HX-Request"):
                response = HttpResponse(status=401)
                response["HX-Redirect"] = target
                return response
            return HttpResponseRedirect(target)
        answer = view(request, *args, **kwargs)
        add_never_cache_headers(answer)
        return answer

    return wrapper
