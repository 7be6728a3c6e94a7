"""Changing one's own password (``POST /api/v1/me/password``)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from cryptotrack.accounts.models import User


@transaction.atomic
def password_change(*, user: User, current_password: str, new_password: str) -> int:
    """Set a new password after checking the current one; return refresh tokens revoked.

    The new password passes Django's validators (``AUTH_PASSWORD_VALIDATORS``). Every
    refresh token the user still holds is blacklisted, so other sessions cannot get new
    access tokens; access tokens already issued live out their short lifetime
    (``JWT_ACCESS_SECONDS``). The audit log notices the change by the save
    (``audit.receivers``).
    """
    # The request's user may come from the auth cache: check against the stored hash.
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.check_password(current_password):
        raise ValidationError({"current_password": ["This is not your current password."]})
    try:
        validate_password(new_password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": list(exc.messages)}) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])
    return revoke_refresh_tokens(user=user)


def revoke_refresh_tokens(*, user: User) -> int:
    """Blacklist every unexpired refresh token issued to ``user``; return how many."""
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(revoked)
