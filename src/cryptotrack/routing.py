"""WebSocket routes (Channels)."""

from django.urls import URLPattern

from cryptotrack.positions.routing import websocket_urlpatterns as positions_websockets
from cryptotrack.quotes.routing import websocket_urlpatterns as quotes_websockets

websocket_urlpatterns: list[URLPattern] = [*quotes_websockets, *positions_websockets]
