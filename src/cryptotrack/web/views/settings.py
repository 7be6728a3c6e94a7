"""``/settings``: the trader's exchange accounts, personal API keys, password and audit log.

Each form is checked by its endpoint's own input serializer and handed to the endpoint's
service (``accounts.services``, ``accounts.api_keys``, ``accounts.passwords``); the audit
log is the selector of ``GET /api/v1/me/audit``. No page ever shows a KuCoin secret or
passphrase, and a KuCoin key only as its last four characters; a new API key is shown once,
in the answer to the form that created it, and never again.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cryptotrack.accounts import api_keys, passwords, services
from cryptotrack.accounts.apis import ApiKeyListApi, PasswordChangeApi
from cryptotrack.accounts.exchange_account_apis import (
    ExchangeAccountDetailApi,
    ExchangeAccountListApi,
)
from cryptotrack.accounts.models import ExchangeAccount, User
from cryptotrack.audit import selectors as audit_selectors
from cryptotrack.audit.models import AuditEvent
from cryptotrack.audit.services import Origin, request_origin
from cryptotrack.core.exceptions import ApplicationError
from cryptotrack.core.throttling import ScopedRateThrottle, check_form_throttle
from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.web.auth import page
from cryptotrack.web.forms import (
    FormErrors,
    first_submission,
    new_submission_id,
    posted,
    validated,
)
from cryptotrack.web.rendering import render_page, with_headers
from cryptotrack.web.views.support import Refused, attempt, owned

ACTIVE = "web:settings"
CREDENTIAL_FIELDS = ("api_key", "api_secret", "api_passphrase")
AUDIT_PER_PAGE = 20
# The audit log's details in words (the keys ``record_audit_event`` callers use).
AUDIT_DETAIL_NAMES = {
    "label": "account",
    "exchange": "exchange",
    "api_key_hint": "key",
    "status": "status",
    "renamed_from": "renamed from",
    "key_replaced": "key replaced",
    "history_purged": "history deleted",
    "name": "key name",
    "prefix": "key prefix",
    "method": "signed in by",
    "via": "through",
    "reason": "reason",
}


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)  # @page lets only a signed-in user through


def _settings_page(
    request: HttpRequest,
    *,
    status: int = 200,
    form: str = "",
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    created_key: api_keys.CreatedApiKey | None = None,
) -> HttpResponse:
    """The settings page; ``form`` names the form that ``errors`` and ``values`` belong to
    (``account``, ``api_key``, ``password``)."""
    user = _user(request)
    context = {
        "title": "Settings",
        "accounts": services.exchange_account_list(user=user),
        "api_keys": api_keys.api_key_list(user=user),
        "created_key": created_key,
        "form": form,
        "errors": errors or FormErrors(),
        "values": values or {},
        "submission_id": new_submission_id(),
    }
    return render_page(request, "web/settings/index.html", context, active=ACTIVE, status=status)


@page
@require_GET
def settings_index(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


def _account_or_404(request: HttpRequest, account_id: int) -> ExchangeAccount:
    """One of the user's accounts; another user's (or none) is a 404 page."""
    with owned():
        return services.exchange_account_get(user=_user(request), account_id=account_id)


# Exchange accounts -------------------------------------------------------------------------


@page
@require_POST
def exchange_account_add(request: HttpRequest) -> HttpResponse:
    """``POST /api/v1/exchange-accounts``: checked with KuCoin first, stored when not refused."""
    form = posted(request.POST, "label", *CREDENTIAL_FIELDS)
    echoed = {"label": form.get("label", ""), "api_key": form.get("api_key", "")}
    data, errors = validated(ExchangeAccountListApi.InputSerializer, form)
    if data is not None:
        try:
            account = attempt(
                lambda: services.exchange_account_create(
                    user=_user(request),
                    label=data["label"],
                    credentials=KucoinCredentials(**{f: data[f] for f in CREDENTIAL_FIELDS}),
                    origin=Origin.of(request),
                )
            )
        except Refused as refused:
            errors = refused.errors
        else:
            messages.success(request, f"Exchange account “{account.label}” added.")
            return HttpResponseRedirect(reverse("web:settings"))
    return _settings_page(request, status=400, form="account", errors=errors, values=echoed)


@page
@require_http_methods(["GET", "POST"])
def exchange_account_edit(request: HttpRequest, account_id: int) -> HttpResponse:
    """``PATCH /api/v1/exchange-accounts/{id}``: a new label and/or a whole new key."""
    account = _account_or_404(request, account_id)
    if request.method == "GET":
        return _account_page(request, account)
    form = posted(request.POST, "label", *CREDENTIAL_FIELDS)
    if form.get("label") == account.label:
        del form["label"]  # unchanged: only a new key was asked for
    echoed = {"label": request.POST.get("label", ""), "api_key": form.get("api_key", "")}
    data, errors = validated(ExchangeAccountDetailApi.InputSerializer, form)
    if data is not None:
        given = all(field in data for field in CREDENTIAL_FIELDS)
        credentials = (
            KucoinCredentials(**{f: data[f] for f in CREDENTIAL_FIELDS}) if given else None
        )
        try:
            account = attempt(
                lambda: services.exchange_account_update(
                    account=account,
                    label=data.get("label"),
                    credentials=credentials,
                    origin=Origin.of(request),
                )
            )
        except Refused as refused:
            errors = refused.errors
        else:
            messages.success(request, f"Exchange account “{account.label}” saved.")
            return HttpResponseRedirect(reverse("web:settings"))
    return _account_page(request, account, errors=errors, values=echoed, status=400)


def _account_page(
    request: HttpRequest,
    account: ExchangeAccount,
    *,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "title": f"Exchange account “{account.label}”",
        "account": account,
        "errors": errors or FormErrors(),
        "values": values or {"label": account.label},
    }
    return render_page(
        request, "web/settings/exchange_account.html", context, active=ACTIVE, status=status
    )


@page
@require_http_methods(["GET", "POST"])
def exchange_account_delete(request: HttpRequest, account_id: int) -> HttpResponse:
    """``DELETE /api/v1/exchange-accounts/{id}`` after a confirmation page."""
    account = _account_or_404(request, account_id)
    if request.method == "GET":
        context = {"title": f"Delete “{account.label}”?", "account": account}
        return render_page(
            request, "web/settings/exchange_account_delete.html", context, active=ACTIVE
        )
    query, _ = validated(
        ExchangeAccountDetailApi.DeleteFilterSerializer,
        {"purge": request.POST.get("purge") == "on"},
    )
    purge = bool(query and query["purge"])
    services.exchange_account_delete(account=account, purge=purge, origin=Origin.of(request))
    messages.success(request, f"Exchange account “{account.label}” deleted.")
    return HttpResponseRedirect(reverse("web:settings"))


# Personal API keys -------------------------------------------------------------------------

RESENT_API_KEY_FORM = (
    "That form was already sent: the key it created is listed below, and its secret was "
    "shown that once only. Revoke it if you did not copy it, and create another."
)


@page
@require_POST
def api_key_create(request: HttpRequest) -> HttpResponse:
    """``POST /api/v1/me/api-keys``: the key is in this answer only (``.secret-once``)."""
    data, errors = validated(ApiKeyListApi.InputSerializer, posted(request.POST, "name"))
    if data is None:
        values = {"name": request.POST.get("name", "")}
        return _settings_page(request, status=400, form="api_key", errors=errors, values=values)
    if not first_submission(request, form="api_key"):
        messages.info(request, RESENT_API_KEY_FORM)
        return HttpResponseRedirect(reverse("web:settings") + "#api-keys")
    created = api_keys.api_key_create(
        user=_user(request), name=data["name"], origin=Origin.of(request)
    )
    return _settings_page(request, created_key=created)


@page
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    """``DELETE /api/v1/me/api-keys/{id}``; another user's key is not found (404)."""
    with owned():
        api_keys.api_key_revoke(user=_user(request), key_id=key_id, origin=Origin.of(request))
    messages.success(request, "API key revoked: it no longer works.")
    return HttpResponseRedirect(reverse("web:settings"))


