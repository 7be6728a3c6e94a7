"""Migrations accounts.0005 + positions.0002/0003 on data from before exchange accounts
had labels: every row lands on the user's one account, labelled ``default``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from cryptotrack.accounts.models import ExchangeAccount
from cryptotrack.positions.models import Position, PositionSnapshot, TrackingSubscription

BEFORE = [("accounts", "0004_database_cache_table"), ("positions", "0001_initial")]


@pytest.fixture
def before_labels(transactional_db: None) -> Iterator[Any]:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_rows_move_onto_the_users_default_account(before_labels: Any) -> None:
    user_model = before_labels.get_model("accounts", "User")
    account_model = before_labels.get_model("accounts", "ExchangeAccount")
    subscription_model = before_labels.get_model("positions", "TrackingSubscription")
    position_model = before_labels.get_model("positions", "Position")
    snapshot_model = before_labels.get_model("positions", "PositionSnapshot")
    now = timezone.now()
    trader = user_model.objects.create(username="trader", name="T", password="!")
    keyless = user_model.objects.create(username="keyless", name="K", password="!")
    account = account_model.objects.create(
        user=trader,
        api_key_encrypted="x",
        api_secret_encrypted="x",
        api_passphrase_encrypted="x",
        api_key_hint="abcd",
    )
    for user in (trader, keyless):
        subscription_model.objects.create(user=user, next_poll_at=now)
        money = {"size": 1, "entry_price": 1, "mark_price": 1, "unrealised_pnl": 0}
        position_model.objects.create(
            user=user, symbol="XBTUSDTM", side="long", margin_mode="cross", realised_pnl=0,
            settle_currency="USDT", updated_at=now, seen_at=now, **money,
        )  # fmt: skip
        snapshot_model.objects.create(
            user=user, symbol="XBTUSDTM", side="long", realised_pnl=0,
            taken_at=now - timedelta(minutes=1), **money,
        )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert ExchangeAccount.objects.get(pk=account.pk).label == "default"
    assert TrackingSubscription.objects.get().account_id == account.pk
    assert Position.objects.get().account_id == account.pk  # the keyless user's went
    snapshots = {s.user_id: (s.account_id, s.account_label) for s in PositionSnapshot.objects.all()}
    assert snapshots == {trader.pk: (account.pk, "default"), keyless.pk: (None, "")}
