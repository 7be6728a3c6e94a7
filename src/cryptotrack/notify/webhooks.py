"""Signed webhooks, the way payment providers sign theirs.

Each push is ``POST`` JSON ``{id, type, created_at, data}`` with

* ``X-Cryptotrack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``
  (one ``v1`` per valid secret while a rotated one is still honoured), and
* ``X-Cryptotrack-Delivery: <id>``, the same on every retry of a delivery, so a receiver
  can drop a repeat.

:func:`verify` is what docs/api.md gives receivers (it needs only the standard library).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from cryptotrack.exchanges.retry import parse_retry_after
from cryptotrack.notify.outcome import Attempt, verdict_of
from cryptotrack.notify.transport import Answer, Push, no_answer

SIGNATURE_HEADER = "X-Cryptotrack-Signature"
DELIVERY_HEADER = "X-Cryptotrack-Delivery"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<sig>[,v1=<sig of an older secret>…]``."""
    parts = [f"t={timestamp}"] + [f"v1={signature(s, timestamp, body)}" for s in secrets]
    return ",".join(parts)


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its time is within
    ``tolerance`` seconds of now (a replayed old request fails)."""
    fields = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [v for k, v in fields if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v.strip()) for k, v in fields if k.strip() == "v1")


def event_body(*, delivery_id: str, kind: str, created_at: str, data: Mapping[str, Any]) -> bytes:
    """The JSON document a webhook receives (compact, UTF-8)."""
    document = {"id": delivery_id, "type": kind, "created_at": created_at, "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_push(
    url: str, body: bytes, *, delivery_id: str, secrets: Iterable[str], timestamp: int | None = None
) -> Push:
    """The signed request for one delivery."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return Push(
        url=url,
        body=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secrets, stamp, body),
            DELIVERY_HEADER: delivery_id,
        },
    )


def read_webhook_answer(answer: Answer) -> Attempt:
    """2xx delivered; 408/429/5xx (or no answer) retried, honouring ``Retry-After``; any
    other status final."""
    if answer.status is None:
        return no_answer(answer)
    verdict = verdict_of(answer.status)
    error = "" if 200 <= answer.status < 300 else f"HTTP {answer.status}: {answer.text(200)}"
    return Attempt(
        verdict,
        status=answer.status,
        error=error,
        retry_after=parse_retry_after(answer.headers.get("Retry-After")),
    )
