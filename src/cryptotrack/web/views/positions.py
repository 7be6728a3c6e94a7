"""The dashboard (``/`` signed in): every open position across the trader's exchange
accounts, how fresh each account's are, and starting or stopping tracking per account.

The table is rendered here first (it works without JavaScript); ``js/positions.js`` then
listens on ``/ws/positions`` (the session cookie) and updates it in place. Reads go through
``positions.selectors.current_positions`` (what ``GET /api/v1/positions`` answers) and the
tracking forms through the services of ``/api/v1/exchange-accounts/{id}/tracking``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from cryptotrack.accounts.models import User
from cryptotrack.accounts.services import exchange_account_get, exchange_account_list
from cryptotrack.audit.services import Origin
from cryptotrack.core.exceptions import ApplicationError
from cryptotrack.positions import selectors, services
from cryptotrack.positions.apis import TrackingInput
from cryptotrack.positions.models import TrackingSubscription
from cryptotrack.web.auth import page
from cryptotrack.web.forms import FormErrors, validated
from cryptotrack.web.rendering import render_page
from cryptotrack.web.templatetags.web_format import amount, percent, tone
from cryptotrack.web.views.support import owned

STOPPED = TrackingSubscription.State.STOPPED.value
# What the page says for each stale reason (positions.js says the same, from data-*).
STALE_LABELS: dict[str | None, str] = {
    None: "Fresh",
    selectors.StaleReason.OUTDATED.value: "Outdated: no successful poll for two intervals",
    selectors.StaleReason.TRACKING_PAUSED.value: "Paused: KuCoin refused the key",
    selectors.StaleReason.TRACKING_STOPPED.value: "Tracking stopped",
}


def _row(position: dict[str, Any]) -> dict[str, Any]:
    return {
        **position,
        "key": f"{position['account']['id']}:{position['symbol']}:{position['side']}",
        "display": {
            "size": amount(position["size"]),
            "entry_price": amount(position["entry_price"]),
            "mark_price": amount(position["mark_price"]),
            "liquidation_price": amount(position["liquidation_price"]),
            "distance": percent(position["liquidation_distance_percent"]),
            "unrealised_pnl": amount(position["unrealised_pnl"]),
            "roe": percent(position["roe_percent"]),
            "leverage": amount(position["leverage"]),
        },
        "trend": tone(position["unrealised_pnl"]),
    }


def _accounts(user: User, current: selectors.CurrentPositions) -> list[dict[str, Any]]:
    """Every exchange account of the user with its freshness (stopped when not tracked)."""
    freshness = {account.id: account for account in current.accounts}
    rows = []
    for account in exchange_account_list(user=user):
        fresh = freshness.get(account.pk)
        rows.append(
            {
                "id": account.pk,
                "label": account.label,
                "tracking": fresh.tracking if fresh else STOPPED,
                "tracking_error": fresh.tracking_error if fresh else None,
                "as_of": fresh.as_of if fresh else None,
                "stale_reason": (
                    fresh.stale_reason if fresh else selectors.StaleReason.TRACKING_STOPPED
                ),
                "stale_label": STALE_LABELS.get(
                    fresh.stale_reason if fresh else selectors.StaleReason.TRACKING_STOPPED, ""
                ),
            }
        )
    return rows


def _render(
    request: HttpRequest,
    *,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # @page: signed in
    current = selectors.current_positions(user=user)
    context = {
        "title": "Positions",
        "positions": [_row(position) for position in current.positions],
        "accounts": _accounts(user, current),
        "current": current,
        "stale_labels": STALE_LABELS,
        "detail_url": reverse(
            "web:position-detail",
            kwargs={"account_id": 987654321, "symbol": "SYMBOL", "side": "long"},
        ),
        "errors": errors or FormErrors(),
    }
    return render_page(
        request, "web/positions/dashboard.html", context, active="web:home", status=status
    )


@page
def dashboard(request: HttpRequest) -> HttpResponse:
    return _render(request)


@require_POST
@page
def tracking(request: HttpRequest, account_id: int) -> HttpResponse:
    """Start (``action=start``) or stop (``action=stop``) tracking one account, as
    ``POST``/``DELETE /api/v1/exchange-accounts/{id}/tracking`` do."""
    user: User = request.user  # type: ignore[assignment]
    with owned():
        account = exchange_account_get(user=user, account_id=account_id)
    action = request.POST.get("action")
    if action == "stop":
        services.stop_tracking(user=user, account=account, origin=Origin.of(request))
        messages.success(request, f"Tracking of {account.label} stopped.")
        return HttpResponseRedirect(reverse("web:home"))
    if action != "start":
        return _refused(request, account.label, _said("Choose start or stop."))
    data, errors = validated(TrackingInput, {"symbols": request.POST.getlist("symbols")})
    if data is None:
        return _refused(request, account.label, errors)
    try:
        services.start_tracking(
            user=user, account=account, symbols=data["symbols"], origin=Origin.of(request)
        )
    except ApplicationError as exc:
        return _refused(request, account.label, FormErrors.of_refusal(exc), status=exc.status)
    messages.success(request, f"Tracking of {account.label} started.")
    return HttpResponseRedirect(reverse("web:home"))


def _refused(
    request: HttpRequest, label: str, errors: FormErrors, *, status: int = 400
) -> HttpResponse:
    """The page again, saying (as the form's own error) why ``label``'s tracking did not
    start."""
    said = FormErrors()
    for messages_of_field in errors.by_field.values():
        for message in messages_of_field:
            said.add("__all__", f"Tracking of {label} did not start: {message}")
    return _render(request, errors=said, status=status)


def _said(message: str) -> FormErrors:
    errors = FormErrors()
    errors.add("__all__", message)
    return errors
