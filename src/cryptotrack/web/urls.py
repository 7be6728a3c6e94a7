"""The web app's pages (outside the versioned API; names under ``web:``)."""

from django.urls import path
from django.views.generic import RedirectView

from cryptotrack.web.views import placeholder, session

app_name = "web"

urlpatterns = [
    path("", session.home, name="home"),
    path("sign-in", session.sign_in, name="sign-in"),
    path("sign-out", session.sign_out, name="sign-out"),
    path("sign-up", placeholder.placeholder("Sign up", ""), name="sign-up"),
    path("balances", placeholder.placeholder("Balances", "web:balances"), name="balances"),
    path("events", placeholder.placeholder("Events", "web:events"), name="events"),
    path("rates", placeholder.placeholder("Rates", "web:rates"), name="rates"),
    path("alerts", placeholder.placeholder("Alerts", "web:alerts"), name="alerts"),
    path("channels", placeholder.placeholder("Channels", "web:channels"), name="channels"),
    path("settings", placeholder.placeholder("Settings", "web:settings"), name="settings"),
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
