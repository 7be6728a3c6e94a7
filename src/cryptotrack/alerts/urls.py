from django.urls import path

from cryptotrack.alerts import apis, position_apis

urlpatterns = [
    path("alerts", apis.AlertListApi.as_view(), name="alerts"),
    path("alerts/<int:alert_id>", apis.AlertDetailApi.as_view(), name="alert-detail"),
    path("alerts/<int:alert_id>/activate", apis.AlertActivateApi.as_view(), name="alert-activate"),
    path("position-alerts", position_apis.PositionAlertListApi.as_view(), name="position-alerts"),
    path(
        "position-alerts/<int:alert_id>",
        position_apis.PositionAlertDetailApi.as_view(),
        name="position-alert-detail",
    ),
    path(
        "position-alerts/<int:alert_id>/activate",
        position_apis.PositionAlertActivateApi.as_view(),
        name="position-alert-activate",
    ),
    path(
        "position-alerts/<int:alert_id>/firings",
        position_apis.PositionAlertFiringsApi.as_view(),
        name="position-alert-firings",
    ),
]
