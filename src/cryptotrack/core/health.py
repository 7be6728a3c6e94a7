"""Liveness and readiness: ``/healthz`` (the process answers) and ``/readyz`` (it can work)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import caches
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.core.cache import ResilientRedisCache

logger = logging.getLogger(__name__)


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def check_cache() -> str:
    cache = caches["live"]
    if isinstance(cache, ResilientRedisCache):
        return "ok" if cache.ping() else "down (serving from the database)"
    cache.set("readyz", "1", 5)
    return "ok" if cache.get("readyz") == "1" else "down"


def check_broker() -> str:
    from cryptotrack.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
    return "ok"


_CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}
# The service can answer without Redis (database fallback): only these make it unready.
_REQUIRED = {"database", "broker"}


class HealthzApi(APIView):
    """200 while the process is up; checks nothing else."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []

    @extend_schema(
        operation_id="healthz",
        tags=["operations"],
        responses={200: inline_serializer("Health", {"status": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyzApi(APIView):
    """200 when the database and broker answer, else 503; each piece's state in the body."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []

    @extend_schema(
        operation_id="readyz",
        tags=["operations"],
        responses={
            (200, "application/json"): inline_serializer(
                "Readiness",
                {
                    "status": serializers.CharField(),
                    "checks": serializers.DictField(child=serializers.CharField()),
                },
            ),
            (503, "application/json"): inline_serializer(
                "Unready",
                {
                    "status": serializers.CharField(),
                    "checks": serializers.DictField(child=serializers.CharField()),
                },
            ),
        },
    )
    def get(self, request: Request) -> Response:
        checks: dict[str, str] = {}
        for name, check in _CHECKS.items():
            try:
                checks[name] = check()
            except Exception as exc:
                logger.warning("readiness check %s failed: %r", name, exc)
                checks[name] = f"down: {type(exc).__name__}"
        ready = all(checks[name] == "ok" for name in _REQUIRED)
        return Response(
            {"status": "ready" if ready else "unready", "checks": checks},
            status=200 if ready else 503,
        )
