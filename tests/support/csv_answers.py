"""Reading a CSV export as a client does: the streamed body, parsed by Python's csv module."""

from __future__ import annotations

import csv
import io
from typing import Any


def csv_body(response: Any) -> bytes:
    """The whole body of a streamed (test client) answer."""
    assert response.streaming, "a CSV export is streamed"
    return b"".join(response.streaming_content)


def csv_rows(body: bytes) -> list[list[str]]:
    """Every record of ``body`` (header first), RFC 4180 as the csv module reads it."""
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
