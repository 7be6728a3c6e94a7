"""Placeholder until the positions pages land (helper A replaces this module)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from cryptotrack.web.auth import page
from cryptotrack.web.rendering import render_page


@page
def dashboard(request: HttpRequest) -> HttpResponse:
    return render_page(request, "web/placeholder.html", {"title": "Positions"}, active="web:home")
