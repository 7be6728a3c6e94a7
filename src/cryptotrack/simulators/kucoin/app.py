"""The KuCoin simulator's HTTP side: KuCoin's paths (spot and futures on one port) and
the ``/_sim/`` control API.

Private requests are verified as KuCoin's gateway does, in this order, each failure with
KuCoin's exact status, code and message (tests/fixtures/upstream/kucoin_error_*.json):

====================================  ======  ======  =========================================
check                                 status  code    msg
====================================  ======  ======  =========================================
a KC-API-{KEY,SIGN,TIMESTAMP,         400     400001  Please check the header of your request
PASSPHRASE} header missing                            for KC-API-KEY, KC-API-SIGN, ...
timestamp not within 5 s of our clock 400     400002  Invalid KC-API-TIMESTAMP
unknown key                           401     400003  KC-API-KEY not exists
wrong passphrase                      401     400004  Invalid KC-API-PASSPHRASE
wrong signature                       401     400005  Invalid KC-API-SIGN
caller IP not in the key's whitelist  403     400006  Invalid request ip
key lacks the endpoint's permission   403     400007  Access denied, require more permission.
pool quota spent                      429     429000  Too Many Requests
====================================  ======  ======  =========================================
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import hmac
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from cryptotrack.simulators.control import CONTROL_PREFIX, json_handler, parse_decimal, require
from cryptotrack.simulators.counting import RequestCounter
from cryptotrack.simulators.faults import FaultInjector, add_fault_routes
from cryptotrack.simulators.kucoin.keys import SimKey, sign_b64
from cryptotrack.simulators.kucoin.keystore import KeyStore
from cryptotrack.simulators.kucoin.market import (
    LEVEL1_PATH,
    PAIR_NOT_PROVIDED_CODE,
    PAIR_NOT_PROVIDED_MSG,
    PairNotProvided,
    TickerBook,
    add_ticker_routes,
)
from cryptotrack.simulators.kucoin.ratelimit import RateLimiter
from cryptotrack.simulators.kucoin.scenarios import ScenarioBook, add_scenario_routes
from cryptotrack.simulators.kucoin.state import SimulatorState
from cryptotrack.simulators.kucoin.wallets import account_overview_payload, add_wallet_routes

MISSING_HEADERS_MSG = (
    "Please check the header of your request for KC-API-KEY, KC-API-SIGN, "
    "KC-API-TIMESTAMP, KC-API-PASSPHRASE"
)
AUTH_HEADERS = ("KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Rate-limit pool, weight and permission of one KuCoin endpoint (from KuCoin's spec)."""

    pool: str
    weight: int
    permission: str | None  # None: public, no authentication


ENDPOINTS: dict[str, Endpoint] = {
    "/api/v1/positions": Endpoint("futures", 2, "Futures"),
    "/api/v1/position": Endpoint("futures", 2, "Futures"),
    "/api/v1/accounts": Endpoint("management", 5, "General"),
    "/api/v1/account-overview": Endpoint("futures", 5, "Futures"),
    "/api/v1/user/api-key": Endpoint("management", 20, "General"),
    "/api/v1/timestamp": Endpoint("public", 3, None),
    LEVEL1_PATH: Endpoint("public", 2, None),
}


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def kucoin_error(
    status: int, code: str, msg: str, headers: dict[str, str] | None = None
) -> web.Response:
    """KuCoin's error envelope ``{"code": ..., "msg": ...}`` with its HTTP status."""
    return web.Response(
        status=status,
        text=_dumps({"code": code, "msg": msg}),
        content_type="application/json",
        headers=headers,
    )


def _error_body(status: int) -> tuple[str, str]:
    if status == 500:
        return _dumps({"code": "500000", "msg": "Internal Server Error"}), "application/json"
    # 502/503/504 come from the CDN in front of KuCoin, as HTML.
    return (
        f"<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>"
        "<hr><center>cloudflare</center></body></html>",
        "text/html",
    )


def _key_of(request: web.Request) -> str | None:
    return request.headers.get("KC-API-KEY")


