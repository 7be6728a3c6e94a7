"""/api/v1/exchange-accounts: create (checked with KuCoin first), read, rename, re-key,
delete; labels; another user's accounts; personal API keys read-only."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches

from cryptotrack.accounts import user_cache
from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.positions.conftest import kucoin_sim, make_trader  # noqa: F401 - fixtures
from tests.support.postgres import race_behind_lock

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/exchange-accounts"
_numbers = itertools.count(1)


@pytest.fixture
def sim_key(kucoin_sim: KucoinSimulator) -> Callable[..., dict[str, str]]:  # noqa: F811
    """A fresh key triple that the simulator knows (``known=False``: one it rejects)."""

    def make(*, known: bool = True, **kwargs: Any) -> dict[str, str]:
        n = next(_numbers)
        triple = {
            "api_key": f"acct-{n:05d}-key",
            "api_secret": f"acct-{n:05d}-secret-xyz",
            "api_passphrase": f"pass-{n}",
        }
        if known:
            kucoin_sim.add_key(*triple.values(), **kwargs)
        return triple

    return make


def _secrets_of(triple: dict[str, str]) -> list[str]:
    return [triple["api_key"], triple["api_secret"], triple["api_passphrase"]]


def test_create_then_list_and_read_never_show_a_secret(
    user_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    triple = sim_key()

    created = user_client.post(ACCOUNTS, {"label": "Main", **triple}, format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["label"] == "Main"
    assert body["exchange"] == "kucoin"
    assert body["status"] == "valid"
    assert body["api_key_hint"] == f"…{triple['api_key'][-4:]}"
    assert body["permissions"] == ["General", "Futures"]
    assert any("Futures" in warning for warning in body["warnings"])
    listed = user_client.get(ACCOUNTS)
    detail = user_client.get(f"{ACCOUNTS}/{body['id']}")
    assert listed.json()["count"] == 1
    assert listed.json()["results"] == [body]
    assert detail.json() == body
    for response in (created, listed, detail):
        assert not any(secret in response.content.decode() for secret in _secrets_of(triple))


def test_a_key_kucoin_rejects_is_400_with_the_reason_and_not_stored(
    user_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    response = user_client.post(ACCOUNTS, {"label": "main", **sim_key(known=False)}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert "KuCoin" in response.json()["errors"]["api_key"][0]
    assert not ExchangeAccount.objects.exists()


def test_a_key_without_the_futures_permission_is_400(
    user_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    triple = sim_key(permissions=("General",))
    response = user_client.post(ACCOUNTS, {"label": "main", **triple}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "insufficient_permission"


@pytest.mark.parametrize(
    "label",
    ["", "   ", "x" * 65, "tab\there", "line\nbreak", "rtl\u202eoverride", "zero\u200bwidth", 7],
)
def test_bad_labels_are_400_on_label(
    user_client: Any, sim_key: Callable[..., dict[str, str]], label: Any
) -> None:
    response = user_client.post(ACCOUNTS, {"label": label, **sim_key()}, format="json")
    assert response.status_code == 400
    assert "label" in response.json()["errors"]


def test_a_lone_surrogate_label_is_400(
    user_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    body = json.dumps({**sim_key(), "label": "x"})[:-1] + ', "label": "bad\\ud800"}'
    response = user_client.post(ACCOUNTS, body, content_type="application/json")
    assert response.status_code == 400  # refused by the JSON parser, before the field
    assert not ExchangeAccount.objects.exists()


def test_labels_are_unique_per_user_ignoring_case(
    make_user: Callable[..., Any], client_for: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    alice, bob = client_for(make_user()), client_for(make_user())
    assert alice.post(ACCOUNTS, {"label": "Main", **sim_key()}, format="json").status_code == 201

    again = alice.post(ACCOUNTS, {"label": "mAIN", **sim_key()}, format="json")
    others = bob.post(ACCOUNTS, {"label": "main", **sim_key()}, format="json")

    assert again.status_code == 400
    assert "label" in again.json()["errors"]
    assert others.status_code == 201  # unique per user, not across users


@pytest.mark.django_db(transaction=True)
def test_two_creates_of_one_label_at_once_one_wins_the_other_is_400(
    make_user: Callable[..., Any],
    client_for: Any,
    sim_key: Callable[..., dict[str, str]],
    live_database_url: str,
) -> None:
    user = make_user()
    clients = [client_for(user) for _ in range(2)]
    triples = [sim_key(), sim_key()]
    # An uncommitted account with the label: both requests pass the friendly pre-check,
    # then wait on the unique index; the holder rolls back and the database decides.
    hold = (
        "INSERT INTO accounts_exchangeaccount (user_id, exchange, label, api_key_encrypted,"
        " api_secret_encrypted, api_passphrase_encrypted, api_key_hint, status,"
        " status_message, warnings, permissions, created_at, updated_at)"
        " VALUES (%s, 'kucoin', 'RACE', '', '', '', '', 'unverified', '', '[]', '[]',"
        " now(), now())"
    )

    answers = race_behind_lock(
        live_database_url,
        hold,
        (user.pk,),
        [
            lambda c=client, t=triple: c.post(ACCOUNTS, {"label": "race", **t}, format="json")
            for client, triple in zip(clients, triples, strict=True)
        ],
    )

    statuses = sorted(getattr(answer, "status_code", repr(answer)) for answer in answers)
    assert statuses == [201, 400], answers
    loser = next(a for a in answers if getattr(a, "status_code", None) == 400)
    assert "label" in loser.json()["errors"]  # type: ignore[union-attr]
    assert ExchangeAccount.objects.filter(user=user).count() == 1


def test_patch_renames_and_rekeys_with_the_same_checks(
    user_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    first, second, rejected = sim_key(), sim_key(), sim_key(known=False)
    account = user_client.post(ACCOUNTS, {"label": "main", **first}, format="json").json()
    url = f"{ACCOUNTS}/{account['id']}"

    renamed = user_client.patch(url, {"label": "Sub 2"}, format="json")
    rekeyed = user_client.patch(url, second, format="json")
    refused = user_client.patch(url, rejected, format="json")
    partial = user_client.patch(url, {"api_key": second["api_key"]}, format="json")
    empty = user_client.patch(url, {}, format="json")

    assert renamed.status_code == 200
    assert renamed.json()["label"] == "Sub 2"
    assert rekeyed.status_code == 200
    assert rekeyed.json()["api_key_hint"] == f"…{second['api_key'][-4:]}"
    assert rekeyed.json()["label"] == "Sub 2"
    assert refused.status_code == 400
    assert partial.status_code == 400
    assert set(partial.json()["errors"]) == {"api_secret", "api_passphrase"}
    assert empty.status_code == 400
    # The refused key replaced nothing.
    assert user_client.get(url).json()["api_key_hint"] == f"…{second['api_key'][-4:]}"


def test_renaming_to_a_taken_label_is_400(
    user_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    user_client.post(ACCOUNTS, {"label": "main", **sim_key()}, format="json")
    sub = user_client.post(ACCOUNTS, {"label": "sub", **sim_key()}, format="json").json()

    response = user_client.patch(f"{ACCOUNTS}/{sub['id']}", {"label": "MAIN"}, format="json")

    assert response.status_code == 400
    assert "label" in response.json()["errors"]
    # Its own label in another case is fine.
    again = user_client.patch(f"{ACCOUNTS}/{sub['id']}", {"label": "SUB"}, format="json")
    assert again.status_code == 200


def test_another_users_account_is_404_for_every_method(
    make_user: Callable[..., Any], client_for: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    owner, intruder = client_for(make_user()), client_for(make_user())
    account = owner.post(ACCOUNTS, {"label": "main", **sim_key()}, format="json").json()
    url = f"{ACCOUNTS}/{account['id']}"

    assert intruder.get(url).status_code == 404
    assert intruder.patch(url, {"label": "mine"}, format="json").status_code == 404
    assert intruder.delete(url).status_code == 404
    assert intruder.get(f"{url}/tracking").status_code == 404
    assert intruder.post(f"{url}/tracking", {}, format="json").status_code == 404
    assert intruder.delete(f"{url}/tracking").status_code == 404
    assert intruder.get(ACCOUNTS).json()["count"] == 0
    assert owner.get(url).json()["label"] == "main"


def test_a_personal_api_key_may_read_but_not_write(
    user_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    account = user_client.post(ACCOUNTS, {"label": "main", **sim_key()}, format="json").json()
    key = user_client.post("/api/v1/me/api-keys", {"name": "script"}, format="json").json()["key"]
    script = type(user_client)()
    script.credentials(HTTP_X_API_KEY=key)
    url = f"{ACCOUNTS}/{account['id']}"

    assert script.get(ACCOUNTS).status_code == 200
    assert script.get(url).status_code == 200
    assert script.get(f"{url}/tracking").status_code == 200
    for response in (
        script.post(ACCOUNTS, {"label": "other", **sim_key()}, format="json"),
        script.patch(url, {"label": "renamed"}, format="json"),
        script.delete(url),
        script.post(f"{url}/tracking", {}, format="json"),
        script.delete(f"{url}/tracking"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "api_key_read_only"
    assert user_client.get(url).json()["label"] == "main"


def test_put_me_kucoin_replaces_the_default_account_only(
    user_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    sub = user_client.post(ACCOUNTS, {"label": "sub", **sim_key()}, format="json").json()
    first, second = sim_key(), sim_key()

    created = user_client.put("/api/v1/me/kucoin", first, format="json")
    replaced = user_client.put("/api/v1/me/kucoin", second, format="json")
    me = user_client.get("/api/v1/me").json()

    assert created.status_code == replaced.status_code == 200
    assert replaced.json()["id"] == created.json()["id"]
    assert replaced.json()["label"] == "default"
    assert me["kucoin"]["id"] == created.json()["id"]
    assert sorted(a["label"] for a in me["exchange_accounts"]) == ["default", "sub"]
    assert user_client.get(f"{ACCOUNTS}/{sub['id']}").json()["label"] == "sub"


def test_signup_kucoin_object_is_the_default_account(
    api_client: Any, sim_key: Callable[..., dict[str, str]]
) -> None:
    response = api_client.post(
        "/api/v1/auth/signup",
        {
            "name": "Ada",
            "username": "ada-accounts",
            "password": "correct-horse-battery-42",
            "kucoin": sim_key(),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["kucoin"]["label"] == "default"
    assert [a["label"] for a in response.json()["exchange_accounts"]] == ["default"]


def test_account_list_costs_the_same_queries_for_many_accounts(
    user: Any,
    user_client: Any,
    sim_key: Callable[..., dict[str, str]],
    django_assert_num_queries: Any,
) -> None:
    for n in range(3):
        user_client.post(ACCOUNTS, {"label": f"acct {n}", **sim_key()}, format="json")
    caches["live"].delete(user_cache.cache_key(user.pk))  # the sign-in left a tombstone
    user_client.get(ACCOUNTS)  # the JWT's user is cached from here on

    with django_assert_num_queries(1):  # the page; not full, so its length is the count
        response = user_client.get(f"{ACCOUNTS}?per_page=100")
    with django_assert_num_queries(2):  # a full first page: the page, then the count
        first_two = user_client.get(f"{ACCOUNTS}?per_page=2")

    assert response.json()["count"] == 3
    assert [a["label"] for a in response.json()["results"]] == ["acct 2", "acct 1", "acct 0"]
    assert (first_two.json()["count"], first_two.json()["total_pages"]) == (3, 2)
    assert [a["label"] for a in first_two.json()["results"]] == ["acct 2", "acct 1"]
