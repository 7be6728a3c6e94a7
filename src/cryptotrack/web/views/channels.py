"""The channels pages: ``/channels`` (the list and the form to add one),
``/channels/<id>`` (its settings, a test send, its delivery log), its delete (asked
first, on its own page) and ``/channels/deliveries`` (every delivery, filtered as
``GET /api/v1/deliveries`` filters).

A new webhook's signing secret is shown once, on the page that answers the POST that made
it (never in a URL, a message or the session), as ``POST /api/v1/channels`` answers it once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cryptotrack.alerts.models import OutboxState
from cryptotrack.audit.services import Origin
from cryptotrack.core.throttling import FormThrottled, UserRateThrottle, check_form_throttle
from cryptotrack.notify import selectors, services
from cryptotrack.notify.apis import CONFIGS, SECRET_FIELDS, ChannelListApi, channel_config
from cryptotrack.notify.delivery_apis import DeliveryListApi
from cryptotrack.notify.models import Channel
from cryptotrack.notify.outcome import Attempt
from cryptotrack.web.auth import page
from cryptotrack.web.forms import (
    FormErrors,
    first_submission,
    new_submission_id,
    posted,
    validated,
)
from cryptotrack.web.rendering import is_htmx, render_page, with_headers
from cryptotrack.web.views.support import Refused, attempt, owned, page_of, user_of

ACTIVE = "web:channels"
# Words of a config field's label that are initialisms.
_INITIALISMS = {"url": "URL", "id": "ID"}


@page
@require_GET
def channel_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@page
@require_POST
def channel_create(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    data = posted(request.POST, "kind", "name")
    kind = data.get("kind", "")
    config = _config_posted(request, kind)
    values, errors = validated(ChannelListApi.InputSerializer, {**data, "config": config})
    saved = None
    if values is not None:
        try:
            stored, secret = attempt(
                lambda: channel_config(
                    values["kind"], config, user_email=user.email, partial_secret=False
                )
            )
            saved = attempt(
                lambda: services.channel_create(
                    user=user,
                    kind=values["kind"],
                    name=values["name"],
                    config=stored,
                    secret=secret,
                    origin=Origin.of(request),
                )
            )
        except Refused as refused:
            errors = _config_errors_by_input(refused.errors, kind)
    if saved is None:
        form = _form_context(data, config, errors)
        if is_htmx(request):
            return render(request, "web/channels/_form.html", {"form": form})
        return _list_page(request, form=form, status=400)
    context = {
        "title": "Channel added",
        "channel": saved.channel,
        "signing_secret": saved.signing_secret,
    }
    return render_page(request, "web/channels/created.html", context, active=ACTIVE)


@page
@require_GET
def channel_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    user = user_of(request)
    with owned():
        channel = services.channel_get(user=user, channel_id=channel_id)
    deliveries = page_of(request, selectors.delivery_list(user=user, channel=channel.pk))
    context = {
        "title": channel.name,
        "channel": channel,
        "deliveries": deliveries,
        "submission_id": new_submission_id(),
    }
    return render_page(request, "web/channels/detail.html", context, active=ACTIVE)


RESENT_ROTATION = (
    "That form was already sent: the secret was rotated then, and the new one was shown that "
    "once only. Rotate again if you did not copy it."
)


@page
@require_POST
def channel_rotate_secret(request: HttpRequest, channel_id: int) -> HttpResponse:
    """``POST /api/v1/channels/{id}/rotate-secret``'s service: a new signing secret, shown
    once on the answer; the old one keeps signing for 24 hours. A re-sent form (a reload)
    rotates nothing."""
    with owned():
        channel = services.channel_get(user=user_of(request), channel_id=channel_id)
    back = reverse("web:channel", args=[channel.pk])
    if not first_submission(request, form=f"rotate:{channel.pk}"):
        messages.info(request, RESENT_ROTATION)
        return HttpResponseRedirect(back)
    try:
        saved = attempt(
            lambda: services.rotate_signing_secret(channel=channel, origin=Origin.of(request))
        )
    except Refused as refused:
        for message in refused.errors.by_field.values():
            messages.error(request, " ".join(message))
        return HttpResponseRedirect(back)
    context = {
        "title": "Signing secret rotated",
        "channel": saved.channel,
        "signing_secret": saved.signing_secret,
        "rotated": True,
    }
    return render_page(request, "web/channels/created.html", context, active=ACTIVE)


@page
@require_POST
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Send a test now (``POST /api/v1/channels/{id}/test``'s service) and show how it went:
    in place for htmx, else on the channel's page."""
    with owned():
        channel = services.channel_get(user=user_of(request), channel_id=channel_id)
    back = reverse("web:channel", args=[channel.pk])
    try:  # it sends a request out: counted as the API's calls of this user are
        check_form_throttle(request, UserRateThrottle(), scope="user", what="requests")
    except FormThrottled as exc:
        if is_htmx(request):  # htmx swaps only 2xx answers in
            return render(request, "web/channels/_test_result.html", {"refusal": exc.message})
        messages.error(request, exc.message)
        return with_headers(HttpResponseRedirect(back), exc.headers)
    result = services.send_test(channel=channel)
    if is_htmx(request):
        context = {"channel": channel, "result": result}
        return render(request, "web/channels/_test_result.html", context)
    level = messages.SUCCESS if result.delivered else messages.ERROR
    messages.add_message(request, level, test_summary(result))
    return HttpResponseRedirect(back)


