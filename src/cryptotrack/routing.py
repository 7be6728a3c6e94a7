"""WebSocket routes (Channels)."""

from django.urls import URLPattern

from cryptotrack.quotes.routing import websocket_urlpatterns as quotes_websockets

websocket_urlpatterns: list[URLPattern] = [*quotes_websockets]
