"""The alerts pages: ``/alerts`` (price and position alerts, a form to create each),
``/alerts/price/<id>`` and ``/alerts/position/<id>`` (one alert, its firings, its
channels), and the activate / pause / delete actions (delete asks first, on its own page).

Input goes through the API's own input serializers and the same services as
``/api/v1/alerts`` and ``/api/v1/position-alerts``, so a page says no with the API's words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cryptotrack.accounts.services import exchange_account_list
from cryptotrack.alerts import selectors, services
from cryptotrack.alerts.apis import AlertDetailApi, AlertListApi
from cryptotrack.alerts.models import Alert, PositionAlert
from cryptotrack.alerts.position_apis import PositionAlertDetailApi, PositionAlertListApi
from cryptotrack.notify.services import channel_list
from cryptotrack.positions.models import PositionEvent
from cryptotrack.web.auth import page
from cryptotrack.web.forms import FormErrors, posted, validated
from cryptotrack.web.rendering import is_htmx, render_page
from cryptotrack.web.views.support import (
    Refused,
    attempt,
    list_items_folded,
    owned,
    page_of,
    user_of,
)

ACTIVE = "web:alerts"
PRICE_FIELDS = ("coin", "currency", "target_price", "direction")
POSITION_FIELDS = (
    "kind",
    "account",
    "symbol",
    "threshold_percent",
    "threshold",
    "direction",
    "hysteresis_percent",
)
# Which fields each kind of position alert takes (the service's rule, shown as a hint and
# used by alerts.js to show only those; without JS every field shows).
POSITION_KIND_FIELDS = {
    "threshold_percent": "liquidation_distance pnl_percent",
    "threshold": "pnl_amount",
    "direction": "pnl_percent pnl_amount",
    "hysteresis_percent": "liquidation_distance pnl_percent pnl_amount",
    "events": "event",
}


@page
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@page
@require_POST
def price_alert_create(request: HttpRequest) -> HttpResponse:
    data = {**posted(request.POST, *PRICE_FIELDS), **_channels_posted(request)}
    values, errors = validated(AlertListApi.InputSerializer, data)
    if values is not None:
        try:
            attempt(lambda: services.alert_create(user=user_of(request), **values))
        except Refused as refused:
            errors = refused.errors
    if errors:
        return _form_again(request, "price", data, errors)
    messages.success(request, "Price alert created.")
    return _back_to_list(request)


@page
@require_POST
def position_alert_create(request: HttpRequest) -> HttpResponse:
    data = {**posted(request.POST, *POSITION_FIELDS), **_channels_posted(request)}
    if events := [e for e in request.POST.getlist("events") if e]:
        data["events"] = events
    values, errors = validated(PositionAlertListApi.InputSerializer, data)
    if values is not None:
        try:
            attempt(lambda: services.position_alert_create(user=user_of(request), **values))
        except Refused as refused:
            errors = refused.errors
    if errors:
        return _form_again(request, "position", data, errors)
    messages.success(request, "Position alert created.")
    return _back_to_list(request)


@page
@require_GET
def price_alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    user = user_of(request)
    with owned():
        alert = selectors.alert_get(user=user, alert_id=alert_id)
        firings = page_of(request, selectors.alert_firings(user=user, alert_id=alert_id))
    return _detail_page(request, "price", alert, firings)


@page
@require_GET
def position_alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    user = user_of(request)
    with owned():
        alert = selectors.position_alert_get(user=user, alert_id=alert_id)
        firings = page_of(request, selectors.position_alert_firings(user=user, alert_id=alert_id))
    return _detail_page(request, "position", alert, firings)


@page
@require_POST
def price_alert_channels(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _change_channels(
        request,
        "price",
        alert_id,
        AlertDetailApi.InputSerializer,
        lambda channels: services.alert_update(
            user=user_of(request), alert_id=alert_id, channels=channels
        ),
    )


@page
@require_POST
def position_alert_channels(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _change_channels(
        request,
        "position",
        alert_id,
        PositionAlertDetailApi.InputSerializer,
        lambda channels: services.position_alert_update(
            user=user_of(request), alert_id=alert_id, changes={"channels": channels}
        ),
    )


@page
@require_POST
def price_alert_activate(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _act(
        request,
        lambda: services.alert_activate(user=user_of(request), alert_id=alert_id),
        "Alert activated: it fires again at the next crossing.",
    )


@page
@require_POST
def position_alert_activate(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _act(
        request,
        lambda: services.position_alert_activate(user=user_of(request), alert_id=alert_id),
        "Position alert activated: it is evaluated again after every poll.",
    )


@page
@require_POST
def position_alert_pause(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _act(
        request,
        lambda: services.position_alert_update(
            user=user_of(request),
            alert_id=alert_id,
            changes={"status": PositionAlert.Status.PAUSED},
        ),
        "Position alert paused: it is kept but not evaluated.",
    )


@page
@require_http_methods(["GET", "POST"])
def price_alert_delete(request: HttpRequest, alert_id: int) -> HttpResponse:
    with owned():
        alert = selectors.alert_get(user=user_of(request), alert_id=alert_id)
    if request.method == "GET":
        return _confirm_page(request, "price", alert)
    return _act(
        request,
        lambda: services.alert_delete(user=user_of(request), alert_id=alert_id),
        "Alert deleted.",
    )


@page
@require_http_methods(["GET", "POST"])
def position_alert_delete(request: HttpRequest, alert_id: int) -> HttpResponse:
    with owned():
        alert = selectors.position_alert_get(user=user_of(request), alert_id=alert_id)
    if request.method == "GET":
        return _confirm_page(request, "position", alert)
    return _act(
        request,
        lambda: services.position_alert_delete(user=user_of(request), alert_id=alert_id),
        "Position alert deleted.",
    )


# -- rendering ----------------------------------------------------------------------------


def _list_page(
    request: HttpRequest,
    *,
    price: dict[str, Any] | None = None,
    position: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "title": "Alerts",
        "price_alerts": selectors.alert_list(user=user_of(request)),
        "position_alerts": selectors.position_alert_list(user=user_of(request)),
        "price": price or _form_context(request, "price"),
        "position": position or _form_context(request, "position"),
    }
    return render_page(request, "web/alerts/list.html", context, active=ACTIVE, status=status)


def _form_context(
    request: HttpRequest,
    kind: str,
    data: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> dict[str, Any]:
    """What a create form shows: the values sent, the messages, the user's channels (and
    for position alerts their accounts and the kinds' choices)."""
    if data is None:  # a fresh form: most alerts are priced in dollars
        data = {"currency": "usd"} if kind == "price" else {}
    chosen = {str(pk) for pk in data.get("channels", [])}
    context: dict[str, Any] = {
        "data": data,
        "errors": list_items_folded(errors or FormErrors()),
        "channels": [
            (channel, str(channel.pk) in chosen) for channel in channel_list(user=user_of(request))
        ],
    }
    if kind == "price":
        context["directions"] = Alert.Direction.choices
    else:
        events = set(data.get("events", []))
        context.update(
            kinds=PositionAlert.Kind.choices,
            directions=PositionAlert.Direction.choices,
            events=[(value, label, value in events) for value, label in PositionEvent.Kind.choices],
            accounts=exchange_account_list(user=user_of(request)),
            kind_fields=POSITION_KIND_FIELDS,
        )
    return context


