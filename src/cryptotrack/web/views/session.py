"""Signing a browser in and out: ``/`` (the sign-in page or the dashboard), ``/sign-in``,
``/sign-out``.

Sign-in takes the API's path (``accounts.signin.sign_in_from_form``): the same per-IP
throttle as ``POST /api/v1/auth/token``, the same lockout, the same audit entries (``via:
web``). "Remember me" is off by default: the session then ends with the browser.
"""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cryptotrack.accounts.signin import LoginLocked, sign_in_from_form
from cryptotrack.core.throttling import FormThrottled
from cryptotrack.web.auth import safe_next, signed_in_user
from cryptotrack.web.forms import FormErrors
from cryptotrack.web.rendering import render_page, with_headers
from cryptotrack.web.views import positions

WRONG_PAIR = "That username and password do not match an account."


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Signed in: the dashboard (the positions page). Otherwise: the sign-in page."""
    if signed_in_user(request) is not None:
        return positions.dashboard(request)
    return _sign_in_page(request, next_path=request.GET.get("next"))


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return HttpResponseRedirect(reverse("web:home"))
    username = request.POST.get("username", "").strip()
    password = request.POST.get("password", "")
    next_path = request.POST.get("next")
    errors = FormErrors()
    if not username:
        errors.add("username", "Enter your username.")
    if not password:
        errors.add("password", "Enter your password.")
    if errors:
        return _sign_in_page(request, next_path=next_path, username=username, errors=errors)
    try:
        user = sign_in_from_form(request=request, username=username, password=password, via="web")
    except (FormThrottled, LoginLocked) as exc:
        refused = _sign_in_page(
            request,
            next_path=next_path,
            username=username,
            errors=FormErrors.of_refusal(exc),
            status=429,
        )
        return with_headers(refused, exc.headers)
    if user is None:
        errors.add("__all__", WRONG_PAIR)
        return _sign_in_page(
            request, next_path=next_path, username=username, errors=errors, status=400
        )
    login(request, user)
    if request.POST.get("remember") != "on":
        request.session.set_expiry(0)  # ends when the browser closes
    return HttpResponseRedirect(safe_next(request, next_path))


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("web:home"))


def _sign_in_page(
    request: HttpRequest,
    *,
    next_path: str | None,
    username: str = "",
    errors: FormErrors | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"next": next_path or "", "username": username, "errors": errors or FormErrors()}
    return render_page(request, "web/sign_in.html", context, active="", status=status)
