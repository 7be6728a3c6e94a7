"""Sign-in by email as well as by username: one lockout, one answer, one cost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from cryptotrack.accounts.models import User
from tests.conftest import STRONG_PASSWORD

TOKEN = "/api/v1/auth/token"
SIGNUP = "/api/v1/auth/signup"


class CountingArgon2Hasher(Argon2PasswordHasher):
    """Django's Argon2 hasher, counting the hashes it computes (verify or encode)."""

    computed: ClassVar[int] = 0

    def encode(self, password: str, salt: str) -> str:
        CountingArgon2Hasher.computed += 1
        return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        CountingArgon2Hasher.computed += 1
        return super().verify(password, encoded)


def _sign_in(client: APIClient, password: str = STRONG_PASSWORD, **who: str) -> Any:
    return client.post(TOKEN, {**who, "password": password}, format="json")


@pytest.fixture
def ada(make_user: Callable[..., Any]) -> User:
    user: User = make_user(username="ada", email="Ada.Lovelace@Example.com")
    return user


@pytest.mark.django_db
def test_sign_in_by_email_ignores_its_case(api_client: APIClient, ada: User) -> None:
    response = _sign_in(api_client, email="ada.lovelace@EXAMPLE.com")

    assert response.status_code == 200, response.content
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert api_client.get("/api/v1/me").json()["username"] == "ada"


@pytest.mark.django_db
def test_unknown_email_and_wrong_password_get_the_same_401(
    api_client: APIClient, ada: User
) -> None:
    answers = [
        _sign_in(api_client, "not-the-password-1", email=ada.email),
        _sign_in(api_client, "not-the-password-1", email="nobody@example.com"),
        _sign_in(api_client, "not-the-password-1", username="ada"),
        _sign_in(api_client, "not-the-password-1", username="nobody"),
    ]

    assert {answer.status_code for answer in answers} == {401}
    assert all(answer.json() == answers[0].json() for answer in answers)
    assert answers[0].json()["code"] == "bad_credentials"


@pytest.mark.django_db
def test_unknown_email_costs_one_password_hash_like_a_known_one(
    api_client: APIClient, ada: User, settings: Any
) -> None:
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingArgon2Hasher"]
    costs = {}
    for label, who in [
        ("known email", {"email": ada.email}),
        ("unknown email", {"email": "nobody@example.com"}),
        ("known username", {"username": "ada"}),
        ("unknown username", {"username": "nobody"}),
    ]:
        before = CountingArgon2Hasher.computed
        assert _sign_in(api_client, "not-the-password-1", **who).status_code == 401
        costs[label] = CountingArgon2Hasher.computed - before

    assert set(costs.values()) == {1}, costs


@pytest.mark.django_db
def test_lockout_counts_failures_of_both_forms_for_one_account(
    api_client: APIClient, ada: User
) -> None:
    for _ in range(3):
        assert _sign_in(api_client, "wrong-password-x", email=ada.email).status_code == 401
    for _ in range(2):
        assert _sign_in(api_client, "wrong-password-x", username="ADA").status_code == 401

    by_email = _sign_in(api_client, email=ada.email)
    by_username = _sign_in(api_client, username="ada")

    assert (by_email.status_code, by_username.status_code) == (429, 429)
    assert by_email.json()["code"] == by_username.json()["code"] == "login_locked"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"password": STRONG_PASSWORD},
        {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD},
    ],
)
def test_sign_in_needs_exactly_one_of_username_and_email(
    api_client: APIClient, payload: dict[str, str]
) -> None:
    response = api_client.post(TOKEN, payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "non_field_errors" in response.json()["errors"]


@pytest.mark.django_db
def test_signup_refuses_an_email_taken_in_another_case(api_client: APIClient, ada: User) -> None:
    payload = {
        "name": "Someone",
        "username": "someone",
        "password": STRONG_PASSWORD,
        "email": "ADA.lovelace@example.COM",
    }

    response = api_client.post(SIGNUP, payload, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"email": ["This email is taken."]}


@pytest.mark.django_db
def test_an_email_without_sign_in_signs_in_by_username_only(
    api_client: APIClient, ada: User
) -> None:
    User.objects.filter(pk=ada.pk).update(email_sign_in=False)

    assert _sign_in(api_client, email=ada.email).status_code == 401
    assert _sign_in(api_client, username="ada").status_code == 200


@pytest.fixture
def before_unique_emails(transactional_db: None) -> Iterator[Any]:
    """The accounts app migrated to just before unique emails; the latest again after."""
    executor = MigrationExecutor(connection)
    target = [("accounts", "0002_username_unique_ignoring_case")]
    executor.migrate(target)
    yield executor.loader.project_state(target).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_migration_keeps_earlier_duplicate_emails_out_of_email_sign_in(
    before_unique_emails: Any,
) -> None:
    old_user = before_unique_emails.get_model("accounts", "User")
    for username, email in [
        ("twin1", "Twin@example.com"),
        ("twin2", "twin@EXAMPLE.com"),
        ("solo", "solo@example.com"),
        ("none1", ""),
        ("none2", ""),
    ]:
        old_user.objects.create(username=username, email=email, name=username, password="!")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    allowed = dict(User.objects.values_list("username", "email_sign_in"))
    assert allowed == {"twin1": False, "twin2": False, "solo": True, "none1": True, "none2": True}
