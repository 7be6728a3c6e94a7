"""Fixtures for position tracking: a KuCoin simulator and users holding keys on it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cryptotrack.accounts import services as accounts
from cryptotrack.exchanges.kucoin import KucoinCredentials
from cryptotrack.simulators.kucoin import KucoinSimulator

_numbers = itertools.count(1)


@dataclass
class Trader:
    user: Any
    credentials: KucoinCredentials

    @property
    def api_key(self) -> str:
        return self.credentials.api_key


@pytest.fixture
def kucoin_sim(settings: Any) -> Iterator[KucoinSimulator]:
    """A KuCoin simulator that this test's settings (and live_env) point at."""
    with KucoinSimulator() as sim:
        settings.KUCOIN_SPOT_URL = settings.KUCOIN_FUTURES_URL = sim.url
        settings.KUCOIN_TIMEOUT_SECONDS = 2.0
        yield sim


@pytest.fixture
def make_trader(
    make_user: Callable[..., Any], kucoin_sim: KucoinSimulator
) -> Callable[..., Trader]:
    """A user whose stored KuCoin key exists on the simulator (checked: ``valid``)."""

    def make(*, on_exchange: bool = True, **user_fields: Any) -> Trader:
        n = next(_numbers)
        credentials = KucoinCredentials(
            f"key-{n:05d}-abcdef", f"secret-{n:05d}-0123456789", f"pass-{n}"
        )
        if on_exchange:
            kucoin_sim.add_key(*_triple(credentials))
        user = make_user(**user_fields)
        account = accounts.exchange_account_store(user=user, credentials=credentials)
        accounts.exchange_account_check(account=account)
        return Trader(user=user, credentials=credentials)

    return make


def _triple(credentials: KucoinCredentials) -> tuple[str, str, str]:
    return credentials.api_key, credentials.api_secret, credentials.api_passphrase