class KucoinSimApp:
    """State, rate limiter, faults and counters of one simulator, plus its aiohttp app."""

    def __init__(
        self,
        *,
        rate_limit: int | dict[str, int] | None = None,
        rate_limit_window: float = 30.0,
        clock_offset_ms: int = 0,
        timestamp_tolerance_ms: int = 5000,
        drift: float = 0.0,
        drift_interval: float = 1.0,
        seed: int | None = None,
        key_store: KeyStore | None = None,
    ) -> None:
        self.state = SimulatorState(clock_offset_ms=clock_offset_ms)
        self.tickers = TickerBook(now_ms=self.state.now_ms)
        self.key_store = key_store
        self.limiter = RateLimiter(rate_limit, window_seconds=rate_limit_window)
        self.faults = FaultInjector(error_body=_error_body)
        self.requests = RequestCounter()
        self.timestamp_tolerance_ms = timestamp_tolerance_ms
        self.drift = drift
        self.drift_interval = drift_interval
        self._rng = random.Random(seed)  # price noise, not security
        self.scenarios = ScenarioBook(self.state)
        self._initial_config = self.config()

    # -- authentication ----------------------------------------------------------------

    def authenticate(
        self, request: web.Request, body: str, permission: str
    ) -> SimKey | web.Response:
        """The request's key if KuCoin would accept it for ``permission``, else the error."""
        headers = request.headers
        values = [headers.get(name) for name in AUTH_HEADERS]
        if not all(values):
            return kucoin_error(400, "400001", MISSING_HEADERS_MSG)
        api_key, signature, timestamp, passphrase = (v or "" for v in values)
        if (
            not timestamp.isdigit()
            or abs(int(timestamp) - self.state.now_ms()) > self.timestamp_tolerance_ms
        ):
            return kucoin_error(400, "400002", "Invalid KC-API-TIMESTAMP")
        key = self.state.keys.get(api_key)
        if key is None:
            return kucoin_error(401, "400003", "KC-API-KEY not exists")
        # Keys of version 2/3 must send HMAC(secret, passphrase), version 1 keys the plain
        # passphrase: the key's own version decides, whatever KC-API-KEY-VERSION claims.
        expected = key.passphrase if key.key_version == "1" else key.passphrase_signed
        if not _same(passphrase, expected):
            return kucoin_error(401, "400004", "Invalid KC-API-PASSPHRASE")
        prehash = f"{timestamp}{request.method}{unquote(request.raw_path)}{body}"
        if not _same(signature, sign_b64(key.secret_bytes, prehash)):
            return kucoin_error(401, "400005", "Invalid KC-API-SIGN")
        if key.ip_whitelist and not _ip_allowed(request.remote, key.ip_whitelist):
            return kucoin_error(403, "400006", "Invalid request ip")
        if permission not in key.permissions:
            return kucoin_error(403, "400007", "Access denied, require more permission.")
        return key

    # -- KuCoin endpoints --------------------------------------------------------------

    def _endpoint(
        self, path: str, produce: Callable[[web.Request, SimKey | None], Any]
    ) -> Callable[[web.Request], Any]:
        endpoint = ENDPOINTS[path]

        async def handler(request: web.Request) -> web.StreamResponse:
            key: SimKey | None = None
            if endpoint.permission is not None:
                body = await request.text() if request.body_exists else ""
                verdict = self.authenticate(request, body, endpoint.permission)
                if isinstance(verdict, web.Response):
                    return verdict
                key = verdict
                subject = key.api_key
            else:
                subject = f"ip:{request.remote}"
            decision = self.limiter.consume(subject, endpoint.pool, endpoint.weight)
            headers = decision.headers()
            if not decision.allowed:
                return kucoin_error(429, "429000", "Too Many Requests", headers)
            try:
                data = produce(request, key)
            except ValueError as exc:
                return kucoin_error(400, "400100", f"Parameter error: {exc}", headers)
            except PairNotProvided:  # KuCoin answers an unlisted pair with HTTP 200
                return kucoin_error(200, PAIR_NOT_PROVIDED_CODE, PAIR_NOT_PROVIDED_MSG, headers)
            return web.Response(
                text=_dumps({"code": "200000", "data": data}),
                content_type="application/json",
                headers=headers,
            )

        return handler

    def _positions(self, request: web.Request, key: SimKey | None) -> Any:
        assert key is not None  # noqa: S101 - private endpoint
        return self.state.positions_payload(key.api_key, currency=request.query.get("currency"))

    def _position(self, request: web.Request, key: SimKey | None) -> Any:
        assert key is not None  # noqa: S101 - private endpoint
        symbol = request.query.get("symbol")
        if not symbol:
            raise ValueError("symbol is required")
        with self.state.lock:
            return self.state.position_payload(key, symbol, single=True)

    def _accounts(self, request: web.Request, key: SimKey | None) -> Any:
        assert key is not None  # noqa: S101 - private endpoint
        return self.state.accounts_payload(
            key.api_key,
            currency=request.query.get("currency"),
            account_type=request.query.get("type"),
        )

    def _account_overview(self, request: web.Request, key: SimKey | None) -> Any:
        assert key is not None  # noqa: S101 - private endpoint
        return account_overview_payload(self.state, key, currency=request.query.get("currency"))

    def _api_key(self, request: web.Request, key: SimKey | None) -> Any:
        assert key is not None  # noqa: S101 - private endpoint
        return self.state.api_key_payload(key)

    def _timestamp(self, request: web.Request, key: SimKey | None) -> Any:
        return self.state.now_ms()

    def _level1(self, request: web.Request, key: SimKey | None) -> Any:
        symbol = request.query.get("symbol")
        if not symbol:
            raise ValueError("symbol is required")
        return self.tickers.level1(symbol)

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return kucoin_error(404, "404000", "interface not exists")

    # -- control API -------------------------------------------------------------------

    def reset(self) -> None:
        """Forget keys, prices, faults, counters and rate-limit windows, and restore the
        settings the simulator was created with."""
        self.scenarios.reset()
        with self.state.lock:
            self.state.keys.clear()
            self.state.mark_prices.clear()
        self.tickers.reset()
        self.faults.clear()
        self.requests.reset()
        self.configure(dict(self._initial_config))
        if self.key_store is not None:
            self.key_store.clear()

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply ``/_sim/config`` settings; unknown names are a ValueError."""
        known = {
            "rate_limit",
            "rate_limit_window",
            "clock_offset_ms",
            "timestamp_tolerance_ms",
            "drift",
            "drift_interval",
        }
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        if "rate_limit" in body or "rate_limit_window" in body:
            quota = body.get("rate_limit")
            self.limiter.configure(
                int(quota) if isinstance(quota, int | str) else quota,
                window_seconds=(
                    float(body["rate_limit_window"]) if "rate_limit_window" in body else None
                ),
            )
        if "clock_offset_ms" in body:
            self.state.clock_offset_ms = int(body["clock_offset_ms"])
        if "timestamp_tolerance_ms" in body:
            self.timestamp_tolerance_ms = int(body["timestamp_tolerance_ms"])
        if "drift" in body:
            self.drift = float(body["drift"])
        if "drift_interval" in body:
            self.drift_interval = max(float(body["drift_interval"]), 0.05)
        return self.config()

    def config(self) -> dict[str, Any]:
        return {
            "rate_limit": dict(self.limiter.quotas),
            "rate_limit_window": self.limiter.window_seconds,
            "clock_offset_ms": self.state.clock_offset_ms,
            "timestamp_tolerance_ms": self.timestamp_tolerance_ms,
            "drift": self.drift,
            "drift_interval": self.drift_interval,
        }

    def register_key(self, body: dict[str, Any]) -> SimKey:
        """A ``POST /_sim/keys`` body: create the key (with demo holdings when ``demo``),
        and remember it in the key store, if any."""
        key = self.state.add_key(
            str(require(body, "api_key")),
            str(require(body, "api_secret")),
            str(require(body, "api_passphrase")),
            permissions=body.get("permissions") or ("General", "Futures"),
            ip_whitelist=body.get("ip_whitelist"),
            key_version=str(body.get("key_version", "2")),
            remark=str(body.get("remark", "")),
            uid=int(body["uid"]) if body.get("uid") not in (None, "") else None,
            sub_name=str(body["sub_name"]) if body.get("sub_name") else None,
        )
        if body.get("demo"):
            self.state.add_demo_holdings(key.api_key)
        if self.key_store is not None:
            self.key_store.save(body)
        return key

    def _add_control_routes(self, app: web.Application) -> None:
        state = self.state
        p = CONTROL_PREFIX

        def health(body: dict[str, Any], request: web.Request) -> Any:
            return {"ok": True, "now_ms": state.now_ms()}

        def snapshot(body: dict[str, Any], request: web.Request) -> Any:
            return {**state.snapshot(), "config": self.config()}

        def reset(body: dict[str, Any], request: web.Request) -> Any:
            self.reset()
            return None

        def config(body: dict[str, Any], request: web.Request) -> Any:
            return self.configure(body) if request.method == "POST" else self.config()

        def add_key(body: dict[str, Any], request: web.Request) -> Any:
            return self.register_key(body).summary()

        def remove_key(body: dict[str, Any], request: web.Request) -> Any:
            state.remove_key(request.match_info["api_key"])
            if self.key_store is not None:
                self.key_store.remove(request.match_info["api_key"])
            return None

        def list_positions(body: dict[str, Any], request: web.Request) -> Any:
            return state.positions_payload(request.match_info["api_key"])

        def open_position(body: dict[str, Any], request: web.Request) -> Any:
            options = {
                k: body[k]
                for k in ("side", "size", "entry_price", "mark_price", "leverage", "margin_mode")
                if k in body
            }
            return state.open_position(
                request.match_info["api_key"], str(require(body, "symbol")), **options
            )

        def resize_position(body: dict[str, Any], request: web.Request) -> Any:
            return state.resize_position(
                request.match_info["api_key"],
                request.match_info["symbol"],
                size=parse_decimal(require(body, "size"), "size"),
                price=body.get("price"),
            )

        def close_position(body: dict[str, Any], request: web.Request) -> Any:
            pnl = state.close_position(
                request.match_info["api_key"], request.match_info["symbol"], price=body.get("price")
            )
            return {"realised_pnl": str(pnl)}

        def set_balance(body: dict[str, Any], request: web.Request) -> Any:
            return state.set_balance(
                request.match_info["api_key"],
                str(require(body, "currency")),
                parse_decimal(require(body, "balance"), "balance"),
                account_type=str(body.get("type", "trade")),
                holds=parse_decimal(body.get("holds", 0), "holds"),
            )

        def set_mark_prices(body: dict[str, Any], request: web.Request) -> Any:
            prices = body.get("prices") or {require(body, "symbol"): require(body, "price")}
            for symbol, price in prices.items():
                state.set_mark_price(str(symbol), parse_decimal(price, "price"))
            return {s: str(state.mark_price(s)) for s in prices}

        def request_counts(body: dict[str, Any], request: web.Request) -> Any:
            if request.method == "DELETE":
                self.requests.reset()
                return None
            return {
                "total": self.requests.count(scope=body.get("api_key"), path=body.get("path")),
                "by_key_path": [
                    {"api_key": row["scope"], "path": row["path"], "count": row["count"]}
                    for row in self.requests.snapshot()
                ],
            }

        router = app.router
        router.add_get(f"{p}/health", json_handler(health))
        router.add_get(f"{p}/state", json_handler(snapshot))
        router.add_post(f"{p}/reset", json_handler(reset))
        router.add_get(f"{p}/config", json_handler(config))
        router.add_post(f"{p}/config", json_handler(config))
        router.add_post(f"{p}/keys", json_handler(add_key))
        router.add_delete(f"{p}/keys/{{api_key}}", json_handler(remove_key))
        router.add_get(f"{p}/keys/{{api_key}}/positions", json_handler(list_positions))
        router.add_post(f"{p}/keys/{{api_key}}/positions", json_handler(open_position))
        router.add_post(
            f"{p}/keys/{{api_key}}/positions/{{symbol}}/resize", json_handler(resize_position)
        )
        router.add_delete(
            f"{p}/keys/{{api_key}}/positions/{{symbol}}", json_handler(close_position)
        )
        router.add_put(f"{p}/keys/{{api_key}}/balances", json_handler(set_balance))
        router.add_post(f"{p}/mark-prices", json_handler(set_mark_prices))
        add_ticker_routes(app, self.tickers, prefix=p)
        router.add_get(f"{p}/requests", json_handler(request_counts))
        router.add_delete(f"{p}/requests", json_handler(request_counts))
        add_wallet_routes(app, state, prefix=p)
        add_fault_routes(app, self.faults, prefix=p)
        add_scenario_routes(app, self.scenarios, prefix=p)

    # -- the application ---------------------------------------------------------------

    def build_app(self) -> web.Application:
        """A fresh aiohttp application serving this simulator (KuCoin paths + ``/_sim/``)."""
        app = web.Application(
            middlewares=[
                self.requests.middleware(scope_of=_key_of),
                self.faults.middleware(scope_of=_key_of),
            ]
        )
        routes = {
            "/api/v1/positions": self._positions,
            "/api/v1/position": self._position,
            "/api/v1/accounts": self._accounts,
            "/api/v1/account-overview": self._account_overview,
            "/api/v1/user/api-key": self._api_key,
            "/api/v1/timestamp": self._timestamp,
            LEVEL1_PATH: self._level1,
        }
        for path, produce in routes.items():
            app.router.add_get(path, self._endpoint(path, produce))
        self._add_control_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        app.cleanup_ctx.append(self._drift_ctx)
        return app

    async def _drift_ctx(self, app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self._drift_loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _drift_loop(self) -> None:
        while True:
            await asyncio.sleep(self.drift_interval)
            if self.drift > 0:
                self.state.drift_prices(self._rng, self.drift)
                self.tickers.drift(self._rng, self.drift)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _ip_allowed(remote: str | None, whitelist: tuple[str, ...]) -> bool:
    if remote is None:
        return False
    # KuCoin shows whitelists masked ("203.**.154"); entries here may use * as a wildcard.
    return any(fnmatch.fnmatchcase(remote, entry) for entry in whitelist)
