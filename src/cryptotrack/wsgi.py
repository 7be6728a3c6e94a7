"""WSGI entry point (the ASGI one in asgi.py is what we serve; this is for tools that want WSGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptotrack.settings")
application = get_wsgi_application()
