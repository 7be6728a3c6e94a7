"""A password change, whichever path made it: our API, the admin, ``changepassword``.

``AbstractBaseUser.set_password`` keeps the new raw password in ``_password`` until the
save that stores its hash; a save of an existing user with it set is a password change
(Django clears it itself first when it only re-hashes on sign-in). The request, where
there is one, is bound by ``services.request_origin``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save

from cryptotrack.audit.services import Kind, current_origin, record_audit_event


def record_password_change(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created or getattr(instance, "_password", None) is None:
        return
    origin, via = current_origin()
    record_audit_event(user=instance, kind=Kind.PASSWORD_CHANGED, origin=origin, via=via)


post_save.connect(
    record_password_change, sender=get_user_model(), dispatch_uid="audit-password-changed"
)
