"""Personal API keys: shown once at creation, stored as a SHA-256 hash, read-only use."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from cryptotrack.accounts.models import ApiKey, User
from cryptotrack.audit.services import Kind, Origin, record_audit_event
from cryptotrack.core.exceptions import NotFound

KEY_PREFIX = "ctk_"
# Recording every use would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    plaintext: str


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def api_key_create(*, user: User, name: str, origin: Origin | None = None) -> CreatedApiKey:
    """Make a key ``ctk_<prefix>_<secret>``; only its prefix and hash are stored (audited
    by name and prefix)."""
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(user=user, name=name, prefix=prefix, key_hash=_hash(plaintext))
    record_audit_event(
        user=user, kind=Kind.API_KEY_CREATED, origin=origin, **_audit_details(api_key)
    )
    return CreatedApiKey(api_key=api_key, plaintext=plaintext)


def _audit_details(api_key: ApiKey) -> dict[str, str]:
    return {"name": api_key.name, "prefix": api_key.prefix}


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    """The user's live keys, newest first."""
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


def api_key_revoke(*, user: User, key_id: int, origin: Origin | None = None) -> None:
    """Revoke one of the user's keys; another user's key is answered as not found."""
    live = ApiKey.objects.filter(user=user, pk=key_id, revoked_at__isnull=True)
    api_key = live.first()
    # Conditional: of two concurrent revokes, only the one that revoked it is audited.
    if api_key is None or not live.update(revoked_at=timezone.now()):
        raise NotFound("No such API key.")
    record_audit_event(
        user=user, kind=Kind.API_KEY_REVOKED, origin=origin, **_audit_details(api_key)
    )


def api_key_authenticate(plaintext: str) -> ApiKey | None:
    """The live key matching ``plaintext`` (with its user loaded), or None."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    prefix, _, _ = plaintext.removeprefix(KEY_PREFIX).partition("_")
    api_key = (
        ApiKey.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash(plaintext)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key
