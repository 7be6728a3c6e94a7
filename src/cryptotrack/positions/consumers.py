"""``/ws/positions``: the caller's open positions on connect, then again after every
recorded poll of theirs.

Credentials, in the order they are looked at:

1. ``Sec-WebSocket-Protocol: bearer, <token>`` — the handshake is answered with the
   ``bearer`` subprotocol;
2. the session cookie of a signed-in browser (the web app's positions page), only from
   this site's own pages (``Origin`` absent or naming the ``Host``): another site's page
   cannot open a socket that rides on the visitor's cookie;
3. else the first text message ``{"token": "<token>"}``, within :data:`TOKEN_DEADLINE_SECONDS`.

A token is a JWT access token, validated as the API validates it
(``CachedUserJWTAuthentication``), or a personal API key (``ctk_…``: the stream is
read-only, as API keys are). A missing, invalid or expired credential closes the socket
with :data:`CLOSE_UNAUTHORIZED`; so does a JWT's expiry while the socket is open (the client
reconnects with a fresh one). Before each frame after the snapshot the credential is
checked again — the token as at connect, the session as Django reads it — so a revoked API
key, a deactivated user, a changed password or a signed-out session closes the socket at
the next poll with :data:`CLOSE_UNAUTHORIZED`, not when the client leaves.

Frames (JSON objects): ``{"type": "snapshot", ...}`` on connect, ``{"type": "positions",
...}`` after each poll; both carry ``GET /api/v1/positions``'s fields (``results``,
``count``, ``as_of``, ``source``, ``stale``, ``stale_reason``, ``accounts``), all
positions on one frame. How polls get here: :mod:`cryptotrack.positions.live`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from cryptotrack.accounts.api_keys import KEY_PREFIX, api_key_authenticate
from cryptotrack.accounts.authentication import CachedUserJWTAuthentication
from cryptotrack.accounts.models import User
from cryptotrack.positions import live, selectors
from cryptotrack.positions.representations import freshness_fields

SessionStore: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore

CLOSE_UNAUTHORIZED = 4401
SUBPROTOCOL = "bearer"
TOKEN_DEADLINE_SECONDS = 5.0


def authenticate_token(raw: str) -> tuple[User, datetime | None] | None:
    """The active user of a JWT access token or an API key, and when the credential
    expires (None: an API key, until revoked); None when it is not valid."""
    if raw.startswith(KEY_PREFIX):
        api_key = api_key_authenticate(raw)
        return (api_key.user, None) if api_key is not None else None
    jwt = CachedUserJWTAuthentication()
    try:
        token = jwt.get_validated_token(raw.encode())
        user = jwt.get_user(token)
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None
    return user, datetime.fromtimestamp(int(token["exp"]), tz=UTC)


def positions_message(user: User, kind: str) -> dict[str, Any]:
    """A frame of ``kind`` with the user's current positions (``GET /positions``'s body,
    unpaginated)."""
    current = selectors.current_positions(user=user)
    return {
        "type": kind,
        "count": current.count,
        **freshness_fields(current),
        "results": current.positions,
    }


def _same_origin(scope: dict[str, Any]) -> bool:
    """Whether a cookie-carrying handshake comes from this site's own pages, judged as
    Django's CSRF check judges a form's ``Origin``: the ``Host`` it was sent to, or one of
    ``CSRF_TRUSTED_ORIGINS`` (a proxy that rewrites ``Host``)."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin", b"").decode("latin-1")
    if not origin:
        return True  # not a browser: whoever holds the cookie may use it
    host = headers.get(b"host", b"").decode("latin-1")
    return (bool(host) and urlsplit(origin).netloc == host) or (
        origin in settings.CSRF_TRUSTED_ORIGINS
    )


