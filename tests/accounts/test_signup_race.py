"""Usernames are unique whatever their case, also when two signups race (PostgreSQL)."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from cryptotrack.accounts.models import User
from tests.conftest import STRONG_PASSWORD
from tests.support.postgres import race_behind_lock

# A signup of "ADA" that has not committed yet: both racers' inserts wait behind it.
HOLD_ADA = (
    "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name,"
    " email, is_staff, is_active, date_joined, name, email_sign_in)"
    " VALUES ('!', false, 'ADA', '', '', '', false, true, now(), 'Holder', true)"
)


def test_concurrent_signups_differing_in_case_give_one_user_and_one_400(
    live_database_url: str,
) -> None:
    def sign_up(username: str) -> Any:
        payload = {"name": "Ada Lovelace", "username": username, "password": STRONG_PASSWORD}
        return APIClient().post("/api/v1/auth/signup", payload, format="json")

    answers = race_behind_lock(
        live_database_url, HOLD_ADA, (), [lambda: sign_up("Ada"), lambda: sign_up("ada")]
    )

    statuses = sorted(getattr(answer, "status_code", repr(answer)) for answer in answers)
    assert statuses == [201, 400], answers
    (refused,) = [answer for answer in answers if answer.status_code == 400]
    assert refused.json()["errors"] == {"username": ["This username is taken."]}
    assert User.objects.filter(username__iexact="ada").count() == 1
