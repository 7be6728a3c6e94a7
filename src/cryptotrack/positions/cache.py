"""The positions cache: one Redis hash per user, one field per exchange account.

Field ``<account id>`` holds a line of JSON, the account's header (``as_of``, ``count``,
``label`` and its tracking: ``state``, ``error`` kind, ``interval`` seconds: what the
freshness flag needs), then ``\n`` and the positions JSON array: the API's ``results``
for that account already encoded (each row carries the account's ``{id, label}``), so a
read answers it as it is. A read of all of a user's accounts is one ``HGETALL``; the
arrays are joined as bytes, never decoded and encoded again.

The header's tracking state is kept true by invalidation: a start, a stop, a pause and a
resume drop the user's hash after their commit (the next read refills it from the
database), and a poll writes the state its subscription has after the poll's UPDATE
(which waits for a concurrent stop).

The hash is kept *complete*: a poll sets its accounts' fields (``HSET``) and fills the
user's other accounts that have positions (``HSETNX``: never over a fresher field), and a
database read refills every account (``HSETNX``). A missing hash is a miss; a hash is
never left holding some of a user's accounts but not others, except for the instant a
rename or delete takes to drop it. A rename drops the whole hash (the next read refills
it with the new label); a delete drops the account's field.

With another cache backend than Redis (the SQLite default of a laptop) writes only
invalidate the user's entry and reads refill it: right, and good enough there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches

from cryptotrack.core.cache import ResilientRedisCache

# user id -> {account id: encoded entry}
Entries = dict[int, dict[int, bytes]]


@dataclass(frozen=True)
class AccountTracking:
    """An account's label and tracking as its cached positions carry them."""

    label: str = ""
    state: str = "active"  # TrackingSubscription.State
    error: str = ""  # the last error kind (while paused)
    interval: int = 30  # seconds between polls


@dataclass(frozen=True)
class AccountEntry:
    """One account's cached positions: the encoded ``results`` array and when it was read
    (``as_of`` None: tracked, never read yet)."""

    as_of: datetime | None
    count: int
    positions_json: bytes
    tracking: AccountTracking = AccountTracking()


def user_key(user_id: int) -> str:
    return f"positions:v5:{user_id}"


def cache_timeout() -> int:
    # Long enough to bridge a few slow polls, short enough that stopped tracking ages out.
    return settings.TRACKING_INTERVAL_SECONDS * 4


def encode_entry(entry: AccountEntry) -> bytes:
    # json.dumps never writes a raw newline: the first one ends the header.
    header = {
        "as_of": entry.as_of.isoformat() if entry.as_of else None,
        "count": entry.count,
        **asdict(entry.tracking),
    }
    return json.dumps(header).encode() + b"\n" + entry.positions_json


def decode_entry(raw: bytes) -> AccountEntry:
    header_json, positions = raw.split(b"\n", 1)
    header = json.loads(header_json)
    as_of = header.pop("as_of")
    count = header.pop("count")
    return AccountEntry(
        as_of=datetime.fromisoformat(as_of) if as_of else None,
        count=count,
        positions_json=positions,
        tracking=AccountTracking(**header),
    )


def _redis(cache: Any) -> ResilientRedisCache | None:
    return cache if isinstance(cache, ResilientRedisCache) else None


def write(entries: Entries, *, fill: Entries | None = None) -> None:
    """Set ``entries`` (a poll's fresh results) and add ``fill`` where the field is missing,
    all users in one round trip; each user's hash lives ``cache_timeout()`` from now."""
    fill = fill or {}
    users = set(entries) | set(fill)
    if not users:
        return
    cache = caches["live"]
    client_cache = _redis(cache)
    if client_cache is None:
        cache.delete_many([user_key(user_id) for user_id in users])
        return
    timeout_ms = cache_timeout() * 1000

    def operation(client: redis.Redis) -> None:
        pipe = client.pipeline(transaction=False)
        for user_id in users:
            key = cache.make_key(user_key(user_id))
            if entries.get(user_id):
                pipe.hset(key, mapping={str(a): v for a, v in entries[user_id].items()})
            for account_id, value in fill.get(user_id, {}).items():
                pipe.hsetnx(key, str(account_id), value)
            pipe.pexpire(key, timeout_ms)
        pipe.execute()

    client_cache.call_redis(operation, lambda: None)


def read(user_id: int) -> dict[int, AccountEntry] | None:
    """Every cached account of the user (one round trip), or None: a miss, or Redis down."""
    cache = caches["live"]
    client_cache = _redis(cache)
    if client_cache is None:
        raw = cache.get(user_key(user_id))
        fields: dict[Any, Any] = raw if isinstance(raw, dict) else {}
    else:
        key = cache.make_key(user_key(user_id))
        fields = client_cache.call_redis(lambda client: dict(client.hgetall(key)), dict)
    return decode_fields(fields)


def decode_fields(fields: dict[Any, bytes]) -> dict[int, AccountEntry] | None:
    """A user's hash as ``HGETALL`` answers it, decoded; None when empty (a miss)."""
    if not fields:
        return None
    return {int(account_id): decode_entry(value) for account_id, value in fields.items()}


def refill(user_id: int, entries: dict[int, bytes]) -> None:
    """Fill a cold cache from the database without overwriting what a poll wrote meanwhile."""
    cache = caches["live"]
    if _redis(cache) is None:
        cache.add(user_key(user_id), entries, timeout=cache_timeout())
    else:
        write({}, fill={user_id: entries})


def drop_user(user_id: int) -> None:
    """Forget the user's cached positions (the next read refills them from the database)."""
    caches["live"].delete(user_key(user_id))


def drop_users(user_ids: Iterable[int]) -> None:
    """Forget these users' cached positions, in one round trip."""
    caches["live"].delete_many([user_key(user_id) for user_id in user_ids])


def drop_account(user_id: int, account_id: int) -> None:
    """Forget one account's cached positions (it was deleted)."""
    cache = caches["live"]
    client_cache = _redis(cache)
    if client_cache is None:
        cache.delete(user_key(user_id))
        return
    key = cache.make_key(user_key(user_id))
    drop: Callable[[redis.Redis], Any] = lambda client: client.hdel(key, str(account_id))  # noqa: E731
    client_cache.call_redis(drop, lambda: None)
