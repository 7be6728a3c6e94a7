"""Fixtures of the alert tests: the CoinGecko and KuCoin simulators, a real SMTP server,
alert makers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from cryptotrack.simulators.coingecko import CoinGeckoSimulator
from tests.alerts.smtp_server import SmtpServer
from tests.positions.conftest import kucoin_sim, make_trader

__all__ = ["kucoin_sim", "make_trader"]  # position alerts' tests trade on the simulator

FROM_EMAIL = "cryptotrack alerts <alerts@cryptotrack.test>"


@pytest.fixture
def coingecko(settings: Any) -> Iterator[CoinGeckoSimulator]:
    """The CoinGecko simulator over a real socket, and ``COINGECKO_URL`` pointing at it.

    Default prices: bitcoin/usd 67187.3358936566, ethereum/usd 3501.27436178, ...
    """
    with CoinGeckoSimulator() as simulator:
        settings.COINGECKO_URL = simulator.url
        yield simulator


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server, and Django's SMTP backend pointed at it."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_TIMEOUT = 2
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.DEFAULT_FROM_EMAIL = FROM_EMAIL
    yield server
    server.stop()


@pytest.fixture
def make_alert(make_user: Callable[..., Any]) -> Callable[..., Any]:
    """Create an alert straight in the database (no HTTP, no CoinGecko check)."""
    from cryptotrack.alerts.models import Alert

    def make(
        *,
        user: Any = None,
        coin: str = "bitcoin",
        currency: str = "usd",
        target: str = "70000",
        direction: str = "above",
        status: str = "active",
    ) -> Alert:
        return Alert.objects.create(
            user=user or make_user(),
            coin=coin,
            currency=currency,
            target_price=Decimal(target),
            direction=direction,
            status=status,
        )

    return make


@pytest.fixture
def make_position_alert() -> Callable[..., Any]:
    """Create a position alert through the service (as the API does), for ``user``."""
    from cryptotrack.alerts import services

    def make(user: Any, kind: str = "liquidation_distance", **fields: Any) -> Any:
        return services.position_alert_create(user=user, kind=kind, **fields)

    return make
