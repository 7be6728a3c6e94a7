"""``field__any_of`` (core/lookups.py): what ``__in`` finds, as one array parameter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cryptotrack.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def users() -> list[User]:
    return [User.objects.create(username=f"any{n}", email=f"any{n}@example.com") for n in range(5)]


def test_it_finds_what_in_finds(users: list[User]) -> None:
    ids = [users[0].pk, users[3].pk, users[3].pk, None, 10**12]
    expected = set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))
    assert expected == {users[0].pk, users[3].pk}
    assert set(User.objects.filter(pk__any_of=ids).values_list("pk", flat=True)) == expected
    excluded = User.objects.filter(pk__in=[u.pk for u in users]).exclude(pk__any_of=ids)
    assert {u.pk for u in excluded} == {users[1].pk, users[2].pk, users[4].pk}


def test_nothing_matches_an_empty_list(users: list[User]) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert list(User.objects.filter(pk__any_of=[])) == []
        assert list(User.objects.filter(pk__any_of=[None])) == []
    assert len(queries) == 0  # as with __in: Django knows the answer without asking


def test_the_query_text_does_not_grow_with_the_list() -> None:
    def sql(lookup: str, ids: list[int]) -> str:
        query = User.objects.filter(**{f"pk__{lookup}": ids}).values_list("pk").query
        return query.get_compiler(using="default").as_sql()[0]

    assert sql("in", [1]) != sql("in", list(range(1, 2000)))  # a placeholder per value
    assert sql("any_of", [1]) == sql("any_of", list(range(1, 2000)))
    assert sql("any_of", [1]).endswith("= ANY(%s::bigint[])")