def _form_again(
    request: HttpRequest, kind: str, data: dict[str, Any], errors: FormErrors
) -> HttpResponse:
    """The form with the input and its messages: the fragment for htmx (swapped in place,
    so 200), else the whole page as a 400."""
    form = _form_context(request, kind, data, errors)
    if is_htmx(request):
        return render(request, f"web/alerts/_{kind}_form.html", {kind: form})
    return _list_page(request, status=400, **{kind: form})


def _back_to_list(request: HttpRequest) -> HttpResponse:
    return _redirect(request, reverse("web:alerts"))


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def _act(request: HttpRequest, action: Callable[[], object], done: str) -> HttpResponse:
    """Run an action on one alert and go back to the list saying how it went."""
    try:
        attempt(action)
    except Refused as refused:
        for message in _messages_of(refused.errors):
            messages.error(request, message)
    else:
        messages.success(request, done)
    return _back_to_list(request)


def _messages_of(errors: FormErrors) -> list[str]:
    return [message for messages_ in errors.by_field.values() for message in messages_]


def _change_channels(
    request: HttpRequest,
    kind: str,
    alert_id: int,
    serializer: Any,
    change: Callable[[list[int]], object],
) -> HttpResponse:
    """Set where an alert's firings go: the ticked channels, none meaning by email."""
    values, errors = validated(serializer, {"channels": _channels_posted(request)["channels"]})
    if values is not None:
        try:
            attempt(lambda: change(values["channels"]))
        except Refused as refused:
            errors = refused.errors
    for message in _messages_of(errors):
        messages.error(request, message)
    if not errors:
        messages.success(request, "Channels saved.")
    return _redirect(request, reverse(f"web:{kind}-alert", args=[alert_id]))


def _channels_posted(request: HttpRequest) -> dict[str, list[str]]:
    return {"channels": [value for value in request.POST.getlist("channels") if value]}


def _detail_page(request: HttpRequest, kind: str, alert: Any, firings: Any) -> HttpResponse:
    chosen = {channel.pk for channel in alert.channels.all()}
    context = {
        "title": f"{'Price' if kind == 'price' else 'Position'} alert {alert.pk}",
        "kind": kind,
        "alert": alert,
        "firings": firings,
        "channels": [
            (channel, channel.pk in chosen) for channel in channel_list(user=user_of(request))
        ],
    }
    return render_page(request, f"web/alerts/{kind}_detail.html", context, active=ACTIVE)


def _confirm_page(request: HttpRequest, kind: str, alert: Any) -> HttpResponse:
    context = {"title": "Delete alert", "kind": kind, "alert": alert}
    return render_page(request, "web/alerts/confirm_delete.html", context, active=ACTIVE)
