"""The one JSON parser of the API: DRF's, with the limits a hostile body needs.

The body's size is bounded before this runs (DRF hands JSON parsers ``request.body``,
which enforces ``DATA_UPLOAD_MAX_MEMORY_SIZE``; ``core.errors`` answers 400 ``too_large``).
What a small body can still do: nest a few thousand levels deep, making ``json`` raise
``RecursionError`` (a 500), or hold the escape ``"\\ud800"``, which decodes to a lone
surrogate that no UTF-8 database, log line or JSON answer can hold
(``UnicodeEncodeError``, a 500 wherever it is first written). Every endpoint parses
through here (``DEFAULT_PARSER_CLASSES``), so each is one 400 (``too_deep``,
``invalid_unicode``) saying what is wrong, before any view or serializer sees the data.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONParser(parsers.JSONParser):
    """JSON of at most ``API_JSON_MAX_DEPTH`` levels of arrays/objects, in valid Unicode text."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(stream.read(), encoding)
            data = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            raise ParseError(f"The body is not valid JSON: {exc}", code="parse_error") from None
        check_parsed_json(data, max_depth=settings.API_JSON_MAX_DEPTH)
        return data


def check_parsed_json(data: Any, *, max_depth: int) -> None:
    """Raise ParseError when ``data`` nests deeper than ``max_depth`` or holds a surrogate.

    Iterative, so checking a deep value cannot itself overflow the stack.
    """
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                raise _surrogate()
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not key.isascii() and _SURROGATE.search(key):
                    raise _surrogate()
                pending.append((item, depth + 1))


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python's json would accept them.
    raise ValueError(f"{name} is not a JSON value")


def _too_deep() -> ParseError:
    return ParseError(
        f"The body nests arrays/objects deeper than {settings.API_JSON_MAX_DEPTH} levels.",
        code="too_deep",
    )


def _surrogate() -> ParseError:
    return ParseError(
        "The body holds a lone UTF-16 surrogate escape (such as \\ud800): "
        "strings must be valid Unicode text.",
        code="invalid_unicode",
    )
