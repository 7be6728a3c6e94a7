"""We use libraries through their public API: a private attribute can change in any release."""

from __future__ import annotations

import re
from pathlib import Path

import cryptotrack

SRC = Path(cryptotrack.__file__).resolve().parent

# Private attributes we once reached into, and the general shape of the DRF one.
PRIVATE_USES = re.compile(r"\._retry_connection\b|\bValueClass\b|\brequest\._request\b")


def test_no_private_attribute_of_aiohttp_prometheus_client_or_drf_is_used() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE_USES.search(line)
    ]
    assert offenders == []
