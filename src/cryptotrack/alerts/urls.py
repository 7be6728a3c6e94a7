from django.urls import path

from cryptotrack.alerts import apis

urlpatterns = [
    path("alerts", apis.AlertListApi.as_view(), name="alerts"),
    path("alerts/<int:alert_id>", apis.AlertDetailApi.as_view(), name="alert-detail"),
    path("alerts/<int:alert_id>/activate", apis.AlertActivateApi.as_view(), name="alert-activate"),
]
