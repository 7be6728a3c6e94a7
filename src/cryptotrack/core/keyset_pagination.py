"""Lists read newest first: the project envelope by page, plus a keyset cursor for depth.

For a queryset ordered by ``(-<time_field>, -id)`` (quotes by ``fetched_at``, position
history by ``taken_at``). Page mode (``?page=&per_page=``) is the shared envelope.
``?cursor=`` switches to keyset mode: rows strictly after the cursor's
``(<time>, id)`` in newest-first order, read straight from the matching index, so page
50,000 costs what page 1 costs.
An empty ``?cursor=`` starts at the newest row. Keyset mode does not count (that is what
keeps it fast): ``count``, ``total_pages`` and ``page`` are null there.

Both modes answer ``next_cursor``: the cursor of the rows after the last one returned, or
null at the end — so a client can start by page and go on by cursor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from cryptotrack.core.pagination import (
    PageNumberPagination,
    envelope_schema,
    parse_page_params,
    parse_per_page,
)

CURSOR_PARAM = "cursor"


def encode_cursor(row: Any, time_field: str = "fetched_at") -> str:
    """An opaque cursor naming the position right after ``row``."""
    raw = f"{getattr(row, time_field).isoformat()}|{row.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """``(time, id)`` of a cursor; raises ValidationError (400) for anything else.

    The time must exist in UTC: ``9999-12-31T23:59:59-14:00`` or year 1 east of Greenwich
    do not (OverflowError), and this API never hands out such a cursor.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        when_text, _, id_text = raw.decode("ascii").partition("|")
        when = parse_datetime(when_text)
        row_id = int(id_text)
        if when is not None and when.tzinfo is not None:
            when.astimezone(UTC)
    except (ValueError, OverflowError, binascii.Error):  # UnicodeError is a ValueError
        when, row_id = None, 0
    if when is None or when.tzinfo is None or row_id < 1:
        raise serializers.ValidationError({CURSOR_PARAM: ["Not a cursor given by this API."]})
    return when, row_id


def after_cursor(rows: QuerySet[Any], cursor: str, time_field: str = "fetched_at") -> QuerySet[Any]:
    """``rows`` (newest first) after the cursor's row: ``(time, id) < (t, i)``."""
    when, row_id = decode_cursor(cursor)
    return after_row(rows, when, row_id, time_field)


def after_row(rows: QuerySet[Any], when: datetime, row_id: int, time_field: str) -> QuerySet[Any]:
    """``rows`` (newest first) after the row ``(when, row_id)``: ``(time, id) < (t, i)``."""
    # The plain `time <= t` bound lets the planner start the index scan at the cursor;
    # the OR then drops the rows of the same instant at or above the cursor's id.
    return rows.filter(
        Q(**{f"{time_field}__lte": when}),
        Q(**{f"{time_field}__lt": when}) | Q(**{time_field: when, "id__lt": row_id}),
    )


class KeysetPagination(PageNumberPagination):
    """The shared envelope plus ``next_cursor``, and the keyset mode (module docstring)."""

    time_field = "fetched_at"

    def __init__(self) -> None:
        super().__init__()
        self.cursor_mode = False
        self.next_cursor: str | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        if CURSOR_PARAM in request.query_params and isinstance(queryset, QuerySet):
            return self._paginate_by_cursor(queryset, request, view)
        rows = super().paginate_queryset(queryset, request, view)
        if rows and self.page * self.per_page < self.count:
            self.next_cursor = encode_cursor(rows[-1], self.time_field)
        return rows

    def _paginate_by_cursor(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None
    ) -> list[Any]:
        self.cursor_mode = True
        if "page" in request.query_params:
            raise serializers.ValidationError(
                {"page": ["Use either `page` or `cursor`, not both."]}
            )
        allow_all_max: int | None = getattr(view, "allow_all_max", None)
        _, per_page_all = parse_page_params(request, allow_all=allow_all_max is not None)
        if per_page_all and allow_all_max is not None:
            self.per_page = allow_all_max
        else:
            self.per_page = parse_per_page(request)
        cursor = request.query_params[CURSOR_PARAM]
        if cursor:
            queryset = after_cursor(queryset, cursor, self.time_field)
        rows = list(queryset[: self.per_page + 1])
        if len(rows) > self.per_page:
            rows = rows[: self.per_page]
            self.next_cursor = encode_cursor(rows[-1], self.time_field)
        return rows

    def envelope(self, results: Any) -> dict[str, Any]:
        self.extra = {"next_cursor": self.next_cursor}
        body = super().envelope(results)
        if self.cursor_mode:
            body.update(count=None, total_pages=None, page=None)
        return body

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        document = envelope_schema(
            schema,
            extra={
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `?cursor=` for the rows after these; null at the end.",
                }
            },
        )
        for name in ("count", "total_pages", "page"):
            document["properties"][name] = {
                "type": "integer",
                "nullable": True,
                "description": "Null in cursor mode (`?cursor=`), which does not count.",
            }
        document["required"] = [*document["required"], "next_cursor"]
        return document

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": CURSOR_PARAM,
                "in": "query",
                "required": False,
                "description": "Keyset mode: empty for the newest rows, then the `next_cursor` "
                "of the previous answer. Fast at any depth; not combined with `page`.",
                "schema": {"type": "string"},
            },
        ]
