"""The Celery application. Tasks live in each app's ``tasks.py``; the beat schedule is here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptotrack.settings")

app = Celery("cryptotrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
