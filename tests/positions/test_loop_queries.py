"""A queryset compiled once and run on an event loop (core/loop_queries.py) gives the
instances the ORM gives: the same rows, the same field values, the same related objects
already loaded — on the real PostgreSQL, through psycopg's async pool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from django.db import models

from cryptotrack.accounts import user_cache
from cryptotrack.core.loop_queries import LoopDatabase, LoopQuery
from cryptotrack.positions import selectors
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.support.tracking import poll, track

pytestmark = pytest.mark.django_db(transaction=True)  # the loop's connection reads commits

ANY = -991


def _fetched(query: LoopQuery[Any], **values: Any) -> list[Any]:
    async def fetch() -> list[Any]:
        pool = await LoopDatabase(size=1, timeout=10).pool()
        try:
            async with pool.connection() as connection:
                return await query.fetch(connection, **values)
        finally:
            await pool.close()

    return asyncio.run(fetch())


def _fields(instance: models.Model) -> dict[str, Any]:
    """The fields loaded, by name (and which were deferred: reading one would query)."""
    deferred = instance.get_deferred_fields()
    loaded = {
        f.attname: getattr(instance, f.attname)
        for f in type(instance)._meta.concrete_fields
        if f.attname not in deferred
    }
    return {"loaded": loaded, "deferred": sorted(deferred)}


def test_positions_with_their_account_and_tracking(
    make_trader: Callable[..., Any],
    kucoin_sim: KucoinSimulator,
    django_assert_num_queries: Any,
) -> None:
    trader, other = make_trader(), make_trader()
    kucoin_sim.open_position(trader.api_key, "XBTUSDTM", size=2)
    kucoin_sim.open_position(trader.api_key, "ETHUSDTM", side="short", size=5)
    kucoin_sim.open_position(other.api_key, "XBTUSDTM", size=9)
    poll(track(trader), track(other))
    query = LoopQuery(selectors.stored_positions(ANY), params={"user_id": ANY})

    got = _fetched(query, user_id=trader.user.pk)
    expected = list(selectors.stored_positions(trader.user.pk))

    assert len(got) == 2
    assert [_fields(p) for p in got] == [_fields(p) for p in expected]
    with django_assert_num_queries(0):  # select_related's objects came with the rows
        assert [(_fields(p.account), _fields(p.account.tracking)) for p in got] == [
            (_fields(p.account), _fields(p.account.tracking)) for p in expected
        ]


def test_a_user_and_no_user() -> None:
    from cryptotrack.accounts.models import User

    user = User.objects.create_user(username="loop", password="x" * 12, email="l@example.com")
    query = LoopQuery(user_cache.stored_user(ANY), params={"user_id": ANY})
    [got] = _fetched(query, user_id=user.pk)
    assert _fields(got) == _fields(User.objects.get(pk=user.pk))
    assert _fetched(query, user_id=user.pk + 1000) == []


def test_a_sentinel_that_is_not_a_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a parameter"):
        LoopQuery(selectors.stored_positions(ANY), params={"user_id": ANY + 1})
