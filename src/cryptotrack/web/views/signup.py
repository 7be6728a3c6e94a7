"""``/sign-up``: a new account, with an optional KuCoin key, as ``POST /api/v1/auth/signup``.

The form is validated by ``SignupApi.InputSerializer`` (the API's messages, next to the
fields), counted against the API's per-IP ``signup`` throttle, and handed to
``accounts.services.signup``; the new user is then signed in (for this browser session,
as a sign-in without "remember me"). The password and the KuCoin
secret and passphrase are never written back into the page, even when the form is refused.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from cryptotrack.accounts import services
from cryptotrack.accounts.apis import SignupApi
from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.audit.services import Origin
from cryptotrack.core.exceptions import ApplicationError
from cryptotrack.core.throttling import IpScopedRateThrottle, check_form_throttle
from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.web.auth import signed_in_user
from cryptotrack.web.forms import FormErrors, posted, validated
from cryptotrack.web.rendering import render_page, with_headers

ACCOUNT_FIELDS = ("name", "username", "password", "email")
KUCOIN_FIELDS = ("api_key", "api_secret", "api_passphrase")


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if signed_in_user(request) is not None:
        return HttpResponseRedirect(reverse("web:home"))
    if request.method == "GET":
        return _sign_up_page(request)
    form = _signup_input(request.POST)
    try:
        check_form_throttle(request, IpScopedRateThrottle(), scope="signup", what="sign-ups")
    except ApplicationError as exc:
        return _refused(request, form, FormErrors.of_refusal(exc), status=429, headers=exc.headers)
    data, errors = validated(SignupApi.InputSerializer, form)
    if data is None:
        return _refused(request, form, errors, status=400)
    kucoin = data.get("kucoin")
    try:
        user = services.signup(
            name=data["name"],
            username=data["username"],
            password=data["password"],
            email=data["email"],
            kucoin_credentials=KucoinCredentials(**kucoin) if kucoin else None,
            origin=Origin.of(request),
        )
    except ApplicationError as exc:
        return _refused(request, form, FormErrors.of_refusal(exc), status=exc.status)
    login(request, user)
    request.session.set_expiry(0)  # as a sign-in without "remember me": ends with the browser
    for account in services.exchange_account_list(user=user):
        _say_how_the_key_was_judged(request, account)
    return HttpResponseRedirect(reverse("web:home"))


def _say_how_the_key_was_judged(request: HttpRequest, account: ExchangeAccount) -> None:
    """KuCoin's verdict on the key just stored, and its permission warnings, on the next page."""
    verdict = f"KuCoin key …{account.api_key_hint}: {account.get_status_display()}."
    if account.status_message:
        verdict += f" {account.status_message}"
    level = messages.SUCCESS if account.status == ExchangeAccount.Status.VALID else messages.WARNING
    messages.add_message(request, level, verdict)
    for warning in account.warnings:
        messages.warning(request, warning)


def _signup_input(post: Any) -> dict[str, Any]:
    """The form as the API's JSON body: the KuCoin fields nested under ``kucoin``, left out
    when all three are empty (the key step is optional)."""
    data = posted(post, *ACCOUNT_FIELDS)
    kucoin = posted(post, *(f"kucoin.{name}" for name in KUCOIN_FIELDS))
    if kucoin:
        data["kucoin"] = {name.removeprefix("kucoin."): value for name, value in kucoin.items()}
    return data


def _refused(
    request: HttpRequest,
    form: dict[str, Any],
    errors: FormErrors,
    *,
    status: int,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    # Shown again: never the password, the KuCoin secret or passphrase.
    echoed = {name: form.get(name, "") for name in ("name", "username", "email")}
    echoed["kucoin_api_key"] = (form.get("kucoin") or {}).get("api_key", "")
    response = _sign_up_page(request, values=echoed, errors=errors, status=status)
    return with_headers(response, headers or {})


def _sign_up_page(
    request: HttpRequest,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"values": values or {}, "errors": errors or FormErrors()}
    return render_page(request, "web/sign_up.html", context, active="", status=status)
