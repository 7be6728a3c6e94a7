"""Prometheus metrics shared by every process, and the ``/metrics`` view that serves them.

The web server, the Celery workers (each prefork child) and beat are separate processes,
so the counters use prometheus_client's multiprocess mode: every process writes its
values to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (set by settings, before
this module creates a metric), and ``/metrics`` in the web process adds up the files of
all of them. So a poll done by a worker shows in the web's ``/metrics``, as long as the
processes share that directory (one host, or one volume): see docs/operations.md.

Names follow Prometheus conventions: ``_total`` counters, ``_seconds`` histograms, and
labels with a small fixed set of values (never a user id or a symbol).
"""

from __future__ import annotations

import hmac
import os
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

# prometheus_client chooses per-process or multiprocess values once, when it is first
# imported, from the PROMETHEUS_MULTIPROC_DIR environment variable: its documented switch
# (https://prometheus.github.io/client_python/multiprocess/). Give it the directory of the
# settings before that import; if something imported it earlier without the variable, our
# counters would silently stay inside each process, so say so instead.
if settings.PROMETHEUS_MULTIPROC_DIR:
    if (
        "prometheus_client" in sys.modules
        and os.environ.get("PROMETHEUS_MULTIPROC_DIR") != settings.PROMETHEUS_MULTIPROC_DIR
    ):
        raise ImproperlyConfigured(
            "prometheus_client was imported before cryptotrack.core.metrics without "
            "PROMETHEUS_MULTIPROC_DIR set to settings.PROMETHEUS_MULTIPROC_DIR; set the "
            "variable in the environment of the process or import this module first."
        )
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = settings.PROMETHEUS_MULTIPROC_DIR
    os.makedirs(settings.PROMETHEUS_MULTIPROC_DIR, exist_ok=True)  # its files are opened here

from prometheus_client import (  # after the environment is set, see above
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from cryptotrack.core.errors import json_error

# -- position tracking ----------------------------------------------------------------
POLLS = Counter(
    "cryptotrack_polls_total",
    "KuCoin position polls, by outcome (success, or the failure's kind).",
    ["outcome"],
)
POLL_LATENESS = Histogram(
    "cryptotrack_poll_lateness_seconds",
    "How long after its slot a poll started (0 = on time).",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300),
)
UPSTREAM_FAILURES = Counter(
    "cryptotrack_upstream_failures_total",
    "Failed calls to an upstream API, by upstream and kind (timeout, unavailable, "
    "rate_limited, invalid_credentials, permission_denied, bad_response, request_rejected).",
    ["upstream", "kind"],
)

# -- reads served from the cache ------------------------------------------------------
CACHE_READS = Counter(
    "cryptotrack_cache_reads_total",
    "Reads of live data from the cache: hit, or miss (absent or cache down: database).",
    ["data", "result"],
)
FAST_ANSWERS = Counter(
    "cryptotrack_fast_answers_total",
    "Requests answered on the event loop ahead of Django (positions.fast_read), by route.",
    ["route"],
)

# -- alerts ---------------------------------------------------------------------------
ALERT_CHECKS = Counter(
    "cryptotrack_alert_checks_total",
    "Alert monitor runs, by outcome (checked, idle: no active alert, skipped: no prices).",
    ["outcome"],
)
ALERTS_TRIGGERED = Counter(
    "cryptotrack_alerts_triggered_total", "Alerts whose target the price crossed."
)
ALERT_EMAILS = Counter(
    "cryptotrack_alert_emails_total",
    "Alert emails, by outcome (sent, retried: transient SMTP failure, failed, cancelled).",
    ["outcome"],
)
POSITION_ALERTS_FIRED = Counter(
    "cryptotrack_position_alerts_fired_total", "Position alert firings, by alert kind.", ["kind"]
)
POSITION_ALERT_EMAILS = Counter(
    "cryptotrack_position_alert_emails_total",
    "Position alert emails, by outcome (sent, retried, failed, cancelled).",
    ["outcome"],
)
NOTIFY_DELIVERIES = Counter(
    "cryptotrack_notify_deliveries_total",
    "Alert deliveries to notification channels, by outcome (sent, retried, failed, cancelled).",
    ["outcome"],
)

# -- quotes ---------------------------------------------------------------------------
QUOTES_FETCHED = Counter(
    "cryptotrack_quotes_fetched_total",
    "Quotes fetched from Alpha Vantage and stored, by what asked (forced, scheduled, startup).",
    ["source"],
)


def record_cache_read(data: str, *, hit: bool) -> None:
    CACHE_READS.labels(data=data, result="hit" if hit else "miss").inc()


def record_upstream_failure(upstream: str, kind: str) -> None:
    UPSTREAM_FAILURES.labels(upstream=upstream, kind=kind).inc()


def exposition() -> bytes:
    """Every process's metrics, added up, in Prometheus's text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    return generate_latest(registry)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: 404 while ``METRICS_TOKEN`` is unset (off), 401 without that token
    as ``Authorization: Bearer <token>``."""
    token = settings.METRICS_TOKEN
    if not token:
        return json_error(404, f"No such path: {request.path}", "not_found")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        response = json_error(401, "The metrics token is missing or wrong.", "not_authenticated")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in {"GET", "HEAD"}:
        return json_error(405, f'Method "{request.method}" not allowed.', "method_not_allowed")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
