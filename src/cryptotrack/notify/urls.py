from django.urls import path

from cryptotrack.notify import apis, delivery_apis

urlpatterns = [
    path("channels", apis.ChannelListApi.as_view(), name="channels"),
    path("channels/<int:channel_id>", apis.ChannelDetailApi.as_view(), name="channel"),
    path("channels/<int:channel_id>/test", apis.ChannelTestApi.as_view(), name="channel-test"),
    path(
        "channels/<int:channel_id>/rotate-secret",
        apis.ChannelRotateSecretApi.as_view(),
        name="channel-rotate-secret",
    ),
    path("deliveries", delivery_apis.DeliveryListApi.as_view(), name="deliveries"),
]
