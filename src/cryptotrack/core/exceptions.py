"""Domain exceptions that services raise; ``errors.exception_handler`` maps them to HTTP once."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business rule said no. Answered as ``status`` with ``{"detail", "code", ...extra}``."""

    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}
        self.headers = headers or {}


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class UpstreamFailed(ApplicationError):
    """An upstream API answered an error we cannot turn into a result (502)."""

    status = 502
    code = "upstream_error"


class ServiceUnavailable(ApplicationError):
    """We cannot serve this now (quota spent, upstream rate limit): 503 with Retry-After."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after
