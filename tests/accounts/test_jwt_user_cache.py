"""A JWT request's user comes from the cache, and every change to the user is seen at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from cryptotrack.accounts.user_cache import TOMBSTONE, cache_key, user_by_id
from cryptotrack.positions import cache as positions_cache
from cryptotrack.positions.storage import account_entry

pytestmark = pytest.mark.django_db

POSITIONS = "/api/v1/positions"


def _cache_positions(user: Any) -> None:
    positions_cache.write({user.pk: {1: account_entry([], as_of=datetime.now(UTC))}})


def test_cached_positions_with_a_cached_user_cost_no_query(
    user: Any, user_client: APIClient, django_assert_num_queries: Any
) -> None:
    _cache_positions(user)
    caches["live"].delete(cache_key(user.pk))  # the sign-in's last_login save left a tombstone
    assert user_client.get(POSITIONS).status_code == 200  # fills the user cache

    with django_assert_num_queries(0):
        response = user_client.get(POSITIONS)

    assert response.status_code == 200
    assert response.json()["source"] == "cache"


def test_deactivated_user_is_refused_at_once(user: Any, user_client: APIClient) -> None:
    _cache_positions(user)
    assert user_client.get(POSITIONS).status_code == 200  # user now cached

    user.is_active = False
    user.save()

    assert user_client.get(POSITIONS).status_code == 401


def test_deleted_user_is_refused_at_once(user: Any, user_client: APIClient) -> None:
    _cache_positions(user)
    assert user_client.get(POSITIONS).status_code == 200

    user.delete()

    assert user_client.get(POSITIONS).status_code == 401


def test_password_change_replaces_the_cached_user(user: Any, user_client: APIClient) -> None:
    assert user_client.get("/api/v1/me").status_code == 200
    cached_hash = user_by_id(user.pk).password  # type: ignore[union-attr]

    user.set_password("another-horse-battery-77")
    user.save()

    assert caches["live"].get(cache_key(user.pk)) == TOMBSTONE
    assert user_by_id(user.pk).password != cached_hash  # type: ignore[union-attr]


def test_a_read_from_before_an_invalidation_is_not_written_back(user: Any) -> None:
    stale = user_by_id(user.pk)  # a request read the row (and cached it) ...
    user.is_active = False
    user.save()  # ... then the deactivation committed

    # That request now tries to fill the cache with what it read: the tombstone wins.
    caches["live"].add(cache_key(user.pk), stale, timeout=60)

    fresh = user_by_id(user.pk)
    assert fresh is not None
    assert fresh.is_active is False
