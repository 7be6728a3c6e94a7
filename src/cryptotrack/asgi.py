"""ASGI entry point: Django over HTTP, Channels over WebSocket."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptotrack.settings")

# "When using ASGI, persistent connections should be disabled" (Django's database docs):
# each request runs its synchronous part in a thread of its own, and a persistent
# connection stays behind with that thread. Under load one uvicorn process held 30-45
# PostgreSQL connections until the server refused clients. Workers keep CONN_MAX_AGE.
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from cryptotrack.core.logging import RequestIdAsgiMiddleware  # noqa: E402
from cryptotrack.routing import websocket_urlpatterns  # noqa: E402

# Outermost, so that every line of a request (uvicorn's access line too) has its id.
application = RequestIdAsgiMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": URLRouter(websocket_urlpatterns),
        }
    )
)
