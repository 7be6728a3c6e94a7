"""CoinGecko simulator: ``/api/v3`` simple price, coin list, vs-currencies and ping.

In a test: ``with CoinGeckoSimulator() as sim: ... CoinGeckoClient(base_url=sim.url)``.
As a process: ``python -m cryptotrack.simulators.coingecko --port N``, scripted with
:class:`CoinGeckoControl` (the ``/_sim/`` API).
"""

from cryptotrack.simulators.coingecko.app import API_PREFIX, RATE_LIMIT_BODY, build_app, dumps
from cryptotrack.simulators.coingecko.simulator import CoinGeckoControl, CoinGeckoSimulator
from cryptotrack.simulators.coingecko.state import DEFAULT_COINS, CoinGeckoState, CoinInfo

__all__ = [
    "API_PREFIX",
    "DEFAULT_COINS",
    "RATE_LIMIT_BODY",
    "CoinGeckoControl",
    "CoinGeckoSimulator",
    "CoinGeckoState",
    "CoinInfo",
    "build_app",
    "dumps",
]
