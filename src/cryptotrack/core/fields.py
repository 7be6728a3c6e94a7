"""Serializer fields shared by the apps: what any input of that kind must look like.

Each closes a gap of DRF's field that let hostile or careless input through: numbers
written in other scripts' digits (``Decimal`` reads Arabic-Indic 123 as 123), times
without a timezone, control characters in names people read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

_NON_ASCII_DIGITS = "Write the number with ASCII digits 0-9."

# C0/C1 controls and DEL, line/paragraph separators, and the bidirectional embeddings,
# overrides and isolates that make a name display as something else ("Trojan Source").
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def iso_utc(value: datetime) -> str:
    """An aware time as the API writes every time: ISO 8601 in UTC, ``Z`` for ``+00:00``
    (what DRF's DateTimeField answers with ``TIME_ZONE = "UTC"``)."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class StrictCharField(serializers.CharField):
    """A CharField that accepts only JSON strings (DRF's turns ``123`` into ``"123"``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.", code="invalid")
        return super().to_internal_value(data)


class NameField(StrictCharField):
    """A name people read (a user's name, a key's name, a label): no control characters."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if _CONTROL_CHARACTERS.search(value):
            raise serializers.ValidationError(
                "Must not contain control characters (line breaks, tabs, text-direction "
                "overrides and the like).",
                code="control_characters",
            )
        return value


class DecimalField(serializers.DecimalField):
    """DRF's DecimalField, but only ASCII digits: Arabic-Indic 123 is refused, not read as 123."""

    default_error_messages = {"non_ascii": _NON_ASCII_DIGITS}

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, str) and not data.isascii():
            self.fail("non_ascii")
        value: Decimal = super().to_internal_value(data)
        return value


class IntegerField(serializers.IntegerField):
    """DRF's IntegerField, but only ASCII digits (``int()`` reads any script's digits)."""

    default_error_messages = {"non_ascii": _NON_ASCII_DIGITS}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not data.isascii():
            self.fail("non_ascii")
        return int(super().to_internal_value(data))


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time with its timezone (``Z`` or ``±HH:MM``), in ASCII digits.

    A time without a timezone is refused: which instant it means depends on a guess. A
    time that does not exist in UTC (``9999-12-31T23:59:59-14:00``) is refused as out of
    range. An unencoded ``+`` of the offset arrives in a query string as a space
    (``...T10:00:00 02:00``): it is read back as ``+``.
    """

    default_error_messages = {
        "naive": "Give the timezone: end the time with Z (UTC) or an offset such as +02:00.",
        "non_ascii": "Write the time with ASCII digits 0-9.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            if not value.isascii():
                self.fail("non_ascii")
            value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip())
        parsed: datetime = super().to_internal_value(value)
        return parsed

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        enforced: datetime = super().enforce_timezone(value)
        return enforced
