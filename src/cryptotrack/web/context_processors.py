"""What every template of the web app can use (``settings.TEMPLATES``)."""

from __future__ import annotations

from django.http import HttpRequest

from cryptotrack.web.rendering import NAVIGATION


def navigation(request: HttpRequest) -> dict[str, object]:
    """The main navigation (``base.html``), on error pages as on the app's own."""
    return {"navigation": NAVIGATION}