class PositionsConsumer(AsyncJsonWebsocketConsumer):
    """One trader's live positions (see the module docstring)."""

    user: User | None = None
    watcher: live.PollWatcher | None = None
    token: str | None = None  # None: signed in by the session cookie

    async def connect(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        subprotocols = self.scope.get("subprotocols") or []
        if subprotocols and subprotocols[0] == SUBPROTOCOL:
            await self.accept(subprotocol=SUBPROTOCOL)
            token = subprotocols[1] if len(subprotocols) > 1 else ""
            await self._authenticate(token)
            return
        await self.accept()
        session_user = self.scope.get("user")
        if (
            session_user is not None
            and session_user.is_authenticated
            and session_user.is_active
            and _same_origin(self.scope)
        ):
            await self._start(session_user, expires_at=None)
            return
        self._later(self._deadline())

    async def disconnect(self, code: int) -> None:
        for task in self._tasks:
            task.cancel()
        if self.user is not None:
            await self.channel_layer.group_discard(live.user_group(self.user.pk), self.channel_name)
            if self.watcher is not None:
                await self.watcher.unsubscribe(self.user.pk)
                self.watcher = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Only the first-message token is listened to; anything else is ignored."""
        if self.user is not None or text_data is None:
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            content = None
        token = content.get("token") if isinstance(content, dict) else None
        await self._authenticate(token if isinstance(token, str) else "")

    async def positions_polled(self, event: dict[str, Any]) -> None:
        """Group message ``positions.polled``: send this socket's user's positions again,
        if its credential still holds."""
        if self.user is None:
            return
        if not await self._still_signed_in(self.user):
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        await self._send_positions(self.user, "positions")

    async def _still_signed_in(self, user: User) -> bool:
        if self.token is not None:
            found = await database_sync_to_async(authenticate_token)(self.token)
            return found is not None and found[0].pk == user.pk
        # A fresh read of the session: the scope's copy was loaded at connect and would
        # still say "signed in" after a sign-out deleted the row.
        session = self.scope.get("session")
        if session is None or not session.session_key:
            return False
        fresh = {**self.scope, "session": SessionStore(session_key=session.session_key)}
        current = await get_user(fresh)
        return bool(current.is_authenticated and current.is_active and current.pk == user.pk)

    async def _authenticate(self, token: str) -> None:
        found = await database_sync_to_async(authenticate_token)(token) if token else None
        if found is None:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        user, expires_at = found
        self.token = token
        await self._start(user, expires_at=expires_at)

    async def _start(self, user: User, *, expires_at: datetime | None) -> None:
        self.user = user
        for task in self._tasks:
            task.cancel()  # the token deadline
        self._tasks = []
        await self.channel_layer.group_add(live.user_group(user.pk), self.channel_name)
        self.watcher = live.watcher_for(self.channel_layer)
        if self.watcher is not None:
            await self.watcher.subscribe(user.pk)
        else:
            self._later(self._keep_watched(user.pk))
        if expires_at is not None:
            self._later(self._close_at(expires_at))
        await self._send_positions(user, "snapshot")

    async def _send_positions(self, user: User, kind: str) -> None:
        # Channels hands a consumer its messages one at a time: no two reads overlap.
        message = await database_sync_to_async(positions_message)(user, kind)
        await self.send_json(message)

    def _later(self, coroutine: Any) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coroutine))

    async def _deadline(self) -> None:
        await asyncio.sleep(TOKEN_DEADLINE_SECONDS)
        if self.user is None:
            await self.close(code=CLOSE_UNAUTHORIZED)

    async def _close_at(self, expires_at: datetime) -> None:
        await asyncio.sleep(max(0.0, (expires_at - datetime.now(tz=UTC)).total_seconds()))
        await self.close(code=CLOSE_UNAUTHORIZED)

    async def _keep_watched(self, user_id: int) -> None:
        """Hold the user's watch lease while the socket is open (Redis layer)."""
        while True:
            with contextlib.suppress(Exception):  # Redis down: renewed on the next turn
                await database_sync_to_async(live.watch)(user_id)
            await asyncio.sleep(live.WATCH_RENEW_SECONDS)
