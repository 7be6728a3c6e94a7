"""KuCoin spot and futures REST client (pure I/O, no Django).

Public API::

    from cryptotrack.exchanges.kucoin import KucoinClient, KucoinCredentials

    async with KucoinClient(spot_url=..., futures_url=..., timeout=10) as client:
        creds = KucoinCredentials(api_key, api_secret, api_passphrase)
        positions = await client.futures_positions(creds)
"""

from cryptotrack.exchanges.kucoin.client import (
    DEFAULT_FUTURES_URL,
    DEFAULT_SPOT_URL,
    KucoinClient,
)
from cryptotrack.exchanges.kucoin.errors import KucoinTimestampError
from cryptotrack.exchanges.kucoin.market import KucoinUnknownSymbol, SpotTicker, parse_level1_ticker
from cryptotrack.exchanges.kucoin.models import (
    REQUIRED_PERMISSIONS,
    ApiKeyInfo,
    FuturesPosition,
    KeyAssessment,
    MarginMode,
    PositionSide,
    SpotAccount,
    assess_api_key,
    parse_api_key_info,
    parse_position,
    parse_positions,
    parse_server_time_ms,
    parse_spot_accounts,
)
from cryptotrack.exchanges.kucoin.signing import KucoinCredentials, sign, signed_headers
from cryptotrack.exchanges.kucoin.wallets import (
    FuturesAccountOverview,
    parse_futures_account_overview,
)

__all__ = [
    "DEFAULT_FUTURES_URL",
    "DEFAULT_SPOT_URL",
    "REQUIRED_PERMISSIONS",
    "ApiKeyInfo",
    "FuturesAccountOverview",
    "FuturesPosition",
    "KeyAssessment",
    "KucoinClient",
    "KucoinCredentials",
    "KucoinTimestampError",
    "KucoinUnknownSymbol",
    "MarginMode",
    "PositionSide",
    "SpotAccount",
    "SpotTicker",
    "assess_api_key",
    "parse_api_key_info",
    "parse_futures_account_overview",
    "parse_level1_ticker",
    "parse_position",
    "parse_positions",
    "parse_server_time_ms",
    "parse_spot_accounts",
    "sign",
    "signed_headers",
]
