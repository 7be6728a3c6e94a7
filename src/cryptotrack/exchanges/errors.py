"""Typed failures of upstream calls, shared by every client.

Callers act on the class, never on a message string: a timeout is retried later, bad
credentials pause a user, a rate limit backs that one caller off. ``kind`` is the stable
machine name recorded per user (``last_error.kind`` in the API).
"""

from __future__ import annotations


class UpstreamError(Exception):
    """An upstream call failed. ``status`` is the HTTP status, ``code`` the upstream's own code."""

    kind = "upstream_error"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class UpstreamTimeout(UpstreamError):
    """No answer within the client's timeout (connect, read or pool)."""

    kind = "timeout"
    retryable = True


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached or answered 5xx / maintenance."""

    kind = "unavailable"
    retryable = True


class UpstreamRateLimited(UpstreamError):
    """The upstream refused the call for rate; ``retry_after`` (seconds) says when to come back."""

    kind = "rate_limited"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class UpstreamBadResponse(UpstreamError):
    """The answer was not what the contract promises (malformed JSON, missing fields)."""

    kind = "bad_response"


class UpstreamInvalidCredentials(UpstreamError):
    """The key, signature or passphrase is wrong or revoked: stop using these credentials."""

    kind = "invalid_credentials"


class UpstreamPermissionDenied(UpstreamError):
    """The credentials are valid but may not do this (missing permission, IP not allowed)."""

    kind = "permission_denied"


class UpstreamRequestRejected(UpstreamError):
    """Any other refusal of the request itself (bad parameters, unknown symbol or pair)."""

    kind = "request_rejected"
