"""The CoinGecko simulator's aiohttp app: the ``/api/v3`` paths as the real API answers them.

Prices are written as JSON numbers straight from their Decimal text (never through a
float), so what a script sets is exactly what a client reads. Control endpoints live
under ``/_sim/`` (see :func:`build_app`).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from cryptotrack.simulators.coingecko.state import CoinGeckoState
from cryptotrack.simulators.control import CONTROL_PREFIX, json_handler
from cryptotrack.simulators.counting import RequestCounter
from cryptotrack.simulators.faults import FaultInjector, add_fault_routes

API_PREFIX = "/api/v3"
SIMPLE_PRICE = f"{API_PREFIX}/simple/price"
COINS_LIST = f"{API_PREFIX}/coins/list"
SUPPORTED_VS = f"{API_PREFIX}/simple/supported_vs_currencies"
PING = f"{API_PREFIX}/ping"

DEMO_HEADER = "x-cg-demo-api-key"
PRO_HEADER = "x-cg-pro-api-key"
DEMO_PARAM = "x_cg_demo_api_key"
PRO_PARAM = "x_cg_pro_api_key"

# Verbatim body of tests/fixtures/upstream/coingecko_rate_limit_429.json.
RATE_LIMIT_BODY = {
    "status": {
        "error_code": 429,
        "error_message": (
            "You've exceeded the Rate Limit. Please visit "
            "https://www.coingecko.com/en/api/pricing to subscribe to our API plans for "
            "higher rate limits."
        ),
    }
}
KEY_MISSING_MESSAGE = (
    "API Key Missing. Please make sure you're using the right authentication method. "
    "For Pro API, please visit: https://docs.coingecko.com/reference/authentication. "
    "For Public/Demo API, please visit: https://docs.coingecko.com/v3.0.1/reference/authentication"
)
KEY_INVALID_MESSAGE = (
    "Incorrect API Key. Please check your keys in the developer dashboard and make sure "
    "your request is authorized."
)
MALFORMED_BODY = '{"bitcoin":{"usd":67187.33'

STATE_KEY: web.AppKey[CoinGeckoState] = web.AppKey("coingecko_state", CoinGeckoState)


def dumps(value: Any) -> str:
    """Compact JSON in which Decimals are written as exact number literals."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def _json(value: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=dumps(value), status=status, content_type="application/json", headers=headers
    )


def _api_key_of(request: web.Request) -> str | None:
    return (
        request.headers.get(DEMO_HEADER)
        or request.headers.get(PRO_HEADER)
        or request.query.get(DEMO_PARAM)
        or request.query.get(PRO_PARAM)
    )


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Keys first (401 + error code 10002), then the per-minute limit (429 + retry-after)."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    state = request.app[STATE_KEY]
    key = _api_key_of(request)
    if state.api_keys is not None:
        if not key:
            return _json(_error_status(10002, KEY_MISSING_MESSAGE), status=401)
        if key not in state.api_keys:
            return _json(_error_status(10002, KEY_INVALID_MESSAGE), status=401)
    retry_after = state.consume(key or "")
    if retry_after is not None:
        return _json(RATE_LIMIT_BODY, status=429, headers={"retry-after": str(retry_after)})
    return await handler(request)


def _error_status(code: int, message: str) -> dict[str, Any]:
    return {"status": {"error_code": code, "error_message": message}}


def _csv(raw: str | None) -> list[str]:
    return [part.strip().lower() for part in (raw or "").split(",") if part.strip()]


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").strip().lower() == "true"


async def simple_price(request: web.Request) -> web.Response:
    """``GET /api/v3/simple/price?ids=&vs_currencies=[&include_*=true][&precision=]``."""
    ids = _csv(request.query.get("ids"))
    vs_currencies = _csv(request.query.get("vs_currencies"))
    if not ids:
        return _json({"error": "Missing parameter ids"}, status=400)
    if not vs_currencies:
        return _json({"error": "Missing parameter vs_currencies"}, status=400)
    precision: int | None = None
    raw_precision = request.query.get("precision")
    if raw_precision not in (None, "", "full"):
        try:
            precision = int(raw_precision)
        except ValueError:
            precision = -1
        if not 0 <= precision <= 18:
            return _json({"error": "Invalid precision"}, status=400)
    answer = request.app[STATE_KEY].simple_price(
        ids,
        vs_currencies,
        market_cap=_flag(request, "include_market_cap"),
        volume=_flag(request, "include_24hr_vol"),
        change=_flag(request, "include_24hr_change"),
        last_updated=_flag(request, "include_last_updated_at"),
        precision=precision,
    )
    return _json(answer)


async def coins_list(request: web.Request) -> web.Response:
    """``GET /api/v3/coins/list``: ``[{"id", "symbol", "name"}, ...]``."""
    return _json(request.app[STATE_KEY].coin_list())


async def supported_vs_currencies(request: web.Request) -> web.Response:
    """``GET /api/v3/simple/supported_vs_currencies``: ``["btc", "eth", ..., "usd", ...]``."""
    return _json(request.app[STATE_KEY].supported())


async def ping(request: web.Request) -> web.Response:
    """``GET /api/v3/ping``."""
    return _json({"gecko_says": "(V3) To the Moon!"})


