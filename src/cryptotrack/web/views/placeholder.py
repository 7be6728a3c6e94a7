"""Pages not built yet (each area's module replaces its entry in ``web/urls.py``)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cryptotrack.web.auth import page
from cryptotrack.web.rendering import render_page


def placeholder(title: str, active: str) -> Callable[..., HttpResponse]:
    @page
    def view(request: HttpRequest, **kwargs: object) -> HttpResponse:
        return render_page(request, "web/placeholder.html", {"title": title}, active=active)

    return view
