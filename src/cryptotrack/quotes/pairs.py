"""Currency pairs: ``BTC/USD`` in settings, ``Pair("BTC", "USD")`` in code."""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from django.conf import settings

# What our API accepts for a currency code: Alpha Vantage's physical and digital currency
# codes are 2-6 characters today; 3-10 uppercase letters or digits leaves room and no junk.
CURRENCY_CODE_PATTERN = r"^[A-Z0-9]{3,10}$"
_CURRENCY_CODE = re.compile(CURRENCY_CODE_PATTERN)
DEFAULT_FROM_CURRENCY = "BTC"
DEFAULT_TO_CURRENCY = "USD"
# Alpha Vantage's published physical and digital currency lists (see the .source.txt there).
CURRENCY_LISTS = (
    Path(__file__).parent / "data" / "physical_currency_list.csv",
    Path(__file__).parent / "data" / "digital_currency_list.csv",
)


class Pair(NamedTuple):
    from_currency: str
    to_currency: str

    def __str__(self) -> str:
        return f"{self.from_currency}/{self.to_currency}"


def is_currency_code(code: str) -> bool:
    """Whether ``code`` is 3-10 uppercase letters or digits."""
    return bool(_CURRENCY_CODE.match(code))


def parse_pair(text: str) -> Pair:
    """``"BTC/USD"`` -> ``Pair("BTC", "USD")``; raises ValueError on anything else."""
    parts = [part.strip().upper() for part in text.split("/")]
    if len(parts) != 2 or not all(is_currency_code(part) for part in parts):
        raise ValueError(f"not a currency pair like BTC/USD: {text!r}")
    return Pair(parts[0], parts[1])


def parse_pairs(texts: Iterable[str]) -> list[Pair]:
    """Every pair of ``texts`` in order, duplicates dropped; raises ValueError on a bad one."""
    pairs: list[Pair] = []
    for text in texts:
        if text.strip() and (pair := parse_pair(text)) not in pairs:
            pairs.append(pair)
    return pairs


def configured_pairs() -> list[Pair]:
    """The pairs of ``QUOTES_PAIRS``, fetched on the schedule (BTC/USD when none is set)."""
    return parse_pairs(settings.QUOTES_PAIRS) or [Pair(DEFAULT_FROM_CURRENCY, DEFAULT_TO_CURRENCY)]


@functools.cache
def listed_currency_codes() -> frozenset[str]:
    """Every code on Alpha Vantage's physical and digital currency lists (read once)."""
    codes: set[str] = set()
    for path in CURRENCY_LISTS:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            next(rows, None)  # the header
            codes.update(row[0].strip().upper() for row in rows if row and row[0].strip())
    return frozenset(codes)


def unlisted_codes(pair: Pair) -> list[str]:
    """The codes of ``pair`` that Alpha Vantage does not list (it would answer "Invalid API
    call" for them, and that answer costs one of the day's calls)."""
    listed = listed_currency_codes()
    return [code for code in dict.fromkeys(pair) if code not in listed]
