"""Celery tasks of quotes: the scheduled fetch and the live feed (declared in
cryptotrack/celery.py), and the fetch at start-up, sent when a worker is ready.

All are idempotent — each skips a pair that already has a recent enough quote of its kind —
so a redelivered task, a second worker starting, or production's separate beat and several
workers never spend extra calls.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from cryptotrack.quotes import live_feed, retention, services
from cryptotrack.quotes.models import Quote


@shared_task(name="cryptotrack.quotes.tasks.fetch_scheduled_quotes", ignore_result=True)
def fetch_scheduled_quotes() -> None:
    """Every ``QUOTES_INTERVAL_SECONDS`` (beat): fetch each pair of ``QUOTES_PAIRS``."""
    services.fetch_configured_pairs(trigger=Quote.Trigger.SCHEDULED)


@shared_task(name="cryptotrack.quotes.tasks.fetch_live_quotes", ignore_result=True)
def fetch_live_quotes() -> None:
    """Every ``QUOTES_LIVE_INTERVAL_SECONDS`` (beat): the live feed (one tick per source)."""
    live_feed.fetch_live_quotes()


@shared_task(name="cryptotrack.quotes.tasks.downsample_live_quotes", ignore_result=True)
def downsample_live_quotes() -> None:
    """Hourly (beat): live quotes past the minute window keep one point per hour."""
    retention.downsample_live_quotes()


@shared_task(name="cryptotrack.quotes.tasks.fetch_startup_quotes", ignore_result=True)
def fetch_startup_quotes() -> None:
    """Once when a worker starts: fetch each pair that has no quote younger than the interval."""
    services.fetch_configured_pairs(trigger=Quote.Trigger.STARTUP)


@worker_ready.connect
def send_startup_fetch(sender: Any = None, **kwargs: Any) -> None:
    """Queue the start-up fetch (with ``worker -B`` and with a separate beat alike)."""
    fetch_startup_quotes.apply_async(expires=settings.QUOTES_INTERVAL_SECONDS)
