"""A KuCoin spot + futures simulator: a real HTTP server that follows KuCoin's contract.

Same paths, envelopes and field names as KuCoin (one port serves both the spot and the
futures base URL), KuCoin's signature/passphrase/timestamp/IP/permission checks with its
exact error codes, per-key rate limits with ``gw-ratelimit-*`` headers, scriptable keys,
positions, balances and prices, and faults on demand.

Endpoints served: ``GET /api/v1/positions``, ``GET /api/v1/position?symbol=``,
``GET /api/v1/accounts``, ``GET /api/v1/account-overview?currency=`` (futures wallet,
derived from the balance and open positions: see :mod:`.wallets`),
``GET /api/v1/user/api-key`` (private) and
``GET /api/v1/timestamp`` and ``GET /api/v1/market/orderbook/level1?symbol=`` (public;
the ticker lives in :mod:`.market`).

In a test::

    with KucoinSimulator() as sim:
        sim.add_key("key", "secret", "pass")
        sim.open_position("key", "XBTUSDTM", side="long", size=2, entry_price=60000)
        client = KucoinClient(spot_url=sim.url, futures_url=sim.url)

As a process: ``python -m cryptotrack.simulators.kucoin --port 9100 --key key:secret:pass``
(prints ``kucoin-simulator listening on http://127.0.0.1:9100``), scripted over HTTP with
the ``/_sim/`` control API (JSON)::

    GET    /_sim/health | /_sim/state | /_sim/config
    POST   /_sim/config                    {rate_limit, rate_limit_window, clock_offset_ms,
                                            timestamp_tolerance_ms, drift, drift_interval}
    POST   /_sim/reset
    POST   /_sim/keys                      {api_key, api_secret, api_passphrase,
                                            permissions?, ip_whitelist?, key_version?, demo?,
                                            uid? (an existing user's), sub_name?}
    DELETE /_sim/keys/{key}
    GET    /_sim/keys/{key}/positions
    POST   /_sim/keys/{key}/positions      {symbol, side?, size?, entry_price?, mark_price?,
                                            leverage?, margin_mode?}
    POST   /_sim/keys/{key}/positions/{symbol}/resize   {size, price?}
    DELETE /_sim/keys/{key}/positions/{symbol}          {price?} -> {realised_pnl}
    PUT    /_sim/keys/{key}/balances       {currency, balance, type?, holds?}
    GET|PUT /_sim/keys/{key}/futures-balance  {balance, currency?, order_margin?,
                                            frozen_funds?} -> the account overview
    POST   /_sim/mark-prices               {symbol, price} or {prices: {symbol: price}}
    GET|POST /_sim/tickers                 {symbol, price, best_bid?, best_ask?} or
                                           {tickers: {symbol: price}} (spot level-1)
    DELETE /_sim/tickers/{symbol}          delist: the ticker answers 400100
    GET    /_sim/requests?api_key=&path=   -> {total, by_key_path}; DELETE resets
    GET|POST|DELETE /_sim/faults, DELETE /_sim/faults/{id}   (scope = the KC-API-KEY)
    GET|POST|DELETE /_sim/scenarios, GET|DELETE /_sim/scenarios/{id}
                                           {name: walk_to_liquidation|partial_close|flip,
                                            api_key, symbol, steps?, step_seconds?, ...}:
                                            scripted stories of a position (:mod:`.scenarios`)
"""

from cryptotrack.simulators.kucoin.app import ENDPOINTS, KucoinSimApp
from cryptotrack.simulators.kucoin.contracts import CONTRACTS
from cryptotrack.simulators.kucoin.keys import SimKey
from cryptotrack.simulators.kucoin.simulator import KucoinSimulator
from cryptotrack.simulators.kucoin.state import SimulatorState

__all__ = ["CONTRACTS", "ENDPOINTS", "KucoinSimApp", "KucoinSimulator", "SimKey", "SimulatorState"]
