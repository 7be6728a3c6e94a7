"""``GET /api/v1/positions`` answered on the event loop, ahead of Django, when Redis can.

The read traders' screens repeat most is a JWT request for the cached positions with no
query string. Django's request cycle (the request object, fifteen middleware, DRF's
view, the thread hand-offs of ASGI) costs about six times what the answer itself does,
so a process topped out near 400 answers a second. This ASGI app answers that one
request in the loop, from the cache, with the project's own functions:

- the token: SimpleJWT's validation (``JWTAuthentication.get_validated_token``), the
  user from the JWT user cache and ``authentication.checked_user``'s refusals;
- the throttle: DRF's ``UserRateThrottle`` key and rate, counted by the same sliding-log
  script (``ratelimit.hit_on_redis``);
- the answer: ``selectors.from_cache`` and ``apis.positions_page_json``, with the headers
  the middleware stack gives a JSON answer.

It answers only the success: any other request — another path or method, a query
string, no or a bad token, an unknown host, an ``Accept`` the API cannot answer, a user
or positions not cached, a refused or throttled user — goes to Django untouched, and
Django answers it as it always did (a 401, a 429, a refill from the database). Nothing is
counted twice: the throttle is counted last, when nothing but a bug (logged as an error,
and then Django answers) can send the request on to Django, and a refused request is not
logged (so Django, asked next, refuses it too and answers the 429 itself).

Two Redis round trips: the user and the positions in one pipeline, then the throttle.
Redis errors trip the cache's own breaker (the one Django's cache reads). While it is
open (Redis down) the read does what Django's does then, on the loop: the user and the
positions from PostgreSQL (``user_cache.stored_user``, ``selectors.stored_positions``
and ``stored_tracking``, compiled once by Django and run by psycopg's async pool:
``core.loop_queries``), ``source: database``, and the throttle in this process's logs
(``ratelimit.hit_locally``, the ones Django's requests use then too). A database error
leaves the request to Django.

``tests/positions/test_positions_fast_read.py`` holds it to Django's answers: the same
status, body and headers for every request in its table, served by two real servers.
``POSITIONS_FAST_READ=0`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from types import SimpleNamespace
from typing import Any, cast

import psycopg
import redis.asyncio
from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from psycopg_pool import PoolTimeout
from rest_framework.exceptions import APIException
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import BlacklistMixin, Token
from rest_framework_simplejwt.utils import aware_utcnow

from cryptotrack.accounts import user_cache
from cryptotrack.accounts.authentication import (
    CachedUserJWTAuthentication,
    checked_user,
    token_user_id,
)
from cryptotrack.accounts.models import User
from cryptotrack.core import metrics, ratelimit
from cryptotrack.core.cache import ResilientRedisCache
from cryptotrack.core.logging import REQUEST_ID_HEADER, request_id_of_scope
from cryptotrack.core.loop_queries import LoopDatabase, LoopQuery
from cryptotrack.core.throttling import UserRateThrottle
from cryptotrack.positions import cache, selectors
from cryptotrack.positions.apis import PositionListApi, positions_page_json
from cryptotrack.positions.selectors import CurrentPositions

logger = logging.getLogger(__name__)

# Validated access tokens kept per process (one per signed-in client and 15 minutes).
TOKENS_KEPT = 10_000

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[..., Awaitable[None]]  # Django's handler types its arguments more narrowly

# What the view runs, which this module reproduces; anything else and it stays off.
_EXPECTED_VIEW = {
    "authentication_classes": [
        "cryptotrack.accounts.authentication.CachedUserJWTAuthentication",
        "cryptotrack.accounts.authentication.ApiKeyAuthentication",
    ],
    "permission_classes": [
        "rest_framework.permissions.IsAuthenticated",
        "cryptotrack.accounts.permissions.ApiKeyIsReadOnly",
    ],
    "throttle_classes": [
        "cryptotrack.core.throttling.AnonRateThrottle",
        "cryptotrack.core.throttling.UserRateThrottle",
    ],
}


def unsupported() -> list[str]:
    """Why the fast read cannot stand in for Django with these settings (empty: it can)."""
    reasons = []
    if not settings.POSITIONS_FAST_READ:
        reasons.append("POSITIONS_FAST_READ is off")
    for alias in ("default", "live"):
        if not isinstance(caches[alias], ResilientRedisCache):
            reasons.append(f"the {alias!r} cache is not Redis")
    if settings.AUTH_USER_CACHE_SECONDS <= 0:
        reasons.append("the JWT user cache is off (AUTH_USER_CACHE_SECONDS)")
    if any(issubclass(cls, BlacklistMixin) for cls in jwt_settings.AUTH_TOKEN_CLASSES):
        reasons.append("access tokens are checked against the blacklist (a database read)")
    if settings.SECURE_PROXY_SSL_HEADER or settings.USE_X_FORWARDED_HOST:
        reasons.append("SECURE_PROXY_SSL_HEADER or USE_X_FORWARDED_HOST is set")
    if settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW:
        reasons.append("DISALLOWED_USER_AGENTS or PREPEND_WWW is set")
    view = PositionListApi()
    for attribute, expected in _EXPECTED_VIEW.items():
        names = [f"{c.__module__}.{c.__qualname__}" for c in getattr(view, attribute)]
        if names != expected:
            reasons.append(f"PositionListApi.{attribute} is {names}")
    return reasons


def with_fast_read(django: AsgiApp) -> AsgiApp:
    """Django's HTTP app with the fast read in front, where the settings allow it (why
    not is logged once, at start)."""
    # In a context of its own: reverse() and the caches set asgiref Locals (a ContextVar
    # each, one per URL resolver), and whatever is set in the main context is copied into
    # every request and walked at each of its sync/async hand-offs: left there, they cost
    # every request of the process 0.2-0.4 CPU-ms (measured on /healthz).
    build = contextvars.copy_context().run
    reasons = build(unsupported)
    if reasons:
        logger.info("GET /api/v1/positions through Django only: %s", "; ".join(reasons))
        return django
    return build(FastPositionsRead, django)


class _Refer(Exception):
    """This request is Django's to answer."""


