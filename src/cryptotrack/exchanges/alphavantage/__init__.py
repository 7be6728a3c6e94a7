"""Alpha Vantage realtime exchange rates (``CURRENCY_EXCHANGE_RATE``): async client and parser."""

from cryptotrack.exchanges.alphavantage.client import DEFAULT_URL, AlphaVantageClient
from cryptotrack.exchanges.alphavantage.parsing import (
    ExchangeRate,
    decode_body,
    mask_secret,
    parse_exchange_rate,
    raise_for_refusal,
)

__all__ = [
    "DEFAULT_URL",
    "AlphaVantageClient",
    "ExchangeRate",
    "decode_body",
    "mask_secret",
    "parse_exchange_rate",
    "raise_for_refusal",
]
