"""Our deploy check stands in for Django's name-based middleware checks (core/checks.py)."""

from __future__ import annotations

from typing import Any

import pytest

from cryptotrack.core.checks import required_middleware_installed


def test_the_inline_middleware_counts_as_django_s() -> None:
    assert required_middleware_installed(None) == []


@pytest.mark.parametrize(
    ("left_out", "check_id"),
    [
        ("SecurityMiddleware", "cryptotrack.security.W001"),
        ("XFrameOptionsMiddleware", "cryptotrack.security.W002"),
        ("CsrfViewMiddleware", "cryptotrack.security.W003"),
    ],
)
def test_a_missing_security_middleware_is_reported(
    settings: Any, left_out: str, check_id: str
) -> None:
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if not path.endswith(left_out)]

    assert [warning.id for warning in required_middleware_installed(None)] == [check_id]
