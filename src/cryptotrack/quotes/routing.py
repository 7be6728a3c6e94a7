from django.urls import path

from cryptotrack.quotes.consumers import RatesConsumer

websocket_urlpatterns = [
    path("ws/rates", RatesConsumer.as_asgi()),
]
