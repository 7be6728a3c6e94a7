"""DRF throttles that read their rates from settings at request time.

DRF's own classes copy ``DEFAULT_THROTTLE_RATES`` when imported, so a changed setting
(a test raising the limit to drive many users from 127.0.0.1) would never reach them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import throttling
from rest_framework.settings import api_settings


class _SettingsRate:
    scope: str | None

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope) if self.scope else None


class AnonRateThrottle(_SettingsRate, throttling.AnonRateThrottle):
    """Per IP, for unauthenticated requests."""


class UserRateThrottle(_SettingsRate, throttling.UserRateThrottle):
    """Per user (per IP when anonymous)."""


class ScopedRateThrottle(_SettingsRate, throttling.ScopedRateThrottle):
    """Per user and the view's ``throttle_scope``."""


class IpScopedRateThrottle(_SettingsRate, throttling.SimpleRateThrottle):
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