class FastPositionsRead:
    """The ASGI app in front of Django's; see the module docstring."""

    def __init__(self, django: AsgiApp) -> None:
        self.django = django
        # Both Redis: with_fast_read builds this only when unsupported() is empty.
        self.live = cast(ResilientRedisCache, caches["live"])
        self.default = cast(ResilientRedisCache, caches["default"])
        path = reverse("positions")
        self.paths = {path, path + "/"}
        self.allowed_hosts = settings.ALLOWED_HOSTS or (
            [".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []
        )
        self.auth_types = {t.encode() for t in jwt_settings.AUTH_HEADER_TYPES}
        name = jwt_settings.AUTH_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")
        self.auth_header = name.lower().encode()
        # Access tokens validated in this process, by their text: a signature is checked
        # once, the expiry on every request.
        self.tokens: dict[bytes, Token] = {}
        self.jwt = CachedUserJWTAuthentication()
        self.negotiation = DefaultContentNegotiation()
        self.renderers = PositionListApi().get_renderers()
        self.headers = _answer_headers()
        # Django's reads while Redis is down, on the loop (PostgreSQL only).
        self.database = _DatabaseRead() if connections["default"].vendor == "postgresql" else None
        # One client per loop and server (a client belongs to the loop that made it).
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, redis.asyncio.Redis]
        ] = weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] in self.paths
            and not scope["query_string"]
            and not scope.get("root_path")
        ):
            try:
                body, headers = await self._answer(scope)
            except _Refer:
                pass
            except Exception:  # a bug here must not cost the trader the answer: Django's
                logger.exception("fast positions read failed; answered by Django")
            else:
                metrics.FAST_ANSWERS.labels(route="positions").inc()
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.django(scope, receive, send)

    async def _answer(self, scope: Scope) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        headers = _request_headers(scope)
        secure = scope.get("scheme") == "https"
        if settings.SECURE_SSL_REDIRECT and not secure:
            raise _Refer  # Django redirects it
        self._check_host(headers)
        self._check_accept(headers)
        token = self._validated_token(headers)
        try:
            user_id = token_user_id(token)
        except APIException:
            raise _Refer from None

        user_key = self.live.make_key(user_cache.cache_key(user_id))
        positions_key = self.live.make_key(cache.user_key(user_id))
        cached = await self._redis(
            self.live, lambda client: _pipeline(client, user_key, positions_key), down=_none
        )
        read: Callable[[], CurrentPositions]
        if cached is None:  # Redis down: Django reads the database, and so does this
            if self.database is None:
                raise _Refer
            user, by_account = await self.database.read(token, user_id)
            read = partial(selectors.from_database, by_account)
        else:
            raw_user, fields = cached
            cached_user = self.live.decode(raw_user) if raw_user is not None else None
            entries = cache.decode_fields(fields)
            if not isinstance(cached_user, User) or entries is None:
                raise _Refer  # Django reads the database (and fills the cache)
            user = _check(token, cached_user)
            read = partial(selectors.from_cache, entries)

        if not (await self._throttle(user)).allowed:
            raise _Refer  # not logged: Django refuses it too, with its 429

        body = positions_page_json(read())
        answer = [*self.headers, (b"content-length", str(len(body)).encode())]
        request_id = request_id_of_scope(scope)
        if request_id:
            answer.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode("latin-1")))
        if secure and settings.SECURE_HSTS_SECONDS:
            answer.append((b"strict-transport-security", _hsts().encode()))
        return body, answer

    def _check_host(self, headers: dict[bytes, list[bytes]]) -> None:
        hosts = headers.get(b"host", [])
        if len(hosts) != 1:
            raise _Refer
        domain, _port = split_domain_port(hosts[0].decode("latin-1"))
        if not domain or not validate_host(domain, self.allowed_hosts):
            raise _Refer  # Django answers 400

    def _check_accept(self, headers: dict[bytes, list[bytes]]) -> None:
        # DRF reads ``request.query_params`` (none here) and ``request.headers["accept"]``,
        # repeated headers joined by commas as Django joins them.
        given = (
            {"accept": b",".join(headers[b"accept"]).decode("latin-1")}
            if b"accept" in headers
            else {}
        )
        request = SimpleNamespace(query_params={}, headers=given)
        try:
            self.negotiation.select_renderer(cast(Any, request), self.renderers)
        except APIException:
            raise _Refer from None  # Django answers 406

    def _validated_token(self, headers: dict[bytes, list[bytes]]) -> Token:
        values = headers.get(self.auth_header, [])
        parts = values[0].split() if len(values) == 1 else []
        if len(parts) != 2 or parts[0] not in self.auth_types:
            raise _Refer  # an API key, no credentials or a malformed header
        raw = parts[1]
        token = self.tokens.get(raw)
        try:
            if token is None:
                token = self.jwt.get_validated_token(raw)
                self._remember(raw, token)
            else:
                # Validated before (signature, type, claims); only time can undo that.
                token.check_exp(current_time=aware_utcnow())
        except (APIException, TokenError):
            raise _Refer from None
        return token

    def _remember(self, raw: bytes, token: Token) -> None:
        if len(self.tokens) >= TOKENS_KEPT:
            self.tokens.clear()  # a fresh start beats tracking ages: tokens last minutes
        self.tokens[raw] = token

    async def _throttle(self, user: User) -> ratelimit.Decision:
        """DRF's ``UserRateThrottle`` for this user, counted as ``ratelimit.hit`` counts."""
        throttle = UserRateThrottle()
        limit, period = throttle.num_requests, throttle.duration
        if limit is None or period is None:
            return ratelimit.Decision(allowed=True)
        # DRF's own key for this user (it reads only ``request.user``).
        key = throttle.get_cache_key(cast(Any, SimpleNamespace(user=user)), cast(Any, None))
        full_key = self.default.make_key(key)
        return cast(
            ratelimit.Decision,
            await self._redis(
                self.default,
                lambda client: ratelimit.hit_on_redis(client, full_key, limit=limit, period=period),
                down=lambda: ratelimit.hit_locally(full_key, limit=limit, period=period),
            ),
        )

    async def _redis(
        self,
        cache_: ResilientRedisCache,
        call: Callable[[Any], Awaitable[Any]],
        *,
        down: Callable[[], Any],
    ) -> Any:
        """``call(client)`` on ``cache_``'s server through the breaker Django's cache uses,
        or ``down()`` while Redis is down, with this loop's client."""
        clients = self._clients.setdefault(asyncio.get_running_loop(), {})
        client = clients.get(cache_.server)
        if client is None:
            client = clients[cache_.server] = cache_.async_client()
        return await cache_.acall_redis(client, call, down)


