"""One attempt to deliver a message, as the outbox needs to know it."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # timeout, transport failure, 408, 429, 5xx
    FAILED = "failed"  # refused for good: another 4xx, a refused address, a bad answer


@dataclass(frozen=True)
class Attempt:
    """What one send did: the verdict, the HTTP status (None when no answer came), a short
    error for the delivery log, and how long the receiver asked us to wait, if it did."""

    verdict: Verdict
    status: int | None = None
    error: str = ""
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.verdict == Verdict.DELIVERED


def verdict_of(status: int) -> Verdict:
    """The usual reading of an HTTP status for a push: 2xx delivered; 408, 429 and 5xx
    worth another try; anything else (other 4xx, a redirect we do not follow) final."""
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status in (408, 429) or status >= 500:
        return Verdict.RETRY
    return Verdict.FAILED


def smtp_failure(exc: smtplib.SMTPException | OSError) -> Attempt:
    """A failed SMTP send, read the one way every email path reads it: a 5xx about this
    message (recipient, sender or content refused) will not get better and is final;
    anything else (a 4xx, the server down, a timeout) is tried again."""
    status: int | None = None
    permanent = False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        status = max(codes, default=None)
        permanent = bool(codes) and all(code >= 500 for code in codes)
    elif isinstance(exc, smtplib.SMTPResponseException):
        status = exc.smtp_code
        permanent = isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError) and (
            exc.smtp_code >= 500
        )
    verdict = Verdict.FAILED if permanent else Verdict.RETRY
    return Attempt(verdict, status=status, error=f"{type(exc).__name__}: {exc}"[:500])
