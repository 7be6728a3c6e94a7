"""ASGI entry point: Django over HTTP, Channels over WebSocket."""

import os

import django
from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptotrack.settings")

# "When using ASGI, persistent connections should be disabled" (Django's database docs):
# each request runs its synchronous part in a thread of its own, and a persistent
# connection stays behind with that thread. Under load one uvicorn process held 30-45
# PostgreSQL connections until the server refused clients. So no persistent connections
# here; on PostgreSQL a bounded pool instead (Django 5.2 + psycopg_pool): closing a
# connection at the end of a request hands it back to the pool, whichever thread held it.
# Workers keep CONN_MAX_AGE (a pool would not survive Celery's fork).
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0
    if database["ENGINE"] == "django.db.backends.postgresql" and settings.WEB_DATABASE_POOL_SIZE:
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": settings.WEB_DATABASE_POOL_SIZE,
            "timeout": settings.WEB_DATABASE_POOL_TIMEOUT,
        }

django.setup(set_prefix=False)

from cryptotrack.core.asgi_handler import PooledThreadsASGIHandler  # noqa: E402

# WEB_THREADS=0: Django's own handler (a new thread per request).
django_asgi_app = (
    PooledThreadsASGIHandler(threads=settings.WEB_THREADS)
    if settings.WEB_THREADS
    else get_asgi_application()
)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from cryptotrack.core.logging import RequestIdAsgiMiddleware  # noqa: E402
from cryptotrack.positions.fast_read import with_fast_read  # noqa: E402
from cryptotrack.routing import websocket_urlpatterns  # noqa: E402

# The cached positions read, answered ahead of Django when Redis can (the rest is Django's).
django_http_app = with_fast_read(django_asgi_app)

# Outermost, so that every line of a request (uvicorn's access line too) has its id.
application = RequestIdAsgiMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_http_app,
            "websocket": URLRouter(websocket_urlpatterns),
        }
    )
)