# A user id no query is built with: the compiled queries' placeholder for the real one.
_ANY_USER = -7_426_931
# How long a read waits for one of the loop's connections before Django takes it (which
# then waits WEB_DATABASE_POOL_TIMEOUT for one of its own): with PostgreSQL down too, a
# request should not wait for both pools in full.
_POOL_WAIT_SECONDS = 1.0


class _DatabaseRead:
    """What Django reads while Redis is down — the token's user (``user_cache.user_by_id``)
    and their positions (``selectors.current_positions``) — compiled once, run on the loop."""

    def __init__(self) -> None:
        self.database = LoopDatabase(
            size=max(1, settings.WEB_DATABASE_POOL_SIZE),
            timeout=min(settings.WEB_DATABASE_POOL_TIMEOUT, _POOL_WAIT_SECONDS),
        )
        params = {"user_id": _ANY_USER}
        self.users = LoopQuery(user_cache.stored_user(_ANY_USER), params=params)
        self.positions = LoopQuery(selectors.stored_positions(_ANY_USER), params=params)
        self.tracking = LoopQuery(selectors.stored_tracking(_ANY_USER), params=params)
        self.user_pk = User._meta.pk

    async def read(self, token: Token, user_id: Any) -> tuple[User, dict[int, bytes]]:
        """The token's user, if they may read (else Django answers), and their
        ``selectors.database_entries``: three queries in one round trip (a pipeline)."""
        try:
            user_id = self.user_pk.get_prep_value(user_id)
        except (TypeError, ValueError):
            raise _Refer from None  # Django answers what it answers to such a claim
        try:
            pool = await self.database.pool()
            async with pool.connection() as connection:
                async with connection.pipeline():
                    sent = [
                        await query.execute(connection, user_id=user_id)
                        for query in (self.users, self.positions, self.tracking)
                    ]
                users, positions, tracking = [await cursor.fetchall() for cursor in sent]
        except (psycopg.Error, PoolTimeout) as exc:
            logger.debug("fast positions read: database failed: %r", exc)
            raise _Refer from None  # Django tries, and answers what it can
        found = self.users.instances(users)
        user = _check(token, found[0] if found else None)  # the rest is read for nothing
        return user, selectors.database_entries(
            user.pk, self.positions.instances(positions), self.tracking.instances(tracking)
        )


