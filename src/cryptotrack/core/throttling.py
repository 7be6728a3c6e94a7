"""DRF throttles: DRF's rate strings, scopes and 429 answers; our counting and client IP.

- Rates are read from settings at request time: DRF's own classes copy
  ``DEFAULT_THROTTLE_RATES`` when imported, so a changed setting (a test raising the limit
  to drive many users from 127.0.0.1) would never reach them.
- Counting is :mod:`cryptotrack.core.ratelimit`'s sliding window: one Redis round trip per
  check, and counts that hold (per process) while Redis is down.
- The client of an anonymous request is :func:`cryptotrack.core.proxies.client_ip`, which
  believes ``X-Forwarded-For`` only from ``TRUSTED_PROXIES`` (DRF's ``get_ident`` believes
  it from anyone, so a client picking a new address per request was never throttled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

from django.http import HttpRequest
from rest_framework import throttling
from rest_framework.settings import api_settings

from cryptotrack.core import ratelimit
from cryptotrack.core.exceptions import ApplicationError
from cryptotrack.core.proxies import client_ip


class _SettingsRate:
    scope: str | None

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope) if self.scope else None


class _SlidingWindow(throttling.SimpleRateThrottle):
    """Replaces DRF's history list (get, trim, set) with :func:`ratelimit.hit`."""

    num_requests: int | None
    duration: int | None
    _wait: float | None = None

    def get_ident(self, request: Any) -> str:
        return client_ip(request)

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        decision = ratelimit.hit(key, limit=self.num_requests, period=self.duration)
        self._wait = decision.wait
        return decision.allowed

    def wait(self) -> float | None:
        return self._wait


# DRF's class before ours: its allow_request (where a scoped throttle reads the view's
# scope) runs first and hands over to _SlidingWindow's through super().
class AnonRateThrottle(_SettingsRate, throttling.AnonRateThrottle, _SlidingWindow):
    """Per IP, for unauthenticated requests."""


class UserRateThrottle(_SettingsRate, throttling.UserRateThrottle, _SlidingWindow):
    """Per user (per IP when anonymous)."""


class ScopedRateThrottle(_SettingsRate, throttling.ScopedRateThrottle, _SlidingWindow):
    """Per user and the view's ``throttle_scope``."""


class IpScopedRateThrottle(_SettingsRate, _SlidingWindow):
    """Per client IP and the view's ``throttle_scope`` (signup, sign-in)."""

    def allow_request(self, request: Any, view: Any) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class FormThrottled(ApplicationError):
    status = 429
    code = "throttled"


@dataclass(frozen=True)
class _Scope:
    """What a scoped throttle reads of a view."""

    throttle_scope: str


def check_form_throttle(
    request: HttpRequest, throttle: throttling.SimpleRateThrottle, *, scope: str, what: str
) -> None:
    """A browser form counted against the API's throttle of the same action.

    A form (the admin's login, a web page) is not a DRF view, so the throttle is asked
    directly with a stand-in view carrying the endpoint's ``throttle_scope``. Raises
    ``FormThrottled`` (429, ``Retry-After``, ``extra["retry_after"]``) when over; ``what``
    names the attempts in its message ("sign-in attempts", "sign-ups").
    """
    view: Any = _Scope(scope)
    # DRF's stubs want its Request; the throttles read only what an HttpRequest has too.
    if throttle.allow_request(cast(Any, request), view):
        return
    wait = math.ceil(throttle.wait() or 1)
    raise FormThrottled(
        f"Too many {what}; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
        extra={"retry_after": wait},
    )
