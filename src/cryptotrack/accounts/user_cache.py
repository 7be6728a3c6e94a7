"""The signed-in user of a JWT request, from the cache: no database query per request.

One cache read (``caches["live"]``: Redis, no per-process fallback) answers who the
token's user is; a miss reads the database and fills the cache. Every save or delete of
a user (deactivation, password change, any edit) replaces the entry with a short-lived
tombstone at once and again when the transaction commits, so the next request reads the
database. (``QuerySet.update()`` sends no signal: change users through ``save()``.)

Why a tombstone and not a delete: a request that read the user just before a
deactivation committed could otherwise write the old row back after the invalidation.
Readers fill with ``add``, which never overwrites, so the tombstone blocks such a write
for ``TOMBSTONE_SECONDS`` — far longer than one request takes between its read and its
fill.

While Redis is down every request reads the database (as strict as without a cache). An
invalidation that could not reach Redis at all (Redis unreachable but keeping its data)
leaves the old entry until it expires: at most ``AUTH_USER_CACHE_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from cryptotrack.accounts.models import User

TOMBSTONE = "invalidated"
TOMBSTONE_SECONDS = 5


def cache_key(user_id: Any) -> str:
    return f"auth:user:v1:{user_id}"


def stored_user(user_id: Any) -> QuerySet[User]:
    """The user with this id in the database (``positions.fast_read`` runs it on its loop
    while Redis is down)."""
    return User.objects.filter(pk=user_id).order_by("pk")[:1]


def user_by_id(user_id: Any) -> User | None:
    """The user with this id (active or not), from the cache when it can answer."""
    cache = caches["live"]
    key = cache_key(user_id)
    cached = cache.get(key) if settings.AUTH_USER_CACHE_SECONDS > 0 else None
    if isinstance(cached, User):
        return cached
    user = next(iter(stored_user(user_id)), None)
    if user is not None and cached is None and settings.AUTH_USER_CACHE_SECONDS > 0:
        cache.add(key, user, timeout=settings.AUTH_USER_CACHE_SECONDS)
    return user


def invalidate_user(user_id: Any) -> None:
    """Make the next request of this user read the database (see the module docstring)."""
    key = cache_key(user_id)

    def tombstone() -> None:
        caches["live"].set(key, TOMBSTONE, timeout=TOMBSTONE_SECONDS)

    tombstone()
    transaction.on_commit(tombstone, robust=True)


@receiver(post_save, sender=User, dispatch_uid="accounts.user_cache.saved")
def _user_saved(sender: type[User], instance: User, **kwargs: Any) -> None:
    invalidate_user(instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="accounts.user_cache.deleted")
def _user_deleted(sender: type[User], instance: User, **kwargs: Any) -> None:
    invalidate_user(instance.pk)
