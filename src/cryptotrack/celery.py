"""The Celery application and the one place where periodic schedules are declared.

Tasks live in each app's ``tasks.py`` (thin wrappers around services). Beat only ticks:
the positions dispatcher reads the due-queue in the database every few seconds, so the
per-user schedule is data and survives restarts; quotes and alerts run on their cadence.
"""

import os
from typing import Any

from celery import Celery, signals
from kombu import Queue

from cryptotrack.core import logging as log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptotrack.settings")

app = Celery("cryptotrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

DISPATCH_TASK = "cryptotrack.positions.tasks.dispatch_due_subscriptions"


def dispatch_queue(default_queue: str) -> str:
    """The dispatcher's own queue: its tick never waits behind queued poll batches."""
    return f"{default_queue}.dispatch"


def route_task(name: str, args: Any, kwargs: Any, options: Any, **kw: Any) -> dict[str, str] | None:
    # Read at send time: tests give each run a default queue of its own.
    if name == DISPATCH_TASK:
        return {"queue": dispatch_queue(app.conf.task_default_queue)}
    return None


app.conf.task_routes = (route_task,)


def _connect_log_context() -> None:
    """Task and request ids in every log line of the worker and beat (see core/logging.py)."""
    signals.before_task_publish.connect(log_context.carry_request_id, weak=False)
    signals.task_prerun.connect(log_context.bind_task_ids, weak=False)
    signals.task_postrun.connect(log_context.unbind_task_ids, weak=False)
    signals.beat_init.connect(log_context.mark_beat, weak=False)
    signals.after_task_publish.connect(log_context.log_sent_task, weak=False)


_connect_log_context()


def _keep_database_connections(**kwargs: object) -> None:
    """Before and after each task, what Django does around each request: close the
    connections that broke or outlived ``CONN_MAX_AGE``, keep the rest."""
    from django.db import close_old_connections

    close_old_connections()


def _connect_database_reuse() -> None:
    """A worker child keeps its database connection from task to task, as a web thread
    does from request to request. Celery's Django fixup closes every connection around
    every task unless ``CELERY_DB_REUSE_MAX`` is set (settings.py sets it): a new
    PostgreSQL backend (a fork, then cold catalog caches) for each poll batch and each
    dispatcher tick, measured at 40,000 users as two or three new backends a second."""
    signals.task_prerun.connect(_keep_database_connections, weak=False)
    signals.task_postrun.connect(_keep_database_connections, weak=False)


_connect_database_reuse()


@app.on_after_finalize.connect
def declare_periodic_tasks(sender: Celery, **kwargs: object) -> None:
    """Beat's schedule, from the cadence settings (tests shorten them)."""
    from django.conf import settings

    # Every worker consumes both queues (a worker started with -Q chooses for itself).
    default_queue = sender.conf.task_default_queue
    # Each with its own routing key: Celery would otherwise bind both with the default
    # queue's key, and every message sent to either would land in both.
    sender.conf.task_queues = tuple(
        Queue(name, routing_key=name) for name in (default_queue, dispatch_queue(default_queue))
    )
    sender.conf.beat_schedule = {
        "dispatch-due-position-polls": {
            "task": DISPATCH_TASK,
            "schedule": settings.DISPATCH_TICK_SECONDS,
            "options": {"expires": settings.DISPATCH_TICK_SECONDS * 2},
        },
        "purge-position-history": {
            "task": "cryptotrack.positions.tasks.purge_position_history",
            "schedule": 3600.0,
            "options": {"expires": 3600},
        },
        "fetch-scheduled-quotes": {
            "task": "cryptotrack.quotes.tasks.fetch_scheduled_quotes",
            "schedule": float(settings.QUOTES_INTERVAL_SECONDS),
            "options": {"expires": settings.QUOTES_INTERVAL_SECONDS},
        },
        "fetch-live-quotes": {
            "task": "cryptotrack.quotes.tasks.fetch_live_quotes",
            "schedule": float(settings.QUOTES_LIVE_INTERVAL_SECONDS),
            "options": {"expires": settings.QUOTES_LIVE_INTERVAL_SECONDS},
        },
        "downsample-live-quotes": {
            "task": "cryptotrack.quotes.tasks.downsample_live_quotes",
            "schedule": 3600.0,
            "options": {"expires": 3600},
        },
        "purge-audit-events": {
            "task": "cryptotrack.audit.tasks.purge_audit_events",
            "schedule": 3600.0,
            "options": {"expires": 3600},
        },
        "check-price-alerts": {
            "task": "cryptotrack.alerts.tasks.check_alerts",
            "schedule": float(settings.ALERTS_INTERVAL_SECONDS),
            "options": {"expires": settings.ALERTS_INTERVAL_SECONDS},
        },
    }
