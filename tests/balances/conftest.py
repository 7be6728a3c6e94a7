"""Balances reuse the position-tracking fixtures: a KuCoin simulator and traders on it."""

from tests.positions.conftest import kucoin_sim, make_trader

__all__ = ["kucoin_sim", "make_trader"]
