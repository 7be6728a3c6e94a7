"""Operators can see every account's balances and refresh state in the admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from cryptotrack.balances.refresh import claim_due_balances
from cryptotrack.balances.storage import record_balances
from tests.balances.test_balances_queries import _account, _outcome

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["balancerefresh", "spotbalance", "futuresoverview"])
def test_the_admin_lists_balances(
    make_user: Callable[..., Any], client: Client, model: str
) -> None:
    account = _account(make_user(username="trader"))
    now = datetime(2026, 12, 3, tzinfo=UTC)
    claim_due_balances([account.pk], now=now)
    record_balances([_outcome(account, 5)], now=now)
    operator = make_user(username="operator")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    client.force_login(operator)

    response = client.get(f"/admin/balances/{model}/")

    assert response.status_code == 200
    assert "…abcd".encode() in response.content  # the account, by its key hint
