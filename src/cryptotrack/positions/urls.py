from django.urls import path

from cryptotrack.positions import apis

urlpatterns = [
    path("tracking", apis.TrackingApi.as_view(), name="tracking"),
    path(
        "exchange-accounts/<int:account_id>/tracking",
        apis.AccountTrackingApi.as_view(),
        name="exchange-account-tracking",
    ),
    path("positions", apis.PositionListApi.as_view(), name="positions"),
    path("positions/history", apis.PositionHistoryApi.as_view(), name="positions-history"),
    path("positions/events", apis.PositionEventListApi.as_view(), name="positions-events"),
]
