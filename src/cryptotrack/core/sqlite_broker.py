"""The embedded default's Celery broker: kombu's SQLAlchemy transport on a SQLite file.

Why SQLite (docs/architecture.md, "The embedded default's broker"): a message is a row
written in one transaction, so another process sees the whole message or nothing — the
file transport it replaces let a reader open a message file before its writer had
written it, and the worker died of a JSONDecodeError. SQLite's file locks make the
claim of a message (kombu's ``BEGIN IMMEDIATE`` + UPDATE) atomic across the web
process, the worker and its embedded beat. No server is needed.

Two things differ from kombu's transport as it ships:
- delivered rows are deleted. kombu marks a delivered message invisible and keeps it
  (nothing reads it again: an unacknowledged message lives in the worker's memory and
  is re-published on a warm shutdown); with a dispatcher tick every second that is
  86,400 dead rows a day on a laptop that runs ``make run`` for a week;
- a connection per use (``NullPool``): no SQLite connection opened in the worker's
  parent is reused in a forked child — SQLite forbids carrying one across ``fork()``.

Settings select it by name (``CELERY_BROKER_TRANSPORT = TRANSPORT``) on the embedded
default only: production processes never load SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

TRANSPORT = "cryptotrack.core.sqlite_broker:Transport"

# How long a writer waits for another process's transaction before giving up (kombu then
# reconnects and retries: sqlalchemy's OperationalError is one of its connection errors).
BUSY_TIMEOUT_SECONDS = 20.0


class Channel(sqlalchemy.Channel):
    """kombu's SQLAlchemy channel: a connection per use, delivered rows deleted."""

    def _engine_from_config(self) -> Engine:
        url = self.connection.client.hostname if self.connection.client else None
        if not url:
            raise ValueError("the SQLite broker needs a URL: sqlite:///path/to/broker.sqlite3")
        return create_engine(
            url,
            poolclass=NullPool,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
        )

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        payload = super()._get(queue)  # raises queue.Empty when nothing is waiting
        message = self.message_cls
        self.session.query(message).filter(message.visible.is_(False)).delete(
            synchronize_session=False
        )
        self.session.commit()
        return payload


class Transport(sqlalchemy.Transport):
    Channel = Channel
