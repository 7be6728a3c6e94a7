"""The Alpha Vantage simulator's aiohttp app: ``GET /query`` as the real service answers it.

Like the real service, every answer to ``/query`` is HTTP 200 — errors and rate limits
included — with a 4-space-indented JSON body; only injected faults answer otherwise.
Control endpoints live under ``/_sim/`` (see :func:`build_app`).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from cryptotrack.simulators.alphavantage.state import AlphaVantageState, Quote
from cryptotrack.simulators.control import CONTROL_PREFIX, json_handler
from cryptotrack.simulators.counting import RequestCounter
from cryptotrack.simulators.faults import FaultInjector, add_fault_routes

QUERY_PATH = "/query"
SUPPORTED_FUNCTION = "CURRENCY_EXCHANGE_RATE"

# Verbatim texts of the recorded samples (tests/fixtures/upstream/alphavantage_*.json).
INVALID_CALL = (
    "Invalid API call. Please retry or visit the documentation "
    "(https://www.alphavantage.co/documentation/) for {function}."
)
INVALID_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
DAILY_LIMIT = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API requests "
    "more sparingly. You may subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to lift the free key rate limit "
    "({per_day} requests per day) and instantly unlock all premium endpoints"
)
# The legacy per-minute text (key "Note" until 2023); the simulator's "Information" variant
# keeps the words a client can tell a per-minute limit by.
LEGACY_MINUTE_NOTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is {per_minute} calls "
    "per minute and {per_day} calls per day. Please visit https://www.alphavantage.co/premium/ "
    "if you would like to target a higher API call frequency."
)
MINUTE_LIMIT = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is {per_minute} "
    "requests per minute. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to lift the free key rate limit."
)
MALFORMED_BODY = '{\n    "Realtime Currency Exchange Rate": {\n        "1. From_Currency Code": "BT'

STATE_KEY: web.AppKey[AlphaVantageState] = web.AppKey("alphavantage_state", AlphaVantageState)
COUNTER_KEY: web.AppKey[RequestCounter] = web.AppKey("alphavantage_counter", RequestCounter)
OPTIONS_KEY: web.AppKey[dict[str, Any]] = web.AppKey("alphavantage_options", dict)


def exchange_rate_body(quote: Quote, *, include_bid_ask: bool = True) -> dict[str, Any]:
    """The ``Realtime Currency Exchange Rate`` object exactly as Alpha Vantage shapes it."""
    fields = {
        "1. From_Currency Code": quote.from_code,
        "2. From_Currency Name": quote.from_name,
        "3. To_Currency Code": quote.to_code,
        "4. To_Currency Name": quote.to_name,
        "5. Exchange Rate": f"{quote.rate:.8f}",
        "6. Last Refreshed": quote.refreshed_at.strftime("%Y-%m-%d %H:%M:%S"),
        "7. Time Zone": "UTC",
    }
    if include_bid_ask:
        fields["8. Bid Price"] = f"{quote.bid:.8f}"
        fields["9. Ask Price"] = f"{quote.ask:.8f}"
    return {"Realtime Currency Exchange Rate": fields}


def _answer(payload: dict[str, Any]) -> web.Response:
    return web.Response(
        text=json.dumps(payload, indent=4), content_type="application/json", status=200
    )


async def query(request: web.Request) -> web.Response:
    """``GET /query``: keys first, then the function and its parameters, then the quotas."""
    state = request.app[STATE_KEY]
    options = request.app[OPTIONS_KEY]
    params = request.query
    function = params.get("function", "")
    key = params.get("apikey", "")
    if not state.key_is_valid(key):
        return _answer({"Error Message": INVALID_KEY})
    if function != SUPPORTED_FUNCTION:
        return _answer({"Error Message": INVALID_CALL.format(function=function)})
    from_code = params.get("from_currency", "").strip().upper()
    to_code = params.get("to_currency", "").strip().upper()
    if not (from_code and to_code and state.knows(from_code) and state.knows(to_code)):
        return _answer({"Error Message": INVALID_CALL.format(function=function)})
    refusal = state.consume(key)
    if refusal == "day":
        return _answer({"Information": DAILY_LIMIT.format(per_day=state.per_day)})
    if refusal == "minute":
        if options["minute_limit_style"] == "note":
            per_day = state.per_day if state.per_day is not None else 500  # the legacy default
            text = LEGACY_MINUTE_NOTE.format(per_minute=state.per_minute, per_day=per_day)
            return _answer({"Note": text})
        return _answer({"Information": MINUTE_LIMIT.format(per_minute=state.per_minute)})
    quote = state.quote(from_code, to_code)
    return _answer(exchange_rate_body(quote, include_bid_ask=options["include_bid_ask"]))


def build_app(
    state: AlphaVantageState,
    *,
    injector: FaultInjector | None = None,
    counter: RequestCounter | None = None,
    include_bid_ask: bool = True,
    minute_limit_style: str = "information",
) -> web.Application:
    """The simulator's app: ``GET /query`` plus the ``/_sim/`` control API.

    Control API (JSON): ``GET /_sim/stats``, ``DELETE /_sim/stats`` (zero the counters),
    ``GET|POST|DELETE /_sim/rates`` (list, pin ``{from_currency, to_currency, rate, bid?,
    ask?}``, unpin all or ``?from_currency=&to_currency=``), ``POST /_sim/keys``
    (``{"api_keys": [...] | null}``), ``POST /_sim/quota`` (``{"per_minute", "per_day"}``),
    ``DELETE /_sim/quota`` (zero usage), ``POST /_sim/options`` (``{"include_bid_ask",
    "minute_limit_style": "information" | "note"}``), ``POST /_sim/reset`` (pins, usage,
    counters, faults and options back to the start; keys and quota sizes stay), and the fault
    routes of :func:`~cryptotrack.simulators.faults.add_fault_routes`.
    """
    injector = injector or FaultInjector(malformed_body=MALFORMED_BODY)
    counter = counter or RequestCounter()
    if minute_limit_style not in ("information", "note"):
        raise ValueError("minute_limit_style is 'information' or 'note'")
    # Counting sits outside the faults: a call that hits a fault still reached "upstream".
    app = web.Application(
        middlewares=[
            counter.middleware(scope_of=_key_of),
            injector.middleware(scope_of=_key_of),
        ]
    )
    app[STATE_KEY] = state
    app[COUNTER_KEY] = counter
    app[OPTIONS_KEY] = {
        "include_bid_ask": include_bid_ask,
        "minute_limit_style": minute_limit_style,
    }
    app.router.add_get(QUERY_PATH, query)
    _add_control_routes(app, state, counter, injector)
    add_fault_routes(app, injector)
    return app


def _key_of(request: web.Request) -> str | None:
    return request.query.get("apikey")


def stats(state: AlphaVantageState, counter: RequestCounter) -> dict[str, Any]:
    """Request counts (``requests`` to ``/query``, and per key) and the quota's state."""
    by_key: dict[str, int] = {}
    for row in counter.snapshot():
        if row["path"] == QUERY_PATH:
            name = row["scope"] if row["scope"] is not None else ""
            by_key[name] = by_key.get(name, 0) + row["count"]
    return {
        "requests": counter.count(path=QUERY_PATH),
        "requests_by_key": by_key,
        "quota": state.quota_snapshot(),
        "pinned": state.pinned(),
    }