def _check(token: Token, user: User | None) -> User:
    """``authentication.checked_user``'s refusals: Django answers them."""
    try:
        return checked_user(token, user)
    except APIException:
        raise _Refer from None


def _none() -> None:
    return None


async def _pipeline(client: Any, user_key: str, positions_key: str) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    pipe.get(user_key)
    pipe.hgetall(positions_key)
    return list(await pipe.execute())


def _request_headers(scope: Scope) -> dict[bytes, list[bytes]]:
    """The request's headers by lower-case name, every value of a repeated one kept."""
    headers: dict[bytes, list[bytes]] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return headers


def _hsts() -> str:
    """Django's ``SecurityMiddleware`` header, from the same settings."""
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return value


def _answer_headers() -> list[tuple[bytes, bytes]]:
    """What Django's stack puts on this view's JSON answer, from the same settings: the
    view's (DRF's ``Allow``), ``SecurityMiddleware``'s, ``XFrameOptionsMiddleware``'s
    (the content security policy is for HTML only)."""
    view = PositionListApi()
    view.setup(HttpRequest())  # as as_view() does: HEAD allowed where GET is
    headers = {"Content-Type": "application/json", **view.default_response_headers}
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers["X-Content-Type-Options"] = "nosniff"
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers["Referrer-Policy"] = policy if isinstance(policy, str) else ",".join(policy)
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers["Cross-Origin-Opener-Policy"] = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    headers["X-Frame-Options"] = settings.X_FRAME_OPTIONS.upper()
    return [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
