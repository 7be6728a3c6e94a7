"""KuCoin's error codes mapped onto the shared upstream error types.

KuCoin answers every failure as ``{"code": "<6 digits>", "msg": "..."}`` with an HTTP status
(see tests/fixtures/upstream/kucoin_error_*.json and
https://www.kucoin.com/docs-new/error-code). Callers act on the exception class; ``code``
keeps KuCoin's own code for logs and per-user status.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptotrack.exchanges.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamInvalidCredentials,
    UpstreamPermissionDenied,
    UpstreamRateLimited,
    UpstreamRequestRejected,
    UpstreamUnavailable,
)
from cryptotrack.exchanges.retry import retry_after_from_headers

SUCCESS_CODE = "200000"


class KucoinTimestampError(UpstreamRequestRejected):
    """KuCoin refused KC-API-TIMESTAMP (400002: more than 5 s away from its clock).

    The client has already resynced its clock offset and retried once when this reaches a
    caller, so the local clock is moving too fast or KuCoin's time endpoint is unreliable;
    trying again later (after another resync) is the only remedy.
    """

    kind = "clock_skew"


# KuCoin gateway codes -> what the caller should do about them.
CODE_ERRORS: Mapping[str, type[UpstreamError]] = {
    "400001": UpstreamInvalidCredentials,  # a KC-API-* header is missing (empty credentials)
    "400002": KucoinTimestampError,
    "400003": UpstreamInvalidCredentials,  # KC-API-KEY not exists
    "400004": UpstreamInvalidCredentials,  # Invalid KC-API-PASSPHRASE
    "400005": UpstreamInvalidCredentials,  # Invalid KC-API-SIGN
    "400006": UpstreamPermissionDenied,  # request IP not in the key's whitelist
    "400007": UpstreamPermissionDenied,  # key lacks the permission this endpoint needs
    "411100": UpstreamPermissionDenied,  # user frozen
    "429000": UpstreamRateLimited,
    "500000": UpstreamUnavailable,  # internal server error
    "503000": UpstreamUnavailable,  # service unavailable / maintenance
}

_MAX_MESSAGE = 200


def error_from_response(
    *,
    status: int,
    code: str | None,
    message: str | None,
    headers: Mapping[str, str],
    where: str,
) -> UpstreamError:
    """Build the typed error for a KuCoin answer that is not a success.

    ``where`` is ``"GET /api/v1/positions"`` (never the host, headers or credentials).
    A 429 or code 429000 becomes :class:`UpstreamRateLimited` whose ``retry_after`` comes
    from ``gw-ratelimit-reset`` (milliseconds; a proxy's ``Retry-After`` wins); any 5xx
    without a known code becomes :class:`UpstreamUnavailable`; any other unknown code
    :class:`UpstreamRequestRejected`.
    """
    text = (message or "").strip()[:_MAX_MESSAGE] or "no message"
    label = f"KuCoin {code}: {text}" if code else f"KuCoin HTTP {status}: {text}"
    full = f"{label} (HTTP {status}, {where})"

    if status == 429 or code == "429000":
        return UpstreamRateLimited(
            full,
            retry_after=retry_after_from_headers(headers),
            status=status,
            code=code or "429000",
        )
    error_class = CODE_ERRORS.get(code or "")
    if error_class is None:
        if status >= 500:
            error_class = UpstreamUnavailable
        elif status == 401:
            error_class = UpstreamInvalidCredentials
        elif status == 403:
            error_class = UpstreamPermissionDenied
        elif code is None and status == 200:
            error_class = UpstreamBadResponse
        else:
            error_class = UpstreamRequestRejected
    return error_class(full, status=status, code=code)
