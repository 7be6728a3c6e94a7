from channels.auth import AuthMiddlewareStack
from django.urls import path

from cryptotrack.positions.consumers import PositionsConsumer

websocket_urlpatterns = [
    # Cookie, session and auth middleware: the web app's pages open it with their session
    # cookie (read at the handshake, and afresh before each frame: consumers.py).
    # /ws/rates reads no session.
    path("ws/positions", AuthMiddlewareStack(PositionsConsumer.as_asgi())),
]
