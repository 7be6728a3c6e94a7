"""Telling ``/ws/positions`` sockets that their user's positions were polled.

The message says only *that* user ``N`` was polled (``{"type": "positions.polled"}`` to
the group :func:`user_group`); the consumer then reads its own user's positions through
the same selector as ``GET /positions`` and sends them. No position travels through the
channel layer, so a socket can only ever send the positions of the user it authenticated.

Two paths, as for the live rates (``quotes.live``):

* :func:`announce_polls` — after a flush of polls commits (``storage.record_poll_outcomes``),
  the worker tells the polled users' groups. With Redis this reaches every ASGI process.
  Tens of thousands of users are polled every interval and almost none of them has a
  socket open, so the worker first asks which of the flush's users are *watched* — one
  ``ZMSCORE`` on a sorted set (user id -> lease end) that consumers keep leased while they
  are connected — and sends only to those: a flush of 500 users nobody watches costs one
  round trip, not 500 ``group_send`` calls (each a Lua script on Redis; measured on a dev
  machine, 2026-12: ~85 ms for 500 sends against 1-10 ms for the lease read). A lease outlives a
  process that died without saying goodbye by at most :data:`WATCH_LEASE_SECONDS`; a stale
  lease costs a ``group_send`` to an empty group, nothing more.
* :class:`PollWatcher` — with the in-memory layer (the embedded default: the Celery worker is
  another process, so its messages reach nobody) each ASGI process with listeners reads the
  listening users' tracking rows every :data:`POLL_SECONDS` and tells a user's group when
  the newest ``updated_at`` of their subscriptions moved (every recorded poll sets it; so
  do a start and a stop). One small query per interval for all of the process's sockets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.cache import caches
from django.db.models import Max

from cryptotrack.core.cache import ResilientRedisCache
from cryptotrack.core.live_watch import DatabaseWatcher, WatcherPerLoop, layer_is_process_local
from cryptotrack.positions.models import TrackingSubscription

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "positions.polled"
POLL_SECONDS = 0.5
WATCH_KEY = "positions:watched"
WATCH_LEASE_SECONDS = 120
# A connected consumer renews its user's lease this often (well inside the lease).
WATCH_RENEW_SECONDS = 40


def user_group(user_id: int) -> str:
    return f"positions.user.{user_id}"


def _redis_cache() -> ResilientRedisCache | None:
    cache = caches["live"]
    return cache if isinstance(cache, ResilientRedisCache) else None


def watch(user_id: int) -> None:
    """Lease ``user_id`` as watched for :data:`WATCH_LEASE_SECONDS` (and drop expired
    leases), in one round trip; without Redis there is nothing to lease."""
    cache = _redis_cache()
    if cache is None:
        return
    key = cache.make_key(WATCH_KEY)
    now = time.time()

    def operation(client: Any) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.zadd(key, {str(user_id): now + WATCH_LEASE_SECONDS})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.execute()

    cache.call_redis(operation, lambda: None)


def watched_among(user_ids: Iterable[int]) -> set[int]:
    """Which of ``user_ids`` hold an unexpired lease (one ``ZMSCORE``). Redis down: none —
    the channel layer lives on Redis too, so telling anybody would only pile up timeouts in
    the worker; sockets catch up at the first poll after Redis is back. Without Redis (the
    in-memory layer) every id: there is no lease to ask."""
    ids = sorted(set(user_ids))
    cache = _redis_cache()
    if cache is None or not ids:
        return set(ids)
    key = cache.make_key(WATCH_KEY)
    now = time.time()
    scores: list[float | None] = cache.call_redis(
        lambda client: list(client.zmscore(key, [str(i) for i in ids])),
        lambda: [None] * len(ids),
    )
    return {i for i, score in zip(ids, scores, strict=True) if score is not None and score > now}


def announce_polls(user_ids: Iterable[int]) -> None:
    """Tell the watched ones of ``user_ids`` that a poll of theirs was recorded (call after
    the commit); a channel layer failure is only logged — the positions are stored, and the
    client gets them on its next message or reconnect."""
    layer = get_channel_layer()
    if layer is None or layer_is_process_local(layer):
        return  # in-memory: nobody listens in this process; the ASGI watcher tells them
    watched = watched_among(user_ids)
    if not watched:
        return

    async def send_all() -> None:
        for user_id in sorted(watched):
            await layer.group_send(user_group(user_id), {"type": MESSAGE_TYPE})

    try:
        async_to_sync(send_all)()
    except Exception as exc:
        logger.warning("could not announce polls of %d users: %r", len(watched), exc)


def last_changes(user_ids: Iterable[int]) -> dict[int, datetime | None]:
    """The newest ``updated_at`` of each user's tracking subscriptions (one query)."""
    rows = (
        TrackingSubscription.objects.filter(user_id__any_of=list(user_ids))
        .values("user_id")
        .annotate(changed=Max("updated_at"))
        .values_list("user_id", "changed")
    )
    return dict(rows)


class PollWatcher(DatabaseWatcher):
    """Polls the listening users' tracking rows while this process has listeners (see the
    module docstring)."""

    name = "live positions watcher"

    def __init__(self, layer: BaseChannelLayer, *, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__(layer, poll_seconds=poll_seconds)
        self.listeners: dict[int, int] = {}  # user id -> sockets
        self.seen: dict[int, datetime | None] = {}

    async def subscribe(self, user_id: int) -> None:
        """One more socket of ``user_id``; its later changes are told from now on."""
        if user_id not in self.listeners:
            changes = await database_sync_to_async(last_changes)([user_id])
            self.seen[user_id] = changes.get(user_id)
        self.listeners[user_id] = self.listeners.get(user_id, 0) + 1
        self.start()

    async def unsubscribe(self, user_id: int) -> None:
        """One socket fewer; polling stops with the last one."""
        left = self.listeners.get(user_id, 0) - 1
        if left > 0:
            self.listeners[user_id] = left
        else:
            self.listeners.pop(user_id, None)
            self.seen.pop(user_id, None)
        if not self.listeners:
            await self.stop()

    async def poll_once(self) -> list[int]:
        """Tell each listening user whose tracking changed since the last poll; return them."""
        users = list(self.listeners)
        if not users:
            return []
        changes = await database_sync_to_async(last_changes)(users)
        told = []
        for user_id in users:
            changed = changes.get(user_id)
            if user_id in self.seen and changed != self.seen[user_id]:
                self.seen[user_id] = changed
                await self.layer.group_send(user_group(user_id), {"type": MESSAGE_TYPE})
                told.append(user_id)
        return told


_watchers = WatcherPerLoop(PollWatcher)


def watcher_for(layer: BaseChannelLayer | None) -> PollWatcher | None:
    """This event loop's watcher when ``layer`` is process-local, else None (Redis tells)."""
    return _watchers.get(layer)