def build_app(
    state: CoinGeckoState,
    *,
    injector: FaultInjector | None = None,
    counter: RequestCounter | None = None,
) -> web.Application:
    """The simulator's app: the four ``/api/v3`` paths plus the ``/_sim/`` control API.

    Control API (JSON): ``GET /_sim/stats``, ``DELETE /_sim/stats`` (zero counters and the
    recorded ``/simple/price`` requests), ``GET /_sim/prices``, ``POST /_sim/prices``
    (``{"coin", "currency", "price"}`` or ``{"prices": {coin: {currency: price}}}``; prices
    as decimal strings, ``null`` removes), ``POST /_sim/coins`` (``{"id", "symbol",
    "name"}``), ``POST /_sim/keys`` (``{"api_keys": [...] | null}``), ``POST
    /_sim/rate-limit`` (``{"per_minute": n | null}``), ``DELETE /_sim/rate-limit`` (zero
    usage), ``POST /_sim/reset`` (default table, no usage, counters or faults; keys and the
    limit's size stay), and the fault routes of
    :func:`~cryptotrack.simulators.faults.add_fault_routes` (fault paths are full paths,
    e.g. ``/api/v3/simple/price``; a fault's ``scope`` is an api key).
    """
    injector = injector or FaultInjector(malformed_body=MALFORMED_BODY)
    counter = counter or RequestCounter()
    # Order: count everything that arrived, then faults, then keys and the rate limit.
    app = web.Application(
        middlewares=[
            counter.middleware(scope_of=_api_key_of),
            injector.middleware(scope_of=_api_key_of),
            guard,
        ]
    )
    app[STATE_KEY] = state
    app.router.add_get(SIMPLE_PRICE, simple_price)
    app.router.add_get(COINS_LIST, coins_list)
    app.router.add_get(SUPPORTED_VS, supported_vs_currencies)
    app.router.add_get(PING, ping)
    _add_control_routes(app, state, counter, injector)
    add_fault_routes(app, injector)
    return app


def stats(state: CoinGeckoState, counter: RequestCounter) -> dict[str, Any]:
    """Requests per path (full paths, e.g. ``/api/v3/simple/price``), the total, the rate
    limit's state and the last ``/simple/price`` requests' ids and currencies."""
    by_path: dict[str, int] = {}
    for row in counter.snapshot():
        by_path[row["path"]] = by_path.get(row["path"], 0) + row["count"]
    return {
        "requests": by_path,
        "total": counter.count(),
        "rate_limit": {
            "per_minute": state.per_minute,
            "used": state.usage(),
            "rate_limited": state.rate_limited,
        },
        "simple_price_requests": list(state.simple_price_requests),
    }


def _add_control_routes(
    app: web.Application,
    state: CoinGeckoState,
    counter: RequestCounter,
    injector: FaultInjector,
) -> None:
    prefix = CONTROL_PREFIX

    def get_stats(body: dict[str, Any], request: web.Request) -> Any:
        return stats(state, counter)

    def reset_stats(body: dict[str, Any], request: web.Request) -> Any:
        counter.reset()
        state.simple_price_requests.clear()

    def get_prices(body: dict[str, Any], request: web.Request) -> Any:
        return state.price_table()

    def set_prices(body: dict[str, Any], request: web.Request) -> Any:
        if "prices" in body:
            table = body["prices"]
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                raise ValueError("prices must be {coin: {currency: price}}")
            for coin, quotes in table.items():
                for currency, price in quotes.items():
                    state.set_price(coin, currency, _price(price))
        else:
            state.set_price(str(body["coin"]), str(body["currency"]), _price(body["price"]))
        return state.price_table()

    def add_coin(body: dict[str, Any], request: web.Request) -> Any:
        state.add_coin(str(body["id"]), str(body["symbol"]), str(body["name"]))
        return state.coin_list()

    def set_keys(body: dict[str, Any], request: web.Request) -> Any:
        keys = body.get("api_keys")
        if keys is not None and not (
            isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        ):
            raise ValueError("api_keys must be a list of strings or null")
        state.set_api_keys(keys)
        return {"api_keys": None if keys is None else sorted(keys)}

    def set_rate_limit(body: dict[str, Any], request: web.Request) -> Any:
        raw = body.get("per_minute")
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | str)):
            raise ValueError("per_minute must be an integer or null")
        state.set_rate_limit(None if raw is None else int(raw))
        return {"per_minute": state.per_minute}

    def reset_rate_limit(body: dict[str, Any], request: web.Request) -> Any:
        state.reset_rate_limit()

    def reset_all(body: dict[str, Any], request: web.Request) -> Any:
        state.reset()
        counter.reset()
        injector.clear()

    router = app.router
    router.add_get(f"{prefix}/stats", json_handler(get_stats))
    router.add_delete(f"{prefix}/stats", json_handler(reset_stats))
    router.add_get(f"{prefix}/prices", json_handler(get_prices))
    router.add_post(f"{prefix}/prices", json_handler(set_prices))
    router.add_post(f"{prefix}/coins", json_handler(add_coin))
    router.add_post(f"{prefix}/keys", json_handler(set_keys))
    router.add_post(f"{prefix}/rate-limit", json_handler(set_rate_limit))
    router.add_delete(f"{prefix}/rate-limit", json_handler(reset_rate_limit))
    router.add_post(f"{prefix}/reset", json_handler(reset_all))


def _price(raw: object) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError("a price is a number")
    try:
        return Decimal(str(raw))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {raw!r}") from exc
