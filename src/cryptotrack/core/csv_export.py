"""CSV exports of the newest-first lists: every row the filters match, streamed as read.

A list view opts in by extending :class:`CsvExportApi`: ``?format=csv`` (DRF's URL format
override) or ``Accept: text/csv`` then selects :class:`CsvRenderer`, the view validates
its filters as for JSON and answers :func:`csv_response` of the same queryset. Errors
stay JSON (``{"detail", "code", "errors"}``) whatever was asked.

The body: a header row, then the rows in the list's order (newest first), RFC 4180
(Python's ``csv`` module, ``\\r\\n``), UTF-8, times ISO 8601 in UTC, decimals as plain
strings (never ``1E-10``), booleans ``true``/``false``, null as an empty field. A text
that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab or CR first: an
account label is the user's own text) is written with a leading ``'`` (OWASP's advice on
CSV injection); numbers are never touched. No
pagination and no row limit: the export is as long as the filters make it.

Constant memory: rows are read ``CHUNK_ROWS`` at a time by keyset on ``(time, id)``
(the list's index; each chunk is its own short query, so nothing is held open between
chunks, on PostgreSQL as on SQLite), each chunk is written out before the next is read,
and a slow client slows the reading down (uvicorn's flow control). Rows stored while an
export runs are newer than where it has got to: they are not in it.

Under ASGI, Django 5.2 serves a *synchronous* streaming iterator by collecting it whole
first (``sync_to_async(list)`` in ``StreamingHttpResponse.__aiter__``).
:class:`ThreadedStreamingResponse` pulls it one chunk at a time instead, each pull in the
request's own thread (its database connection), the event loop free meanwhile. Under
WSGI (the test client, schemathesis) the same iterator is simply iterated. An export
keeps its request thread (one of ``WEB_THREADS``) until its last row is sent, or until
its client hangs up (Django cancels the answer; the chunk being read is the last).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.db.models import Expression, QuerySet
from django.http import StreamingHttpResponse
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cryptotrack.core.fields import iso_utc
from cryptotrack.core.keyset_pagination import after_row

CHUNK_ROWS = 2000
MEDIA_TYPE = "text/csv"


@dataclass(frozen=True)
class CsvExport:
    """What an export writes: ``columns`` as ``(header, field path or expression)``, in
    order, read from a queryset ordered by ``(-time_field, -id)``; ``filename`` without
    ``.csv`` (the time of the export is appended)."""

    columns: Sequence[tuple[str, str | Expression]]
    time_field: str
    filename: str

    @property
    def header(self) -> list[str]:
        return [name for name, _ in self.columns]


# What a spreadsheet takes for the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as the export writes it (the ``csv`` module writes None as empty)."""
    if isinstance(value, str):
        return f"'{value}" if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_utc(value)
    return value


def csv_chunks(
    rows: QuerySet[Any], export: CsvExport, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """The export's bytes: the header row, then one piece per ``chunk_rows`` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode()

    writer.writerow(export.header)
    yield flush()
    width = len(export.columns)
    fields = [source for _, source in export.columns]
    # The keyset's (time, id), read once: after the columns unless one of them already.
    fields += [key for key in (export.time_field, "id") if key not in fields]
    when_at, id_at = fields.index(export.time_field), fields.index("id")
    values = rows.values_list(*fields)
    chunk = list(values[:chunk_rows])
    while chunk:
        writer.writerows([csv_cell(value) for value in row[:width]] for row in chunk)
        yield flush()
        if len(chunk) < chunk_rows:
            return
        last = chunk[-1]
        chunk = list(after_row(values, last[when_at], last[id_at], export.time_field)[:chunk_rows])


class ThreadedStreamingResponse(StreamingHttpResponse):
    """A StreamingHttpResponse whose synchronous content ASGI pulls piece by piece, each
    piece in the request's thread (module docstring), instead of all of it at once."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.is_async:
            async for part in super().__aiter__():
                yield part
            return
        parts = cast(Iterator[bytes], self.streaming_content)  # synchronous: not is_async
        pull = sync_to_async(_next_part, thread_sensitive=True)
        while (piece := await pull(parts)) is not None:
            yield piece


def _next_part(parts: Iterator[bytes]) -> bytes | None:
    return next(parts, None)


def csv_response(rows: QuerySet[Any], export: CsvExport) -> ThreadedStreamingResponse:
    """``rows`` as a streamed CSV attachment (see the module docstring)."""
    response = ThreadedStreamingResponse(
        csv_chunks(rows, export), content_type=f"{MEDIA_TYPE}; charset=utf-8"
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}-{stamp}.csv"'
    return response


class CsvRenderer(BaseRenderer):
    """Lets content negotiation pick CSV (``?format=csv``, ``Accept: text/csv``); the
    body itself is :func:`csv_response`'s, so nothing is ever rendered here."""

    media_type = MEDIA_TYPE
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        raise TypeError("CSV answers are streamed by csv_response(); errors are JSON.")


class CsvExportApi(APIView):
    """An APIView whose GET list also answers CSV: JSON by default, CSV when asked."""

    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer, CsvRenderer]

    @staticmethod
    def wants_csv(request: Request) -> bool:
        return isinstance(getattr(request, "accepted_renderer", None), CsvRenderer)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if isinstance(response, Response) and self.wants_csv(request):
            # A DRF Response here is an error (or JSON of another method): JSON it stays.
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ["Accept"])
        return response


def format_parameter(export: CsvExport) -> OpenApiParameter:
    """The ``?format=`` of a list that also answers CSV, naming the export's columns."""
    columns = ", ".join(f"`{name}`" for name in export.header)
    return OpenApiParameter(
        "format",
        str,
        enum=["json", "csv"],
        description="`csv`: every row the filters match as a streamed CSV attachment "
        f"(header row, then the rows newest first; columns {columns}; times ISO 8601 UTC, "
        "decimals as plain strings, null as empty). No pagination: `page`, `per_page` and "
        "`cursor` are ignored. The same as `Accept: text/csv`. Default: the JSON list.",
    )


def list_or_csv_responses(json_list: Any) -> dict[Any, Any]:
    """``extend_schema(responses=...)`` of a list that also answers CSV (the bare list
    serializer first: drf-spectacular then still pages it and documents its parameters)."""
    return {
        (200, "application/json"): json_list,
        (200, MEDIA_TYPE): OpenApiResponse(
            OpenApiTypes.STR, description="The CSV export (see the `format` parameter)."
        ),
    }
