"""Deploy checks for the middleware Django's own checks cannot see.

Django's ``security.W001``/``W002``/``W003`` look for SecurityMiddleware,
XFrameOptionsMiddleware and CsrfViewMiddleware by their dotted names in ``MIDDLEWARE``.
Ours are subclasses of those classes that run in the event loop
(``core/inline_middleware.py``), so settings silence Django's three checks and this one
asks the same question by class: is a subclass of each installed?
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string

REQUIRED = {
    "security.W001": SecurityMiddleware,
    "security.W002": XFrameOptionsMiddleware,
    "security.W003": CsrfViewMiddleware,
}


@register(Tags.security, deploy=True)
def required_middleware_installed(app_configs: Any, **kwargs: Any) -> list[Warning]:
    installed = [import_string(path) for path in settings.MIDDLEWARE]
    return [
        Warning(
            f"No subclass of {required.__module__}.{required.__name__} in MIDDLEWARE.",
            id=f"cryptotrack.{check_id}",
        )
        for check_id, required in REQUIRED.items()
        if not any(isinstance(cls, type) and issubclass(cls, required) for cls in installed)
    ]
