"""The live-rates page (outside the versioned API)."""

from django.urls import path

from cryptotrack.quotes import views

urlpatterns = [
    path("rates/live", views.live_rates_page, name="rates-live"),
]
