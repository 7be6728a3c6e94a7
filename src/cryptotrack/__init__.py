"""cryptotrack: track crypto exchange positions, exchange rates and price alerts."""

from cryptotrack.celery import app as celery_app

__all__ = ["celery_app"]
