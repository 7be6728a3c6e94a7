"""CoinGecko prices and reference lists: async client with batched ``/simple/price``."""

from cryptotrack.exchanges.coingecko.client import (
    DEFAULT_BASE_URL,
    DEMO_KEY_HEADER,
    PRO_KEY_HEADER,
    Coin,
    CoinGeckoClient,
    PriceTable,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEMO_KEY_HEADER",
    "PRO_KEY_HEADER",
    "Coin",
    "CoinGeckoClient",
    "PriceTable",
]