def _add_control_routes(
    app: web.Application,
    state: AlphaVantageState,
    counter: RequestCounter,
    injector: FaultInjector,
) -> None:
    options = app[OPTIONS_KEY]
    initial_options = dict(options)
    prefix = CONTROL_PREFIX

    def get_stats(body: dict[str, Any], request: web.Request) -> Any:
        return stats(state, counter)

    def reset_stats(body: dict[str, Any], request: web.Request) -> Any:
        counter.reset()

    def list_rates(body: dict[str, Any], request: web.Request) -> Any:
        return state.pinned()

    def pin_rate(body: dict[str, Any], request: web.Request) -> Any:
        state.set_rate(
            str(body["from_currency"]),
            str(body["to_currency"]),
            _decimal(body["rate"]),
            _decimal(body["bid"]) if body.get("bid") is not None else None,
            _decimal(body["ask"]) if body.get("ask") is not None else None,
        )
        return state.pinned()

    def unpin_rates(body: dict[str, Any], request: web.Request) -> Any:
        return {"removed": state.unpin(body.get("from_currency"), body.get("to_currency"))}

    def set_keys(body: dict[str, Any], request: web.Request) -> Any:
        keys = body.get("api_keys")
        if keys is not None and not (
            isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        ):
            raise ValueError("api_keys must be a list of strings or null")
        state.set_api_keys(keys)
        return {"api_keys": None if keys is None else sorted(keys)}

    def set_quota(body: dict[str, Any], request: web.Request) -> Any:
        state.set_quota(
            per_minute=_optional_int(body.get("per_minute", state.per_minute)),
            per_day=_optional_int(body.get("per_day", state.per_day)),
        )
        return state.quota_snapshot()

    def reset_quota(body: dict[str, Any], request: web.Request) -> Any:
        state.reset_quota()

    def set_options(body: dict[str, Any], request: web.Request) -> Any:
        if "include_bid_ask" in body:
            options["include_bid_ask"] = bool(body["include_bid_ask"])
        if "minute_limit_style" in body:
            if body["minute_limit_style"] not in ("information", "note"):
                raise ValueError("minute_limit_style is 'information' or 'note'")
            options["minute_limit_style"] = body["minute_limit_style"]
        return dict(options)

    def reset_all(body: dict[str, Any], request: web.Request) -> Any:
        state.reset()
        counter.reset()
        injector.clear()
        options.update(initial_options)

    router = app.router
    router.add_get(f"{prefix}/stats", json_handler(get_stats))
    router.add_delete(f"{prefix}/stats", json_handler(reset_stats))
    router.add_get(f"{prefix}/rates", json_handler(list_rates))
    router.add_post(f"{prefix}/rates", json_handler(pin_rate))
    router.add_delete(f"{prefix}/rates", json_handler(unpin_rates))
    router.add_post(f"{prefix}/keys", json_handler(set_keys))
    router.add_post(f"{prefix}/quota", json_handler(set_quota))
    router.add_delete(f"{prefix}/quota", json_handler(reset_quota))
    router.add_post(f"{prefix}/options", json_handler(set_options))
    router.add_post(f"{prefix}/reset", json_handler(reset_all))


def _decimal(raw: object) -> Decimal:
    try:
        return Decimal(str(raw))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {raw!r}") from exc


def _optional_int(raw: object) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"not an integer: {raw!r}")
    return int(raw)