# Password ----------------------------------------------------------------------------------


@page
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    """``POST /api/v1/me/password``: this browser stays signed in; the API's refresh tokens
    are revoked (other browsers' sessions end with the password's hash)."""
    try:
        check_form_throttle(request, ScopedRateThrottle(), scope="login", what="password changes")
    except ApplicationError as exc:
        response = _settings_page(
            request, status=exc.status, form="password", errors=FormErrors.of_refusal(exc)
        )
        return with_headers(response, exc.headers)
    form = posted(request.POST, "current_password", "new_password")
    data, errors = validated(PasswordChangeApi.InputSerializer, form)
    if data is not None:
        try:
            with request_origin(request, via="web"):
                attempt(
                    lambda: passwords.password_change(
                        user=_user(request),
                        current_password=data["current_password"],
                        new_password=data["new_password"],
                    )
                )
        except Refused as refused:
            errors = refused.errors
        else:
            update_session_auth_hash(request, User.objects.get(pk=_user(request).pk))
            messages.success(request, "Password changed. You are still signed in here.")
            return HttpResponseRedirect(reverse("web:settings"))
    return _settings_page(request, status=400, form="password", errors=errors)


# Audit log ---------------------------------------------------------------------------------


@page
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """``GET /api/v1/me/audit``, a page at a time, each event in words."""
    events = audit_selectors.audit_event_list(user=_user(request))
    page_of_events = Paginator(events, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "title": "Audit log",
        "page_obj": page_of_events,
        "events": [_audit_row(event) for event in page_of_events],
    }
    return render_page(request, "web/settings/audit.html", context, active=ACTIVE)


def _audit_row(event: AuditEvent) -> dict[str, Any]:
    details = [
        (AUDIT_DETAIL_NAMES.get(name, name.replace("_", " ")), _detail_value(value))
        for name, value in event.details.items()
    ]
    return {
        "at": event.at,
        "what": event.get_kind_display(),
        "details": details,
        "ip_address": event.ip_address or "unknown",
        "user_agent": event.user_agent,
    }


def _detail_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