def test_summary(result: Attempt) -> str:
    """One line on a test send, as the page and its message say it."""
    status = f" (HTTP {result.status})" if result.status is not None else ""
    if result.delivered:
        return f"Test delivered{status}."
    return f"Test not delivered{status}: {result.error or result.verdict.value}."


@page
@require_http_methods(["GET", "POST"])
def channel_delete(request: HttpRequest, channel_id: int) -> HttpResponse:
    with owned():
        channel = services.channel_get(user=user_of(request), channel_id=channel_id)
    if request.method == "GET":
        context = {"title": "Delete channel", "channel": channel}
        return render_page(request, "web/channels/confirm_delete.html", context, active=ACTIVE)
    services.channel_delete(channel=channel, origin=Origin.of(request))
    messages.success(request, f"Channel “{channel.name}” deleted.")
    return HttpResponseRedirect(reverse("web:channels"))


@page
@require_GET
def delivery_list(request: HttpRequest) -> HttpResponse:
    """Every delivery of the user's channels, filtered by ``DeliveryListApi``'s filters."""
    user = user_of(request)
    wanted = {name: value for name, value in request.GET.items() if name != "page" and value}
    filters, errors = validated(DeliveryListApi.FilterSerializer, wanted)
    deliveries = None
    if filters is not None:
        deliveries = page_of(request, selectors.delivery_list(user=user, **filters))
    context = {
        "title": "Delivery log",
        "deliveries": deliveries,
        "errors": errors,
        "wanted": wanted,
        "query": urlencode(wanted),
        "channels": services.channel_list(user=user),
        "statuses": OutboxState.values,
    }
    status = 200 if filters is not None else 400
    return render_page(
        request, "web/channels/deliveries.html", context, active=ACTIVE, status=status
    )


# -- the form ------------------------------------------------------------------------------


def _config_posted(request: HttpRequest, kind: str) -> dict[str, Any]:
    """The chosen kind's settings, posted as ``<kind>-<field>`` (blank ones left out)."""
    if kind not in CONFIGS:
        return {}
    names = [f"{kind}-{name}" for name in CONFIGS[kind]().fields]
    return {name.split("-", 1)[1]: value for name, value in posted(request.POST, *names).items()}


def _config_errors_by_input(errors: FormErrors, kind: str) -> FormErrors:
    """``config.url`` (the API's name) as ``webhook-url`` (the input's)."""
    result = FormErrors()
    for name, messages_ in errors.by_field.items():
        shown = f"{kind}-{name.removeprefix('config.')}" if name.startswith("config.") else name
        for message in messages_:
            result.add(shown, message)
    return result


def _form_context(
    data: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> dict[str, Any]:
    """The add form: each kind's settings as fields (from the API's config serializers)."""
    data, config, errors = data or {}, config or {}, errors or FormErrors()
    chosen = data.get("kind") or Channel.Kind.WEBHOOK
    kinds = []
    for kind, label in Channel.Kind.choices:
        fields = []
        for name, field in CONFIGS[kind]().fields.items():
            input_name = f"{kind}-{name}"
            fields.append(
                {
                    "name": input_name,
                    "label": _label(name),
                    "help": field.help_text or "",
                    "required": field.required,
                    "secret": SECRET_FIELDS.get(kind) == name,
                    "value": config.get(name, "") if kind == chosen else "",
                    "errors": errors.by_field.get(input_name, []),
                }
            )
        kinds.append({"kind": kind, "label": label, "chosen": kind == chosen, "fields": fields})
    return {"data": data, "errors": errors, "kinds": kinds}


def _label(name: str) -> str:
    """``chat_id`` as "Chat ID", ``webhook_url`` as "Webhook URL"."""
    words = [_INITIALISMS.get(word, word) for word in name.split("_")]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def _list_page(
    request: HttpRequest, *, form: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "title": "Channels",
        "channels": services.channel_list(user=user_of(request)),
        "form": form or _form_context(),
    }
    return render_page(request, "web/channels/list.html", context, active=ACTIVE, status=status)
