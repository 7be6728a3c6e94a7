"""Helpers for the KuCoin client and simulator tests (no conftest: import what you use).

``SAMPLES`` is the folder of recorded upstream answers (tests/fixtures/upstream);
``independent_headers`` signs a request straight from KuCoin's documented formula, without
our client code, so the simulator's checks are tested against an independent signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

from tests.fixtures import UPSTREAM_SAMPLES

SAMPLES = UPSTREAM_SAMPLES

API_KEY, API_SECRET, API_PASSPHRASE = "6705f5c311545b000157d3eb", "sim-secret-1", "sim-pass-1"
OTHER_KEY, OTHER_SECRET, OTHER_PASSPHRASE = "6705f5c311545b000157ffff", "sim-secret-2", "sim-pp-2"


def kucoin_sample_names() -> list[str]:
    """Every ``kucoin_*.json`` sample (without the extension), sorted."""
    return sorted(p.stem for p in SAMPLES.glob("kucoin_*.json"))


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / f"{name}.json").read_bytes()


def sample_json(name: str) -> Any:
    return json.loads(sample_bytes(name))


def sample_http_status(name: str) -> int:
    """The HTTP status that ``<name>.source.txt`` records for an error sample."""
    text = (SAMPLES / f"{name}.source.txt").read_text()
    match = re.search(r"HTTP status: (\d{3})", text)
    if match is None:
        raise AssertionError(f"{name}.source.txt names no HTTP status")
    return int(match.group(1))


def independent_headers(
    *,
    key: str,
    secret: str,
    passphrase: str,
    method: str,
    path_and_query: str,
    body: str = "",
    timestamp_ms: int | None = None,
    version: str = "2",
) -> dict[str, str]:
    """KC-API-* headers computed inline from https://www.kucoin.com/docs-new/authentication."""
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))

    def b64_hmac(message: str) -> str:
        digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    return {
        "KC-API-KEY": key,
        "KC-API-SIGN": b64_hmac(ts + method.upper() + path_and_query + body),
        "KC-API-TIMESTAMP": ts,
        "KC-API-PASSPHRASE": b64_hmac(passphrase) if version != "1" else passphrase,
        "KC-API-KEY-VERSION": version,
    }
