"""The one list envelope of API.md: ``{count, total_pages, page, per_page, results}``.

``per_page`` is 1..100 (default 10); views that allow it (quotes) also take ``all``,
capped by a setting. A page past the end answers an empty ``results``, not 404; a bad
``page``/``per_page`` answers 400 with a message naming the parameter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.core.fields import IntegerField

MAX_PER_PAGE = 100


class PageNumberPagination(pagination.BasePagination):
    """Page-number pagination answering the project envelope; see the module docstring."""

    default_per_page = 10
    max_per_page = MAX_PER_PAGE
    # Views opt in with ``allow_all_max = N``: ``per_page=all`` then returns up to N rows.
    page_query_param = "page"
    per_page_query_param = "per_page"

    def __init__(self) -> None:
        self.count = 0
        self.page = 1
        self.per_page: int = self.default_per_page
        self.extra: dict[str, Any] = {}

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        allow_all_max: int | None = getattr(view, "allow_all_max", None)
        self.page, per_page_all = parse_page_params(request, allow_all=allow_all_max is not None)
        if isinstance(queryset, QuerySet) and self.page == 1 and not per_page_all:
            # The usual read: the first page. When it is not full it is every row, and its
            # length is the count — no COUNT query.
            self.per_page = parse_per_page(request)
            rows = list(queryset[: self.per_page])
            if len(rows) < self.per_page:
                self.count = len(rows)
                return rows
            self.count = queryset.count()
            return rows
        self.count = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        if per_page_all and allow_all_max is not None:
            self.per_page = max(1, min(self.count, allow_all_max))
        else:
            self.per_page = parse_per_page(request)
        start = (self.page - 1) * self.per_page
        if start >= self.count:
            # Past the end: no query (an OFFSET beyond 2^63 is an error in PostgreSQL).
            return []
        return list(queryset[start : start + self.per_page])

    def get_paginated_response(self, data: Any) -> Response:
        return Response(self.envelope(data))

    def envelope(self, results: Any) -> dict[str, Any]:
        return {
            "count": self.count,
            "total_pages": math.ceil(self.count / self.per_page) if self.count else 0,
            "page": self.page,
            "per_page": self.per_page,
            **self.extra,
            "results": results,
        }

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return envelope_schema(schema)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allow_all = getattr(view, "allow_all_max", None) is not None
        per_page_schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 100}
        if allow_all:
            per_page_schema = {"oneOf": [per_page_schema, {"type": "string", "enum": ["all"]}]}
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number, from 1. A page past the end answers empty results.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "description": "Rows per page, 1-100 (default 10)"
                + (", or `all`." if allow_all else "."),
                "schema": per_page_schema,
            },
        ]


def envelope_json(paginator: PageNumberPagination, results_json: bytes) -> bytes:
    """The envelope encoded around ``results`` that are JSON already (bytes put in as they
    are: no decoding and encoding again). Encoded as DRF's JSONRenderer does."""
    head = json.dumps(paginator.envelope(None), ensure_ascii=False, separators=(",", ":"))
    # "results" is the envelope's last key: replace its null with the array.
    return head.encode()[: -len(b"null}")] + results_json + b"}"


def envelope_schema(
    item_schema: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """OpenAPI schema of the envelope around ``item_schema`` items."""
    return {
        "type": "object",
        "required": ["count", "total_pages", "page", "per_page", "results"],
        "properties": {
            "count": {"type": "integer"},
            "total_pages": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            **(extra or {}),
            "results": item_schema,
        },
    }


class _PageParams(serializers.Serializer[Any]):
    page = IntegerField(min_value=1, required=False, default=1)


class _PerPage(serializers.Serializer[Any]):
    per_page = IntegerField(
        min_value=1,
        max_value=MAX_PER_PAGE,
        required=False,
        default=PageNumberPagination.default_per_page,
    )


def parse_page_params(request: Request, *, allow_all: bool = False) -> tuple[int, bool]:
    """Validate ``page``; tell whether ``per_page=all`` was asked (400 if not allowed)."""
    if "page" not in request.query_params and "per_page" not in request.query_params:
        return 1, False  # the usual request: no serializer to build (it is per request)
    params = _PageParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    per_page_all = request.query_params.get("per_page") == "all"
    if per_page_all and not allow_all:
        raise serializers.ValidationError({"per_page": ["`all` is not offered here; use 1-100."]})
    return params.validated_data["page"], per_page_all


def parse_per_page(request: Request) -> int:
    if "per_page" not in request.query_params:
        return PageNumberPagination.default_per_page
    params = _PerPage(data=request.query_params)
    params.is_valid(raise_exception=True)
    return int(params.validated_data["per_page"])
