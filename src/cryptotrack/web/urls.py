"""The web app's pages (outside the versioned API; names under ``web:``)."""

from django.urls import path
from django.views.generic import RedirectView

from cryptotrack.web.views import (
    alerts,
    channels,
    history,
    positions,
    rates,
    session,
    settings,
    signup,
)

app_name = "web"

urlpatterns = [
    path("", session.home, name="home"),
    path("sign-in", session.sign_in, name="sign-in"),
    path("sign-out", session.sign_out, name="sign-out"),
    path("tracking/<int:account_id>", positions.tracking, name="tracking"),
    path("sign-up", signup.sign_up, name="sign-up"),
    path("balances", history.balances, name="balances"),
    path("events", history.events, name="events"),
    path("events.csv", history.events_csv, name="events-csv"),
    path(
        "positions/<int:account_id>/<str:symbol>/<str:side>",
        history.position_detail,
        name="position-detail",
    ),
    path("rates", rates.rates, name="rates"),
    path("rates/refresh", rates.refresh, name="rates-refresh"),
    path("alerts", alerts.alert_list, name="alerts"),
    path("channels", channels.channel_list, name="channels"),
    path("settings", settings.settings_index, name="settings"),
    path(
        "settings/exchange-accounts",
        settings.exchange_account_add,
        name="settings-exchange-account-add",
    ),
    path(
        "settings/exchange-accounts/<int:account_id>",
        settings.exchange_account_edit,
        name="settings-exchange-account",
    ),
    path(
        "settings/exchange-accounts/<int:account_id>/delete",
        settings.exchange_account_delete,
        name="settings-exchange-account-delete",
    ),
    path("settings/api-keys", settings.api_key_create, name="settings-api-key-create"),
    path(
        "settings/api-keys/<int:key_id>/revoke",
        settings.api_key_revoke,
        name="settings-api-key-revoke",
    ),
    path("settings/password", settings.password_change, name="settings-password"),
    path("settings/audit", settings.audit_log, name="settings-audit"),
    # Alerts (views/alerts.py): create, one alert with its firings, its actions.
    path("alerts/price", alerts.price_alert_create, name="price-alert-create"),
    path("alerts/price/<int:alert_id>", alerts.price_alert_detail, name="price-alert"),
    path(
        "alerts/price/<int:alert_id>/channels",
        alerts.price_alert_channels,
        name="price-alert-channels",
    ),
    path(
        "alerts/price/<int:alert_id>/activate",
        alerts.price_alert_activate,
        name="price-alert-activate",
    ),
    path(
        "alerts/price/<int:alert_id>/delete", alerts.price_alert_delete, name="price-alert-delete"
    ),
    path("alerts/position", alerts.position_alert_create, name="position-alert-create"),
    path("alerts/position/<int:alert_id>", alerts.position_alert_detail, name="position-alert"),
    path(
        "alerts/position/<int:alert_id>/channels",
        alerts.position_alert_channels,
        name="position-alert-channels",
    ),
    path(
        "alerts/position/<int:alert_id>/activate",
        alerts.position_alert_activate,
        name="position-alert-activate",
    ),
    path(
        "alerts/position/<int:alert_id>/pause",
        alerts.position_alert_pause,
        name="position-alert-pause",
    ),
    path(
        "alerts/position/<int:alert_id>/delete",
        alerts.position_alert_delete,
        name="position-alert-delete",
    ),
    # Channels (views/channels.py): add, one channel with its test and log, the whole log.
    path("channels/new", channels.channel_create, name="channel-create"),
    path("channels/deliveries", channels.delivery_list, name="deliveries"),
    path("channels/<int:channel_id>", channels.channel_detail, name="channel"),
    path("channels/<int:channel_id>/test", channels.channel_test, name="channel-test"),
    path("channels/<int:channel_id>/delete", channels.channel_delete, name="channel-delete"),
    path(
        "channels/<int:channel_id>/rotate-secret",
        channels.channel_rotate_secret,
        name="channel-rotate-secret",
    ),
]

# A page asked for with a trailing slash goes to its one address (as /rates/live/ does).
urlpatterns += [
    path(
        f"{pattern.pattern}/",
        RedirectView.as_view(pattern_name=f"web:{pattern.name}", query_string=True, permanent=True),
    )
    for pattern in urlpatterns
    if str(pattern.pattern) and "<" not in str(pattern.pattern)
]
