"""Alpha Vantage simulator: ``GET /query?function=CURRENCY_EXCHANGE_RATE`` with the real shapes.

In a test: ``with AlphaVantageSimulator() as sim: ... AlphaVantageClient(url=sim.url, ...)``.
As a process: ``python -m cryptotrack.simulators.alphavantage --port N``, scripted with
:class:`AlphaVantageControl` (the ``/_sim/`` API).
"""

from cryptotrack.simulators.alphavantage.app import QUERY_PATH, build_app, exchange_rate_body
from cryptotrack.simulators.alphavantage.simulator import (
    AlphaVantageControl,
    AlphaVantageSimulator,
)
from cryptotrack.simulators.alphavantage.state import CURRENCIES, AlphaVantageState, Quote

__all__ = [
    "CURRENCIES",
    "QUERY_PATH",
    "AlphaVantageControl",
    "AlphaVantageSimulator",
    "AlphaVantageState",
    "Quote",
    "build_app",
    "exchange_rate_body",
]
